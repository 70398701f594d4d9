//! "ECS Task State Change" events: how a release group learns that its one-off task
//! stopped, and with which exit code. ECS sends one per change of a task's state (at
//! least once, in no guaranteed order: a higher `detail.version` is later); only STOPPED
//! ends a step, and only tasks Slipway started (`startedBy` `slipway/…`) are its business.
//! Timestamps are ISO strings; `stopCode` and `stoppedReason` say why a task stopped;
//! a container that never ran has no `exitCode`. Unknown fields are accepted.
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html>
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwet_handling.html>

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::{open_envelope, EventError, Intent};
use crate::model::group::{ContainerExit, TaskStopped};

const ECS_SOURCE: &str = "aws.ecs";
pub const ECS_TASK_TYPE: &str = "ECS Task State Change";

/// The prefix of every `startedBy` Slipway gives RunTask (`model::group::next`).
pub const STARTED_BY_SLIPWAY: &str = "slipway/";

/// A STOPPED task Slipway started, with where the event came from (the pipeline ignores
/// one from another account, region or cluster than its run's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStoppedEvent {
    pub event_id: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub cluster_arn: String,
    /// `detail.version`: duplicates carry the same one.
    pub version: Option<i64>,
    pub task: TaskStopped,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskDetail {
    task_arn: String,
    cluster_arn: String,
    last_status: String,
    #[serde(default)]
    started_by: Option<String>,
    #[serde(default)]
    stop_code: Option<String>,
    #[serde(default)]
    stopped_reason: Option<String>,
    #[serde(default)]
    stopped_at: Option<DateTime<Utc>>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    containers: Vec<ContainerDetail>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerDetail {
    name: String,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    reason: Option<String>,
}

/// Reads an "ECS Task State Change" event: a STOPPED task Slipway started, or a reason
/// to ignore it.
pub fn parse_task_event(raw: &Value) -> Result<Intent<TaskStoppedEvent>, EventError> {
    let (id, envelope) = open_envelope::<TaskDetail>(raw, ECS_SOURCE, ECS_TASK_TYPE)?;
    let detail = envelope.detail;
    let ignore = |reason: String| {
        Ok(Intent::Ignore {
            event_id: id.clone(),
            reason,
        })
    };
    let ours = detail
        .started_by
        .as_deref()
        .is_some_and(|by| by.starts_with(STARTED_BY_SLIPWAY));
    if !ours {
        return ignore(format!(
            "task {} was not started by Slipway (startedBy {:?})",
            detail.task_arn, detail.started_by
        ));
    }
    if detail.last_status != "STOPPED" {
        return ignore(format!(
            "task {} is {}: only a STOPPED task ends a step",
            detail.task_arn, detail.last_status
        ));
    }
    if detail.task_arn.trim().is_empty() {
        return Err(EventError::BadDetail {
            id,
            problem: "taskArn is empty".into(),
        });
    }
    let containers = detail
        .containers
        .into_iter()
        .map(|c| ContainerExit {
            name: c.name,
            exit_code: c.exit_code,
            reason: c.reason.filter(|r| !r.is_empty()),
        })
        .collect();
    Ok(Intent::Deploy(TaskStoppedEvent {
        event_id: id,
        account: envelope.account,
        region: envelope.region,
        cluster_arn: detail.cluster_arn,
        version: detail.version,
        task: TaskStopped {
            task_arn: detail.task_arn,
            started_by: detail.started_by,
            stop_code: detail.stop_code.filter(|c| !c.is_empty()),
            stopped_reason: detail.stopped_reason.filter(|r| !r.is_empty()),
            stopped_at: detail.stopped_at.or(envelope.time),
            containers,
        },
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::group::TaskVerdict;

    fn event(detail: Value) -> Value {
        json!({
            "version": "0", "id": "t-1", "detail-type": "ECS Task State Change",
            "source": "aws.ecs", "account": "123456789012", "time": "2026-03-06T10:03:00Z",
            "region": "us-east-1", "resources": ["arn:aws:ecs:us-east-1:123456789012:task/demo/abc"],
            "detail": detail
        })
    }

    fn detail(last_status: &str, started_by: &str) -> Value {
        json!({
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/demo/abc",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
            "lastStatus": last_status, "desiredStatus": "STOPPED", "startedBy": started_by,
            "version": 3, "someFieldAwsAddsLater": true,
            "containers": [{"name": "app", "exitCode": 2, "lastStatus": "STOPPED"}]
        })
    }

    #[test]
    fn a_stopped_task_slipway_started_reads_with_its_exit_codes() {
        let parsed = parse_task_event(&event(detail("STOPPED", "slipway/shop-1/0"))).unwrap();
        let Intent::Deploy(stopped) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(stopped.version, Some(3));
        assert_eq!(stopped.account.as_deref(), Some("123456789012"));
        assert_eq!(
            stopped.task.verdict("app"),
            TaskVerdict::Failed("app exited 2".into())
        );
        assert_eq!(
            stopped.task.stopped_at.unwrap().to_rfc3339(),
            "2026-03-06T10:03:00+00:00",
            "no stoppedAt: the event's time"
        );
    }

    #[test]
    fn a_running_task_or_one_slipway_did_not_start_is_ignored() {
        for (status, by) in [("RUNNING", "slipway/shop-1/0"), ("STOPPED", "ecs-svc/123")] {
            let parsed = parse_task_event(&event(detail(status, by))).unwrap();
            assert!(
                matches!(parsed, Intent::Ignore { .. }),
                "{status} {by}: {parsed:?}"
            );
        }
        let mut no_started_by = detail("STOPPED", "");
        no_started_by.as_object_mut().unwrap().remove("startedBy");
        let parsed = parse_task_event(&event(no_started_by)).unwrap();
        assert!(matches!(parsed, Intent::Ignore { .. }));
    }

    #[test]
    fn a_task_event_without_its_task_is_refused() {
        let mut bad = detail("STOPPED", "slipway/shop-1/0");
        bad.as_object_mut().unwrap().remove("taskArn");
        assert!(parse_task_event(&event(bad)).is_err());
    }
}
