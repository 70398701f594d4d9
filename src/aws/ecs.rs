use std::collections::BTreeMap;

use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types::{Tag, TaskDefinition, TaskDefinitionField};

use super::errors::classify;
use crate::plan::{ContainerSummary, ImageChanges, TaskDefinitionSummary};
use crate::ports::{
    AwsError, AwsErrorKind, DescribedTaskDefinition, Ecs, Registered, ServiceState,
};

pub struct EcsService {
    client: aws_sdk_ecs::Client,
}

impl EcsService {
    pub fn new(client: aws_sdk_ecs::Client) -> Self {
        EcsService { client }
    }
}

/// A described task definition with its tags: everything a new revision carries over.
#[derive(Debug, Clone)]
pub struct FullTaskDefinition {
    pub definition: TaskDefinition,
    pub tags: Vec<Tag>,
}

impl Ecs for EcsService {
    type TaskDefinition = FullTaskDefinition;

    async fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<ServiceState, AwsError> {
        const OPERATION: &str = "ecs:DescribeServices";
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
        Ok(ServiceState {
            arn: found.service_arn().unwrap_or_default().to_string(),
            status,
            task_definition: found.task_definition().ok_or_else(not_found)?.to_string(),
        })
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<DescribedTaskDefinition<FullTaskDefinition>, AwsError> {
        const OPERATION: &str = "ecs:DescribeTaskDefinition";
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

    async fn register_with_images(
        &self,
        base: &FullTaskDefinition,
        changes: &ImageChanges,
    ) -> Result<Registered, AwsError> {
        const OPERATION: &str = "ecs:RegisterTaskDefinition";
        let output = registration(&self.client, base, changes)
            .send()
            .await
            .map_err(|err| classify(OPERATION, err, &[]))?;
        let registered = output.task_definition().ok_or_else(|| AwsError {
            operation: OPERATION,
            message: "the response has no task definition".into(),
            kind: AwsErrorKind::Transient,
        })?;
        Ok(Registered {
            arn: registered
                .task_definition_arn()
                .unwrap_or_default()
                .to_string(),
            revision: registered.revision(),
        })
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> Result<String, AwsError> {
        const OPERATION: &str = "ecs:UpdateService";
        let output = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .send()
            .await
            .map_err(|err| {
                classify(
                    OPERATION,
                    err,
                    &["ServiceNotFoundException", "ServiceNotActiveException"],
                )
            })?;
        let primary = output
            .service()
            .map(|s| s.deployments())
            .unwrap_or_default()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .and_then(|d| d.id());
        Ok(primary.unwrap_or_default().to_string())
    }
}

/// The RegisterTaskDefinition request for a new revision of `base` with only the given
/// images replaced. Every writable field is copied; the read-only ones that Describe
/// returns and Register refuses (ARN, revision, status, requiresAttributes,
/// compatibilities, registeredAt/By, deregisteredAt, deleteRequestedAt) have no setter
/// and are left behind.
#[allow(deprecated)]
pub fn registration(
    client: &aws_sdk_ecs::Client,
    base: &FullTaskDefinition,
    changes: &ImageChanges,
) -> RegisterTaskDefinitionFluentBuilder {
    let td = base.definition.clone();
    let containers = td.container_definitions.map(|containers| {
        containers
            .into_iter()
            .map(|mut container| {
                if let Some(change) = changes
                    .iter()
                    .find(|c| Some(c.container.as_str()) == container.name.as_deref())
                {
                    container.image = Some(change.to.clone());
                }
                container
            })
            .collect()
    });
    // ECS refuses an empty tag list; no tags means no `tags` field.
    let tags = (!base.tags.is_empty()).then(|| base.tags.clone());
    client
        .register_task_definition()
        .set_family(td.family)
        .set_task_role_arn(td.task_role_arn)
        .set_execution_role_arn(td.execution_role_arn)
        .set_network_mode(td.network_mode)
        .set_container_definitions(containers)
        .set_volumes(td.volumes)
        .set_placement_constraints(td.placement_constraints)
        .set_requires_compatibilities(td.requires_compatibilities)
        .set_cpu(td.cpu)
        .set_memory(td.memory)
        .set_tags(tags)
        .set_pid_mode(td.pid_mode)
        .set_ipc_mode(td.ipc_mode)
        .set_proxy_configuration(td.proxy_configuration)
        // Deprecated by AWS, but a definition that still has them must keep them.
        .set_inference_accelerators(td.inference_accelerators)
        .set_ephemeral_storage(td.ephemeral_storage)
        .set_runtime_platform(td.runtime_platform)
        .set_enable_fault_injection(td.enable_fault_injection)
}

fn summarize(full: &FullTaskDefinition) -> TaskDefinitionSummary {
    let td = &full.definition;
    TaskDefinitionSummary {
        arn: td.task_definition_arn().unwrap_or_default().to_string(),
        family: td.family().unwrap_or_default().to_string(),
        revision: td.revision(),
        containers: td
            .container_definitions()
            .iter()
            .map(|c| ContainerSummary {
                name: c.name().unwrap_or_default().to_string(),
                image: c.image().unwrap_or_default().to_string(),
                environment_names: c
                    .environment()
                    .iter()
                    .filter_map(|kv| kv.name().map(str::to_string))
                    .collect(),
                secret_names: c.secrets().iter().map(|s| s.name().to_string()).collect(),
            })
            .collect(),
        cpu: td.cpu().map(str::to_string),
        memory: td.memory().map(str::to_string),
        task_role_arn: td.task_role_arn().map(str::to_string),
        execution_role_arn: td.execution_role_arn().map(str::to_string),
        tags: full
            .tags
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect::<BTreeMap<_, _>>(),
    }
}
