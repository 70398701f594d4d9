//! An ECS service as far as deciding goes: what it runs, its deployments, and how it is
//! rolled (read by DescribeServices; the reconciler and `rollable` decide from it).

use chrono::{DateTime, Utc};

/// The running state of an ECS service, as far as deciding goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub arn: String,
    pub status: String,
    /// The task definition the service runs now (`service.taskDefinition`).
    pub task_definition: String,
    /// The id of the PRIMARY deployment: ECS's rollout onto `task_definition`.
    pub primary_deployment: Option<String>,
    /// `deploymentController.type`: `ECS` (also when ECS reports none), `CODE_DEPLOY`,
    /// `EXTERNAL` ([`crate::model::rollable`] decides what that means).
    pub controller: String,
    /// `deploymentConfiguration.strategy` (`ROLLING`, `BLUE_GREEN`, …), when reported.
    pub strategy: Option<String>,
    /// `deploymentConfiguration.deploymentCircuitBreaker.enable`, when reported.
    pub circuit_breaker: Option<bool>,
    /// The service's deployments as DescribeServices lists them (PRIMARY, ACTIVE, and
    /// recently INACTIVE ones): what the reconciler reads when an event was lost.
    pub deployments: Vec<EcsDeployment>,
}

/// One of a service's deployments (`service.deployments[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EcsDeployment {
    /// `ecs-svc/…`, as ECS's deployment events name it.
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub task_definition: String,
    /// `COMPLETED`, `FAILED` or `IN_PROGRESS`; `None` for services without rollout state.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}
