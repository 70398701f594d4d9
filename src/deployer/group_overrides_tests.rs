//! An approver's override of a run's closed windows and bypass of its soak, over the
//! in-memory adapters: each is taken only from a run its gate holds, with a reason, once;
//! an override starts the run now, a bypass asks its approval with the bypass in the
//! evidence and lets nothing else through.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::group_gates_tests::{dev_deploys, run_of, set_now, shop_with};
use super::group_tests::{release, World};
use super::pipeline_tests::invocation;
use super::{RunGateAction, RunGateOutcome};
use crate::approval::{ApprovalLinks, SigningKey, SigningKeys};
use crate::memory::RecordingNotifier;
use crate::model::deployment::{Action, Actor, AuditEntry, Channel};
use crate::model::group::{run_id, Gate, RunState};
use crate::ports::Notifier;

const ADA: &str = "arn:aws:sts::123456789012:assumed-role/release-managers/ada";

fn ada() -> Actor {
    Actor {
        id: ADA.into(),
        channel: Channel::Iam,
        source: None,
    }
}

async fn open<N: Notifier>(
    world: &World<N>,
    action: RunGateAction,
    reason: Option<&str>,
) -> RunGateOutcome {
    world
        .deployer
        .open_run_gate(
            &run_id("shop", &release()),
            action,
            &ada(),
            reason.map(str::to_string),
        )
        .await
        .unwrap()
}

/// The run's audit trail: (action, outcome), oldest first.
async fn audited<N: Notifier>(world: &World<N>) -> Vec<(Action, String)> {
    use crate::ports::{ObjectList, ObjectStore};
    let store = world.deployer.ledger.store();
    let prefix = crate::ledger::group_audit_prefix("shop", &run_id("shop", &release()));
    let mut entries: Vec<AuditEntry> = vec![];
    for path in store.list(&prefix).await.unwrap() {
        let object = store.get(&path).await.unwrap().unwrap();
        entries.push(serde_json::from_slice(&object.body).unwrap());
    }
    entries.sort_by_key(|e| e.at);
    assert!(entries
        .iter()
        .all(|e| e.actor == ADA && e.deployment_id == run_id("shop", &release())));
    entries.into_iter().map(|e| (e.action, e.outcome)).collect()
}

fn refusal(outcome: RunGateOutcome) -> String {
    match outcome {
        RunGateOutcome::Refused { reason } => reason,
        other => panic!("taken: {other:?}"),
    }
}

/// The shop group inside web's weekend freeze (Friday 17:00 in Berlin), its run held.
async fn frozen() -> World {
    let world = shop_with(
        json!({"windows": {"time_zone": "Europe/Berlin", "deny": ["FR 16:00 -> MO 08:00"]}}),
    );
    set_now(&world, Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap());
    let held = world.start().await;
    assert!(
        held.why.unwrap().contains("window is closed"),
        "held by the freeze"
    );
    world
}

#[tokio::test]
async fn an_override_starts_a_run_its_window_holds_now_and_is_kept_on_the_run() {
    let world = frozen().await;

    let refused = refusal(open(&world, RunGateAction::OverrideWindow, Some("  ")).await);
    assert!(refused.contains("needs a reason"), "{refused}");
    assert!(run_of(&world).await.gates.window_override.is_none());
    assert!(world.tasks.started().is_empty());

    let taken = open(&world, RunGateAction::OverrideWindow, Some("incident 4711")).await;

    let RunGateOutcome::Released { run } = taken else {
        panic!("not released: {taken:?}")
    };
    assert_eq!(run.state, RunState::Running);
    assert_eq!(
        world.tasks.started().len(),
        1,
        "the migration starts inside the freeze: {run:?}"
    );
    let recorded = run_of(&world).await;
    let kept = recorded.gates.window_override.clone().unwrap();
    assert_eq!(
        (kept.by.as_str(), kept.reason.as_str()),
        (ADA, "incident 4711")
    );
    assert_eq!(
        recorded.gates.window_open_at,
        Some(Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap())
    );
    assert_eq!(recorded.gates.waiting, None);

    let again = refusal(open(&world, RunGateAction::OverrideWindow, Some("again")).await);
    assert!(again.contains("let through its window already"), "{again}");
    assert_eq!(world.tasks.started().len(), 1, "one migration");

    // Every attempt is in the run's audit trail, the refused ones with why.
    let trail = audited(&world).await;
    let outcomes: Vec<&str> = trail.iter().map(|(_, o)| o.as_str()).collect();
    assert!(
        trail.iter().all(|(a, _)| *a == Action::OverrideWindow),
        "{trail:?}"
    );
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(
        outcomes[0].starts_with("refused: an override needs a reason"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], "taken: incident 4711");
    assert!(
        outcomes[2].starts_with("refused: run shop-"),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn an_override_lapses_after_an_hour_when_the_run_could_not_start() {
    let world = frozen().await;
    let opened_at = Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap();
    // Recorded as `open_run_gate` records it, but the run never driven after (the
    // invocation died between the two): the reconciler finds it an hour and a minute on.
    let id = run_id("shop", &release());
    let read = world.deployer.group_run_by_id(&id).await.unwrap();
    let mut taken = read.value.clone();
    taken
        .override_window(crate::model::deployment::WindowOverride {
            by: ADA.into(),
            reason: "incident 4711".into(),
            at: opened_at,
        })
        .unwrap();
    world
        .deployer
        .ledger
        .set_group_run(Some(&read), taken)
        .await
        .unwrap();
    set_now(&world, opened_at + chrono::Duration::minutes(61));

    world.deployer.reconcile(&json!({}), &invocation()).await;

    assert!(
        world.tasks.started().is_empty(),
        "the freeze holds the run again"
    );
    let run = run_of(&world).await;
    assert_eq!(run.gates.waiting.map(|w| w.gate), Some(Gate::Window));
}

#[tokio::test]
async fn an_override_is_refused_for_a_run_no_window_holds() {
    // Held by its upstream, not by a window: an override has nothing to let through.
    let world = shop_with(json!({"promotion": {"from": ["dev-web"]}}));
    dev_deploys(&world, &format!("sha256:{}", "a".repeat(64)), None).await;
    world.start().await;

    let refused = refusal(open(&world, RunGateAction::OverrideWindow, Some("hotfix")).await);

    assert!(
        refused.contains("only a run waiting for its deployment window"),
        "{refused}"
    );
    assert!(run_of(&world).await.gates.window_override.is_none());
}

/// Group shop where web asks approval and takes what soaked 2h on dev-web; dev-web ran
/// web's image of the release (`ends`: how its rollout ended, or still rolling).
async fn soaking(ends: Option<&str>) -> World<RecordingNotifier> {
    let keys = SigningKeys {
        current: SigningKey::new("k1", vec![7u8; 32]).unwrap(),
        previous: None,
    };
    let world = shop_with(json!({"policy": "approval",
                                 "promotion": {"from": ["dev-web"], "soak": "2h"}}))
    .approving(ApprovalLinks::new("https://approve.example/", keys));
    // The stand-in's ECS events say 10:00: the run arrives half an hour into the soak.
    set_now(
        &world,
        Utc.with_ymd_and_hms(2026, 12, 7, 10, 30, 0).unwrap(),
    );
    dev_deploys(&world, &format!("sha256:{}", "a".repeat(64)), ends).await;
    let held = world.start().await;
    assert_eq!(held.state, RunState::AwaitingApproval, "{held:?}");
    assert!(held.why.unwrap().starts_with("waiting for upstream"));
    world
}

fn approval_requests(world: &World<RecordingNotifier>) -> Vec<String> {
    world
        .deployer
        .notifier()
        .published()
        .into_iter()
        .filter(|(subject, _)| subject.starts_with("Approve release of group shop"))
        .map(|(_, body)| body)
        .collect()
}

#[tokio::test]
async fn a_bypass_asks_the_runs_approval_at_once_with_the_bypass_in_the_evidence() {
    let world = soaking(Some("COMPLETED")).await;
    assert!(
        approval_requests(&world).is_empty(),
        "soaking: nobody asked"
    );

    let taken = open(&world, RunGateAction::BypassSoak, Some("hotfix for 4711")).await;

    let RunGateOutcome::Released { run } = taken else {
        panic!("not released: {taken:?}")
    };
    assert_eq!(
        run.state,
        RunState::AwaitingApproval,
        "still to be approved"
    );
    let asked = approval_requests(&world);
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].contains(&format!("the soak bypassed by {ADA}")),
        "{}",
        asked[0]
    );
    assert!(
        world.tasks.started().is_empty(),
        "nothing before the approval"
    );
    let recorded = run_of(&world).await;
    assert_eq!(
        recorded
            .gates
            .soak_bypass
            .as_ref()
            .map(|b| b.reason.as_str()),
        Some("hotfix for 4711")
    );
    assert_eq!(
        recorded.gates.evidence[0].soak_bypassed_by.as_deref(),
        Some(ADA)
    );

    let again = refusal(open(&world, RunGateAction::BypassSoak, Some("again")).await);
    assert!(again.contains("bypassed already"), "{again}");
    let trail = audited(&world).await;
    assert_eq!(
        trail.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        [Action::BypassSoak, Action::BypassSoak]
    );
    assert_eq!(trail[0].1, "taken: hotfix for 4711");
}

#[tokio::test]
async fn a_bypass_is_of_the_soak_only_a_failure_upstream_still_ends_the_run() {
    let world = soaking(None).await;

    let taken = open(&world, RunGateAction::BypassSoak, Some("hotfix")).await;

    let RunGateOutcome::NotReleased { why, .. } = taken else {
        panic!("released before dev-web's rollout ended: {taken:?}")
    };
    assert!(why.contains("dev-web"), "{why}");
    assert!(approval_requests(&world).is_empty());

    dev_deploys(
        &world,
        &format!("sha256:{}", "a".repeat(64)),
        Some("FAILED"),
    )
    .await;
    world.deployer.reconcile(&json!({}), &invocation()).await;

    let run = run_of(&world).await;
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    assert!(
        run.why
            .as_deref()
            .unwrap_or_default()
            .starts_with("not promoted"),
        "{:?}",
        run.why
    );
    assert!(approval_requests(&world).is_empty(), "nobody asked");
    assert!(world.tasks.started().is_empty());
}

#[tokio::test]
async fn a_bypass_is_refused_for_a_group_that_asks_no_approval() {
    let world = shop_with(json!({"promotion": {"from": ["dev-web"], "soak": "2h"}}));
    set_now(
        &world,
        Utc.with_ymd_and_hms(2026, 12, 7, 10, 30, 0).unwrap(),
    );
    dev_deploys(
        &world,
        &format!("sha256:{}", "a".repeat(64)),
        Some("COMPLETED"),
    )
    .await;
    world.start().await;

    let refused = refusal(open(&world, RunGateAction::BypassSoak, Some("hotfix")).await);

    assert!(refused.contains("asks no approval"), "{refused}");
    let run = run_of(&world).await;
    assert!(run.gates.soak_bypass.is_none());
    assert_eq!(run.gates.waiting.map(|w| w.gate), Some(Gate::Upstream));
    assert!(world.tasks.started().is_empty());
}
