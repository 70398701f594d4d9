//! "Slipway Upstream Succeeded": the event Slipway publishes on its promotion bus when a
//! deployment of a target other targets promote from succeeds, so that a stage waiting for
//! that digest looks again at once instead of at the reconciler's next run.
//!
//! A hint, never evidence: whatever the event says, the stage decides from the upstream's
//! ledger record (`deployer::promotion`). The event's `account` is the publisher's —
//! PutEvents entries carry no account field, EventBridge fills it in
//! (<https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html>,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html>) —
//! and the promotion bus admits only Slipway's own account (its resource policy), so a
//! hint from another account is forged or misrouted: refused and logged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::{open_envelope, EventError, Intent};

pub const HINT_SOURCE: &str = "slipway.promotion";
pub const HINT_TYPE: &str = "Slipway Upstream Succeeded";

/// What the hint names: an upstream target's deployment said to have succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSucceeded {
    pub target: String,
    pub deployment_id: String,
    /// The digest-pinned image it rolled.
    pub image: String,
    pub succeeded_at: DateTime<Utc>,
}

/// A hint as it arrived, with who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintEvent {
    pub event_id: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub hint: UpstreamSucceeded,
}

/// Whether `raw` is a promotion hint (for the function that takes several kinds).
pub fn is_hint(raw: &Value) -> bool {
    raw.get("source").and_then(Value::as_str) == Some(HINT_SOURCE)
}

pub fn parse_hint(raw: &Value) -> Result<Intent<HintEvent>, EventError> {
    let (id, envelope) = open_envelope::<UpstreamSucceeded>(raw, HINT_SOURCE, HINT_TYPE)?;
    let hint = envelope.detail;
    if hint.target.trim().is_empty() || hint.deployment_id.trim().is_empty() {
        return Err(EventError::BadDetail {
            id,
            problem: "target and deployment_id must be named".into(),
        });
    }
    Ok(Intent::Deploy(HintEvent {
        event_id: id,
        account: envelope.account,
        region: envelope.region,
        hint,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_event_file_reads_as_a_hint_and_other_shapes_are_refused() {
        let path = format!(
            "{}/events/slipway-upstream-succeeded.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(is_hint(&raw));
        let Ok(Intent::Deploy(event)) = parse_hint(&raw) else {
            panic!("not a hint")
        };
        assert_eq!(event.account.as_deref(), Some("123456789012"));
        assert_eq!(event.hint.target, "web");
        assert!(event.hint.image.contains("@sha256:"));
        let mut empty = raw.clone();
        empty["detail"]["target"] = json!("");
        assert!(parse_hint(&empty).is_err());
        let mut other = raw.clone();
        other["detail-type"] = json!("Slipway Upstream Failed");
        assert!(parse_hint(&other).is_err());
    }
}
