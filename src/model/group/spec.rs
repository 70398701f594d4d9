//! A release group as the config names it: ordered steps and what a failure does.

use chrono::Duration;
use serde::{Deserialize, Serialize};

/// The longest a one-off task may run before the group gives up on it: a release that
/// holds its services for longer than a day is stuck, not migrating.
pub const MAX_TASK_TIMEOUT: Duration = Duration::hours(24);

/// A group, validated (`input::config::groups`): every step names a target of the config,
/// no service is rolled twice, step names are unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub steps: Vec<Step>,
    pub on_failure: OnFailure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `RunTask` of the target's new revision with `command` in place of `container`'s
    /// command; it succeeds when that container exits 0 within `timeout`.
    Task {
        name: String,
        target: String,
        container: String,
        command: Vec<String>,
        timeout: Duration,
    },
    /// `UpdateService` of the target's service to its new revision; it succeeds when ECS
    /// reports the rollout COMPLETED.
    Service { target: String },
}

impl Step {
    /// A task's own name; a service step is named after its target.
    pub fn name(&self) -> &str {
        match self {
            Step::Task { name, .. } => name,
            Step::Service { target } => target,
        }
    }

    pub fn target(&self) -> &str {
        match self {
            Step::Task { target, .. } | Step::Service { target } => target,
        }
    }
}

/// What the group does when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Stop: the steps after the failed one never start; what already rolled stays.
    #[default]
    Stop,
    /// Stop, and roll the services that already rolled back to what they ran before, the
    /// last one first. One-off tasks are not undone.
    RollbackCompleted,
}

/// The group the tests share: `name`, migrate (a task on web's revision, `./manage
/// migrate` in container app, 15 minutes at most), then worker, then web.
#[cfg(test)]
pub(crate) fn example(name: &str, on_failure: OnFailure) -> Group {
    Group {
        name: name.into(),
        steps: vec![
            Step::Task {
                name: "migrate".into(),
                target: "web".into(),
                container: "app".into(),
                command: vec!["./manage".into(), "migrate".into()],
                timeout: Duration::minutes(15),
            },
            Step::Service {
                target: "worker".into(),
            },
            Step::Service {
                target: "web".into(),
            },
        ],
        on_failure,
    }
}

impl Group {
    /// The targets whose new revision the group needs, each once, in step order.
    pub fn targets(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for step in &self.steps {
            if !seen.contains(&step.target()) {
                seen.push(step.target());
            }
        }
        seen
    }
}
