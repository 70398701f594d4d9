//! One-time wake-ups of the reconciler through EventBridge Scheduler: CreateSchedule of
//! an `at(…)` expression in UTC, no flexible window, the reconcile function as target
//! invoked with Scheduler's execution role, deleted after it fires
//! (`ActionAfterCompletion: DELETE`: "For one-time schedules, this occurs after the
//! schedule has invoked its target once",
//! <https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html>).
//! A name that exists answers `ConflictException`
//! (<https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html>):
//! the wake-up is already scheduled. Creating a schedule passes the execution role to
//! Scheduler, so the caller needs `iam:PassRole` on it for `scheduler.amazonaws.com`.

use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use futures::future::BoxFuture;

use super::errors::classify;
use crate::model::wake_up::WakeUp;
use crate::ports::{AwsError, AwsErrorKind, WakeUps};

/// Scheduler's limit on a schedule's description.
const MAX_DESCRIPTION: usize = 512;

pub struct SchedulerWakeUps {
    client: aws_sdk_scheduler::Client,
    /// The schedule group Terraform made for Slipway's wake-ups.
    group: String,
    /// The reconcile function's ARN, and the role Scheduler invokes it with.
    target: String,
    role: String,
}

impl SchedulerWakeUps {
    pub fn new(
        client: aws_sdk_scheduler::Client,
        group: String,
        target: String,
        role: String,
    ) -> Self {
        SchedulerWakeUps {
            client,
            group,
            target,
            role,
        }
    }

    async fn create(&self, wake_up: &WakeUp) -> Result<(), AwsError> {
        let invalid = |err: aws_sdk_scheduler::error::BuildError| AwsError {
            operation: "CreateSchedule",
            message: err.to_string(),
            kind: AwsErrorKind::Permanent,
        };
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(invalid)?;
        let target = Target::builder()
            .arn(&self.target)
            .role_arn(&self.role)
            .input(wake_up.input().to_string())
            .build()
            .map_err(invalid)?;
        let description: String = wake_up.reason.chars().take(MAX_DESCRIPTION).collect();
        let created = self
            .client
            .create_schedule()
            .name(&wake_up.name)
            .group_name(&self.group)
            .schedule_expression(wake_up.expression())
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .description(description)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConflictException") => Ok(()),
            Err(err) => Err(classify("CreateSchedule", err, &[])),
        }
    }
}

impl WakeUps for SchedulerWakeUps {
    fn schedule<'a>(&'a self, wake_up: &'a WakeUp) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(self.create(wake_up))
    }
}
