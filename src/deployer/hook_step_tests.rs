//! Progressive rollouts' later steps and ends over the in-memory adapters: a request
//! at every step (`ask_each_step`), and Slipway's test probe failing while the approvers
//! are asked.

use serde_json::json;

use super::decisions::DecisionOutcome;
use super::hook_tests::{
    alice, canary_rollout, hook_event, pause, paused_canary, push, step_paused,
};
use super::pipeline_tests::invocation;
use crate::memory::digest;
use crate::model::deployment::{Actor, State, Verdict};
use crate::model::service_deployment::HookAction;

/// `ask_each_step`: every pause before a canary step is a request of its own — the
/// person approves each step, a link for one step never decides another, and the record
/// keeps every step's decision.
#[tokio::test]
async fn asking_at_every_step_sends_a_request_per_step_bound_to_that_step() {
    use crate::approval::{binding, SigningKey, SigningKeys};
    let deployer = canary_rollout(
        "approval",
        json!("pre-production-traffic"),
        json!({"ask_each_step": true}),
    );
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    let step = |event, hook| step_paused(event, &arn, hook);
    let keys = SigningKeys {
        current: SigningKey::new("k1", vec![7u8; 32]).unwrap(),
        previous: None,
    };
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);

    deployer
        .handle_deployment_event(&step("h-1", "ecs-pause-step-1"), &invocation())
        .await
        .unwrap();
    let first = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(first.state, State::AwaitingApproval);
    assert_eq!(first.approval.as_ref().unwrap().step, 0);
    let first_link = keys.sign(binding(&first), expires);
    deployer
        .decide(&id, Verdict::Approve, &alice(), None)
        .await
        .unwrap();
    assert_eq!(deployer.ecs.continues().len(), 1);

    // The second shift pauses again: asked again, not continued by Slipway.
    for event in ["h-2", "h-2-again"] {
        deployer
            .handle_deployment_event(&step(event, "ecs-pause-step-2"), &invocation())
            .await
            .unwrap();
    }
    let second = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(second.state, State::AwaitingApproval);
    assert_eq!(
        deployer.ecs.continues().len(),
        1,
        "nobody answered step 2 yet"
    );
    let request = second.approval.clone().unwrap();
    assert_eq!((request.step, request.decision.is_none()), (1, true));
    assert!(
        keys.verify(&first_link, binding(&second), chrono::Utc::now())
            .is_err(),
        "step 1's link does not decide step 2"
    );
    let published = deployer.notifier.published();
    assert_eq!(published.len(), 2, "one request per step: {published:?}");
    let buttons = crate::notify::approval_slack(&second, "https://approve.example", expires);
    assert_eq!(
        buttons
            .blocks
            .to_string()
            .matches(&format!("{id}#step-1"))
            .count(),
        2,
        "both buttons name step 1: {}",
        buttons.blocks
    );
    assert!(
        published[1].1.contains("Step 2 of this rollout")
            && published[1].1.contains("approved by alice (approval link)"),
        "{}",
        published[1].1
    );

    let bob = Actor {
        id: "bob (approval link)".into(),
        ..alice()
    };
    deployer
        .decide(&id, Verdict::Approve, &bob, None)
        .await
        .unwrap();
    let done = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(done.state, State::Rolling);
    let continues = deployer.ecs.continues();
    assert_eq!(
        continues
            .iter()
            .map(|(_, hook, action)| (hook.as_str(), *action))
            .collect::<Vec<_>>(),
        [
            ("ecs-pause-step-1", HookAction::Continue),
            ("ecs-pause-step-2", HookAction::Continue)
        ]
    );
    let progress = done.progress.unwrap();
    let deciders: Vec<_> = progress
        .earlier_approvals
        .iter()
        .chain(done.approval.iter())
        .map(|a| a.decision.as_ref().unwrap().actor.clone())
        .collect();
    assert_eq!(deciders, ["alice (approval link)", "bob (approval link)"]);
}

/// Slipway's test probe (a Lambda hook at the same stage as the pause) answered FAILED
/// while the approvers were asked: ECS rolls back, so the release is `failed` at once and
/// the request is closed — a late approval is refused and never reaches ECS.
#[tokio::test]
async fn a_failed_test_probe_closes_the_open_request_and_fails_the_release() {
    let deployer = paused_canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    let mut failed = hook_event("h-2", "HOOK_FAILED", &arn, "POST_TEST_TRAFFIC_SHIFT");
    failed["detail"]["hookId"] = json!("ecs-lambda-probe-1");
    failed["detail"]["hookType"] = json!("AWS_LAMBDA");
    for _ in 0..2 {
        deployer
            .handle_deployment_event(&failed, &invocation())
            .await
            .unwrap();
    }
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Failed);
    let error = record.error.clone().unwrap_or_default();
    assert!(
        error.contains("answered FAILED") && error.contains("request is closed"),
        "{error}"
    );
    assert_eq!(record.outcome_notified.unwrap().state, State::Failed);
    let late = deployer
        .decide(&id, Verdict::Approve, &alice(), None)
        .await
        .unwrap();
    assert!(matches!(late, DecisionOutcome::Refused { .. }), "{late:?}");
    assert!(
        deployer.ecs.continues().is_empty(),
        "ECS rolls back by itself"
    );

    // A PAUSE hook's HOOK_FAILED (ECS's record of a ROLLBACK answer) is no probe's.
    let deployer = paused_canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('b')).await;
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    let pause_failed = hook_event("h-3", "HOOK_FAILED", &arn, "POST_TEST_TRAFFIC_SHIFT");
    deployer
        .handle_deployment_event(&pause_failed, &invocation())
        .await
        .unwrap();
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::AwaitingApproval
    );
}
