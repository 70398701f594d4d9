//! Deployment windows over the in-memory adapters, on a clock the test moves: a release
//! arriving while the window is closed waits, only the newest of those waiting rolls when
//! it opens, and an operator's rollback is never held.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::pipeline_tests::{deployer_with, invocation, MemoryDeployer};
use super::TargetOutcome;
use crate::ledger::image_key;
use crate::memory::{digest, ecr_push, ACCOUNT};
use crate::model::deployment::{State, Trigger};

pub(super) fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
}

/// `web` frozen over the Berlin weekend, on a clock the test sets.
pub(super) fn weekend_frozen(policy: &str) -> (MemoryDeployer, Arc<Mutex<DateTime<Utc>>>) {
    let clock = Arc::new(Mutex::new(utc(2026, 12, 3, 10, 0, 0)));
    let read = clock.clone();
    let deployer = deployer_with(
        policy,
        json!({"windows": {"time_zone": "Europe/Berlin", "deny": ["FR 16:00 -> MO 08:00"]}}),
    )
    .with_clock(Arc::new(move || *read.lock().unwrap()));
    (deployer, clock)
}

pub(super) async fn push(
    deployer: &MemoryDeployer,
    event: &str,
    tag: &str,
    digest: &str,
) -> TargetOutcome {
    deployer.registry.push(ACCOUNT, "app", Some(tag), digest);
    let report = deployer
        .handle_ecr_event(&ecr_push(event, "app", Some(tag), digest), &invocation())
        .await
        .unwrap();
    match report.outcome {
        super::EventOutcome::Targets { mut targets, .. } => targets.remove(0).outcome,
        other => panic!("{other:?}"),
    }
}

pub(super) async fn state(deployer: &MemoryDeployer, digest: &str) -> State {
    let id = format!("web.{}", image_key(digest));
    deployer.deployment(&id).await.unwrap().value.state
}

/// A push at FR 16:01 (Berlin) waits; three wait; at MO 08:00 only the newest rolls.
#[tokio::test]
async fn pushes_in_a_closed_window_wait_and_only_the_newest_rolls_when_it_opens() {
    let (deployer, clock) = weekend_frozen("auto");
    *clock.lock().unwrap() = utc(2026, 12, 4, 15, 1, 0);
    for (event, tag, d) in [("e-2", "v2", 'a'), ("e-3", "v3", 'b'), ("e-4", "v4", 'c')] {
        let outcome = push(&deployer, event, tag, &digest(d)).await;
        let TargetOutcome::WaitingForWindow { because, opens_at } = outcome else {
            panic!("{tag}: {outcome:?}")
        };
        assert!(because.contains("FR 16:00 -> MO 08:00"), "{because}");
        assert_eq!(opens_at, utc(2026, 12, 7, 7, 0, 0), "MO 08:00 in Berlin");
    }
    assert_eq!(
        deployer.ecs.updates(),
        0,
        "nothing rolls while the window is closed"
    );
    assert_eq!(state(&deployer, &digest('a')).await, State::Superseded);
    assert_eq!(state(&deployer, &digest('b')).await, State::Superseded);
    assert_eq!(
        state(&deployer, &digest('c')).await,
        State::WaitingForWindow
    );

    *clock.lock().unwrap() = utc(2026, 12, 7, 6, 59, 59);
    deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(
        deployer.ecs.updates(),
        0,
        "a second before the window opens"
    );

    *clock.lock().unwrap() = utc(2026, 12, 7, 7, 0, 0);
    let report = deployer.reconcile(&json!({}), &invocation()).await;
    let report = serde_json::to_value(&report).unwrap();
    assert!(
        report["targets"][0]["window_opened"]["result"] == "rolling",
        "{report}"
    );
    assert_eq!(deployer.ecs.updates(), 1);
    assert_eq!(state(&deployer, &digest('c')).await, State::Rolling);
    let running = deployer.ecs.running("prod", "web");
    assert!(format!("{running:?}").contains(&digest('c')), "{running:?}");
    // The next run finds nothing waiting.
    deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(deployer.ecs.updates(), 1);
}

/// Inside the window a push rolls at once.
#[tokio::test]
async fn an_open_window_rolls_at_once() {
    let (deployer, _clock) = weekend_frozen("auto");
    let outcome = push(&deployer, "e-2", "v2", &digest('a')).await;
    assert!(
        matches!(outcome, TargetOutcome::Rolling { .. }),
        "{outcome:?}"
    );
    assert_eq!(deployer.ecs.updates(), 1);
}

/// The window gate exempts a rollback (operator rollbacks roll through `start_rollout`
/// directly and never meet the gate; this keeps any path that does from holding one).
#[tokio::test]
async fn window_holds_never_holds_a_rollback() {
    let (deployer, clock) = weekend_frozen("auto");
    *clock.lock().unwrap() = utc(2026, 12, 4, 16, 0, 0);
    let target = deployer.config().target("web").unwrap();
    let mut release = crate::model::deployment::example();
    assert!(deployer.window_holds(target, &release).is_some());
    release.trigger = Trigger::Rollback {
        event_id: "op-1".into(),
        requested_by: "alice".into(),
        reason: Some("500s".into()),
        to_deployment_id: "web.img-a".into(),
        to_release: "app:v1".into(),
    };
    assert_eq!(deployer.window_holds(target, &release), None);
}

/// Approvers may decide while the window is closed: the approved release waits, and rolls
/// when the window opens — never asked again.
#[tokio::test]
async fn an_approval_given_while_the_window_is_closed_rolls_when_it_opens() {
    use crate::model::deployment::{Actor, Channel, Verdict};
    let (deployer, clock) = weekend_frozen("approval");
    *clock.lock().unwrap() = utc(2026, 12, 5, 12, 0, 0);
    let outcome = push(&deployer, "e-2", "v2", &digest('a')).await;
    assert!(
        matches!(outcome, TargetOutcome::AwaitingApproval { .. }),
        "asked even while closed: {outcome:?}"
    );
    let alice = Actor {
        id: "alice (approval link)".into(),
        channel: Channel::Web,
        source: None,
    };
    let id = format!("web.{}", image_key(&digest('a')));
    let decided = deployer
        .decide(&id, Verdict::Approve, &alice, None)
        .await
        .unwrap();
    assert!(
        matches!(
            decided,
            super::DecisionOutcome::Rolled {
                rollout: TargetOutcome::WaitingForWindow { .. }
            }
        ),
        "{decided:?}"
    );
    assert_eq!(deployer.ecs.updates(), 0);
    assert_eq!(
        state(&deployer, &digest('a')).await,
        State::WaitingForWindow
    );
    *clock.lock().unwrap() = utc(2026, 12, 7, 7, 0, 0);
    deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(deployer.ecs.updates(), 1);
    assert_eq!(state(&deployer, &digest('a')).await, State::Rolling);
    assert_eq!(
        deployer.notifier.published().len(),
        1,
        "asked once, never again"
    );
}

/// A newer release that reaches ECS once the window opened — before the reconciler got
/// to the one that waited — supersedes it: the waiting release never rolls over it.
#[tokio::test]
async fn a_release_that_rolls_after_the_window_opens_supersedes_the_one_that_waited() {
    let (deployer, clock) = weekend_frozen("auto");
    *clock.lock().unwrap() = utc(2026, 12, 4, 15, 1, 0);
    push(&deployer, "e-2", "v2", &digest('a')).await;
    *clock.lock().unwrap() = utc(2026, 12, 7, 7, 1, 0);
    let outcome = push(&deployer, "e-3", "v3", &digest('b')).await;
    assert!(
        matches!(outcome, TargetOutcome::Rolling { .. }),
        "{outcome:?}"
    );
    assert_eq!(state(&deployer, &digest('a')).await, State::Superseded);
    deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(deployer.ecs.updates(), 1, "v3 only");
    assert_eq!(state(&deployer, &digest('b')).await, State::Rolling);
}

/// An operator who froze the target over the weekend keeps the waiting release back when
/// the window opens; it rolls once unfrozen.
#[tokio::test]
async fn a_freeze_during_the_wait_keeps_the_release_back_when_the_window_opens() {
    use crate::input::event::{OperatorAction, OperatorRequest};
    let (deployer, clock) = weekend_frozen("auto");
    *clock.lock().unwrap() = utc(2026, 12, 4, 15, 1, 0);
    push(&deployer, "e-2", "v2", &digest('a')).await;
    let request = |action| OperatorRequest {
        event_id: "op-1".into(),
        action,
        target: "web".into(),
        requested_by: "alice".into(),
        reason: Some("incident".into()),
        to: None,
        until: None,
    };
    deployer
        .operate(request(OperatorAction::Freeze), &invocation())
        .await
        .unwrap();
    *clock.lock().unwrap() = utc(2026, 12, 7, 7, 0, 0);
    let report = serde_json::to_value(deployer.reconcile(&json!({}), &invocation()).await).unwrap();
    assert_eq!(
        report["targets"][0]["window_opened"]["result"], "frozen",
        "{report}"
    );
    assert_eq!(deployer.ecs.updates(), 0);
    assert_eq!(
        state(&deployer, &digest('a')).await,
        State::WaitingForWindow
    );
    deployer
        .operate(request(OperatorAction::Unfreeze), &invocation())
        .await
        .unwrap();
    deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(deployer.ecs.updates(), 1);
}

/// `slipway status` names the release that waits, why, and when the window opens.
#[tokio::test]
async fn status_shows_the_release_waiting_for_the_window() {
    let (deployer, clock) = weekend_frozen("auto");
    *clock.lock().unwrap() = utc(2026, 12, 4, 15, 1, 0);
    push(&deployer, "e-2", "v2", &digest('a')).await;
    let target = deployer.config().target("web").unwrap();
    let read = deployer.ledger().target("web").await.unwrap();
    let deployments: Vec<_> = read.record.live.values().cloned().collect();
    let status = crate::console::status::status(&crate::console::status::Inputs {
        target,
        record: &read.record,
        deployments: &deployments,
        service: Err("not read in this test".into()),
        now: utc(2026, 12, 4, 15, 2, 0),
    });
    let waiting = status.waiting_for_window.expect("a release waits");
    assert_eq!(
        waiting.deployment_id,
        format!("web.{}", image_key(&digest('a')))
    );
    assert_eq!(waiting.opens_at, utc(2026, 12, 7, 7, 0, 0));
    assert!(
        waiting.because.contains("FR 16:00 -> MO 08:00"),
        "{}",
        waiting.because
    );
}
