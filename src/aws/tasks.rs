//! A release group's one-off tasks on ECS: RunTask (with the step's idempotency token),
//! StopTask and DescribeTasks. One RunTask per step, so no client-side rate limit: the
//! SDK's retry answers a throttle.
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html>

use aws_sdk_ecs::types::{ContainerOverride, TaskOverride};
use futures::future::BoxFuture;

use super::errors::classify;
use crate::model::group::{ContainerExit, TaskStopped};
use crate::ports::{AwsError, AwsErrorKind, OneOffTask, TaskRunner, TaskStatus};

pub struct EcsTasks {
    client: aws_sdk_ecs::Client,
}

impl EcsTasks {
    pub fn new(client: aws_sdk_ecs::Client) -> Self {
        EcsTasks { client }
    }

    async fn run(&self, task: &OneOffTask) -> Result<String, AwsError> {
        let described = self
            .client
            .describe_services()
            .cluster(&task.cluster)
            .services(&task.like_service)
            .send()
            .await
            .map_err(|err| classify("DescribeServices", err, &[]))?;
        let service = described.services().first().ok_or_else(|| AwsError {
            operation: "DescribeServices",
            message: format!(
                "service {}/{} not found: the one-off task runs like it",
                task.cluster, task.like_service
            ),
            kind: AwsErrorKind::NotFound,
        })?;
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(&task.container)
                    .set_command(Some(task.command.clone()))
                    .build(),
            )
            .build();
        let mut request = self
            .client
            .run_task()
            .cluster(&task.cluster)
            .task_definition(&task.task_definition)
            .client_token(&task.client_token)
            .started_by(&task.started_by)
            .overrides(overrides)
            .set_network_configuration(service.network_configuration().cloned())
            .set_platform_version(service.platform_version().map(str::to_string));
        // A service has a launch type or a capacity provider strategy, not both; RunTask
        // takes the same.
        request = if service.capacity_provider_strategy().is_empty() {
            request.set_launch_type(service.launch_type().cloned())
        } else {
            request
                .set_capacity_provider_strategy(Some(service.capacity_provider_strategy().to_vec()))
        };
        let out = request
            .send()
            .await
            .map_err(|err| classify("RunTask", err, &[]))?;
        if let Some(failure) = out.failures().first() {
            // "RESOURCE:*": no container instance had room now; ECS may have room later.
            let reason = failure.reason().unwrap_or("no reason given");
            return Err(AwsError {
                operation: "RunTask",
                message: format!(
                    "ECS did not start the task: {reason} ({})",
                    failure.detail().unwrap_or("no detail")
                ),
                kind: if reason.starts_with("RESOURCE") {
                    AwsErrorKind::Transient
                } else {
                    AwsErrorKind::Permanent
                },
            });
        }
        out.tasks()
            .first()
            .and_then(|t| t.task_arn())
            .map(str::to_string)
            .ok_or_else(|| AwsError {
                operation: "RunTask",
                message: "ECS answered without a task or a failure".into(),
                kind: AwsErrorKind::Transient,
            })
    }

    async fn describe(&self, cluster: &str, task_arn: &str) -> Result<TaskStatus, AwsError> {
        let out = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|err| classify("DescribeTasks", err, &[]))?;
        let Some(task) = out.tasks().first() else {
            // A failure with reason MISSING: ECS no longer knows it.
            return Ok(TaskStatus::Forgotten);
        };
        if task.last_status() != Some("STOPPED") {
            return Ok(TaskStatus::Running);
        }
        let at = |t: &aws_sdk_ecs::primitives::DateTime| {
            chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
        };
        Ok(TaskStatus::Stopped(TaskStopped {
            task_arn: task_arn.to_string(),
            started_by: task.started_by().map(str::to_string),
            stop_code: task.stop_code().map(|c| c.as_str().to_string()),
            stopped_reason: task.stopped_reason().map(str::to_string),
            stopped_at: task.stopped_at().and_then(at),
            containers: task
                .containers()
                .iter()
                .map(|c| ContainerExit {
                    name: c.name().unwrap_or_default().to_string(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_string),
                })
                .collect(),
        }))
    }
}

impl TaskRunner for EcsTasks {
    fn run_task<'a>(&'a self, task: &'a OneOffTask) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(self.run(task))
    }

    fn stop_task<'a>(
        &'a self,
        cluster: &'a str,
        task_arn: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            self.client
                .stop_task()
                .cluster(cluster)
                .task(task_arn)
                .reason(reason)
                .send()
                .await
                .map_err(|err| classify("StopTask", err, &[]))?;
            Ok(())
        })
    }

    fn describe_task<'a>(
        &'a self,
        cluster: &'a str,
        task_arn: &'a str,
    ) -> BoxFuture<'a, Result<TaskStatus, AwsError>> {
        Box::pin(self.describe(cluster, task_arn))
    }
}
