//! One run of a group at a time, over the in-memory adapters: a newer release waits for
//! the run under way and starts when it ends; of several waiting, only the newest runs;
//! a run that started nothing is superseded; a crash between the line's write and a run's
//! record is mended by the next delivery.

use super::group_tests::{release_with, task_arn, world, World};
use crate::model::group::{run_id, GroupLine, GroupRun, RunState};

async fn line(world: &World) -> GroupLine {
    world.line().await
}

#[tokio::test]
async fn a_newer_release_waits_for_the_run_under_way_and_only_the_newest_waiting_one_runs() {
    let world = world("stop");
    let (r1, r2, r3) = (
        release_with('a', 'b'),
        release_with('c', 'd'),
        release_with('e', 'f'),
    );
    assert_eq!(world.start_release(&r1).await.state, RunState::Running);
    let second = world.start_release(&r2).await;
    assert_eq!(second.state, RunState::Queued);
    assert!(second.actions.is_empty(), "{second:?}");
    let why = second.why.unwrap();
    assert!(why.contains(&run_id("shop", &r1)), "{why}");
    for _ in 0..5 {
        assert_eq!(world.start_release(&r3).await.state, RunState::Queued);
    }
    assert_eq!(
        world.tasks.started().len(),
        1,
        "no second migration while the first runs"
    );
    assert_eq!(world.deployer.ecs.registers(), 1);
    let waiting = line(&world).await;
    assert_eq!(waiting.waiting, [run_id("shop", &r2), run_id("shop", &r3)]);

    let exited = world.tasks.exit(&task_arn(1), 0);
    world.task_event(exited).await;
    world.rollout_of(&r1, "worker", 1, false, "COMPLETED").await;
    assert_eq!(world.tasks.started().len(), 1);
    world.rollout_of(&r1, "web", 2, false, "COMPLETED").await;

    assert_eq!(world.run_of(&r1).await.state, RunState::Succeeded);
    let newest = world.run_of(&r3).await;
    assert_eq!(newest.state, RunState::Running, "{newest:?}");
    let started = world.tasks.started();
    assert_eq!(started.len(), 2, "the newest release's migration started");
    assert!(started[1].started_by.contains(&newest.id));
    assert!(started[1].task_definition.contains("web:"));
    let passed = world.run_of(&r2).await;
    assert_eq!(passed.state, RunState::Superseded);
    assert!(passed.why.unwrap().contains(&newest.id));

    // The passed-over release delivered again: nothing runs, nothing queues.
    assert_eq!(world.start_release(&r2).await.state, RunState::Superseded);
    assert_eq!(world.tasks.started().len(), 2);
    let after = line(&world).await;
    assert_eq!(after.holder.as_deref(), Some(newest.id.as_str()));
    assert!(
        after.waiting.is_empty() && after.passed_over.is_empty(),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_run_that_failed_hands_the_line_to_the_release_waiting_behind_it() {
    let world = world("stop");
    let (r1, r2) = (release_with('a', 'b'), release_with('c', 'd'));
    world.start_release(&r1).await;
    world.start_release(&r2).await;
    let exited = world.tasks.exit(&task_arn(1), 1);
    let report = world.task_event(exited).await.unwrap();
    assert_eq!(report.state, RunState::Failed);
    assert!(
        report
            .actions
            .contains(&format!("started run {}", run_id("shop", &r2))),
        "{report:?}"
    );
    assert_eq!(world.run_of(&r2).await.state, RunState::Running);
    assert_eq!(world.tasks.started().len(), 2);
}

#[tokio::test]
async fn a_run_still_awaiting_its_approval_is_superseded_by_a_newer_release() {
    let world = world("stop");
    let (r1, r2) = (release_with('a', 'b'), release_with('c', 'd'));
    // No config lets a group await an approval yet: the run is written as one would be.
    let spec = world.deployer.group("shop").unwrap().clone();
    let mut awaiting = GroupRun::begin(&run_id("shop", &r1), &spec, r1.clone(), true);
    awaiting.admitted().unwrap();
    let ledger = &world.deployer.ledger;
    ledger.set_group_run(None, awaiting).await.unwrap();
    let held = GroupLine {
        holder: Some(run_id("shop", &r1)),
        ..GroupLine::default()
    };
    ledger.set_group_line("shop", None, held).await.unwrap();

    assert_eq!(world.start_release(&r2).await.state, RunState::Running);
    assert_eq!(world.run_of(&r1).await.state, RunState::Superseded);
    assert_eq!(
        world.tasks.started().len(),
        1,
        "only the newer release runs"
    );
    assert_eq!(
        line(&world).await.holder.as_deref(),
        Some(run_id("shop", &r2).as_str())
    );
}

#[tokio::test]
async fn a_release_the_line_passed_over_is_superseded_even_if_its_record_missed_it() {
    let world = world("stop");
    let (r1, r2) = (release_with('a', 'b'), release_with('c', 'd'));
    world.start_release(&r1).await;
    world.start_release(&r2).await;
    // As a crash would leave it: the line passed r2 over, r2's record still says queued.
    let ledger = &world.deployer.ledger;
    let read = ledger.group_line("shop").await.unwrap().unwrap();
    let crashed = GroupLine {
        holder: read.value.holder.clone(),
        waiting: vec![],
        passed_over: vec![run_id("shop", &r2)],
        ..read.value.clone()
    };
    ledger
        .set_group_line("shop", Some(&read), crashed)
        .await
        .unwrap();
    assert_eq!(world.run_of(&r2).await.state, RunState::Queued);

    assert_eq!(world.start_release(&r2).await.state, RunState::Superseded);
    assert!(
        line(&world).await.passed_over.is_empty(),
        "forgotten once settled"
    );
    let exited = world.tasks.exit(&task_arn(1), 0);
    world.task_event(exited).await;
    world.rollout_of(&r1, "worker", 1, false, "COMPLETED").await;
    world.rollout_of(&r1, "web", 2, false, "COMPLETED").await;
    assert_eq!(world.tasks.started().len(), 1, "r2 never runs");
    assert_eq!(line(&world).await.holder, None);
}
