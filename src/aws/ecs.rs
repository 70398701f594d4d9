//! The ECS adapter: DescribeServices, DescribeTaskDefinition, RegisterTaskDefinition
//! (once per deployment, found again by its tag after a lost answer) and UpdateService,
//! under ECS's rate limits.

use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::types::{SortOrder, TaskDefinitionField};

use super::errors::classify;
use super::limits::{take, EcsRateLimits};
use super::revision::{registered_for, registration, summarize, FullTaskDefinition};
use crate::model::plan::ImageChanges;
use crate::model::progressive::DeploymentSettings;
use crate::model::service_deployment::{HookAction, ServiceDeploymentState};
use crate::ports::{
    AwsError, AwsErrorKind, DescribedTaskDefinition, Ecs, Registered, ServiceState, Started,
    REGISTERED_FOR_TAG,
};

/// Attempts at RegisterTaskDefinition within one invocation (the SDK's own retry is off
/// for it: see `register_with_images`).
const REGISTER_ATTEMPTS: u32 = 3;
/// How many of a family's latest revisions are searched for one registered for a
/// deployment. Registrations in a family are one at a time (per process), and the one
/// looked for was registered moments or one Lambda retry ago.
const LATEST_REVISIONS: i32 = 5;

pub struct EcsService {
    client: aws_sdk_ecs::Client,
    limits: EcsRateLimits,
}

impl EcsService {
    pub fn new(client: aws_sdk_ecs::Client) -> Self {
        EcsService {
            client,
            limits: EcsRateLimits::default(),
        }
    }
}

impl Ecs for EcsService {
    type TaskDefinition = FullTaskDefinition;

    async fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<ServiceState, AwsError> {
        const OPERATION: &str = "ecs:DescribeServices";
        take(&self.limits.describe_services).await;
        let output = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|err| classify(OPERATION, err, &["ClusterNotFoundException"]))?;
        let not_found = || {
            AwsError {
            operation: OPERATION,
            message: format!("service {service} is not active in cluster {cluster}; check the target's cluster and service"),
            kind: AwsErrorKind::NotFound,
        }
        };
        let found = output.services().first().ok_or_else(not_found)?;
        let status = found.status().unwrap_or_default().to_string();
        if status != "ACTIVE" {
            return Err(not_found());
        }
        let task_definition = found.task_definition().ok_or_else(not_found)?;
        Ok(super::service_state::service_state(
            found,
            status,
            task_definition,
        ))
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<DescribedTaskDefinition<FullTaskDefinition>, AwsError> {
        const OPERATION: &str = "ecs:DescribeTaskDefinition";
        take(&self.limits.describe_task_definition).await;
        let output = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|err| classify(OPERATION, err, &[]))?;
        let definition = output.task_definition.ok_or_else(|| AwsError {
            operation: OPERATION,
            message: format!("no task definition {arn}"),
            kind: AwsErrorKind::NotFound,
        })?;
        let full = FullTaskDefinition {
            definition,
            tags: output.tags.unwrap_or_default(),
        };
        Ok(DescribedTaskDefinition {
            summary: summarize(&full),
            full,
        })
    }

    async fn parse_task_definition(
        &self,
        document: &serde_json::Value,
    ) -> Result<DescribedTaskDefinition<FullTaskDefinition>, String> {
        super::taskdef::parse(document).await
    }

    async fn register_with_images(
        &self,
        base: &FullTaskDefinition,
        changes: &ImageChanges,
        deployment_id: &str,
    ) -> Result<Registered, AwsError> {
        const OPERATION: &str = "ecs:RegisterTaskDefinition";
        let family = self
            .limits
            .family(base.definition.family().unwrap_or_default());
        let _turn = family.lock().await;
        let mut attempt = 0;
        loop {
            take(&self.limits.register_task_definition).await;
            // No SDK retry here: a retried attempt after a lost answer would register a
            // second revision. Slipway retries itself, after looking for the first.
            let sent = registration(&self.client, base, changes, deployment_id)
                .customize()
                .config_override(
                    aws_sdk_ecs::config::Config::builder().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            let (lost_answer, err) = match sent {
                Ok(output) => {
                    let registered = output.task_definition().ok_or_else(|| AwsError {
                        operation: OPERATION,
                        message: "the response has no task definition".into(),
                        kind: AwsErrorKind::Transient,
                    })?;
                    return Ok(Registered {
                        arn: registered
                            .task_definition_arn()
                            .unwrap_or_default()
                            .to_string(),
                        revision: registered.revision(),
                    });
                }
                Err(err) => (may_have_registered(&err), classify(OPERATION, err, &[])),
            };
            attempt += 1;
            if !err.is_transient() || attempt == REGISTER_ATTEMPTS {
                return Err(err);
            }
            if lost_answer {
                // Registering again is safe only once the search says the lost attempt
                // registered nothing: a failed search ends this attempt (transient), and
                // the retry, a takeover, searches again before it registers.
                if let Some(found) = self.find_registered(base, deployment_id).await? {
                    return Ok(found);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
    }

    async fn find_registered(
        &self,
        base: &FullTaskDefinition,
        deployment_id: &str,
    ) -> Result<Option<Registered>, AwsError> {
        const OPERATION: &str = "ecs:ListTaskDefinitions";
        let Some(family) = base.definition.family() else {
            return Ok(None);
        };
        take(&self.limits.describe_task_definition).await;
        let listed = self
            .client
            .list_task_definitions()
            .family_prefix(family)
            .sort(SortOrder::Desc)
            .max_results(LATEST_REVISIONS)
            .send()
            .await
            .map_err(|err| classify(OPERATION, err, &[]))?;
        // Newest first, whether or not the endpoint honours `sort` and `maxResults`.
        let mut revisions: Vec<(i32, &str)> = listed
            .task_definition_arns()
            .iter()
            .filter_map(|arn| Some((arn.rsplit_once(':')?.1.parse().ok()?, arn.as_str())))
            .collect();
        revisions.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
        let wanted = registered_for(deployment_id);
        for (revision, arn) in revisions.into_iter().take(LATEST_REVISIONS as usize) {
            let described = self.describe_task_definition(arn).await?;
            if described.full.tags.iter().any(|tag| {
                tag.key() == Some(REGISTERED_FOR_TAG) && tag.value() == Some(wanted.as_str())
            }) {
                return Ok(Some(Registered {
                    arn: arn.to_string(),
                    revision,
                }));
            }
        }
        Ok(None)
    }

    /// No SDK retry: with `forceNewDeployment` a second UpdateService after a lost answer
    /// would start a second ECS deployment, and the first one's events would match
    /// nothing. Slipway retries itself, after looking whether the lost one went through
    /// (the service then runs the revision; its PRIMARY deployment is the one started).
    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        settings: Option<&DeploymentSettings>,
    ) -> Result<Started, AwsError> {
        let mut attempt = 0;
        loop {
            let (lost_answer, err) = match self
                .update_once(cluster, service, task_definition, settings)
                .await
            {
                Ok(started) => return Ok(started),
                Err(failed) => failed,
            };
            attempt += 1;
            if !err.is_transient() || attempt == UPDATE_ATTEMPTS {
                return Err(err);
            }
            if lost_answer {
                // As with a lost registration: without the service's answer a second
                // UpdateService could start a second ECS deployment, so a failed look
                // ends this attempt and the retry looks again (its starting marker).
                // The service deployment's ARN is not in DescribeServices' answer: its hook
                // events are then matched by service (deployer::hooks).
                let now = self.describe_service(cluster, service).await?;
                if now.task_definition == task_definition {
                    if let Some(primary) = now.primary_deployment {
                        return Ok(Started {
                            ecs_deployment_id: primary,
                            service_deployment_arn: None,
                        });
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
    }

    /// ContinueServiceDeployment. Its SDK retry stays on: answering a hook twice with the
    /// same action changes nothing more than answering it once.
    async fn continue_service_deployment(
        &self,
        service_deployment_arn: &str,
        hook_id: &str,
        action: HookAction,
    ) -> Result<(), AwsError> {
        const OPERATION: &str = "ecs:ContinueServiceDeployment";
        take(&self.limits.update_service).await;
        self.client
            .continue_service_deployment()
            .service_deployment_arn(service_deployment_arn)
            .hook_id(hook_id)
            .action(super::progressive::hook_action(action))
            .send()
            .await
            .map_err(|err| classify(OPERATION, err, &["ServiceDeploymentNotFoundException"]))?;
        Ok(())
    }

    async fn describe_service_deployment(
        &self,
        service_deployment_arn: &str,
    ) -> Result<Option<ServiceDeploymentState>, AwsError> {
        const OPERATION: &str = "ecs:DescribeServiceDeployments";
        take(&self.limits.describe_services).await;
        let output = self
            .client
            .describe_service_deployments()
            .service_deployment_arns(service_deployment_arn)
            .send()
            .await
            .map_err(|err| classify(OPERATION, err, &[]))?;
        Ok(output
            .service_deployments()
            .first()
            .map(super::progressive::deployment_state))
    }
}

/// Attempts at UpdateService within one invocation (the SDK's own retry is off for it).
const UPDATE_ATTEMPTS: u32 = 3;

impl EcsService {
    /// One UpdateService; on failure, whether its answer may have been lost after ECS
    /// applied it.
    async fn update_once(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        settings: Option<&DeploymentSettings>,
    ) -> Result<Started, (bool, AwsError)> {
        const OPERATION: &str = "ecs:UpdateService";
        take(&self.limits.update_service).await;
        let output = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_deployment_configuration(
                settings.map(super::progressive::deployment_configuration),
            )
            .set_load_balancers(
                settings
                    .and_then(|s| s.load_balancer.as_ref())
                    .map(|shift| vec![super::progressive::load_balancer(shift)]),
            )
            .task_definition(task_definition)
            // A new revision starts a new deployment anyway; forcing it guarantees that the
            // PRIMARY deployment returned is the one this call started (never an older one
            // already running the same revision), so ECS's events are matched to the right
            // ledger record.
            .force_new_deployment(true)
            .customize()
            .config_override(
                aws_sdk_ecs::config::Config::builder().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|err| {
                let lost = may_have_registered(&err);
                let err = classify(
                    OPERATION,
                    err,
                    &["ServiceNotFoundException", "ServiceNotActiveException"],
                );
                (lost, err)
            })?;
        let primary = output
            .service()
            .map(|s| s.deployments())
            .unwrap_or_default()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .and_then(|d| d.id());
        // A progressive deployment is named by its service deployment ARN
        // (`currentServiceDeployment`); ECS's deployment events name the PRIMARY `ecs-svc/…`.
        let service_deployment_arn = output
            .service()
            .and_then(|s| s.current_service_deployment())
            .map(str::to_string);
        let id = primary
            .map(str::to_string)
            .or_else(|| settings.and(service_deployment_arn.clone()));
        id.map(|ecs_deployment_id| Started {
            ecs_deployment_id,
            service_deployment_arn,
        })
        .ok_or_else(|| {
            (
                false,
                AwsError {
                    operation: OPERATION,
                    message: format!(
                        "UpdateService on {cluster}/{service} returned no PRIMARY deployment, so its outcome could not be followed"
                    ),
                    kind: AwsErrorKind::Transient,
                },
            )
        })
    }
}

/// Whether a failed RegisterTaskDefinition may have registered all the same: ECS's
/// answer was lost (a timeout, a connection cut after sending) or was a server error. A
/// throttle or a validation error is an answer: nothing was registered.
/// Whether a failed call may have been applied by ECS with its answer lost (a timeout, a
/// dropped connection, a 5xx), as opposed to refused (a throttle, a 4xx).
fn may_have_registered<E>(
    err: &aws_sdk_ecs::error::SdkError<E, aws_sdk_ecs::config::http::HttpResponse>,
) -> bool {
    use aws_sdk_ecs::error::SdkError;
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service.raw().status().is_server_error(),
        _ => false,
    }
}
