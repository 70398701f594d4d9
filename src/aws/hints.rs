//! Promotion hints on Slipway's promotion bus: PutEvents of one "Slipway Upstream
//! Succeeded" entry. PutEvents answers 200 even when an entry fails; the entry's
//! `ErrorCode` says why, and `FailedEntryCount` how many
//! (<https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html>).

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::future::BoxFuture;

use super::errors::classify;
use crate::input::hint::{UpstreamSucceeded, HINT_SOURCE, HINT_TYPE};
use crate::ports::{AwsError, AwsErrorKind, Hints};

pub struct EventBridgeHints {
    client: aws_sdk_eventbridge::Client,
    /// The promotion bus's name (or ARN).
    bus: String,
}

impl EventBridgeHints {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: String) -> Self {
        EventBridgeHints { client, bus }
    }

    async fn put(&self, hint: &UpstreamSucceeded) -> Result<(), AwsError> {
        let detail = serde_json::to_string(hint).map_err(|err| AwsError {
            operation: "PutEvents",
            message: err.to_string(),
            kind: AwsErrorKind::Permanent,
        })?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(HINT_SOURCE)
            .detail_type(HINT_TYPE)
            .detail(detail)
            .build();
        let answer = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|err| classify("PutEvents", err, &[]))?;
        if answer.failed_entry_count() > 0 {
            let failed = answer.entries().first();
            return Err(AwsError {
                operation: "PutEvents",
                message: format!(
                    "the entry was refused: {} {}",
                    failed.and_then(|e| e.error_code()).unwrap_or("?"),
                    failed.and_then(|e| e.error_message()).unwrap_or("")
                ),
                kind: AwsErrorKind::Transient,
            });
        }
        Ok(())
    }
}

impl Hints for EventBridgeHints {
    fn publish<'a>(&'a self, hint: &'a UpstreamSucceeded) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(self.put(hint))
    }
}
