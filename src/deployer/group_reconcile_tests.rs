//! The reconciler drives release groups' runs without any event, over the in-memory
//! adapters: a STOPPED event that never came, a deadline nothing woke, a run that ended
//! without handing its group's line over.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::json;

use super::group_tests::{release_with, task_arn, world, World};
use super::pipeline_tests::invocation;
use super::*;
use crate::model::group::{run_id, RunState};

async fn reconcile(world: &World) -> ReconcileReport {
    world
        .deployer
        .reconcile(&json!({"id": "schedule-1"}), &invocation())
        .await
}

#[tokio::test]
async fn a_migration_whose_stopped_event_was_lost_is_found_by_the_reconciler() {
    let world = world("stop");
    let r1 = release_with('a', 'b');
    world.start_release(&r1).await;
    // The task exits 0; its event never arrives.
    world.tasks.exit(&task_arn(1), 0);
    let report = reconcile(&world).await;
    assert!(report.group_problems.is_empty(), "{report:?}");
    assert_eq!(report.groups.len(), 1);
    assert_eq!(
        report.groups[0].actions,
        ["RegisterTaskDefinition worker", "UpdateService worker"]
    );
    assert_eq!(world.deployer.ecs.updates(), 1);
    // Again: nothing more until worker's rollout ends.
    let again = reconcile(&world).await;
    assert!(again.groups[0].actions.is_empty(), "{again:?}");
    assert_eq!(world.deployer.ecs.updates(), 1);
}

#[tokio::test]
async fn a_deadline_no_event_woke_is_kept_by_the_reconciler() {
    let world = world("stop");
    let r1 = release_with('a', 'b');
    world.start_release(&r1).await;
    *world.now.lock().unwrap() += Duration::minutes(14);
    assert!(reconcile(&world).await.groups[0].actions.is_empty());
    assert_eq!(world.run_of(&r1).await.state, RunState::Running);
    *world.now.lock().unwrap() += Duration::minutes(1);
    let report = reconcile(&world).await;
    assert_eq!(report.groups[0].actions, ["StopTask migrate"]);
    assert_eq!(report.groups[0].state, RunState::Failed);
}

#[tokio::test]
async fn a_run_that_ended_without_handing_over_its_line_hands_it_over_on_the_next_schedule() {
    let world = world("stop");
    let (r1, r2) = (release_with('a', 'b'), release_with('c', 'd'));
    world.start_release(&r1).await;
    world.start_release(&r2).await;
    // As a crash after the run's last write would leave it: r1 failed, the line still its.
    let ledger = &world.deployer.ledger;
    let read = ledger
        .group_run("shop", &run_id("shop", &r1))
        .await
        .unwrap()
        .unwrap();
    let mut failed = read.value.clone();
    failed.state = RunState::Failed;
    ledger.set_group_run(Some(&read), failed).await.unwrap();
    assert_eq!(world.run_of(&r2).await.state, RunState::Queued);

    let report = reconcile(&world).await;
    assert!(
        report.groups[0]
            .actions
            .contains(&format!("started run {}", run_id("shop", &r2))),
        "{report:?}"
    );
    assert_eq!(world.run_of(&r2).await.state, RunState::Running);
    assert_eq!(world.tasks.started().len(), 2);
}

#[tokio::test]
async fn a_push_whose_event_was_lost_releases_the_group_on_the_next_schedule_once() {
    use crate::memory::{ecr_push, ACCOUNT};
    // web and worker take one repository: a push releases the group.
    let world = super::group_tests::world_with("stop", "web");
    let registry = &world.deployer.registry;
    let (v1, v2) = (
        format!("sha256:{}", "1".repeat(64)),
        format!("sha256:{}", "2".repeat(64)),
    );
    registry.push(ACCOUNT, "web", Some("v1"), &v1);
    world
        .deployer
        .handle_ecr_event(&ecr_push("e-1", "web", Some("v1"), &v1), &invocation())
        .await
        .unwrap();
    assert_eq!(world.tasks.started().len(), 1, "v1's migration");
    // v2 is pushed; its event never comes. A tag the rule refuses is not a release.
    registry.push(ACCOUNT, "web", Some("v2"), &v2);
    registry.push(
        ACCOUNT,
        "web",
        Some("latest"),
        &format!("sha256:{}", "3".repeat(64)),
    );

    let report = reconcile(&world).await;

    assert!(report.group_problems.is_empty(), "{report:?}");
    let image = format!("{}/web@{v2}", super::group_tests::REGISTRY);
    let v2_release = BTreeMap::from([("web".to_string(), image.clone()), ("worker".into(), image)]);
    let v2_run = run_id("shop", &v2_release);
    assert!(
        report.groups.iter().any(|g| g.run_id == v2_run),
        "v2 released by the reconciler: {report:?}"
    );
    let record = world.run_of(&v2_release).await;
    assert_eq!(record.state, RunState::Queued, "behind v1's run");
    assert_eq!(record.pushed.as_ref().map(|p| p.tag.as_str()), Some("v2"));

    // The next schedule: nothing new to release, nothing started twice.
    let again = reconcile(&world).await;
    assert!(
        again
            .groups
            .iter()
            .all(|g| g.run_id != v2_run || g.actions.is_empty()),
        "{again:?}"
    );
    assert_eq!(world.tasks.started().len(), 1);
}
