//! Approval tokens: what makes an approval link safe to send by email and Slack.
//!
//! A token is an HMAC-SHA256 over the deployment id, the target, the image being
//! approved, the expiry and the key id, so a link can approve only that deployment of
//! that image, only until it expires, and only if it was signed by a key Slipway holds.
//! Keys rotate: the current and the previous key are both accepted.
//!
//! Token format: `v1.<key id>.<expiry, unix seconds>.<base64url MAC>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::deployment::Deployment;

type HmacSha256 = Hmac<Sha256>;

/// A signing key and its id. The secret never leaves this struct.
#[derive(Clone)]
pub struct SigningKey {
    pub id: String,
    secret: Vec<u8>,
}

impl SigningKey {
    pub fn new(
        id: impl Into<String>,
        secret: impl Into<Vec<u8>>,
    ) -> Result<SigningKey, TokenError> {
        let id = id.into();
        let secret = secret.into();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(TokenError::BadKey(format!(
                "key id `{id}` must be letters, digits, '-' or '_'"
            )));
        }
        if secret.len() < 32 {
            return Err(TokenError::BadKey(format!(
                "key `{id}` is {} bytes; use at least 32 random bytes",
                secret.len()
            )));
        }
        Ok(SigningKey { id, secret })
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The keys in use: new links are signed with `current`; links signed with `previous`
/// still verify until it is rotated out.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    pub current: SigningKey,
    pub previous: Option<SigningKey>,
}

/// What an approval is bound to: exactly what the approver is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub deployment_id: &'a str,
    pub target: &'a str,
    pub image: &'a str,
    /// Which request of the deployment: 0 for the first (the only one unless a canary or
    /// linear rollout asks at every step), so that a link for one step never decides
    /// another.
    pub step: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the approval link is malformed: copy the whole link from the message")]
    Malformed,
    #[error("the approval link was signed with key `{0}`, which is no longer accepted: ask for a new link")]
    UnknownKey(String),
    #[error("the approval link is not valid for this deployment")]
    BadSignature,
    #[error("the approval link expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("signing key: {0}")]
    BadKey(String),
    #[error("the form is stale or did not come from Slipway's page: open the link again and use its buttons")]
    BadNonce,
}

impl SigningKeys {
    pub fn sign(&self, binding: Binding<'_>, expires_at: DateTime<Utc>) -> String {
        let expiry = expires_at.timestamp();
        let mac = mac(&self.current, binding, expiry).finalize().into_bytes();
        format!(
            "v1.{}.{expiry}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// Checks `token` for `binding`; returns its expiry. The signature is checked (in
    /// constant time) before the expiry, so an expiry is only believed once authentic.
    pub fn verify(
        &self,
        token: &str,
        binding: Binding<'_>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, TokenError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(key_id), Some(expiry), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let expiry: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|key| key.id == key_id)
            .ok_or_else(|| TokenError::UnknownKey(key_id.to_string()))?;
        mac(key, binding, expiry)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let expires_at = DateTime::from_timestamp(expiry, 0).ok_or(TokenError::Malformed)?;
        if now >= expires_at {
            return Err(TokenError::Expired(expires_at));
        }
        Ok(expires_at)
    }
}

/// Where approval links point, and the keys that sign them.
///
/// Keys are read at cold start; after a rotation (README, "Signing keys and rotation") a
/// warm function would refuse links signed with the new key until its next cold start.
/// So a link signed with a key this copy does not hold makes it read the keys again
/// ([`KeySource`]), at most once per [`KEY_REREAD_INTERVAL`]: a stream of forged key ids
/// costs at most one secret read per interval.
#[derive(Clone)]
pub struct ApprovalLinks {
    /// The approval endpoint's URL (on AWS the approval HTTP API; locally, `cargo lambda
    /// watch`'s `/lambda-url/approval`), without a trailing slash.
    pub base_url: String,
    keys: Arc<RwLock<Arc<SigningKeys>>>,
    source: Option<Arc<dyn KeySource>>,
    last_reread: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl std::fmt::Debug for ApprovalLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalLinks")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Where the signing keys can be read again (the adapter: Secrets Manager).
pub trait KeySource: Send + Sync {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<SigningKeys, String>> + Send + '_>>;
}

/// The shortest time between two re-reads of the keys.
pub const KEY_REREAD_INTERVAL: chrono::Duration = chrono::Duration::seconds(30);

/// What a deployment's approval is bound to.
pub fn binding(deployment: &Deployment) -> Binding<'_> {
    Binding {
        deployment_id: &deployment.id,
        target: &deployment.target,
        image: &deployment.image,
        step: deployment.approval.as_ref().map_or(0, |a| a.step),
    }
}

impl ApprovalLinks {
    pub fn new(base_url: &str, keys: SigningKeys) -> ApprovalLinks {
        ApprovalLinks {
            base_url: base_url.trim_end_matches('/').to_string(),
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            source: None,
            last_reread: Arc::default(),
        }
    }

    /// Read the keys again from `source` when a link names a key this copy lacks.
    pub fn with_source(mut self, source: Arc<dyn KeySource>) -> ApprovalLinks {
        self.source = Some(source);
        self
    }

    /// The keys held now.
    pub fn keys(&self) -> Arc<SigningKeys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// [`SigningKeys::verify`], reading the keys again (bounded) when the token names a
    /// key this copy does not hold.
    pub async fn verify(
        &self,
        token: &str,
        binding: Binding<'_>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, TokenError> {
        match self.keys().verify(token, binding, now) {
            Err(TokenError::UnknownKey(id)) if self.reread(now).await => self
                .keys()
                .verify(token, binding, now)
                .map_err(|err| match err {
                    TokenError::UnknownKey(_) => TokenError::UnknownKey(id),
                    err => err,
                }),
            result => result,
        }
    }

    /// Reads the keys again if there is a source and the last re-read is old enough;
    /// whether new keys were taken.
    async fn reread(&self, now: DateTime<Utc>) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        {
            let mut last = self.last_reread.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| now - at < KEY_REREAD_INTERVAL) {
                return false;
            }
            *last = Some(now);
        }
        match source.read().await {
            Ok(keys) => {
                tracing::info!(
                    current = keys.current.id,
                    "a link named a key this function did not hold: signing keys read again"
                );
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                true
            }
            Err(err) => {
                tracing::warn!("reading the signing keys again failed: {err}");
                false
            }
        }
    }

    /// `<base-url>/approvals/<deployment id>?t=<token>`.
    pub fn link(&self, deployment: &Deployment, expires_at: DateTime<Utc>) -> String {
        format!(
            "{}/approvals/{}?t={}",
            self.base_url,
            deployment.id,
            self.keys().sign(binding(deployment), expires_at)
        )
    }
}

/// A form nonce: proof that a POST comes from a confirm page Slipway rendered for this
/// deployment and token within the last hour, not from a page elsewhere (CSRF) or from
/// a scanner replaying the link as a POST. Format `<issued, unix seconds>.<base64url MAC>`.
pub const FORM_NONCE_LIFETIME_SECONDS: i64 = 60 * 60;

impl SigningKeys {
    pub fn form_nonce(&self, deployment_id: &str, token: &str, now: DateTime<Utc>) -> String {
        let issued = now.timestamp();
        let mac = nonce_mac(&self.current, deployment_id, token, issued)
            .finalize()
            .into_bytes();
        format!("{issued}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// Checks a form nonce against the current and the previous key.
    pub fn verify_form_nonce(
        &self,
        nonce: &str,
        deployment_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        let (issued, signature) = nonce.split_once('.').ok_or(TokenError::BadNonce)?;
        let issued: i64 = issued.parse().map_err(|_| TokenError::BadNonce)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::BadNonce)?;
        let authentic = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .any(|key| {
                nonce_mac(key, deployment_id, token, issued)
                    .verify_slice(&signature)
                    .is_ok()
            });
        // Saturating: `issued` is whatever the form carried, i64::MIN included.
        let age = now.timestamp().saturating_sub(issued);
        if !authentic || !(-60..=FORM_NONCE_LIFETIME_SECONDS).contains(&age) {
            return Err(TokenError::BadNonce);
        }
        Ok(())
    }
}

fn nonce_mac(key: &SigningKey, deployment_id: &str, token: &str, issued: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&key.secret).expect("HMAC takes keys of any length");
    for field in ["slipway-form-v1", deployment_id, token, &issued.to_string()] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

fn mac(key: &SigningKey, binding: Binding<'_>, expiry: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&key.secret).expect("HMAC takes keys of any length");
    // Length-prefixed fields: no two different bindings give the same message. A later
    // step adds a field of its own; the first step's message is the one links have always
    // signed, so links sent before steps existed stay valid.
    let step = (binding.step > 0).then(|| format!("step-{}", binding.step));
    for field in [
        "slipway-approval-v1",
        binding.deployment_id,
        binding.target,
        binding.image,
        &expiry.to_string(),
        &key.id,
    ]
    .into_iter()
    .chain(step.as_deref())
    {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn key(id: &str) -> SigningKey {
        SigningKey::new(
            id,
            format!("{id}-0123456789abcdef0123456789abcdef").into_bytes(),
        )
        .unwrap()
    }

    fn keys() -> SigningKeys {
        SigningKeys {
            current: key("k2"),
            previous: Some(key("k1")),
        }
    }

    const BINDING: Binding<'static> = Binding {
        deployment_id: "web.img-abc",
        target: "web",
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc",
        step: 0,
    };

    /// Hands out `keys` and counts the reads.
    struct Rotated {
        keys: SigningKeys,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl KeySource for Rotated {
        fn read(&self) -> Pin<Box<dyn Future<Output = Result<SigningKeys, String>> + Send + '_>> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let keys = self.keys.clone();
            Box::pin(async move { Ok(keys) })
        }
    }

    #[tokio::test]
    async fn a_warm_function_reads_the_keys_again_for_a_link_signed_after_a_rotation() {
        let now = Utc::now();
        let rotated = SigningKeys {
            current: key("k3"),
            previous: Some(key("k2")),
        };
        let token = rotated.sign(BINDING, now + Duration::hours(1));
        let source = Arc::new(Rotated {
            keys: rotated,
            reads: Default::default(),
        });
        let links = ApprovalLinks::new("https://x", keys()).with_source(source.clone());

        assert!(links.verify(&token, BINDING, now).await.is_ok());
        assert_eq!(links.keys().current.id, "k3", "the new keys are kept");

        // A forged key id right after: refused, and no second read within the interval.
        let forged = token.replace(".k3.", ".k9.");
        assert_eq!(
            links.verify(&forged, BINDING, now).await,
            Err(TokenError::UnknownKey("k9".into()))
        );
        assert_eq!(source.reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        // After the interval an unknown key is worth one more read.
        let later = now + KEY_REREAD_INTERVAL;
        assert!(links.verify(&forged, BINDING, later).await.is_err());
        assert_eq!(source.reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_a_source_an_unknown_key_is_refused_as_before() {
        let now = Utc::now();
        let other = SigningKeys {
            current: key("k3"),
            previous: None,
        };
        let token = other.sign(BINDING, now + Duration::hours(1));
        let links = ApprovalLinks::new("https://x", keys());
        assert_eq!(
            links.verify(&token, BINDING, now).await,
            Err(TokenError::UnknownKey("k3".into()))
        );
    }

    /// The same overflow fuzzing found in Slack's timestamp check: a nonce "issued" at
    /// i64::MIN is refused, not a panic.
    #[test]
    fn a_nonce_issued_at_the_edge_of_time_is_refused() {
        let now = Utc::now();
        let forged = format!("{}.AAAA", i64::MIN);
        assert_eq!(
            keys().verify_form_nonce(&forged, "web.img-abc", "tok", now),
            Err(TokenError::BadNonce)
        );
    }

    #[test]
    fn a_signed_token_verifies_for_its_binding_until_it_expires() {
        let now = Utc::now();
        let expires = now + Duration::hours(24);
        let token = keys().sign(BINDING, expires);
        assert!(token.starts_with("v1.k2."));
        assert_eq!(
            keys().verify(&token, BINDING, now).unwrap().timestamp(),
            expires.timestamp()
        );
        assert_eq!(
            keys().verify(&token, BINDING, expires + Duration::seconds(1)),
            Err(TokenError::Expired(
                DateTime::from_timestamp(expires.timestamp(), 0).unwrap()
            ))
        );
    }

    #[test]
    fn a_token_for_another_deployment_target_or_image_is_refused() {
        let now = Utc::now();
        let token = keys().sign(BINDING, now + Duration::hours(1));
        for other in [
            Binding {
                deployment_id: "web.img-def",
                ..BINDING
            },
            Binding {
                target: "worker",
                ..BINDING
            },
            Binding {
                image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:def",
                ..BINDING
            },
            // The same deployment's next step (a canary asking at every step).
            Binding { step: 1, ..BINDING },
        ] {
            assert_eq!(
                keys().verify(&token, other, now),
                Err(TokenError::BadSignature),
                "{other:?}"
            );
        }
    }

    #[test]
    fn tampering_with_any_part_is_refused() {
        let now = Utc::now();
        let token = keys().sign(BINDING, now + Duration::hours(1));
        let parts: Vec<&str> = token.split('.').collect();
        let later = (now + Duration::days(30)).timestamp().to_string();
        let extended = [parts[0], parts[1], later.as_str(), parts[3]].join(".");
        assert_eq!(
            keys().verify(&extended, BINDING, now),
            Err(TokenError::BadSignature)
        );
        let mut flipped = parts[3].to_string().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let forged = [
            parts[0],
            parts[1],
            parts[2],
            std::str::from_utf8(&flipped).unwrap(),
        ]
        .join(".");
        assert_eq!(
            keys().verify(&forged, BINDING, now),
            Err(TokenError::BadSignature)
        );
        for malformed in [
            "",
            "v1",
            "v2.k2.1.AAAA",
            "v1.k2.soon.AAAA",
            "v1.k2.1.!!!",
            &format!("{token}.x"),
        ] {
            assert_eq!(
                keys().verify(malformed, BINDING, now),
                Err(TokenError::Malformed),
                "{malformed}"
            );
        }
    }

    #[test]
    fn keys_rotate_the_previous_key_still_verifies_and_unknown_keys_do_not() {
        let now = Utc::now();
        let old = SigningKeys {
            current: key("k1"),
            previous: None,
        }
        .sign(BINDING, now + Duration::hours(1));
        assert!(
            keys().verify(&old, BINDING, now).is_ok(),
            "signed with the previous key"
        );
        let rotated_out = SigningKeys {
            current: key("k3"),
            previous: Some(key("k2")),
        };
        assert_eq!(
            rotated_out.verify(&old, BINDING, now),
            Err(TokenError::UnknownKey("k1".into()))
        );
        let stranger = SigningKeys {
            current: SigningKey::new("k2", vec![7u8; 32]).unwrap(),
            previous: None,
        };
        let token = stranger.sign(BINDING, now + Duration::hours(1));
        assert_eq!(
            keys().verify(&token, BINDING, now),
            Err(TokenError::BadSignature),
            "same id, other secret"
        );
    }

    #[test]
    fn form_nonces_bind_the_page_to_its_deployment_and_token_for_an_hour() {
        let now = Utc::now();
        let nonce = keys().form_nonce("web.img-abc", "tok", now);
        assert_eq!(
            keys().verify_form_nonce(&nonce, "web.img-abc", "tok", now),
            Ok(())
        );
        for (deployment, token, at) in [
            ("web.img-def", "tok", now),
            ("web.img-abc", "other", now),
            ("web.img-abc", "tok", now + Duration::minutes(61)),
        ] {
            assert_eq!(
                keys().verify_form_nonce(&nonce, deployment, token, at),
                Err(TokenError::BadNonce)
            );
        }
        for bad in ["", "1", "x.AAAA", "1.!!"] {
            assert_eq!(
                keys().verify_form_nonce(bad, "web.img-abc", "tok", now),
                Err(TokenError::BadNonce)
            );
        }
    }

    #[test]
    fn weak_keys_and_odd_ids_are_refused() {
        assert!(SigningKey::new("k1", b"short".to_vec()).is_err());
        assert!(SigningKey::new("k.1", vec![0u8; 32]).is_err());
        assert!(
            !format!("{:?}", key("k1")).contains("0123456789"),
            "secrets stay out of logs"
        );
    }
}
