//! Each way a release group's migration fails, against moto with only what moto lacks
//! played by the stand-in (a task's exit, a task that never starts; ECS's documented
//! STOPPED events): the group stops before any service rolls, with the reason in the run.
//! README, "Release groups": exit 1, a task that never starts, a task still running at
//! its timeout (stopped with StopTask first).

use std::sync::{Arc, Mutex};

use chrono::Utc;
use slipway::aws::EcsTasks;
use slipway::model::group::RunState;

use super::groups::{deliver_ecs_event, services_rolled, GroupRig, StandInTask};
use super::*;

fn invocation(id: &str) -> Invocation {
    Invocation {
        request_id: format!("{id}-{}", fastrand::u64(..)),
        deadline: Utc::now() + chrono::Duration::from_std(FUNCTION_TIMEOUT).unwrap(),
    }
}

/// The release's push, handled: the migration is the one task it started.
async fn migration_started(group: &GroupRig) -> StandInTask {
    group
        .deployer
        .handle_ecr_event(&group.push(), &invocation("push"))
        .await
        .unwrap();
    let tasks = group.stand_in.started();
    assert_eq!(tasks.len(), 1, "one migration");
    assert_eq!(group.run_state().await, RunState::Running);
    tasks[0].clone()
}

/// The group stopped before any service rolled, saying `why`; the release again starts
/// nothing more.
async fn stopped_saying(group: &GroupRig, why: &str) {
    assert_eq!(group.run_state().await, RunState::Failed);
    let recorded = group.run_why().await;
    assert!(recorded.contains(why), "{recorded}");
    group
        .deployer
        .handle_ecr_event(&group.push(), &invocation("again"))
        .await
        .unwrap();
    assert!(
        services_rolled(&group.rig.proxy).is_empty(),
        "no service rolled"
    );
    assert_eq!(group.stand_in.started().len(), 1, "no second migration");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_that_exits_1_stops_the_group_with_its_exit_code() {
    let group = GroupRig::new(31).await;
    let task = migration_started(&group).await;
    let stopped = group.stand_in.exit(&task.arn, 1, "e-exit-1");
    deliver_ecs_event(&group.deployer, &stopped, 2).await;
    stopped_saying(&group, "migrate failed: app exited 1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_that_never_starts_stops_the_group_with_ecss_reason() {
    let group = GroupRig::new(32).await;
    let task = migration_started(&group).await;
    let stopped = group.stand_in.never_started(&task.arn, "e-never-started");
    deliver_ecs_event(&group.deployer, &stopped, 1).await;
    stopped_saying(
        &group,
        "the task never started (TaskFailedToStart: CannotPullContainerError",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_still_running_at_its_timeout_is_stopped_and_stops_the_group() {
    let group = GroupRig::new(33).await;
    migration_started(&group).await;
    let run = group.inspector.ledger().group_run("shop", &group.run).await;
    let deadline = run.unwrap().unwrap().value.steps[0].deadline.unwrap();
    // No event comes: the reconciler's runs (or the wake-up at the deadline) a second
    // before the 15-minute timeout, then at it.
    let later = Arc::new(Mutex::new(deadline - chrono::Duration::seconds(1)));
    let clock = later.clone();
    let reconciler = group
        .rig
        .deployer(&group.config)
        .with_tasks(Arc::new(EcsTasks::new(group.rig.via_proxy.ecs.clone())))
        .with_clock(Arc::new(move || *clock.lock().unwrap()));
    reconciler
        .reconcile(&serde_json::json!({"id": "early"}), &invocation("early"))
        .await;
    assert!(
        !group
            .rig
            .proxy
            .calls()
            .iter()
            .any(|c| c.operation == "StopTask"),
        "not a second before its deadline"
    );
    *later.lock().unwrap() = deadline;
    reconciler
        .reconcile(
            &serde_json::json!({"id": "deadline"}),
            &invocation("deadline"),
        )
        .await;
    let stops = group
        .rig
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "StopTask")
        .count();
    assert_eq!(stops, 1, "the running task is stopped first");
    stopped_saying(&group, "migrate failed: did not exit within 15m: stopped").await;
}
