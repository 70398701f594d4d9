//! The approval function handing a Slack approval's roll to itself, asynchronously
//! (`approval::later`): Invoke with `InvocationType=Event` answers once Lambda has queued
//! the event (HTTP 202, Lambda API Reference "Invoke"), in tens of milliseconds.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use crate::web::later::{HandOver, RollJob, RollLater};

/// Lambda's asynchronous invocation of this very function.
pub struct SelfInvoke {
    client: aws_sdk_lambda::Client,
    function: String,
}

/// How long handing over may take before the roll is done in the request instead: well
/// inside Slack's 3 s, with room for the ledger writes before it.
const HAND_OVER_TIMEOUT: Duration = Duration::from_millis(1500);

impl SelfInvoke {
    /// Set up when `SLIPWAY_ROLL_ASYNC=1` (Terraform sets it, with the grant to invoke
    /// the function itself) and Lambda names the function (`AWS_LAMBDA_FUNCTION_NAME`).
    /// Without them Slack approvals roll in the request, as under `cargo lambda watch`.
    pub fn from_env(shared: &aws_config::SdkConfig) -> Option<SelfInvoke> {
        let enabled = std::env::var("SLIPWAY_ROLL_ASYNC").is_ok_and(|v| v == "1");
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok()?;
        if !enabled || function.is_empty() {
            return None;
        }
        let config = aws_sdk_lambda::config::Builder::from(shared)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(HAND_OVER_TIMEOUT)
                    .build(),
            )
            .build();
        Some(SelfInvoke {
            client: aws_sdk_lambda::Client::from_conf(config),
            function,
        })
    }
}

/// [`SelfInvoke::from_env`] with the standard credential and region chain.
pub async fn from_env() -> Option<SelfInvoke> {
    SelfInvoke::from_env(&super::shared_config().await)
}

impl RollLater for SelfInvoke {
    fn hand_over<'a>(&'a self, job: &'a RollJob) -> HandOver<'a> {
        Box::pin(async move {
            let payload = serde_json::to_vec(job).map_err(|err| err.to_string())?;
            let answer = self
                .client
                .invoke()
                .function_name(&self.function)
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(payload))
                .send()
                .await
                .map_err(|err| {
                    format!(
                        "Invoke {} (Event): {}",
                        self.function,
                        aws_sdk_lambda::error::DisplayErrorContext(&err)
                    )
                })?;
            match answer.status_code() {
                202 => Ok(()),
                other => Err(format!(
                    "Invoke {} answered {other}, not 202",
                    self.function
                )),
            }
        })
    }
}
