//! A progressive target's rollouts over the in-memory adapters: what UpdateService
//! carries, the service deployment recorded, and ECS's hook events noted on the rollout.

use serde_json::json;

use super::pipeline_tests::{deployer_with, invocation, MemoryDeployer};
use crate::ledger::image_key;
use crate::memory::{digest, ecr_push, ACCOUNT};
use crate::model::progressive::Strategy;

fn canary() -> MemoryDeployer {
    deployer_with(
        "auto",
        json!({"rollout": {"strategy": "canary", "canary": {"percent": 10, "bake_minutes": 5},
            "alarms": ["web-5xx"],
            "load_balancer": {
                "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1",
                "container_name": "app", "container_port": 8080,
                "alternate_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2",
                "production_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/2/3",
                "test_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/4/5",
                "role_arn": "arn:aws:iam::123456789012:role/ecs-infrastructure"}}}),
    )
}

fn hook_event(id: &str, name: &str, arn: &str, stage: &str) -> serde_json::Value {
    json!({
        "version": "0", "id": id, "detail-type": "ECS Hook State Change", "source": "aws.ecs",
        "account": ACCOUNT, "time": "2026-11-23T10:04:41Z", "region": "us-east-1",
        "resources": [arn],
        "detail": {"eventType": "INFO", "eventName": name, "hookId": "ecs-pause-1",
            "hookType": "PAUSE", "expiresAt": "2026-11-24T10:04:41Z", "lifecycleStage": stage,
            "clusterArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"),
            "serviceArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web"),
            "serviceDeploymentArn": arn, "updatedAt": "2026-11-23T10:04:41Z"}
    })
}

#[tokio::test]
async fn a_canary_rollout_sends_its_strategy_and_records_the_service_deployment() {
    let deployer = canary();
    deployer
        .registry
        .push(ACCOUNT, "app", Some("v2"), &digest('a'));
    deployer
        .handle_ecr_event(
            &ecr_push("e-1", "app", Some("v2"), &digest('a')),
            &invocation(),
        )
        .await
        .unwrap();
    let sent = deployer.ecs.sent_settings();
    assert_eq!(
        sent.len(),
        1,
        "one UpdateService with a deployment configuration"
    );
    assert_eq!(
        sent[0].strategy,
        Strategy::Canary {
            percent: 10.0,
            bake_minutes: 5
        }
    );
    assert_eq!(sent[0].alarms, ["web-5xx"]);
    assert!(sent[0].load_balancer.is_some());
    let record = deployer
        .deployment(&format!("web.{}", image_key(&digest('a'))))
        .await
        .unwrap()
        .value;
    let progress = record
        .progress
        .expect("a progressive rollout records its progress");
    assert_eq!(progress.strategy, "canary 10% for 5 min");
    assert!(progress
        .service_deployment_arn
        .as_deref()
        .is_some_and(|arn| arn.contains(":service-deployment/prod/web/")));
}

#[tokio::test]
async fn a_hook_event_is_noted_once_on_its_rollout_and_an_unknown_one_changes_nothing() {
    let deployer = canary();
    deployer
        .registry
        .push(ACCOUNT, "app", Some("v2"), &digest('a'));
    deployer
        .handle_ecr_event(
            &ecr_push("e-1", "app", Some("v2"), &digest('a')),
            &invocation(),
        )
        .await
        .unwrap();
    let key = format!("web.{}", image_key(&digest('a')));
    let arn = deployer
        .deployment(&key)
        .await
        .unwrap()
        .value
        .progress
        .unwrap()
        .service_deployment_arn
        .unwrap();
    let paused = hook_event(
        "h-1",
        "HOOK_AWAITING_ACTION",
        &arn,
        "POST_TEST_TRAFFIC_SHIFT",
    );
    for _ in 0..2 {
        deployer
            .handle_deployment_event(&paused, &invocation())
            .await
            .unwrap();
    }
    let record = deployer.deployment(&key).await.unwrap().value;
    let progress = record.progress.as_ref().unwrap();
    assert_eq!(progress.pause.as_ref().unwrap().hook_id, "ecs-pause-1");
    assert_eq!(progress.stages.len(), 1);
    let noted = record
        .history
        .iter()
        .filter(|h| h.note.contains("ecs-pause-1"))
        .count();
    assert_eq!(noted, 1, "a duplicate event is noted once");

    let continued = hook_event("h-2", "HOOK_SUCCEEDED", &arn, "POST_TEST_TRAFFIC_SHIFT");
    deployer
        .handle_deployment_event(&continued, &invocation())
        .await
        .unwrap();
    let record = deployer.deployment(&key).await.unwrap().value;
    assert_eq!(record.progress.unwrap().pause, None, "the pause is over");

    let other = hook_event(
        "h-3",
        "HOOK_AWAITING_ACTION",
        &format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service-deployment/prod/web/someone-else"),
        "POST_TEST_TRAFFIC_SHIFT",
    );
    let report = deployer
        .handle_deployment_event(&other, &invocation())
        .await
        .unwrap();
    let report = serde_json::to_value(report).unwrap();
    assert!(
        report.to_string().contains("not one Slipway started"),
        "{report}"
    );
    assert!(deployer.ecs.continues().is_empty(), "nothing was answered");
}
