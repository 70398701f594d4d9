//! ECS's progressive-deployment calls, mapped from Slipway's plain types: the deployment
//! configuration an UpdateService carries (strategy, bake, canary or linear, alarms with
//! rollback, a PAUSE hook), the load balancer's advanced configuration, and
//! ContinueServiceDeployment and DescribeServiceDeployments. Field by field as the API
//! reference names them (API_DeploymentConfiguration, API_DeploymentLifecycleHook,
//! API_DeploymentLifecycleHookTimeoutConfiguration, API_AdvancedConfiguration,
//! API_ContinueServiceDeployment, API_DescribeServiceDeployments).

use aws_sdk_ecs::types::{
    AdvancedConfiguration, CanaryConfiguration, DeploymentAlarms, DeploymentConfiguration,
    DeploymentLifecycleHook, DeploymentLifecycleHookAction, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookStatus, DeploymentLifecycleHookTargetType,
    DeploymentLifecycleHookTimeoutConfiguration, DeploymentStrategy, LinearConfiguration,
    LoadBalancer, ServiceDeployment,
};

use aws_smithy_types::{Document, Number};

use crate::model::progressive::{DeploymentSettings, Strategy, TrafficShift};
use crate::model::service_deployment::{AwaitingHook, HookAction, ServiceDeploymentState};
use crate::model::test_probe::ProbeHook;

/// The `deploymentConfiguration` for `settings`. A pause hook times out with ROLLBACK:
/// an approval nobody gave must not ship.
pub fn deployment_configuration(settings: &DeploymentSettings) -> DeploymentConfiguration {
    let mut configuration = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::from(settings.strategy.ecs_name()));
    if let Some(bake) = settings.bake_minutes {
        configuration = configuration.bake_time_in_minutes(bake as i32);
    }
    match settings.strategy {
        Strategy::Canary {
            percent,
            bake_minutes,
        } => {
            configuration = configuration.canary_configuration(
                CanaryConfiguration::builder()
                    .canary_percent(percent)
                    .canary_bake_time_in_minutes(bake_minutes as i32)
                    .build(),
            )
        }
        Strategy::Linear {
            step_percent,
            step_bake_minutes,
        } => {
            configuration = configuration.linear_configuration(
                LinearConfiguration::builder()
                    .step_percent(step_percent)
                    .step_bake_time_in_minutes(step_bake_minutes as i32)
                    .build(),
            )
        }
        Strategy::Rolling | Strategy::BlueGreen => {}
    }
    if !settings.alarms.is_empty() {
        let alarms = settings
            .alarms
            .iter()
            .fold(DeploymentAlarms::builder(), |b, name| b.alarm_names(name))
            .enable(true)
            .rollback(true)
            .build()
            .expect("alarm names are set");
        configuration = configuration.alarms(alarms);
    }
    // Always the whole list: without a pause an empty one, so that a hook an earlier
    // rollout sent (ECS stores the configuration with the service) does not pause this one.
    configuration = configuration.set_lifecycle_hooks(Some(vec![]));
    if let Some(pause) = settings.pause {
        configuration = configuration.lifecycle_hooks(
            DeploymentLifecycleHook::builder()
                .target_type(DeploymentLifecycleHookTargetType::Pause)
                .lifecycle_stages(DeploymentLifecycleHookStage::from(pause.stage.ecs_name()))
                .timeout_configuration(
                    DeploymentLifecycleHookTimeoutConfiguration::builder()
                        .timeout_in_minutes(pause.timeout_minutes as i32)
                        .action(DeploymentLifecycleHookAction::Rollback)
                        .build(),
                )
                .build(),
        );
    }
    if let Some(probe) = &settings.probe {
        configuration = configuration.lifecycle_hooks(probe_hook(probe));
    }
    configuration.build()
}

/// Slipway's test probe as an AWS_LAMBDA hook at POST_TEST_TRAFFIC_SHIFT: ECS invokes
/// the function with `roleArn` and passes `hookDetails` (the check) on every call
/// (API_DeploymentLifecycleHook; Developer Guide, "Lambda hooks for Amazon ECS service
/// deployments"). A check that never finished times out to ROLLBACK.
fn probe_hook(probe: &ProbeHook) -> DeploymentLifecycleHook {
    DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::AwsLambda)
        .hook_target_arn(&probe.function_arn)
        .role_arn(&probe.role_arn)
        .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
        .hook_details(document(&probe.spec.details(None)))
        .timeout_configuration(
            DeploymentLifecycleHookTimeoutConfiguration::builder()
                .timeout_in_minutes(probe.timeout_minutes() as i32)
                .action(DeploymentLifecycleHookAction::Rollback)
                .build(),
        )
        .build()
}

/// A JSON value as the SDK's document type.
fn document(value: &serde_json::Value) -> Document {
    use serde_json::Value;
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Document::Number(Number::PosInt(u)),
            (None, Some(i)) => Document::Number(Number::NegInt(i)),
            _ => Document::Number(Number::Float(n.as_f64().unwrap_or_default())),
        },
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(document).collect()),
        Value::Object(map) => {
            Document::Object(map.iter().map(|(k, v)| (k.clone(), document(v))).collect())
        }
    }
}

/// The service's load balancer with the advanced configuration blue/green, canary and
/// linear deployments shift traffic with.
pub fn load_balancer(shift: &TrafficShift) -> LoadBalancer {
    let mut advanced = AdvancedConfiguration::builder()
        .alternate_target_group_arn(&shift.alternate_target_group_arn)
        .production_listener_rule(&shift.production_listener_rule)
        .role_arn(&shift.role_arn);
    if let Some(test) = &shift.test_listener_rule {
        advanced = advanced.test_listener_rule(test);
    }
    LoadBalancer::builder()
        .target_group_arn(&shift.target_group_arn)
        .container_name(&shift.container_name)
        .container_port(shift.container_port.into())
        .advanced_configuration(advanced.build())
        .build()
}

pub fn hook_action(action: HookAction) -> DeploymentLifecycleHookAction {
    DeploymentLifecycleHookAction::from(action.ecs_name())
}

/// A described service deployment, as plain data.
pub fn deployment_state(described: &ServiceDeployment) -> ServiceDeploymentState {
    let time = |t: Option<&aws_sdk_ecs::primitives::DateTime>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
    };
    ServiceDeploymentState {
        arn: described
            .service_deployment_arn()
            .unwrap_or_default()
            .to_string(),
        status: described
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        status_reason: described.status_reason().map(str::to_string),
        lifecycle_stage: described.lifecycle_stage().map(|s| s.as_str().to_string()),
        triggered_alarms: described
            .alarms()
            .map(|a| a.triggered_alarm_names().to_vec())
            .unwrap_or_default(),
        rollback_reason: described
            .rollback()
            .and_then(|r| r.reason())
            .map(str::to_string),
        finished_at: time(described.finished_at()),
        awaiting: described
            .lifecycle_hook_details()
            .iter()
            .filter(|h| h.status() == Some(&DeploymentLifecycleHookStatus::AwaitingAction))
            .map(|h| AwaitingHook {
                hook_id: h.hook_id().unwrap_or_default().to_string(),
                expires_at: time(h.expires_at()),
            })
            .collect(),
    }
}
