//! One-time wake-ups of the reconciler, over the in-memory adapters: each wait that ends
//! at a known time asks once for a wake-up at the first whole minute at or after it (a
//! window opening, a group task's deadline; a soak's end is in `promotion_tests`), and a
//! wake-up Scheduler refuses fails nothing. What a wake-up does when it fires is what the
//! reconciler does on its schedule (`window_tests`, `group_reconcile_tests`).

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;

use super::group_tests::world;
use super::pipeline_tests::invocation;
use super::window_tests::{push, utc, weekend_frozen};
use super::TargetOutcome;
use crate::memory::{digest, MemoryWakeUps};
use crate::model::group::RunState;

#[tokio::test]
async fn releases_waiting_for_the_window_wake_the_reconciler_once_when_it_opens() {
    let (deployer, clock) = weekend_frozen("auto");
    let wake_ups = Arc::new(MemoryWakeUps::default());
    let deployer = deployer.with_wake_ups(wake_ups.clone());
    *clock.lock().unwrap() = utc(2026, 12, 4, 15, 1, 0);
    for (event, tag, d) in [("e-2", "v2", 'a'), ("e-3", "v3", 'b'), ("e-4", "v4", 'c')] {
        let outcome = push(&deployer, event, tag, &digest(d)).await;
        assert!(
            matches!(outcome, TargetOutcome::WaitingForWindow { .. }),
            "{outcome:?}"
        );
    }
    let scheduled = wake_ups.scheduled();
    assert_eq!(
        scheduled.len(),
        1,
        "one wake-up for the opening: {scheduled:?}"
    );
    assert_eq!(
        scheduled[0].at,
        utc(2026, 12, 7, 7, 0, 0),
        "MO 08:00 in Berlin"
    );
    assert_eq!(scheduled[0].expression(), "at(2026-12-07T07:00:00)");
    assert_eq!(scheduled[0].reason, "web's deployment window opens");

    // It fires: the reconciler rolls the newest waiting release.
    *clock.lock().unwrap() = scheduled[0].at;
    deployer
        .reconcile(&scheduled[0].input(), &invocation())
        .await;
    assert_eq!(deployer.ecs.updates(), 1);
    // A duplicate firing finds nothing waiting.
    deployer
        .reconcile(&scheduled[0].input(), &invocation())
        .await;
    assert_eq!(deployer.ecs.updates(), 1);
}

#[tokio::test]
async fn a_wake_up_scheduler_refuses_fails_nothing() {
    let (deployer, clock) = weekend_frozen("auto");
    let wake_ups = Arc::new(MemoryWakeUps::default());
    let deployer = deployer.with_wake_ups(wake_ups.clone());
    *clock.lock().unwrap() = utc(2026, 12, 4, 15, 1, 0);
    wake_ups.refuse_next();
    let outcome = push(&deployer, "e-2", "v2", &digest('a')).await;
    assert!(
        matches!(outcome, TargetOutcome::WaitingForWindow { .. }),
        "the release waits all the same: {outcome:?}"
    );
    assert!(wake_ups.scheduled().is_empty());
    assert_eq!(wake_ups.calls(), 1);
    // The reconciler's own schedule still rolls it once the window is open.
    *clock.lock().unwrap() = utc(2026, 12, 7, 7, 5, 0);
    deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(deployer.ecs.updates(), 1);
}

#[tokio::test]
async fn a_group_task_wakes_the_reconciler_at_its_deadline_once() {
    let world = world("stop");
    let started = *world.now.lock().unwrap();
    for _ in 0..3 {
        let report = world
            .start_release(&super::group_tests::release_with('a', 'b'))
            .await;
        assert_eq!(report.state, RunState::Running);
    }
    let scheduled = world.wake_ups.scheduled();
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert_eq!(
        world.wake_ups.calls(),
        1,
        "asked when the task started, not again"
    );
    let deadline = started + Duration::minutes(15);
    assert!(
        scheduled[0].at >= deadline && scheduled[0].at < deadline + Duration::minutes(1),
        "{scheduled:?} for a deadline at {deadline}"
    );
    assert!(
        scheduled[0].reason.contains("step migrate"),
        "{scheduled:?}"
    );
}

#[tokio::test]
async fn a_dry_run_schedules_no_wake_up() {
    let (deployer, clock) = weekend_frozen("auto");
    let wake_ups = Arc::new(MemoryWakeUps::default());
    let deployer = deployer.with_wake_ups(wake_ups.clone());
    *clock.lock().unwrap() = utc(2026, 12, 4, 15, 1, 0);
    deployer
        .registry
        .push(crate::memory::ACCOUNT, "app", Some("v2"), &digest('a'));
    let push = crate::memory::ecr_push("e-2", "app", Some("v2"), &digest('a'));
    deployer.plan(&push, &invocation()).await.unwrap();
    assert_eq!(wake_ups.calls(), 0);
}
