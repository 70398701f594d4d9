//! DescribeServices' answer as the decisions read it: what the service runs, how it is
//! deployed (controller, strategy, circuit breaker: `crate::model::rollable`), and its
//! deployments (the reconciler's view of a rollout whose event was lost).

use aws_sdk_ecs::types::{Deployment, Service};

use crate::ports::{EcsDeployment, ServiceState};

/// `found`, an ACTIVE service running `task_definition`.
pub(super) fn service_state(
    found: &Service,
    status: String,
    task_definition: &str,
) -> ServiceState {
    ServiceState {
        arn: found.service_arn().unwrap_or_default().to_string(),
        status,
        task_definition: task_definition.to_string(),
        primary_deployment: found
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .and_then(|d| d.id())
            .map(str::to_string),
        controller: found
            .deployment_controller()
            .map(|c| c.r#type().as_str().to_string())
            .unwrap_or_else(|| crate::model::rollable::ECS_CONTROLLER.to_string()),
        strategy: found
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|s| s.as_str().to_string()),
        circuit_breaker: found
            .deployment_configuration()
            .and_then(|c| c.deployment_circuit_breaker())
            .map(|b| b.enable()),
        deployments: found.deployments().iter().map(deployment_state).collect(),
    }
}

fn deployment_state(deployment: &Deployment) -> EcsDeployment {
    EcsDeployment {
        id: deployment.id().unwrap_or_default().to_string(),
        status: deployment.status().unwrap_or_default().to_string(),
        task_definition: deployment.task_definition().unwrap_or_default().to_string(),
        rollout_state: deployment.rollout_state().map(|s| s.as_str().to_string()),
        rollout_state_reason: deployment.rollout_state_reason().map(str::to_string),
        updated_at: deployment
            .updated_at()
            .and_then(|at| chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos())),
    }
}
