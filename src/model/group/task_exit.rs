//! A stopped task as an "ECS Task State Change" event reports it, and what it means for a
//! one-off step. ECS forgets a stopped task about an hour after it stops, so the event
//! is where the exit code is read (and kept in the ledger), not a later DescribeTasks.
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html>

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The stop code ECS gives a task that could not start (an image it could not pull, no
/// capacity, a secret it could not read): its containers never ran, so none has an exit
/// code. <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html>
pub const TASK_FAILED_TO_START: &str = "TaskFailedToStart";

/// One STOPPED task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStopped {
    pub task_arn: String,
    /// What `RunTask` was given as `startedBy`: Slipway's run and step.
    pub started_by: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub containers: Vec<ContainerExit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerExit {
    pub name: String,
    /// None when the container never ran (or ECS could not read its exit).
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// A one-off step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskVerdict {
    Succeeded,
    Failed(String),
}

impl TaskStopped {
    /// Exit code 0 of `container`, and nothing else, is success: a task that stopped for
    /// another reason (never started, stopped by someone, its instance went away) failed,
    /// with the reason ECS gave.
    pub fn verdict(&self, container: &str) -> TaskVerdict {
        let ecs_says = || {
            let mut why = String::new();
            if let Some(code) = &self.stop_code {
                why.push_str(&format!(" ({code}"));
                match &self.stopped_reason {
                    Some(reason) => why.push_str(&format!(": {reason})")),
                    None => why.push(')'),
                }
            } else if let Some(reason) = &self.stopped_reason {
                why.push_str(&format!(" ({reason})"));
            }
            why
        };
        let Some(exit) = self.containers.iter().find(|c| c.name == container) else {
            let names: Vec<&str> = self.containers.iter().map(|c| c.name.as_str()).collect();
            return TaskVerdict::Failed(format!(
                "the task has no container named {container} (it has {}): fix the step's `container`",
                names.join(", ")
            ));
        };
        match exit.exit_code {
            Some(0) => TaskVerdict::Succeeded,
            Some(code) => {
                let reason = exit
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                TaskVerdict::Failed(format!("{container} exited {code}{reason}"))
            }
            None if self.stop_code.as_deref() == Some(TASK_FAILED_TO_START) => {
                TaskVerdict::Failed(format!("the task never started{}", ecs_says()))
            }
            None => TaskVerdict::Failed(format!(
                "{container} stopped without an exit code{}",
                ecs_says()
            )),
        }
    }
}
