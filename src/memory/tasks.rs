//! ECS's one-off tasks in memory, as ECS documents them — the stand-in for what the local
//! emulator lacks: moto's RunTask ignores `clientToken`, never runs the command, and every
//! container of every task "exits" 0 without a stop code; it sends no task events.
//!
//! What this follows:
//! - RunTask's client token: "If you retry a request that completed successfully using the
//!   same client token and the same parameters, the retry succeeds without performing any
//!   further actions"; requests with the same token in the same cluster are idempotent,
//!   and a token reused with other parameters is refused (`ConflictException`).
//!   <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html>
//! - A stopped task stays visible to DescribeTasks "for at least one hour", then is
//!   forgotten ([`MemoryTasks::forget`]).
//! - StopTask stops the task with stop code `UserInitiated` and the reason given.
//!
//! A test ends a task with [`MemoryTasks::exit`] (the container's exit code) or
//! [`MemoryTasks::fail_to_start`], and feeds the `TaskStopped` it returns to the pipeline
//! as the "ECS Task State Change" event ECS would send.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::Utc;
use futures::future::BoxFuture;

use crate::model::group::task_exit::TASK_FAILED_TO_START;
use crate::model::group::{ContainerExit, TaskStopped};
use crate::ports::{AwsError, AwsErrorKind, OneOffTask, TaskRunner, TaskStatus};

#[derive(Default)]
pub struct MemoryTasks {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// (cluster, token) → the task RunTask started with it.
    by_token: HashMap<(String, String), String>,
    tasks: BTreeMap<String, (OneOffTask, TaskStatus)>,
    /// RunTask calls, the idempotent repeats included.
    calls: usize,
    /// The next RunTask is refused with this failure reason (API_Failure).
    refusal: Option<String>,
}

impl MemoryTasks {
    /// Every task started (a repeated token starts none), oldest first.
    pub fn started(&self) -> Vec<OneOffTask> {
        let state = self.state.lock().unwrap();
        let mut tasks: Vec<(&String, &OneOffTask)> = state
            .tasks
            .iter()
            .map(|(arn, (task, _))| (arn, task))
            .collect();
        tasks.sort_by_key(|(arn, _)| arn_number(arn));
        tasks.into_iter().map(|(_, task)| task.clone()).collect()
    }

    /// The next RunTask answers with a failure (`MISSING`, `RESOURCE:MEMORY`, …) and
    /// starts nothing; `RESOURCE:*` is worth retrying, anything else is not.
    pub fn refuse_next_run(&self, reason: &str) {
        self.state.lock().unwrap().refusal = Some(reason.to_string());
    }

    pub fn run_task_calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }

    /// The task's container exits with `code`: the STOPPED event ECS would send.
    pub fn exit(&self, task_arn: &str, code: i32) -> TaskStopped {
        self.stop_with(
            task_arn,
            Some(code),
            "EssentialContainerExited",
            "Essential container in task exited",
        )
    }

    /// The task could not start (its image could not be pulled): no exit code.
    pub fn fail_to_start(&self, task_arn: &str, reason: &str) -> TaskStopped {
        self.stop_with(task_arn, None, TASK_FAILED_TO_START, reason)
    }

    /// An hour or more passed since the task stopped: DescribeTasks no longer finds it.
    pub fn forget(&self, task_arn: &str) {
        let mut state = self.state.lock().unwrap();
        if let Some((_, status)) = state.tasks.get_mut(task_arn) {
            *status = TaskStatus::Forgotten;
        }
    }

    fn stop_with(
        &self,
        task_arn: &str,
        code: Option<i32>,
        stop_code: &str,
        reason: &str,
    ) -> TaskStopped {
        let mut state = self.state.lock().unwrap();
        let (task, status) = state
            .tasks
            .get_mut(task_arn)
            .expect("a task this ECS started");
        let stopped = TaskStopped {
            task_arn: task_arn.to_string(),
            started_by: Some(task.started_by.clone()),
            stop_code: Some(stop_code.to_string()),
            stopped_reason: Some(reason.to_string()),
            stopped_at: Some(Utc::now()),
            containers: vec![ContainerExit {
                name: task.container.clone(),
                exit_code: code,
                reason: None,
            }],
        };
        *status = TaskStatus::Stopped(stopped.clone());
        stopped
    }
}

fn arn_number(arn: &str) -> u64 {
    arn.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl TaskRunner for MemoryTasks {
    fn run_task<'a>(&'a self, task: &'a OneOffTask) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap();
            state.calls += 1;
            if let Some(reason) = state.refusal.take() {
                return Err(AwsError {
                    operation: "RunTask",
                    message: format!("ECS did not start the task: {reason}"),
                    kind: if reason.starts_with("RESOURCE") {
                        AwsErrorKind::Transient
                    } else {
                        AwsErrorKind::Permanent
                    },
                });
            }
            let key = (task.cluster.clone(), task.client_token.clone());
            if let Some(arn) = state.by_token.get(&key).cloned() {
                let (earlier, _) = &state.tasks[&arn];
                if earlier != task {
                    return Err(AwsError {
                        operation: "RunTask",
                        message: format!("ConflictException: the provided clientToken is already in use with a different RunTask request ({arn})"),
                        kind: AwsErrorKind::Permanent,
                    });
                }
                return Ok(arn);
            }
            let arn = format!(
                "arn:aws:ecs:{}:{}:task/{}/{}",
                super::REGION,
                super::ACCOUNT,
                task.cluster,
                state.tasks.len() + 1
            );
            state.by_token.insert(key, arn.clone());
            state
                .tasks
                .insert(arn.clone(), (task.clone(), TaskStatus::Running));
            Ok(arn)
        })
    }

    fn stop_task<'a>(
        &'a self,
        _cluster: &'a str,
        task_arn: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            let running = matches!(
                self.state.lock().unwrap().tasks.get(task_arn),
                Some((_, TaskStatus::Running))
            );
            // Stopping a stopped task changes nothing.
            if running {
                self.stop_with(task_arn, None, "UserInitiated", reason);
            }
            Ok(())
        })
    }

    fn describe_task<'a>(
        &'a self,
        _cluster: &'a str,
        task_arn: &'a str,
    ) -> BoxFuture<'a, Result<TaskStatus, AwsError>> {
        Box::pin(async move {
            let state = self.state.lock().unwrap();
            Ok(state
                .tasks
                .get(task_arn)
                .map(|(_, status)| status.clone())
                .unwrap_or(TaskStatus::Forgotten))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrate(token: &str) -> OneOffTask {
        OneOffTask {
            cluster: "prod".into(),
            like_service: "web".into(),
            task_definition: "web:8".into(),
            container: "app".into(),
            command: vec!["./manage".into(), "migrate".into()],
            client_token: token.into(),
            started_by: "slipway/shop-1/0".into(),
        }
    }

    #[tokio::test]
    async fn the_same_token_starts_one_task_and_another_request_with_it_is_refused() {
        let tasks = MemoryTasks::default();
        let first = tasks.run_task(&migrate("t1")).await.unwrap();
        assert_eq!(tasks.run_task(&migrate("t1")).await.unwrap(), first);
        assert_eq!(tasks.started().len(), 1);
        assert_eq!(tasks.run_task_calls(), 2);
        let mut other = migrate("t1");
        other.command = vec!["./manage".into(), "flush".into()];
        let err = tasks.run_task(&other).await.unwrap_err();
        assert!(err.message.contains("ConflictException"), "{err}");
        assert_ne!(tasks.run_task(&migrate("t2")).await.unwrap(), first);
    }

    #[tokio::test]
    async fn a_task_is_running_then_stopped_then_forgotten() {
        let tasks = MemoryTasks::default();
        let arn = tasks.run_task(&migrate("t1")).await.unwrap();
        assert_eq!(
            tasks.describe_task("prod", &arn).await.unwrap(),
            TaskStatus::Running
        );
        let stopped = tasks.exit(&arn, 0);
        assert_eq!(
            tasks.describe_task("prod", &arn).await.unwrap(),
            TaskStatus::Stopped(stopped)
        );
        tasks.stop_task("prod", &arn, "timed out").await.unwrap();
        let TaskStatus::Stopped(still) = tasks.describe_task("prod", &arn).await.unwrap() else {
            panic!()
        };
        assert_eq!(
            still.containers[0].exit_code,
            Some(0),
            "a stopped task stays as it ended"
        );
        tasks.forget(&arn);
        assert_eq!(
            tasks.describe_task("prod", &arn).await.unwrap(),
            TaskStatus::Forgotten
        );
    }
}
