//! What ECS tells about a service's rollouts, as plain data: the service an event is
//! about, a deployment's state change (and the circuit breaker's rollback), and service
//! actions. `input::event` reads them from EventBridge's JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;

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
