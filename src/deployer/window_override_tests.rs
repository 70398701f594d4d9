//! An override of a closed window, over the in-memory adapters: it needs a reason and a
//! release that waits for its window, is recorded with who and why, rolls the release
//! inside the deny span, and leaves what else holds a release (a freeze) in force.

use super::pipeline_tests::invocation;
use super::window_tests::{push, state, utc, weekend_frozen};
use super::{OverrideOutcome, TargetOutcome};
use serde_json::json;

use crate::input::event::{OperatorAction, OperatorRequest};
use crate::ledger::image_key;
use crate::memory::digest;
use crate::model::deployment::{Action, Actor, Channel, State};

fn alice() -> Actor {
    Actor {
        id: "arn:aws:sts::123456789012:assumed-role/release-managers/alice".into(),
        channel: Channel::Iam,
        source: None,
    }
}

async fn audit(
    deployer: &super::pipeline_tests::MemoryDeployer,
    target: &str,
    key: &str,
) -> Vec<crate::model::deployment::AuditEntry> {
    use crate::ports::{ObjectList, ObjectStore};
    let store = deployer.ledger().store();
    let mut entries = vec![];
    for path in store
        .list(&format!("targets/{target}/audit/{key}/"))
        .await
        .unwrap()
    {
        let object = store.get(&path).await.unwrap().unwrap();
        entries.push(serde_json::from_slice(&object.body).unwrap());
    }
    entries
}

/// Bob's freeze or unfreeze of `web`.
fn operator(action: OperatorAction) -> OperatorRequest {
    OperatorRequest {
        event_id: format!("op-{action:?}"),
        action,
        target: "web".into(),
        requested_by: "bob".into(),
        reason: Some("incident".into()),
        to: None,
        until: None,
    }
}

fn id(d: char) -> String {
    format!("web.{}", image_key(&digest(d)))
}

#[tokio::test]
async fn an_override_rolls_the_waiting_release_inside_the_deny_span_and_records_who_and_why() {
    let (deployer, clock) = weekend_frozen("auto");
    *clock.lock().unwrap() = utc(2026, 12, 4, 17, 0, 0);
    push(&deployer, "e-2", "v2", &digest('a')).await;
    assert_eq!(
        state(&deployer, &digest('a')).await,
        State::WaitingForWindow
    );

    let outcome = deployer
        .override_window(&id('a'), &alice(), Some("  ".into()), &invocation())
        .await
        .unwrap();
    assert!(
        matches!(&outcome, OverrideOutcome::Refused { reason } if reason.contains("needs a reason")),
        "{outcome:?}"
    );
    assert_eq!(deployer.ecs.updates(), 0);

    let outcome = deployer
        .override_window(
            &id('a'),
            &alice(),
            Some("hotfix for incident 4711".into()),
            &invocation(),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            &outcome,
            OverrideOutcome::Released {
                rollout: TargetOutcome::Rolling { .. }
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        deployer.ecs.updates(),
        1,
        "rolled inside FR 16:00 -> MO 08:00"
    );
    let record = deployer.deployment(&id('a')).await.unwrap().value;
    assert_eq!(record.state, State::Rolling);
    let overridden = record.window.unwrap().overridden.unwrap();
    assert_eq!(overridden.by, alice().id);
    assert_eq!(overridden.reason, "hotfix for incident 4711");
    let audit = audit(&deployer, &record.target, &record.key).await;
    let actions: Vec<(Action, bool)> = audit
        .iter()
        .map(|e| (e.action, e.outcome.starts_with("taken")))
        .collect();
    assert!(
        actions.contains(&(Action::OverrideWindow, false)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&(Action::OverrideWindow, true)),
        "{actions:?}"
    );

    // The next release still waits for the window: the override was for one release.
    let next = push(&deployer, "e-3", "v3", &digest('b')).await;
    assert!(
        matches!(next, TargetOutcome::WaitingForWindow { .. }),
        "{next:?}"
    );
}

#[tokio::test]
async fn an_override_neither_lifts_a_freeze_nor_applies_to_a_release_that_does_not_wait() {
    let (deployer, clock) = weekend_frozen("auto");
    *clock.lock().unwrap() = utc(2026, 12, 4, 17, 0, 0);
    push(&deployer, "e-2", "v2", &digest('a')).await;
    deployer
        .operate(operator(OperatorAction::Freeze), &invocation())
        .await
        .unwrap();
    let outcome = deployer
        .override_window(&id('a'), &alice(), Some("hotfix".into()), &invocation())
        .await
        .unwrap();
    assert!(
        matches!(
            &outcome,
            OverrideOutcome::NotRolled { why, .. } if why.contains("frozen")
        ),
        "{outcome:?}"
    );
    assert_eq!(deployer.ecs.updates(), 0, "the freeze still holds it");

    // Inside the window (a Thursday) a push rolls at once: nothing waits, nothing to
    // override.
    let (open, _) = weekend_frozen("auto");
    push(&open, "e-9", "v9", &digest('c')).await;
    let outcome = open
        .override_window(&id('c'), &alice(), Some("why not".into()), &invocation())
        .await
        .unwrap();
    assert!(
        matches!(&outcome, OverrideOutcome::Refused { reason } if reason.contains("is rolling")),
        "{outcome:?}"
    );
}

/// An override that could not roll its release (the target was frozen) lets it through
/// the reconciler's runs for an hour only: unfrozen later than that, in the same closed
/// window, the release waits for the window again.
#[tokio::test]
async fn an_override_that_did_not_roll_lapses_after_an_hour() {
    for (unfrozen_after, rolls) in [(30, true), (61, false)] {
        let (deployer, clock) = weekend_frozen("auto");
        *clock.lock().unwrap() = utc(2026, 12, 4, 17, 0, 0);
        push(&deployer, "e-2", "v2", &digest('a')).await;
        deployer
            .operate(operator(OperatorAction::Freeze), &invocation())
            .await
            .unwrap();
        let outcome = deployer
            .override_window(&id('a'), &alice(), Some("hotfix".into()), &invocation())
            .await
            .unwrap();
        let OverrideOutcome::NotRolled { until, .. } = outcome else {
            panic!("frozen: {outcome:?}");
        };
        assert_eq!(until, utc(2026, 12, 4, 18, 0, 0));
        *clock.lock().unwrap() =
            utc(2026, 12, 4, 17, 0, 0) + chrono::Duration::minutes(unfrozen_after);
        deployer
            .operate(operator(OperatorAction::Unfreeze), &invocation())
            .await
            .unwrap();
        deployer.reconcile(&json!({}), &invocation()).await;
        let expected = if rolls {
            State::Rolling
        } else {
            State::WaitingForWindow
        };
        assert_eq!(
            state(&deployer, &digest('a')).await,
            expected,
            "unfrozen {unfrozen_after} minutes after the override"
        );
        assert_eq!(deployer.ecs.updates(), u32::from(rolls) as usize);
    }
}
