//! Rolling an approval after the answer: Slack wants an interaction acknowledged with an
//! HTTP 200 within 3 seconds ("Handling user interaction in your Slack apps",
//! docs.slack.dev/interactivity/handling-user-interaction; Bolt's "Acknowledging
//! requests"), and a roll — ledger writes, RegisterTaskDefinition, UpdateService — can
//! take longer than that on AWS.
//!
//! So a Slack approval is verified and recorded durably, answered at once, and its roll is
//! handed over as a [`RollJob`]: on AWS an asynchronous invocation of the approval
//! function itself (Lambda API Reference, Invoke: with `InvocationType=Event` Lambda
//! queues the event and answers at once; a function error is retried up to two more
//! times, and the same event may occasionally arrive twice — so a job is idempotent).
//!
//! A job is not an authority: it can only complete the rollout of a deployment a person
//! already approved (the ledger says `approved`, with the decision). A job that arrives
//! twice, or for anything else, changes nothing.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::model::deployment::Actor;

/// One roll to do after the answer. Its JSON is the whole invocation payload; the key
/// `slipway_roll` tells it apart from the HTTP events the function also serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollJob {
    pub slipway_roll: RollRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollRequest {
    /// The approved deployment (`<target>.<key>`).
    pub deployment_id: String,
    /// Where to report back in Slack, and who approved (a Slack mention), for the edit.
    pub response_url: String,
    pub approved_by: String,
    /// The approver, for the audit entry of the roll.
    pub actor: Actor,
}

impl RollJob {
    /// The job in an invocation payload, if the payload is one.
    pub fn from_payload(payload: &serde_json::Value) -> Option<RollJob> {
        payload.get("slipway_roll")?;
        serde_json::from_value(payload.clone()).ok()
    }
}

/// A boxed future, so that [`RollLater`] can be used as a trait object.
pub type HandOver<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Where a roll is handed over to. `Err` means the job was not accepted: the caller then
/// rolls at once rather than leave an approval without its rollout.
pub trait RollLater: Send + Sync {
    fn hand_over<'a>(&'a self, job: &'a RollJob) -> HandOver<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::deployment::Channel;

    #[test]
    fn a_roll_job_is_told_apart_from_an_http_event() {
        let job = RollJob {
            slipway_roll: RollRequest {
                deployment_id: "web.img-ab".into(),
                response_url: "https://hooks.slack.com/actions/T/1/x".into(),
                approved_by: "<@U1>".into(),
                actor: Actor {
                    id: "U1 (alice)".into(),
                    channel: Channel::Slack,
                    source: Some("T1".into()),
                },
            },
        };
        let payload = serde_json::to_value(&job).unwrap();
        assert_eq!(RollJob::from_payload(&payload), Some(job));
        let http: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/events/http-api-approval-get.json"
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(RollJob::from_payload(&http), None);
        assert_eq!(
            RollJob::from_payload(&serde_json::json!({"slipway_roll": {"deployment_id": 1}})),
            None
        );
    }
}
