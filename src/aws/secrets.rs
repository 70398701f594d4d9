//! Secrets read once at cold start from Secrets Manager: the approval-link signing keys
//! and Slack's credentials. They never sit in the function's environment; the environment
//! names the secrets only.
//!
//! - `SLIPWAY_SIGNING_KEY_SECRET`: `{"current": {"id": "k2", "secret": "<≥32 chars>"},
//!   "previous": {"id": "k1", "secret": "…"}}` (`previous` optional). To rotate, move
//!   `current` to `previous` and write a new `current`; links signed with the old key keep
//!   working until the next rotation.
//! - `SLIPWAY_SLACK_SECRET`: `{"signing_secret": "…", "bot_token": "xoxb-…"}`.

use serde::Deserialize;

use crate::approval::{SigningKey, SigningKeys};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret {name} from Secrets Manager failed: {message}; check the name and the function's secretsmanager:GetSecretValue permission")]
    Read { name: String, message: String },
    #[error("secret {name} is not in the expected shape ({problem}); expected {expected}")]
    Shape {
        name: String,
        problem: String,
        expected: &'static str,
    },
}

const KEYS_SHAPE: &str =
    r#"{"current": {"id": "k1", "secret": "<at least 32 random characters>"}, "previous": null}"#;
const SLACK_SHAPE: &str =
    r#"{"signing_secret": "<Slack app signing secret>", "bot_token": "xoxb-…"}"#;

// Unknown fields are ignored: a secret that also holds, say, a rotation note or a field a
// later Slipway reads must not stop every cold start.
#[derive(Deserialize)]
struct RawKeys {
    current: RawKey,
    previous: Option<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    id: String,
    secret: String,
}

/// Slack's credentials.
#[derive(Deserialize)]
pub struct SlackSecrets {
    pub signing_secret: String,
    pub bot_token: String,
}

impl std::fmt::Debug for SlackSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackSecrets { .. }")
    }
}

async fn read(client: &aws_sdk_secretsmanager::Client, name: &str) -> Result<String, SecretError> {
    let answer = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|err| SecretError::Read {
            name: name.to_string(),
            message: aws_sdk_secretsmanager::error::DisplayErrorContext(&err).to_string(),
        })?;
    answer.secret_string.ok_or_else(|| SecretError::Shape {
        name: name.to_string(),
        problem: "it has no string value".into(),
        expected: "a JSON string",
    })
}

pub async fn signing_keys(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<SigningKeys, SecretError> {
    let text = read(client, name).await?;
    parse_signing_keys(name, &text)
}

/// The signing-keys secret, read again when a link names a key a warm function lacks.
pub struct SecretKeys {
    pub client: aws_sdk_secretsmanager::Client,
    pub name: String,
}

impl crate::approval::KeySource for SecretKeys {
    fn read(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SigningKeys, String>> + Send + '_>>
    {
        Box::pin(async move {
            signing_keys(&self.client, &self.name)
                .await
                .map_err(|err| err.to_string())
        })
    }
}

pub fn parse_signing_keys(name: &str, text: &str) -> Result<SigningKeys, SecretError> {
    let shape = |problem: String| SecretError::Shape {
        name: name.to_string(),
        problem,
        expected: KEYS_SHAPE,
    };
    let raw: RawKeys = serde_json::from_str(text).map_err(|err| shape(err.to_string()))?;
    let key = |raw: RawKey| {
        SigningKey::new(raw.id, raw.secret.into_bytes()).map_err(|err| shape(err.to_string()))
    };
    Ok(SigningKeys {
        current: key(raw.current)?,
        previous: raw.previous.map(key).transpose()?,
    })
}

pub async fn slack(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<SlackSecrets, SecretError> {
    let text = read(client, name).await?;
    serde_json::from_str(&text).map_err(|err| SecretError::Shape {
        name: name.to_string(),
        problem: err.to_string(),
        expected: SLACK_SHAPE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_with_and_without_a_previous_key_and_weak_ones_are_named() {
        let keys = parse_signing_keys(
            "s",
            r#"{"current": {"id": "k2", "secret": "0123456789abcdef0123456789abcdef"}, "previous": {"id": "k1", "secret": "fedcba9876543210fedcba9876543210"}}"#,
        )
        .unwrap();
        assert_eq!(keys.current.id, "k2");
        assert_eq!(keys.previous.unwrap().id, "k1");
        let err =
            parse_signing_keys("s", r#"{"current": {"id": "k1", "secret": "short"}}"#).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
        let err = parse_signing_keys("s", "not json").unwrap_err();
        assert!(err.to_string().contains("expected {\"current\""), "{err}");
        // A field Slipway does not know (a note, a later version's field) is no reason to
        // refuse to start.
        let keys = parse_signing_keys(
            "s",
            r#"{"current": {"id": "k2", "secret": "0123456789abcdef0123456789abcdef", "created": "2026-12-01"}, "rotated_by": "ops"}"#,
        )
        .unwrap();
        assert_eq!(keys.current.id, "k2");
        let err = parse_signing_keys("s", "[]").unwrap_err();
        assert!(err.to_string().contains("expected {\"current\""), "{err}");
    }
}
