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

/// Group shop whose web and worker take one repository: a push releases it.
fn one_repository() -> World {
    super::group_tests::world_with("stop", "web")
}

/// Pushes the digest `n` (one hex digit repeated) as `tag`, ECR receiving it at 10:0n on
/// 7 December 2026.
fn push(world: &World, n: char, tag: &str) -> String {
    let digest = format!("sha256:{}", n.to_string().repeat(64));
    let minute = n.to_digit(16).unwrap();
    let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 7, 10, minute, 0).unwrap();
    world
        .deployer
        .registry
        .push_at(crate::memory::ACCOUNT, "web", Some(tag), &digest, at);
    digest
}

/// Its event, delivered.
async fn delivered(world: &World, tag: &str, digest: &str) {
    world
        .deployer
        .handle_ecr_event(
            &crate::memory::ecr_push(&format!("e-{tag}"), "web", Some(tag), digest),
            &invocation(),
        )
        .await
        .unwrap();
}

/// The release a push of `digest` makes of shop (both targets in repository web).
fn pushed(digest: &str) -> BTreeMap<String, String> {
    let image = format!("{}/web@{digest}", super::group_tests::REGISTRY);
    BTreeMap::from([("web".to_string(), image.clone()), ("worker".into(), image)])
}

#[tokio::test]
async fn a_push_whose_event_was_lost_releases_the_group_on_the_next_schedule_once() {
    let world = one_repository();
    let v1 = push(&world, '1', "v1");
    delivered(&world, "v1", &v1).await;
    assert_eq!(world.tasks.started().len(), 1, "v1's migration");
    // v2 is pushed; its event never comes. A tag the rule refuses is not a release.
    let v2 = push(&world, '2', "v2");
    push(&world, '3', "latest");

    let report = reconcile(&world).await;

    assert!(report.group_problems.is_empty(), "{report:?}");
    let v2_run = run_id("shop", &pushed(&v2));
    assert!(
        report.groups.iter().any(|g| g.run_id == v2_run),
        "v2 released by the reconciler: {report:?}"
    );
    let record = world.run_of(&pushed(&v2)).await;
    assert_eq!(record.state, RunState::Queued, "behind v1's run");
    assert_eq!(record.pushed.as_ref().map(|p| p.tag.as_str()), Some("v2"));

    // The next schedule: nothing more to release; v1's run is driven, v2's waits.
    let again = reconcile(&world).await;
    assert!(
        !again.groups.iter().any(|g| g.run_id == v2_run),
        "{again:?}"
    );
    assert_eq!(world.tasks.started().len(), 1);
}

#[tokio::test]
async fn an_image_older_than_the_last_push_the_line_took_is_never_released() {
    let world = one_repository();
    let v2 = push(&world, '2', "v2");
    let v3 = push(&world, '3', "v3");
    delivered(&world, "v3", &v3).await;
    // Someone moves tag v3 back onto v2's older image; v2's own event never came.
    world
        .deployer
        .registry
        .push(crate::memory::ACCOUNT, "web", Some("v3"), &v2);

    let report = reconcile(&world).await;

    assert!(report.group_problems.is_empty(), "{report:?}");
    assert!(
        world
            .deployer
            .ledger
            .group_run("shop", &run_id("shop", &pushed(&v2)))
            .await
            .unwrap()
            .is_none(),
        "the older image is not released: {report:?}"
    );
}

#[tokio::test]
async fn a_group_whose_line_took_no_push_is_not_looked_for() {
    // A group configured over services that run their newest image already: releasing
    // it again would run its migration again.
    let world = one_repository();
    let v1 = push(&world, '1', "v1");

    let report = reconcile(&world).await;

    assert!(report.groups.is_empty(), "{report:?}");
    assert!(world
        .deployer
        .ledger
        .group_run("shop", &run_id("shop", &pushed(&v1)))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_run_an_earlier_look_created_but_never_queued_is_driven() {
    let world = one_repository();
    let v1 = push(&world, '1', "v1");
    delivered(&world, "v1", &v1).await;
    let v2 = push(&world, '2', "v2");
    // As a look that died after writing v2's run and before the line took it leaves it.
    let spec = world.deployer.group("shop").unwrap().clone();
    let id = run_id("shop", &pushed(&v2));
    let mut run = crate::model::group::GroupRun::begin(&id, &spec, pushed(&v2), false);
    run.pushed = Some(world.deployer.pushed_release(&spec, "v2", None));
    world
        .deployer
        .ledger
        .set_group_run(None, run)
        .await
        .unwrap();

    let report = reconcile(&world).await;

    assert!(report.group_problems.is_empty(), "{report:?}");
    let line = world.line().await;
    assert!(line.has_place(&id), "v2 waits in the line now: {line:?}");
}
