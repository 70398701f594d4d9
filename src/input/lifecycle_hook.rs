//! What ECS sends a Lambda lifecycle hook, and the answer it expects (Amazon ECS Developer
//! Guide, "Lambda hooks for Amazon ECS service deployments"). `aws_lambda_events` has no
//! type for either, so these follow the documented shapes:
//! - the call: `executionId`, `lifecycleStage`, `resourceArn` (the service deployment),
//!   `executionDetails` {`serviceArn`, `targetServiceRevisionArn`, `testTrafficWeights`,
//!   `productionTrafficWeights`}, and `hookDetails` (the hook's configuration, merged with
//!   what the previous IN_PROGRESS answer returned);
//! - the answer: `hookStatus` SUCCEEDED, FAILED or IN_PROGRESS, with `callBackDelay`
//!   (seconds until ECS calls again; 30 when absent) and `hookDetails` carried to the next
//!   call. "If your function doesn't return a valid hookStatus, or if it fails, Amazon
//!   ECS rolls back the deployment."

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::progressive::Stage;

/// One call of a Lambda lifecycle hook.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookCall {
    pub execution_id: String,
    pub lifecycle_stage: String,
    /// The service deployment's ARN.
    pub resource_arn: String,
    pub execution_details: ExecutionDetails,
    #[serde(default)]
    pub hook_details: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetails {
    pub service_arn: String,
    /// The new (green) revision; it stays the green one during a rollback.
    pub target_service_revision_arn: String,
    /// Revision ARN → percent; empty at the stages where traffic does not move.
    #[serde(default)]
    pub test_traffic_weights: BTreeMap<String, f64>,
    #[serde(default)]
    pub production_traffic_weights: BTreeMap<String, f64>,
}

impl HookCall {
    pub fn stage(&self) -> Option<Stage> {
        Stage::from_ecs_name(&self.lifecycle_stage)
    }

    /// A rollback re-runs the traffic-shift hooks with the green revision's weight at
    /// zero and the old one's at 100 (there is no ROLLBACK stage).
    pub fn is_rollback(&self) -> bool {
        let green = &self.execution_details.target_service_revision_arn;
        let weights = match self.stage() {
            Some(Stage::TestTraffic) => &self.execution_details.test_traffic_weights,
            Some(Stage::ProductionTraffic) => &self.execution_details.production_traffic_weights,
            _ => return false,
        };
        weights.get(green) == Some(&0.0) && weights.values().any(|w| *w == 100.0)
    }
}

/// `hookStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    Succeeded,
    Failed,
    InProgress,
}

/// The hook's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookAnswer {
    pub hook_status: HookStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_back_delay: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_call_parses_and_an_answer_has_the_documented_names() {
        let raw = std::fs::read_to_string(format!(
            "{}/events/lifecycle-hook-post-test-traffic.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let call: HookCall = serde_json::from_str(&raw).unwrap();
        assert_eq!(call.stage(), Some(Stage::PostTestTraffic));
        assert!(!call.is_rollback());
        assert_eq!(
            call.hook_details.as_ref().unwrap()["url"],
            "http://127.0.0.1:8443/healthz"
        );
        let answer = HookAnswer {
            hook_status: HookStatus::InProgress,
            call_back_delay: Some(15),
            hook_details: None,
        };
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            serde_json::json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 15})
        );
    }

    #[test]
    fn a_traffic_shift_back_to_the_old_revision_is_a_rollback() {
        let green = "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/2";
        let blue = "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1";
        let call: HookCall = serde_json::from_value(serde_json::json!({
            "executionId": "x", "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
            "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/a",
            "executionDetails": {"serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/demo/web",
                "targetServiceRevisionArn": green, "testTrafficWeights": {},
                "productionTrafficWeights": {green: 0, blue: 100}}
        }))
        .unwrap();
        assert!(call.is_rollback());
    }
}
