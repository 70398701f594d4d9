//! Decisions on deployments awaiting approval, against the local AWS emulator (toward
//! issue 4: the approval function and Slack handler call `Deployer::decide`).

mod common;

use std::sync::atomic::Ordering;

use common::*;
use slipway::deployer::{DecisionOutcome, TargetOutcome};
use slipway::ledger::{image_key, Channel, State, Verdict};

async fn awaiting() -> (
    World,
    String,
    TestDeployer,
    std::sync::Arc<EcsCalls>,
    String,
) {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "approval")]),
        false,
    );
    deployer
        .handle_ecr_event(&push_event("e-a", Some("v2"), &digest), &invocation("r-a"))
        .await
        .unwrap();
    let id = format!("web.{}", image_key(&digest));
    (world, digest, deployer, calls, id)
}

async fn audit_count(world: &World, id: &str) -> usize {
    let key = id.split_once('.').unwrap().1;
    world
        .ledger_keys()
        .await
        .iter()
        .filter(|k| k.starts_with(&format!("targets/web/audit/{key}/")))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_rolls_exactly_what_was_planned() {
    let (world, digest, deployer, calls, id) = awaiting().await;

    let outcome = deployer
        .decide(&id, Verdict::Approve, "alice", Channel::Web, None)
        .await
        .unwrap();

    assert!(
        matches!(
            outcome,
            DecisionOutcome::Rolled {
                rollout: TargetOutcome::Rolling { .. }
            }
        ),
        "{outcome:?}"
    );
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&digest).as_str())
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 1);
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Rolling);
    assert_eq!(record.approval.unwrap().decision.unwrap().actor, "alice");
    assert_eq!(audit_count(&world, &id).await, 1);
    assert!(
        record.diff[0].starts_with("container app: image"),
        "{:?}",
        record.diff
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejecting_records_who_and_why_and_rolls_nothing() {
    let (world, _, deployer, calls, id) = awaiting().await;

    let outcome = deployer
        .decide(
            &id,
            Verdict::Reject,
            "bob",
            Channel::Slack,
            Some("freeze".into()),
        )
        .await
        .unwrap();

    assert!(matches!(outcome, DecisionOutcome::Rejected), "{outcome:?}");
    assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
    assert_eq!(world.revisions("web").await, 1);
    let decision = deployer
        .deployment(&id)
        .await
        .unwrap()
        .value
        .approval
        .unwrap()
        .decision
        .unwrap();
    assert_eq!(
        (decision.actor.as_str(), decision.reason.as_deref()),
        ("bob", Some("freeze"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_is_taken_once_even_when_two_people_click_at_once() {
    let (world, _, deployer, calls, id) = awaiting().await;

    let (a, b) = tokio::join!(
        deployer.decide(&id, Verdict::Approve, "alice", Channel::Web, None),
        deployer.decide(&id, Verdict::Approve, "bob", Channel::Slack, None),
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let rolled = outcomes
        .iter()
        .filter(|o| matches!(o, DecisionOutcome::Rolled { .. }))
        .count();
    assert_eq!(rolled, 1, "{outcomes:?}");
    assert_eq!(calls.registers.load(Ordering::SeqCst), 1);

    // A later click says who decided, and changes nothing.
    let again = deployer
        .decide(&id, Verdict::Reject, "carol", Channel::Web, None)
        .await
        .unwrap();
    let DecisionOutcome::Refused { reason } = again else {
        panic!("{again:?}")
    };
    assert!(reason.contains("already"), "{reason}");
    assert_eq!(world.revisions("web").await, 2);
    assert_eq!(
        audit_count(&world, &id).await,
        3,
        "every attempt is audited"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_after_the_service_changed_is_refused() {
    let (world, _, deployer, calls, id) = awaiting().await;
    // Someone deploys by hand meanwhile.
    let other = world.push_image(Some("hotfix")).await;
    let arn = world
        .create_service("web-hotfix-td", &image_uri(&other))
        .await;
    world
        .clients
        .ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .task_definition(&arn)
        .send()
        .await
        .unwrap();

    let outcome = deployer
        .decide(&id, Verdict::Approve, "alice", Channel::Web, None)
        .await
        .unwrap();

    let DecisionOutcome::Refused { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("service changed since this was planned"),
        "{reason}"
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Superseded
    );
}
