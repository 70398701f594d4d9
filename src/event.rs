//! Incoming events, in the shapes AWS sends, turned into intents.
//!
//! Events arrive as raw JSON so that a malformed one is *our* decision to log and
//! acknowledge; left to the runtime, a parse failure becomes a Lambda error, and Lambda
//! retries it into a storm. Unknown fields are always accepted: AWS adds fields over time.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event we cannot act on, and why. Logged and acknowledged, never retried.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not an EventBridge event: {0}")]
    NotEventBridge(String),
    #[error("expected source `{expected}` / detail-type `{expected_type}`, got `{got_source}` / `{detail_type}`: this function is subscribed to the wrong rule")]
    UnexpectedKind {
        expected: &'static str,
        expected_type: &'static str,
        got_source: String,
        detail_type: String,
    },
    #[error("event {id}: the detail is not what this kind of event carries: {problem}")]
    BadDetail { id: String, problem: String },
    #[error("event {id}: `{field}` is missing from the envelope")]
    MissingEnvelopeField { id: String, field: &'static str },
    #[error("event {id}: image digest `{digest}` is not of the form sha256:<64 hex>")]
    BadDigest { id: String, digest: String },
}

/// The `detail` of an "ECR Image Action" event.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct EcrImageAction {
    pub result: String,
    pub repository_name: String,
    pub image_digest: String,
    pub action_type: String,
    /// Absent for pushes by digest, such as the per-platform manifests of a multi-arch push.
    #[serde(default)]
    pub image_tag: Option<String>,
    #[serde(default)]
    pub manifest_media_type: Option<String>,
    #[serde(default)]
    pub artifact_media_type: Option<String>,
}

/// A tagged image successfully pushed: the only ECR event that can deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagePushed {
    pub event_id: String,
    pub event_time: Option<DateTime<Utc>>,
    pub account: String,
    pub region: String,
    pub repository: String,
    pub tag: String,
    /// `sha256:<64 hex>`.
    pub digest: String,
}

/// What an event means for Slipway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent<T> {
    Deploy(T),
    /// A well-formed event that must not deploy; the reason goes in the log.
    Ignore {
        event_id: String,
        reason: String,
    },
}

pub type EcrIntent = Intent<ImagePushed>;

/// Opens an EventBridge envelope of the expected kind and reads its `detail` as `T`.
/// Returns the event id (or "(no id)") with the envelope.
pub fn open_envelope<T: serde::de::DeserializeOwned + Serialize>(
    raw: &Value,
    source: &'static str,
    detail_type: &'static str,
) -> Result<(String, EventBridgeEvent<T>), EventError> {
    let envelope: EventBridgeEvent<Value> = serde_json::from_value(raw.clone())
        .map_err(|err| EventError::NotEventBridge(err.to_string()))?;
    let id = envelope.id.clone().unwrap_or_else(|| "(no id)".to_string());
    if envelope.source != source || envelope.detail_type != detail_type {
        return Err(EventError::UnexpectedKind {
            expected: source,
            expected_type: detail_type,
            got_source: envelope.source,
            detail_type: envelope.detail_type,
        });
    }
    let detail: T =
        serde_json::from_value(envelope.detail).map_err(|err| EventError::BadDetail {
            id: id.clone(),
            problem: err.to_string(),
        })?;
    let envelope = EventBridgeEvent {
        version: envelope.version,
        id: envelope.id,
        detail_type: envelope.detail_type,
        source: envelope.source,
        account: envelope.account,
        time: envelope.time,
        region: envelope.region,
        resources: envelope.resources,
        detail,
    };
    Ok((id, envelope))
}

const ECR_SOURCE: &str = "aws.ecr";
const ECR_DETAIL_TYPE: &str = "ECR Image Action";

/// Reads an EventBridge "ECR Image Action" event.
pub fn parse_ecr_event(raw: &Value) -> Result<EcrIntent, EventError> {
    let (id, envelope) = open_envelope::<EcrImageAction>(raw, ECR_SOURCE, ECR_DETAIL_TYPE)?;
    let detail = envelope.detail;
    let ignore = |reason: String| {
        Ok(EcrIntent::Ignore {
            event_id: id.clone(),
            reason,
        })
    };
    if detail.action_type != "PUSH" {
        return ignore(format!(
            "action-type is {}, only PUSH deploys",
            detail.action_type
        ));
    }
    if detail.result != "SUCCESS" {
        return ignore(format!(
            "result is {}, only a SUCCESS push deploys",
            detail.result
        ));
    }
    let Some(tag) = detail.image_tag.filter(|t| !t.is_empty()) else {
        return ignore(format!(
            "push of {} has no image-tag (a per-platform manifest of a multi-arch image, or a push by digest); the tagged index deploys instead",
            detail.image_digest
        ));
    };
    if !is_sha256_digest(&detail.image_digest) {
        return Err(EventError::BadDigest {
            id,
            digest: detail.image_digest,
        });
    }
    let account =
        envelope
            .account
            .filter(|a| !a.is_empty())
            .ok_or(EventError::MissingEnvelopeField {
                id: id.clone(),
                field: "account",
            })?;
    let region =
        envelope
            .region
            .filter(|r| !r.is_empty())
            .ok_or(EventError::MissingEnvelopeField {
                id: id.clone(),
                field: "region",
            })?;
    Ok(EcrIntent::Deploy(ImagePushed {
        event_id: id,
        event_time: envelope.time,
        account,
        region,
        repository: detail.repository_name,
        tag,
        digest: detail.image_digest,
    }))
}

pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(file: &str) -> Value {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn a_tagged_successful_push_deploys() {
        let EcrIntent::Deploy(push) = parse_ecr_event(&event("ecr-push.json")).unwrap() else {
            panic!("a tagged push must deploy");
        };
        assert_eq!(push.repository, "app");
        assert_eq!(push.tag, "v1.4.2");
        assert_eq!(push.account, "123456789012");
        assert!(is_sha256_digest(&push.digest));
    }

    #[test]
    fn an_untagged_platform_manifest_is_ignored_with_a_reason() {
        let intent = parse_ecr_event(&event("ecr-push-untagged-platform-manifest.json")).unwrap();
        assert!(
            matches!(intent, EcrIntent::Ignore { ref reason, .. } if reason.contains("no image-tag")),
            "{intent:?}"
        );
    }

    #[test]
    fn deletes_and_failures_are_ignored() {
        for (file, why) in [
            ("ecr-delete.json", "DELETE"),
            ("ecr-push-failure.json", "FAILURE"),
        ] {
            let intent = parse_ecr_event(&event(file)).unwrap();
            assert!(
                matches!(intent, EcrIntent::Ignore { ref reason, .. } if reason.contains(why)),
                "{file}: {intent:?}"
            );
        }
    }

    #[test]
    fn a_malformed_event_is_an_error_naming_the_problem() {
        let err = parse_ecr_event(&event("malformed-ecr-push.json")).unwrap_err();
        assert!(err.to_string().contains("repository-name"), "{err}");
    }

    #[test]
    fn unknown_fields_are_accepted() {
        let mut raw = event("ecr-push.json");
        raw["detail"]["a-field-added-next-year"] = Value::from(true);
        raw["another"] = Value::from(1);
        assert!(matches!(
            parse_ecr_event(&raw).unwrap(),
            EcrIntent::Deploy(_)
        ));
    }

    #[test]
    fn events_of_another_kind_are_refused() {
        let mut raw = event("ecr-push.json");
        raw["source"] = Value::from("aws.s3");
        assert!(matches!(
            parse_ecr_event(&raw),
            Err(EventError::UnexpectedKind { .. })
        ));
        assert!(matches!(
            parse_ecr_event(&Value::from("hello")),
            Err(EventError::NotEventBridge(_))
        ));
    }

    #[test]
    fn digests_must_be_sha256() {
        let mut raw = event("ecr-push.json");
        raw["detail"]["image-digest"] = Value::from("sha256:../../etc");
        assert!(matches!(
            parse_ecr_event(&raw),
            Err(EventError::BadDigest { .. })
        ));
    }

    /// Every file in `events/` must parse as an EventBridge envelope and, for ECR files,
    /// give the intent its name promises.
    #[test]
    fn every_event_file_parses() {
        let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            seen += 1;
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|err| panic!("{}: not JSON: {err}", path.display()));
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            match name.as_str() {
                n if n.starts_with("malformed-ecr") => {
                    assert!(parse_ecr_event(&raw).is_err(), "{n} must be refused")
                }
                n if n.starts_with("ecr-") => assert!(parse_ecr_event(&raw).is_ok(), "{n}"),
                n if n.starts_with("s3-") => {
                    let parsed = crate::source::parse_source_event(&raw);
                    assert!(
                        matches!(parsed, Ok(crate::source::SourceIntent::Deploy(_))),
                        "{n}: {parsed:?}"
                    )
                }
                // HTTP requests to the approval function: `aws::http`'s test parses them
                // with lambda_http, as the function does.
                n if n.starts_with("function-url-") => {}
                n => {
                    panic!("{n}: no test knows this event file; add it to every_event_file_parses")
                }
            }
        }
        assert!(seen >= 5, "expected the ECR event files, found {seen}");
    }
}
