//! Progressive rollouts against the emulator, with ECS's service deployments played by
//! the stand-in in `tests/common/ecs_deployments.rs` (moto runs none of it): the
//! approval as ECS's pause inside a canary rollout, answered once.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::ecs_deployments::EcsDeployments;
use common::faults::FaultProxy;
use common::*;
use serde_json::json;
use slipway::aws::CallTimeouts;
use slipway::deployer::DecisionOutcome;
use slipway::ledger::image_key;
use slipway::model::deployment::{Actor, Channel, State, Verdict};

fn paused_canary() -> String {
    config(&[target_json_with(
        "web",
        "web",
        r#"{"glob": "v*"}"#,
        "approval",
        json!({"rollout": {"strategy": "canary", "canary": {"percent": 10, "bake_minutes": 5},
            "approval_at": "post-test-traffic",
            "load_balancer": {
                "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1",
                "container_name": "app", "container_port": 8080,
                "alternate_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2",
                "production_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/2/3",
                "test_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/4/5",
                "role_arn": "arn:aws:iam::123456789012:role/ecs-infrastructure"}}}),
    )])
}

fn approver(n: usize) -> Actor {
    Actor {
        id: format!("approver-{n} (approval link)"),
        channel: Channel::Web,
        source: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_canary_approved_at_ecs_pause_is_continued_once_however_many_approve() {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 11).await;
    let ecs = EcsDeployments::install(&proxy);
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    let (deployer, calls) = world.deployer_with_clients(&paused_canary(), false, None, &clients);

    deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();
    assert_eq!(
        calls.updates.load(Ordering::SeqCst),
        1,
        "the canary rolls at once"
    );
    let update = proxy
        .calls()
        .into_iter()
        .find(|c| c.operation == "UpdateService")
        .and_then(|c| c.body)
        .unwrap();
    assert_eq!(
        update["deploymentConfiguration"]["lifecycleHooks"],
        json!([{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 1440, "action": "ROLLBACK"}}]),
        "{update:#}"
    );
    let id = format!("web.{}", image_key(&pushed));
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Rolling);
    assert_eq!(
        record.progress.unwrap().service_deployment_arn,
        ecs.newest(),
        "the service deployment ECS answered with is recorded"
    );

    // ECS reaches the pause; EventBridge delivers its event, twice.
    let paused = ecs.reach_pause("ecs-pause-1");
    for request in ["r-2", "r-3"] {
        deployer
            .handle_deployment_event(&paused, &invocation(request))
            .await
            .unwrap();
    }
    let waiting = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(waiting.state, State::AwaitingApproval);
    assert!(ecs.continues().is_empty(), "asking answers nothing");

    let decisions = futures::future::join_all((0..50).map(|n| {
        let (deployer, id) = (&deployer, &id);
        async move {
            deployer
                .decide(id, Verdict::Approve, &approver(n), None)
                .await
        }
    }))
    .await;
    let rolled = decisions
        .iter()
        .filter(|d| matches!(d, Ok(DecisionOutcome::Rolled { .. })))
        .count();
    assert_eq!(rolled, 1, "{decisions:?}");
    // Every ContinueServiceDeployment that reached ECS, accepted or not.
    let sent = proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "ContinueServiceDeployment")
        .count();
    assert_eq!(sent, 1, "one ContinueServiceDeployment reached ECS");
    let continued = ecs.continues();
    assert_eq!(
        continued.len(),
        1,
        "one ContinueServiceDeployment: {continued:?}"
    );
    assert_eq!(
        (continued[0].1.as_str(), continued[0].2.as_str()),
        ("ecs-pause-1", "CONTINUE")
    );
    assert_eq!(
        calls.updates.load(Ordering::SeqCst),
        1,
        "no second UpdateService"
    );
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Rolling
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_at_ecs_pause_the_canary_is_rolled_back_and_told_as_a_failure() {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 12).await;
    let ecs = EcsDeployments::install(&proxy);
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    let (deployer, _) = world.deployer_with_clients(&paused_canary(), false, None, &clients);
    deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();
    deployer
        .handle_deployment_event(&ecs.reach_pause("ecs-pause-1"), &invocation("r-2"))
        .await
        .unwrap();
    let id = format!("web.{}", image_key(&pushed));
    let decided = deployer
        .decide(
            &id,
            Verdict::Reject,
            &approver(1),
            Some("500s on the test listener".into()),
        )
        .await
        .unwrap();
    assert!(matches!(decided, DecisionOutcome::Rejected), "{decided:?}");
    let continued = ecs.continues();
    assert_eq!(continued.len(), 1);
    assert_eq!(continued[0].2, "ROLLBACK");
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::RolledBack);
    assert_eq!(record.outcome_notified.unwrap().state, State::RolledBack);
}
