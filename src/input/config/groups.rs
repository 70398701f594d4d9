//! The config's `groups`: releases that are more than one service (`model::group` holds
//! the rules a run follows).
//!
//! ```json
//! "groups": [{
//!   "name": "shop",
//!   "on_failure": "rollback-completed",
//!   "steps": [
//!     {"task": {"name": "migrate", "target": "web", "container": "app",
//!               "command": ["./manage", "migrate"], "timeout": "15m"}},
//!     {"service": "worker"},
//!     {"service": "web"}
//!   ]
//! }]
//! ```

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{ConfigError, Target};
use crate::model::group::{
    is_group_name, Group, OnFailure, Step, MAX_GROUP_NAME, MAX_TASK_TIMEOUT,
};

/// RunTask's overrides: "A total of 8192 characters are allowed for overrides. This limit
/// includes the JSON formatting characters." Slipway's part is the command and the
/// container's name; the rest is left for the JSON around them.
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html>
const MAX_COMMAND_JSON: usize = 8000;

/// EventBridge Scheduler wakes a timed-out task's run, at a minute's precision.
const MIN_TASK_TIMEOUT: chrono::Duration = chrono::Duration::minutes(1);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    name: String,
    steps: Vec<RawStep>,
    #[serde(default)]
    on_failure: OnFailure,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum RawStep {
    Task(RawTask),
    Service(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: String,
    target: String,
    container: String,
    command: Vec<String>,
    /// `15m`, `1h` (humantime's format).
    timeout: String,
}

/// What a run cannot do, refused rather than skipped. A target with policy `approval`
/// makes the whole run ask first (its one approval); one whose approval is a pause inside
/// ECS's rollout cannot join, since the run asks before any step. A target's promotion
/// gate and windows hold the whole run before anything starts (`model::group::gates`).
fn runs_in_a_group(target: &Target) -> Result<(), &'static str> {
    use crate::input::config::Policy;
    use crate::model::progressive::ApprovalPoint;
    if target.policy == Policy::Approval && target.rollout.approval != ApprovalPoint::Before {
        return Err("asks for approval during ECS's rollout (`approval_at`): a release group asks once, before any step; drop `approval_at` for this target");
    }
    Ok(())
}

/// Validates every group against the config's targets.
pub(super) fn validate_groups(
    raw: Vec<RawGroup>,
    targets: &[Target],
) -> Result<Vec<Group>, ConfigError> {
    let mut names = BTreeSet::new();
    let mut rolled_by: Vec<(String, String)> = vec![];
    let mut groups = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
        let group = validate_group(index, raw, targets)?;
        if !names.insert(group.name.clone()) {
            return Err(ConfigError::invalid(
                format!("groups[{index}].name"),
                format!(
                    "`{}` is used by an earlier group: names must be unique",
                    group.name
                ),
            ));
        }
        for step in &group.steps {
            let Step::Service { target } = step else {
                continue;
            };
            if let Some((_, other)) = rolled_by.iter().find(|(t, _)| t == target) {
                return Err(ConfigError::invalid(
                    format!("groups[{index}].steps"),
                    format!("service {target} is already rolled by group {other}: a service belongs to one group"),
                ));
            }
            rolled_by.push((target.clone(), group.name.clone()));
        }
        groups.push(group);
    }
    Ok(groups)
}

fn validate_group(index: usize, raw: RawGroup, targets: &[Target]) -> Result<Group, ConfigError> {
    let field = |name: &str| format!("groups[{index}].{name}");
    if !is_group_name(&raw.name) {
        return Err(ConfigError::invalid(
            field("name"),
            format!("`{}` must be 1-{MAX_GROUP_NAME} letters, digits, `-` or `_` (it names the group's runs, and their tasks' startedBy)", raw.name),
        ));
    }
    if raw.steps.is_empty() {
        return Err(ConfigError::invalid(
            field("steps"),
            "is empty: name the tasks and services the release runs, in order",
        ));
    }
    let mut steps: Vec<Step> = Vec::with_capacity(raw.steps.len());
    for (i, raw_step) in raw.steps.into_iter().enumerate() {
        let at = field(&format!("steps[{i}]"));
        let step = validate_step(&at, raw_step, targets)?;
        if steps.iter().any(|s| s.name() == step.name()) {
            return Err(ConfigError::invalid(
                at,
                format!("`{}` is an earlier step's name: a task's name must differ from the other tasks' and from the services the group rolls, and a service is rolled once", step.name()),
            ));
        }
        steps.push(step);
    }
    Ok(Group {
        name: raw.name,
        steps,
        on_failure: raw.on_failure,
    })
}

fn validate_step(at: &str, raw: RawStep, targets: &[Target]) -> Result<Step, ConfigError> {
    let target_of = |name: &str, field: &str| {
        let target = targets.iter().find(|t| t.name == name).ok_or_else(|| {
            ConfigError::invalid(
                format!("{at}.{field}"),
                format!("`{name}` is not a target of this config"),
            )
        })?;
        runs_in_a_group(target).map_err(|why| {
            ConfigError::invalid(format!("{at}.{field}"), format!("target {name} {why}"))
        })?;
        Ok::<_, ConfigError>(target)
    };
    let task = match raw {
        RawStep::Service(target) => {
            target_of(&target, "service")?;
            return Ok(Step::Service { target });
        }
        RawStep::Task(task) => task,
    };
    let target = target_of(&task.target, "task.target")?;
    if !target.containers.contains(&task.container) {
        return Err(ConfigError::invalid(
            format!("{at}.task.container"),
            format!(
                "`{}` is not one of {}'s containers ({}): a one-off task runs the container the release gives a new image",
                task.container,
                target.name,
                target.containers.join(", ")
            ),
        ));
    }
    if task.name.trim().is_empty() {
        return Err(ConfigError::invalid(
            format!("{at}.task.name"),
            "is empty: name the task (e.g. `migrate`)",
        ));
    }
    if task.command.is_empty() {
        return Err(ConfigError::invalid(
            format!("{at}.task.command"),
            "is empty: give the command, e.g. [\"./manage\", \"migrate\"]",
        ));
    }
    let json = serde_json::to_string(&task.command).unwrap_or_default();
    if json.len() > MAX_COMMAND_JSON {
        return Err(ConfigError::invalid(
            format!("{at}.task.command"),
            format!(
                "is {} characters as JSON: RunTask's overrides allow 8192 in all",
                json.len()
            ),
        ));
    }
    let timeout = humantime::parse_duration(task.timeout.trim())
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .filter(|d| (MIN_TASK_TIMEOUT..=MAX_TASK_TIMEOUT).contains(d))
        .ok_or_else(|| {
            ConfigError::invalid(
                format!("{at}.task.timeout"),
                format!(
                    "`{}` is not a duration from 1m to 24h: write e.g. `15m`",
                    task.timeout
                ),
            )
        })?;
    Ok(Step::Task {
        name: task.name,
        target: task.target,
        container: task.container,
        command: task.command,
        timeout,
    })
}

#[cfg(test)]
mod tests;
