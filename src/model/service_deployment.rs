//! An ECS service deployment as DescribeServiceDeployments reports it (Amazon ECS API
//! Reference, API_ServiceDeployment), and the answer to a PAUSE hook — plain data, and
//! how such a deployment ended.
//!
//! `status` (API_ServiceDeployment): PENDING; ongoing IN_PROGRESS, STOP_REQUESTED,
//! ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS; ended SUCCESSFUL, STOPPED,
//! ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED (Developer Guide, "View service history using
//! Amazon ECS service deployments"). SUCCESSFUL comes only after the bake time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// ContinueServiceDeployment's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookAction {
    Continue,
    Rollback,
}

impl HookAction {
    pub fn ecs_name(self) -> &'static str {
        match self {
            HookAction::Continue => "CONTINUE",
            HookAction::Rollback => "ROLLBACK",
        }
    }
}

/// A hook of the deployment waiting for ContinueServiceDeployment
/// (`lifecycleHookDetails[]` with status AWAITING_ACTION).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingHook {
    pub hook_id: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDeploymentState {
    pub arn: String,
    /// ECS's status, as it names it (`IN_PROGRESS`, `SUCCESSFUL`, …).
    pub status: String,
    pub status_reason: Option<String>,
    /// `lifecycleStage` (`POST_TEST_TRAFFIC_SHIFT`, `BAKE_TIME`, …).
    pub lifecycle_stage: Option<String>,
    /// The alarms whose ALARM state failed the deployment (`alarms.triggeredAlarmNames`).
    pub triggered_alarms: Vec<String>,
    pub rollback_reason: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub awaiting: Vec<AwaitingHook>,
}

/// How a service deployment ended, for the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// SUCCESSFUL: production traffic moved and the bake time passed.
    Succeeded,
    /// Rolled back (or stopped): why, naming the alarms that fired, if any.
    RolledBack { reason: String },
    /// The rollback itself failed: the service may run either revision.
    RollbackFailed { reason: String },
}

impl ServiceDeploymentState {
    /// `None` while the deployment is pending or under way.
    pub fn ended(&self) -> Option<Ended> {
        let reason = || {
            let mut parts = Vec::new();
            if !self.triggered_alarms.is_empty() {
                parts.push(format!(
                    "alarm {} in ALARM",
                    self.triggered_alarms.join(", ")
                ));
            }
            parts.extend(self.rollback_reason.clone());
            parts.extend(self.status_reason.clone());
            if parts.is_empty() {
                parts.push(format!("ECS reports {}", self.status));
            }
            parts.join("; ")
        };
        match self.status.as_str() {
            "SUCCESSFUL" => Some(Ended::Succeeded),
            "ROLLBACK_SUCCESSFUL" | "STOPPED" => Some(Ended::RolledBack { reason: reason() }),
            "ROLLBACK_FAILED" => Some(Ended::RollbackFailed { reason: reason() }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str, alarms: &[&str]) -> ServiceDeploymentState {
        ServiceDeploymentState {
            arn: "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/a".into(),
            status: status.into(),
            status_reason: None,
            lifecycle_stage: None,
            triggered_alarms: alarms.iter().map(|a| a.to_string()).collect(),
            rollback_reason: None,
            finished_at: None,
            awaiting: vec![],
        }
    }

    #[test]
    fn only_a_final_status_ends_a_deployment_and_a_rollback_names_its_alarm() {
        for ongoing in [
            "PENDING",
            "IN_PROGRESS",
            "STOP_REQUESTED",
            "ROLLBACK_REQUESTED",
            "ROLLBACK_IN_PROGRESS",
        ] {
            assert_eq!(state(ongoing, &[]).ended(), None, "{ongoing}");
        }
        assert_eq!(state("SUCCESSFUL", &[]).ended(), Some(Ended::Succeeded));
        let Some(Ended::RolledBack { reason }) = state("ROLLBACK_SUCCESSFUL", &["web-5xx"]).ended()
        else {
            panic!()
        };
        assert!(reason.contains("alarm web-5xx in ALARM"), "{reason}");
        assert!(matches!(
            state("ROLLBACK_FAILED", &[]).ended(),
            Some(Ended::RollbackFailed { .. })
        ));
    }
}
