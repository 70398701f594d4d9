//! What ECS tells about a service's rollouts, as plain data: the service an event is
//! about, a deployment's state change (and the circuit breaker's rollback), a lifecycle
//! hook's state change, and service actions. `input::event` reads them from
//! EventBridge's JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::progressive::Stage;

/// The ECS service an event is about, read from `resources[0]`
/// (`arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRef {
    pub arn: String,
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub service: String,
}

impl ServiceRef {
    pub fn parse(arn: &str) -> Option<ServiceRef> {
        let rest = arn.strip_prefix("arn:")?;
        let mut parts = rest.splitn(5, ':');
        let (_partition, ecs, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let mut path = resource.strip_prefix("service/")?.split('/');
        let (cluster, service) = (path.next()?, path.next()?);
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if ecs != "ecs" || path.next().is_some() || !valid(cluster) || !valid(service) {
            return None;
        }
        Some(ServiceRef {
            arn: arn.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            cluster: cluster.to_string(),
            service: service.to_string(),
        })
    }
}

/// The three deployment state changes ECS reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentEventName {
    InProgress,
    Completed,
    Failed,
}

/// An "ECS Deployment State Change" event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentChanged {
    pub event_id: String,
    pub service: ServiceRef,
    pub name: DeploymentEventName,
    /// The ECS deployment (`ecs-svc/…`) the event is about.
    pub ecs_deployment_id: String,
    /// When ECS changed the deployment: the end of a rollout's duration.
    pub updated_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// The prefix of the reason ECS gives when its circuit breaker rolls a service back.
const ROLLBACK_REASON: &str = "ECS deployment circuit breaker: rolling back to deploymentId";

impl DeploymentChanged {
    /// For the IN_PROGRESS event of a circuit-breaker rollback: the ECS deployment the
    /// service is rolled back to.
    pub fn rolling_back_to(&self) -> Option<&str> {
        let rest = self.reason.as_deref()?.strip_prefix(ROLLBACK_REASON)?;
        let id = rest.trim().trim_end_matches('.');
        (!id.is_empty()).then_some(id)
    }
}

/// An "ECS Service Action" event (SERVICE_STEADY_STATE, SERVICE_TASK_START_IMPAIRED, …):
/// not an outcome, but worth noting on a rollout that is under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceAction {
    pub event_id: String,
    pub service: ServiceRef,
    /// INFO, WARN or ERROR.
    pub event_type: String,
    pub name: String,
    pub reason: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

impl ServiceAction {
    /// Problems a person watching a rollout wants to know about.
    pub fn is_problem(&self) -> bool {
        self.event_type != "INFO"
    }
}

/// The states an "ECS Hook State Change" event reports (Amazon ECS Developer Guide,
/// "Amazon ECS service deployment hook state change events"): a PAUSE hook waits in
/// AWAITING_ACTION until ContinueServiceDeployment answers it (CONTINUE: SUCCEEDED,
/// ROLLBACK: FAILED) or its timeout passes (TIMED_OUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEventName {
    InProgress,
    AwaitingAction,
    Succeeded,
    Failed,
    TimedOut,
}

impl HookEventName {
    pub fn from_ecs_name(name: &str) -> Option<HookEventName> {
        Some(match name {
            "HOOK_IN_PROGRESS" => HookEventName::InProgress,
            "HOOK_AWAITING_ACTION" => HookEventName::AwaitingAction,
            "HOOK_SUCCEEDED" => HookEventName::Succeeded,
            "HOOK_FAILED" => HookEventName::Failed,
            "HOOK_TIMED_OUT" => HookEventName::TimedOut,
            _ => return None,
        })
    }
}

/// An "ECS Hook State Change" event. It names the service deployment by its ARN only
/// (never the `ecs-svc/…` id of the deployment events), which is why Slipway records both
/// when it starts a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookChanged {
    pub event_id: String,
    pub service: ServiceRef,
    pub service_deployment_arn: String,
    /// Each pause (each step, at PRE_PRODUCTION_TRAFFIC_SHIFT) has its own.
    pub hook_id: String,
    /// `PAUSE` or `AWS_LAMBDA` (empty when the event did not say).
    pub hook_type: String,
    pub name: HookEventName,
    /// `None` for a stage Slipway does not know (AWS adds them over time).
    pub stage: Option<Stage>,
    /// When ECS stops waiting and takes the hook's timeout action.
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl HookChanged {
    /// Only a PAUSE hook ever awaits action ("A pause hook has started and requires
    /// action").
    pub fn is_pause(&self) -> bool {
        self.hook_type == "PAUSE" || self.name == HookEventName::AwaitingAction
    }
}
