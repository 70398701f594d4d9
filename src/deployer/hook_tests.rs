//! A progressive target's rollouts over the in-memory adapters: what UpdateService
//! carries, the service deployment recorded, and ECS's hook events noted on the rollout.

use serde_json::json;

use super::decisions::DecisionOutcome;
use super::pipeline_tests::{deployer_with, invocation, MemoryDeployer};
use crate::ledger::image_key;
use crate::memory::{digest, ecr_push, ACCOUNT};
use crate::model::deployment::{Actor, Channel, State, Verdict};
use crate::model::progressive::{Stage, Strategy};
use crate::model::service_deployment::HookAction;

fn canary() -> MemoryDeployer {
    canary_with("auto", json!(null))
}

/// A canary approval target whose approval is ECS's pause after test traffic.
pub(super) fn paused_canary() -> MemoryDeployer {
    canary_with("approval", json!("post-test-traffic"))
}

/// ECS pausing before a canary step: its HOOK_AWAITING_ACTION, with the step's own hook.
pub(super) fn step_paused(event: &str, arn: &str, hook: &str) -> serde_json::Value {
    let mut paused = hook_event(
        event,
        "HOOK_AWAITING_ACTION",
        arn,
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
    );
    paused["detail"]["hookId"] = json!(hook);
    paused
}

fn canary_with(policy: &str, approval_at: serde_json::Value) -> MemoryDeployer {
    canary_rollout(policy, approval_at, json!({}))
}

/// The canary's rollout block with `extra` fields merged in.
pub(super) fn canary_rollout(
    policy: &str,
    approval_at: serde_json::Value,
    extra: serde_json::Value,
) -> MemoryDeployer {
    let mut rollout = json!({"strategy": "canary", "canary": {"percent": 10, "bake_minutes": 5},
            "alarms": ["web-5xx"],
            "load_balancer": {
                "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1",
                "container_name": "app", "container_port": 8080,
                "alternate_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2",
                "production_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/2/3",
                "test_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/4/5",
                "role_arn": "arn:aws:iam::123456789012:role/ecs-infrastructure"}});
    if !approval_at.is_null() {
        rollout["approval_at"] = approval_at;
    }
    for (key, value) in extra.as_object().into_iter().flatten() {
        rollout[key] = value.clone();
    }
    deployer_with(policy, json!({ "rollout": rollout }))
}

/// ECS's pause runs out a day from now (the request's own expiry).
fn expires_at() -> String {
    (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(super) fn hook_event(id: &str, name: &str, arn: &str, stage: &str) -> serde_json::Value {
    json!({
        "version": "0", "id": id, "detail-type": "ECS Hook State Change", "source": "aws.ecs",
        "account": ACCOUNT, "time": "2026-11-23T10:04:41Z", "region": "us-east-1",
        "resources": [arn],
        "detail": {"eventType": "INFO", "eventName": name, "hookId": "ecs-pause-1",
            "hookType": "PAUSE", "expiresAt": expires_at(), "lifecycleStage": stage,
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
    let (key, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
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

pub(super) fn alice() -> Actor {
    Actor {
        id: "alice (approval link)".into(),
        channel: Channel::Web,
        source: None,
    }
}

/// Pushes `app:<tag>` to the paused-canary target: it rolls at once, with a pause hook.
pub(super) async fn push(
    deployer: &MemoryDeployer,
    event: &str,
    tag: &str,
    digest: &str,
) -> (String, String) {
    deployer.registry.push(ACCOUNT, "app", Some(tag), digest);
    deployer
        .handle_ecr_event(&ecr_push(event, "app", Some(tag), digest), &invocation())
        .await
        .unwrap();
    let id = format!("web.{}", image_key(digest));
    let arn = deployer
        .deployment(&id)
        .await
        .unwrap()
        .value
        .progress
        .and_then(|p| p.service_deployment_arn)
        .expect("the service deployment is recorded");
    (id, arn)
}

pub(super) async fn pause(deployer: &MemoryDeployer, event: &str, arn: &str, hook: &str) {
    let mut paused = hook_event(
        event,
        "HOOK_AWAITING_ACTION",
        arn,
        "POST_TEST_TRAFFIC_SHIFT",
    );
    paused["detail"]["hookId"] = json!(hook);
    deployer
        .handle_deployment_event(&paused, &invocation())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_pause_asks_the_approvers_and_approving_continues_ecs_once() {
    let deployer = paused_canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    assert_eq!(
        deployer.ecs.updates(),
        1,
        "the canary rolls before anyone is asked"
    );
    let sent = deployer.ecs.sent_settings();
    let hook = sent[0].pause.expect("UpdateService carries the pause hook");
    assert_eq!(hook.stage, Stage::PostTestTraffic);
    assert_eq!(
        hook.timeout_minutes,
        24 * 60,
        "it times out with the approval"
    );
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Rolling
    );

    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    let waiting = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(waiting.state, State::AwaitingApproval);
    assert_eq!(
        waiting.approval.as_ref().unwrap().expires_at,
        waiting
            .progress
            .as_ref()
            .and_then(|p| p.pause.as_ref())
            .and_then(|p| p.expires_at)
            .unwrap(),
        "the request expires when ECS's pause does"
    );
    assert!(waiting
        .history
        .last()
        .unwrap()
        .note
        .contains("serving the test listener"));
    assert!(
        deployer.ecs.continues().is_empty(),
        "asking answers nothing"
    );
    let (_, email) = deployer
        .notifier
        .published()
        .pop()
        .expect("the approvers are asked");
    assert!(
        email.contains("ECS holds this canary 10% for 5 min rollout at POST_TEST_TRAFFIC_SHIFT")
            && email.contains("serving the test listener"),
        "{email}"
    );

    let decided = deployer
        .decide(&id, Verdict::Approve, &alice(), None)
        .await
        .unwrap();
    assert!(
        matches!(decided, DecisionOutcome::Rolled { .. }),
        "{decided:?}"
    );
    assert_eq!(
        deployer.ecs.continues(),
        [(arn.clone(), "ecs-pause-1".to_string(), HookAction::Continue)]
    );
    assert_eq!(deployer.ecs.updates(), 1, "no second UpdateService");
    let rolling = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(rolling.state, State::Rolling);
    assert_eq!(
        rolling.progress.unwrap().answered[0].by,
        "alice (approval link)"
    );

    // A second decision, and the same pause delivered again, answer nothing more.
    let again = deployer
        .decide(&id, Verdict::Approve, &alice(), None)
        .await
        .unwrap();
    assert!(
        matches!(again, DecisionOutcome::Refused { .. }),
        "{again:?}"
    );
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    assert_eq!(deployer.ecs.continues().len(), 1);
}

#[tokio::test]
async fn fifty_concurrent_approvals_continue_ecs_once() {
    let deployer = paused_canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    let decisions = futures::future::join_all((0..50).map(|_| {
        let (deployer, id) = (&deployer, &id);
        async move { deployer.decide(id, Verdict::Approve, &alice(), None).await }
    }))
    .await;
    let rolled = decisions
        .iter()
        .filter(|d| matches!(d, Ok(DecisionOutcome::Rolled { .. })))
        .count();
    assert_eq!(rolled, 1, "{decisions:?}");
    assert_eq!(deployer.ecs.continues().len(), 1);
}

#[tokio::test]
async fn rejecting_at_the_pause_rolls_back_and_is_told_as_a_failure() {
    let deployer = paused_canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    let decided = deployer
        .decide(
            &id,
            Verdict::Reject,
            &alice(),
            Some("500s on the test listener".into()),
        )
        .await
        .unwrap();
    assert!(matches!(decided, DecisionOutcome::Rejected), "{decided:?}");
    assert_eq!(
        deployer.ecs.continues(),
        [(arn, "ecs-pause-1".to_string(), HookAction::Rollback)]
    );
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::RolledBack);
    let told = record.outcome_notified.expect("people are told");
    assert_eq!(told.state, State::RolledBack);
    let (subject, email) = deployer.notifier.published().pop().unwrap();
    assert!(subject.starts_with("ROLLED BACK"), "{subject}");
    assert!(
        email.contains("rejected by alice (approval link) at POST_TEST_TRAFFIC_SHIFT")
            && !email.contains("circuit breaker"),
        "{email}"
    );
}

#[tokio::test]
async fn a_pause_nobody_answers_expires_when_ecs_times_it_out() {
    let deployer = paused_canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    let mut timed_out = hook_event("h-2", "HOOK_TIMED_OUT", &arn, "POST_TEST_TRAFFIC_SHIFT");
    timed_out["detail"]["hookId"] = json!("ecs-pause-1");
    deployer
        .handle_deployment_event(&timed_out, &invocation())
        .await
        .unwrap();
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Expired);
    assert!(
        deployer.ecs.continues().is_empty(),
        "ECS rolls back by itself"
    );
    let (subject, email) = deployer.notifier.published().pop().unwrap();
    assert!(subject.starts_with("EXPIRED"), "{subject}");
    assert!(
        email.contains("NOT DEPLOYED") && email.contains("ECS rolls the service back"),
        "{email}"
    );
}

#[tokio::test]
async fn a_newer_push_while_one_waits_at_the_pause_supersedes_it() {
    let deployer = paused_canary();
    let (older, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    std::thread::sleep(std::time::Duration::from_millis(5));
    let (newer, _) = push(&deployer, "e-2", "v3", &digest('b')).await;
    let record = deployer.deployment(&older).await.unwrap().value;
    assert_eq!(record.state, State::Superseded);
    let refused = deployer
        .decide(&older, Verdict::Approve, &alice(), None)
        .await
        .unwrap();
    assert!(
        matches!(refused, DecisionOutcome::Refused { .. }),
        "{refused:?}"
    );
    assert!(
        deployer.ecs.continues().is_empty(),
        "the superseded pause is never continued"
    );
    assert_eq!(
        deployer.deployment(&newer).await.unwrap().value.state,
        State::Rolling
    );
    assert_eq!(deployer.ecs.updates(), 2);
}

#[tokio::test]
async fn a_pause_before_every_canary_step_asks_once_and_slipway_continues_the_later_steps() {
    let deployer = canary_with("approval", json!("pre-production-traffic"));
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    let step = |event, hook| step_paused(event, &arn, hook);
    deployer
        .handle_deployment_event(&step("h-1", "ecs-pause-step-1"), &invocation())
        .await
        .unwrap();
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::AwaitingApproval
    );
    deployer
        .decide(&id, Verdict::Approve, &alice(), None)
        .await
        .unwrap();
    // The canary's second shift pauses again, with a hook id of its own (Developer Guide,
    // "Pause lifecycle hooks"): the release is approved, so Slipway continues it.
    deployer
        .handle_deployment_event(&step("h-2", "ecs-pause-step-2"), &invocation())
        .await
        .unwrap();
    let answered: Vec<(String, String)> = deployer
        .deployment(&id)
        .await
        .unwrap()
        .value
        .progress
        .unwrap()
        .answered
        .into_iter()
        .map(|a| (a.hook_id, a.by))
        .collect();
    assert_eq!(
        answered,
        [
            (
                "ecs-pause-step-1".to_string(),
                "alice (approval link)".to_string()
            ),
            ("ecs-pause-step-2".to_string(), "slipway".to_string())
        ]
    );
    assert_eq!(deployer.ecs.continues().len(), 2);
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Rolling
    );
}

/// ECS documents its deployment events for rolling deployments; a progressive rollout's
/// end is read from its service deployment by the reconciler.
#[tokio::test]
async fn the_reconciler_closes_a_progressive_rollout_as_its_service_deployment_ended() {
    let deployer = canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Rolling,
        "under way: nothing to close"
    );
    deployer.ecs.end_service_deployment(&arn, "SUCCESSFUL", &[]);
    deployer.reconcile(&json!({}), &invocation()).await;
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Succeeded);
    assert_eq!(record.outcome_notified.unwrap().state, State::Succeeded);
    let (_, told) = deployer.notifier.published().pop().unwrap();
    assert!(told.contains("Strategy:    canary 10% for 5 min"), "{told}");
}

#[tokio::test]
async fn an_alarm_rollback_of_a_canary_is_a_failure_naming_the_alarm() {
    let deployer = canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    deployer
        .ecs
        .end_service_deployment(&arn, "ROLLBACK_SUCCESSFUL", &["web-5xx"]);
    deployer.reconcile(&json!({}), &invocation()).await;
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Failed);
    let error = record.error.unwrap_or_default();
    assert!(error.contains("alarm web-5xx in ALARM"), "{error}");
    let (_, told) = deployer.notifier.published().pop().unwrap();
    assert!(told.contains("web-5xx"), "{told}");
}

/// ECS accepts one answer per pause. An approval whose pause was answered already (an
/// earlier attempt whose record was lost, the console) is refused by ECS, found no longer
/// waiting, and recorded: never a second UpdateService.
#[tokio::test]
async fn approving_a_pause_answered_elsewhere_records_it_and_never_rolls_again() {
    let deployer = paused_canary();
    let (id, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    pause(&deployer, "h-1", &arn, "ecs-pause-1").await;
    use crate::ports::Ecs;
    deployer
        .ecs
        .continue_service_deployment(&arn, "ecs-pause-1", HookAction::Continue)
        .await
        .unwrap();
    let decided = deployer
        .decide(&id, Verdict::Approve, &alice(), None)
        .await
        .unwrap();
    assert!(
        matches!(decided, DecisionOutcome::Rolled { .. }),
        "{decided:?}"
    );
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Rolling);
    assert!(
        record
            .history
            .last()
            .unwrap()
            .note
            .contains("no longer waits"),
        "{:?}",
        record.history.last()
    );
    assert_eq!(deployer.ecs.updates(), 1, "never a second UpdateService");
}

/// A pause of an older release arriving after a newer one reached ECS: Slipway never
/// continues an older release (ECS rolls it back), and nobody is asked about it.
#[tokio::test]
async fn an_older_releases_late_pause_is_rolled_back_not_asked() {
    let deployer = paused_canary();
    let (older, arn) = push(&deployer, "e-1", "v2", &digest('a')).await;
    std::thread::sleep(std::time::Duration::from_millis(5));
    let (newer, _) = push(&deployer, "e-2", "v3", &digest('b')).await;
    let asked = deployer.notifier.published().len();
    pause(&deployer, "h-1", &arn, "ecs-pause-old").await;
    assert_eq!(
        deployer.ecs.continues(),
        [(arn, "ecs-pause-old".to_string(), HookAction::Rollback)]
    );
    assert_eq!(
        deployer.deployment(&older).await.unwrap().value.state,
        State::RolledBack
    );
    assert_eq!(
        deployer.notifier.published().len(),
        asked,
        "nobody is asked about the older release (nor told of a failure: it was replaced)"
    );
    assert_eq!(
        deployer.deployment(&newer).await.unwrap().value.state,
        State::Rolling
    );
}
