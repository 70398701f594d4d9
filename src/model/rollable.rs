//! Which ECS services Slipway can roll, decided from DescribeServices before anything is
//! registered.
//!
//! Slipway rolls a service with `UpdateService(taskDefinition)`. That is how a service
//! with the ECS deployment controller and the ROLLING strategy changes what it runs; the
//! others change it another way, and a revision registered for them would be a dead end:
//! - `CODE_DEPLOY`: the task definition changes only through a CodeDeploy deployment
//!   (an AppSpec naming the new revision); UpdateService refuses it.
//! - `EXTERNAL`: a third-party controller moves task sets (CreateTaskSet,
//!   UpdateServicePrimaryTaskSet); the service has no task definition of its own to update.
//!   (Amazon ECS Developer Guide, "Amazon ECS deployment types"; API reference,
//!   DeploymentController and UpdateService.)
//! - strategy `BLUE_GREEN`, `LINEAR`, `CANARY` on a target whose `rollout` does not say
//!   so: Slipway sends the target's own strategy with every UpdateService
//!   (`model::progressive`), so a service set up another way behind its back would be
//!   switched silently; it refuses and says which of the two to change.
//!
//! A ROLLING target without the deployment circuit breaker can be rolled, but ECS never
//! sends SERVICE_DEPLOYMENT_FAILED for it (Developer Guide, "How the Amazon ECS deployment
//! circuit breaker detects failures"): a failing rollout would stay `rolling` in the
//! ledger. That is a warning, shown in the plan and logged with each rollout.

use crate::model::progressive::Strategy;
use crate::model::service::ServiceState;

/// ECS's default controller and strategy, which Slipway drives.
pub const ECS_CONTROLLER: &str = "ECS";
pub const ROLLING: &str = "ROLLING";

/// A service Slipway cannot roll, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unrollable {
    /// `deploymentController.type` as ECS reports it.
    pub controller: String,
    /// `deploymentConfiguration.strategy`, when ECS reports one.
    pub strategy: Option<String>,
    pub reason: String,
}

/// Whether `service` can be rolled with UpdateService by a target whose rollout strategy
/// is `strategy`; `Ok` carries the warnings a person should see with the plan.
pub fn check(
    service: &ServiceState,
    cluster: &str,
    name: &str,
    strategy: &Strategy,
) -> Result<Vec<String>, Unrollable> {
    let refuse = |reason: String| Unrollable {
        controller: service.controller.clone(),
        strategy: service.strategy.clone(),
        reason,
    };
    match service.controller.as_str() {
        ECS_CONTROLLER => {}
        "CODE_DEPLOY" => {
            return Err(refuse(format!(
                "{cluster}/{name} uses the CODE_DEPLOY deployment controller: its task definition changes only \
                 through a CodeDeploy deployment, and UpdateService would refuse the new revision. Nothing was \
                 registered. Deploy it with CodeDeploy, or move the service to the ECS controller (ECS now does \
                 blue/green itself) to let Slipway roll it"
            )))
        }
        "EXTERNAL" => {
            return Err(refuse(format!(
                "{cluster}/{name} uses the EXTERNAL deployment controller: a third-party controller moves its \
                 task sets (CreateTaskSet, UpdateServicePrimaryTaskSet) and there is no task definition to update. \
                 Nothing was registered. Deploy it with that controller, or use the ECS controller to let Slipway roll it"
            )))
        }
        other => {
            return Err(refuse(format!(
                "{cluster}/{name} uses the deployment controller `{other}`, which Slipway does not know: only ECS \
                 services are rolled. Nothing was registered"
            )))
        }
    }
    let wanted = strategy.ecs_name();
    if let Some(runs) = service
        .strategy
        .as_deref()
        .filter(|s| *s != ROLLING && *s != wanted)
    {
        return Err(refuse(format!(
            "{cluster}/{name} deploys with the {runs} strategy, but the target's rollout is {}: Slipway sends the \
             target's strategy with every UpdateService and will not switch the service behind its owner's back. \
             Nothing was registered. Set the target's `rollout.strategy` to match the service, or set the \
             service's deploymentConfiguration.strategy to ROLLING",
            strategy.describe()
        )));
    }
    // arn:aws:ecs:<region>:<account>:service/<cluster>/<service>; a service created before
    // 2021 may still have the short service/<service>, under which ECS sends its events
    // and IAM evaluates it, so neither Slipway's event rule nor its grants would match.
    let resource = service.arn.splitn(6, ':').nth(5).unwrap_or_default();
    if resource.split('/').count() == 2 {
        return Err(refuse(format!(
            "{cluster}/{name} has the short service ARN {}: ECS names it so in its deployment events and IAM \
             evaluates it so, and Slipway's event rule and permissions use the long format \
             (service/<cluster>/<service>). Nothing was registered. Migrate the service to the long ARN format \
             (ECS Developer Guide, \"Migrate an Amazon ECS short service ARN to a long ARN\")",
            service.arn
        )));
    }
    let mut warnings = Vec::new();
    // The circuit breaker exists only for rolling deployments; the others fail by alarm.
    if *strategy == Strategy::Rolling && service.circuit_breaker != Some(true) {
        warnings.push(format!(
            "{cluster}/{name} has no deployment circuit breaker: ECS never reports a failed rollout for it \
             (no SERVICE_DEPLOYMENT_FAILED), so a rollout that cannot start tasks stays `rolling` in Slipway's \
             ledger. Enable deploymentCircuitBreaker (with rollback) on the service"
        ));
    }
    Ok(warnings)
}

/// Whether the service runs a revision of the family Slipway may register in. Its grants
/// name only that family (`task-definition/<family>:*`, Service Authorization Reference
/// for Amazon ECS: RegisterTaskDefinition and TagResource on the task-definition
/// resource), so a service moved to another family is refused here, with what to change,
/// instead of registering into an AccessDenied.
pub fn check_family(service: &ServiceState, allowed: Option<&str>) -> Result<(), Unrollable> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    // arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>
    let runs = service
        .task_definition
        .rsplit('/')
        .next()
        .and_then(|family_revision| family_revision.rsplit_once(':'))
        .map_or(service.task_definition.as_str(), |(family, _)| family);
    if runs == allowed {
        return Ok(());
    }
    Err(Unrollable {
        controller: service.controller.clone(),
        strategy: service.strategy.clone(),
        reason: format!(
            "{} runs the task-definition family `{runs}`, but this target's `task_family` is `{allowed}`, the only \
             family Slipway is allowed to register in. Nothing was registered. Set the target's task_family to \
             `{runs}` in Terraform and apply",
            service.arn
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_running_another_family_than_the_target_allows_is_refused() {
        let mut running = service("ECS", Some(ROLLING), Some(true));
        running.task_definition = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7".into();
        assert_eq!(check_family(&running, Some("web")), Ok(()));
        assert_eq!(check_family(&running, None), Ok(()));
        let refused = check_family(&running, Some("web-v2")).unwrap_err();
        assert!(
            refused.reason.contains("`web`") && refused.reason.contains("task_family"),
            "{refused}"
        );
    }

    fn service(controller: &str, strategy: Option<&str>, breaker: Option<bool>) -> ServiceState {
        ServiceState {
            arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
            status: "ACTIVE".into(),
            task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1".into(),
            primary_deployment: None,
            controller: controller.into(),
            strategy: strategy.map(str::to_string),
            circuit_breaker: breaker,
            deployments: vec![],
        }
    }

    #[test]
    fn a_rolling_ecs_service_with_a_circuit_breaker_rolls_without_warnings() {
        assert_eq!(
            check(
                &service("ECS", Some("ROLLING"), Some(true)),
                "prod",
                "web",
                &Strategy::Rolling
            ),
            Ok(vec![])
        );
        // Before ECS's progressive deployments there was no strategy field: ROLLING.
        assert_eq!(
            check(
                &service("ECS", None, Some(true)),
                "prod",
                "web",
                &Strategy::Rolling
            ),
            Ok(vec![])
        );
    }

    #[test]
    fn code_deploy_and_external_services_are_refused_naming_the_controller() {
        for controller in ["CODE_DEPLOY", "EXTERNAL"] {
            let refused = check(
                &service(controller, None, None),
                "prod",
                "web",
                &Strategy::Rolling,
            )
            .unwrap_err();
            assert_eq!(refused.controller, controller);
            assert!(refused.reason.contains(controller), "{}", refused.reason);
            assert!(
                refused.reason.contains("Nothing was registered"),
                "{}",
                refused.reason
            );
        }
    }

    #[test]
    fn progressive_strategies_are_refused_with_what_to_do() {
        for strategy in ["BLUE_GREEN", "LINEAR", "CANARY"] {
            let refused = check(
                &service("ECS", Some(strategy), Some(true)),
                "prod",
                "web",
                &Strategy::Rolling,
            )
            .unwrap_err();
            assert_eq!(refused.strategy.as_deref(), Some(strategy));
            assert!(
                refused.reason.contains("rollout.strategy"),
                "{}",
                refused.reason
            );
        }
    }

    #[test]
    fn a_progressive_service_is_rolled_by_a_target_with_the_same_strategy_without_a_breaker_warning(
    ) {
        let canary = Strategy::Canary {
            percent: 10.0,
            bake_minutes: 5,
        };
        let warnings = check(
            &service("ECS", Some("CANARY"), None),
            "prod",
            "web",
            &canary,
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        // A service Terraform created ROLLING is switched by the target's first rollout.
        assert!(check(
            &service("ECS", Some("ROLLING"), None),
            "prod",
            "web",
            &canary
        )
        .is_ok());
        assert!(check(
            &service("ECS", Some("LINEAR"), None),
            "prod",
            "web",
            &canary
        )
        .is_err());
    }

    #[test]
    fn a_service_with_a_short_arn_is_refused_with_the_migration_to_do() {
        let mut short = service("ECS", Some("ROLLING"), Some(true));
        short.arn = "arn:aws:ecs:us-east-1:123456789012:service/web".into();
        let refused = check(&short, "prod", "web", &Strategy::Rolling).unwrap_err();
        assert!(
            refused.reason.contains("long ARN format"),
            "{}",
            refused.reason
        );
    }

    #[test]
    fn a_rolling_service_without_a_circuit_breaker_is_rolled_with_a_warning() {
        for breaker in [None, Some(false)] {
            let warnings = check(
                &service("ECS", Some("ROLLING"), breaker),
                "prod",
                "web",
                &Strategy::Rolling,
            )
            .unwrap();
            assert_eq!(warnings.len(), 1);
            assert!(
                warnings[0].contains("SERVICE_DEPLOYMENT_FAILED"),
                "{}",
                warnings[0]
            );
        }
    }
}
