//! Progressive rollouts against the emulator, with ECS's service deployments played by
//! the stand-in in `tests/common/ecs_deployments.rs` (moto runs none of it): the
//! approval as ECS's pause inside a canary rollout, answered once; a scanner's GET; a
//! pause that times out; an alarm's rollback; a newer push while one waits; Slipway's
//! own Lambda hook (the test probe) over HTTP against a local test listener.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::ecs_deployments::EcsDeployments;
use common::faults::FaultProxy;
use common::web::{form_post, request, send, TestFunction};
use common::*;
use serde_json::json;
use slipway::aws::{CallTimeouts, HttpProber};
use slipway::deployer::DecisionOutcome;
use slipway::input::lifecycle_hook::{HookCall, HookStatus};
use slipway::ledger::image_key;
use slipway::model::deployment::{Actor, Channel, State, Verdict};
use slipway::probe::{answer_hook, origin_of};
use slipway::web::ApprovalApp;

fn paused_canary() -> String {
    canary("approval", json!("post-test-traffic"))
}

/// web as a canary with the 5xx alarm; `approval_at` applies to policy `approval` only.
fn canary(policy: &str, approval_at: serde_json::Value) -> String {
    let mut rollout = json!({"strategy": "canary", "canary": {"percent": 10, "bake_minutes": 5},
            "alarms": ["web-5xx"],
            "load_balancer": {
                "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1",
                "container_name": "app", "container_port": 8080,
                "alternate_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2",
                "production_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/2/3",
                "test_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/4/5",
                "role_arn": "arn:aws:iam::123456789012:role/ecs-infrastructure"}});
    if policy == "approval" {
        rollout["approval_at"] = approval_at;
    }
    config(&[target_json_with(
        "web",
        "web",
        r#"{"glob": "v*"}"#,
        policy,
        json!({ "rollout": rollout }),
    )])
}

fn approver(n: usize) -> Actor {
    Actor {
        id: format!("approver-{n} (approval link)"),
        channel: Channel::Web,
        source: None,
    }
}

/// web runs v1 and v2 was pushed; ECS's service deployments are played by the stand-in
/// in a fault proxy (no faults) in front of the emulator.
struct Scene {
    world: World,
    pushed: String,
    proxy: FaultProxy,
    ecs: EcsDeployments,
    clients: slipway::aws::Clients,
}

impl Scene {
    async fn new(seed: u64) -> Scene {
        let (world, pushed) = World::with_web_and_a_new_push().await;
        let proxy =
            FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), seed).await;
        let ecs = EcsDeployments::install(&proxy);
        let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
        Scene {
            world,
            pushed,
            proxy,
            ecs,
            clients,
        }
    }

    fn deployer(&self, config: &str) -> (TestDeployer, Arc<EcsCalls>) {
        self.world
            .deployer_with_clients(config, false, None, &self.clients)
    }

    /// The pushed release's deployment id.
    fn id(&self) -> String {
        format!("web.{}", image_key(&self.pushed))
    }

    /// Delivers v2's push event.
    async fn push(&self, deployer: &TestDeployer) {
        deployer
            .handle_ecr_event(
                &push_event("e-1", Some("v2"), &self.pushed),
                &invocation("r-1"),
            )
            .await
            .unwrap();
    }

    /// ECS reaches the newest deployment's pause; EventBridge delivers its event.
    async fn pause(&self, deployer: &TestDeployer) {
        deployer
            .handle_deployment_event(&self.ecs.reach_pause("ecs-pause-1"), &invocation("r-2"))
            .await
            .unwrap();
    }

    /// The first UpdateService's body, as it reached ECS.
    fn update_service(&self) -> serde_json::Value {
        self.proxy
            .calls()
            .into_iter()
            .find(|c| c.operation == "UpdateService")
            .and_then(|c| c.body)
            .expect("an UpdateService reached ECS")
    }

    /// Every ContinueServiceDeployment that reached ECS, accepted or not.
    fn continue_calls(&self) -> usize {
        self.proxy
            .calls()
            .iter()
            .filter(|c| c.operation == "ContinueServiceDeployment")
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_canary_approved_at_ecs_pause_is_continued_once_however_many_approve_and_ends_succeeded()
{
    let scene = Scene::new(11).await;
    let (deployer, calls) = scene.deployer(&paused_canary());

    scene.push(&deployer).await;
    assert_eq!(
        calls.updates.load(Ordering::SeqCst),
        1,
        "the canary rolls at once"
    );
    let update = scene.update_service();
    assert_eq!(
        update["deploymentConfiguration"]["lifecycleHooks"],
        json!([{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 1440, "action": "ROLLBACK"}}]),
        "{update:#}"
    );
    let id = scene.id();
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Rolling);
    assert_eq!(
        record.progress.unwrap().service_deployment_arn,
        scene.ecs.newest(),
        "the service deployment ECS answered with is recorded"
    );

    // ECS reaches the pause; EventBridge delivers its event, twice.
    let paused = scene.ecs.reach_pause("ecs-pause-1");
    for request in ["r-2", "r-3"] {
        deployer
            .handle_deployment_event(&paused, &invocation(request))
            .await
            .unwrap();
    }
    let waiting = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(waiting.state, State::AwaitingApproval);
    assert!(scene.ecs.continues().is_empty(), "asking answers nothing");

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
    let sent = scene.continue_calls();
    assert_eq!(sent, 1, "one ContinueServiceDeployment reached ECS");
    let continued = scene.ecs.continues();
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

    // ECS shifts production traffic and, after the bake, reports SUCCESSFUL; the
    // reconciler reads it and the release is `succeeded`.
    scene.ecs.end("SUCCESSFUL", &[]);
    deployer
        .reconcile(&json!({"id": "tick-1"}), &invocation("r-4"))
        .await;
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Succeeded);
    assert_eq!(record.outcome_notified.unwrap().state, State::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_at_ecs_pause_the_canary_is_rolled_back_and_told_as_a_failure() {
    let scene = Scene::new(12).await;
    let (deployer, _) = scene.deployer(&paused_canary());
    scene.push(&deployer).await;
    scene.pause(&deployer).await;
    let id = scene.id();
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
    let continued = scene.ecs.continues();
    assert_eq!(continued.len(), 1);
    assert_eq!(continued[0].2, "ROLLBACK");
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::RolledBack);
    assert_eq!(record.outcome_notified.unwrap().state, State::RolledBack);
}

/// A link scanner (or an approver who only looks) opens the page while ECS holds the
/// canary at its pause: the page says what is live where and when ECS rolls back on its
/// own, and nothing is written or sent to ECS. Only the page's POST continues it.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_opened_by_a_scanner_during_the_pause_changes_nothing() {
    let scene = Scene::new(13).await;
    let approvers = scene.world.approvers().await;
    let (deployer, _) = scene.world.approval_deployer_with_clients(
        &paused_canary(),
        &approvers,
        APPROVAL_URL,
        &scene.clients,
    );
    let deployer = Arc::new(deployer);
    scene.push(&deployer).await;
    scene.pause(&deployer).await;
    let id = scene.id();
    let published = scene.world.published(&approvers).await;
    let email = published.iter().find(|m| m.contains(&id)).unwrap();
    assert!(email.contains("serving the test listener"), "{email}");
    let link = email
        .split_whitespace()
        .find(|w| w.starts_with("http://approvals.test/"))
        .unwrap();
    let path = link.strip_prefix("http://approvals.test").unwrap();
    let app = || {
        TestFunction::new(ApprovalApp {
            deployer: deployer.clone(),
            slack_signing_secret: None,
            later: None,
        })
        .router()
    };
    let before = deployer.deployment(&id).await.unwrap();
    let keys_before = scene.world.ledger_keys().await;
    for method in ["GET", "HEAD", "GET"] {
        let answer = send(
            app(),
            request(method, path).body(Default::default()).unwrap(),
        )
        .await;
        assert_eq!(answer.status, 200, "{method}: {}", answer.body);
        if method == "GET" {
            assert!(
                answer.body.contains("serving the test listener")
                    && answer.body.contains("POST_TEST_TRAFFIC_SHIFT"),
                "the page says what is live where: {}",
                answer.body
            );
        }
    }
    let after = deployer.deployment(&id).await.unwrap();
    assert_eq!(after.etag, before.etag, "opening the page wrote nothing");
    assert_eq!(scene.world.ledger_keys().await, keys_before);
    assert_eq!(after.value.state, State::AwaitingApproval);
    assert!(scene.continue_calls() == 0, "nothing reached ECS");

    // The page's own POST is what continues ECS.
    let token = link.split("?t=").nth(1).unwrap();
    let nonce = test_keys().form_nonce(&id, token, Utc::now());
    let form = serde_urlencoded::to_string([
        ("t", token),
        ("nonce", nonce.as_str()),
        ("decision", "approve"),
        ("name", "Alice"),
    ])
    .unwrap();
    let posted = send(
        app(),
        form_post(&format!("/lambda-url/approval/approvals/{id}"), form, &[]),
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let continued = scene.ecs.continues();
    assert_eq!(continued.len(), 1, "{continued:?}");
    assert_eq!(continued[0].2, "CONTINUE");
}

/// Nobody answers: ECS times its pause out and rolls back by itself. The request ends
/// `expired`, an approval arriving afterwards is refused and reaches ECS not at all, and
/// ECS's later report of the finished rollback does not rewrite the record.
#[tokio::test(flavor = "multi_thread")]
async fn a_pause_nobody_answers_times_out_expired_and_ecs_rolls_back() {
    let scene = Scene::new(14).await;
    let (deployer, calls) = scene.deployer(&paused_canary());
    scene.push(&deployer).await;
    scene.pause(&deployer).await;
    let timed_out = scene.ecs.time_out_pause();
    for request in ["r-3", "r-4"] {
        deployer
            .handle_deployment_event(&timed_out, &invocation(request))
            .await
            .unwrap();
    }
    let id = scene.id();
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Expired);
    assert_eq!(record.outcome_notified.unwrap().state, State::Expired);

    let late = deployer
        .decide(&id, Verdict::Approve, &approver(1), None)
        .await
        .unwrap();
    assert!(matches!(late, DecisionOutcome::Refused { .. }), "{late:?}");
    assert!(
        scene.continue_calls() == 0,
        "ECS rolls back by itself: nothing is sent"
    );
    scene.ecs.end("ROLLBACK_SUCCESSFUL", &[]);
    deployer
        .reconcile(&json!({"id": "tick-1"}), &invocation("r-5"))
        .await;
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Expired
    );
    assert_eq!(calls.updates.load(Ordering::SeqCst), 1);
}

/// A canary without a pause whose 5xx alarm fires: ECS rolls it back (no event for a
/// progressive deployment says so), the reconciler reads it from
/// DescribeServiceDeployments, and the release is `failed`, naming the alarm, and told.
#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_rollback_is_failed_naming_the_alarm() {
    let scene = Scene::new(15).await;
    let (deployer, _) = scene.deployer(&canary("auto", json!(null)));
    scene.push(&deployer).await;
    let update = scene.update_service();
    assert_eq!(
        update["deploymentConfiguration"]["alarms"],
        json!({"alarmNames": ["web-5xx"], "enable": true, "rollback": true}),
        "{update:#}"
    );
    let id = scene.id();
    deployer
        .reconcile(&json!({"id": "tick-1"}), &invocation("r-2"))
        .await;
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Rolling,
        "under way: nothing to close"
    );
    scene.ecs.end("ROLLBACK_SUCCESSFUL", &["web-5xx"]);
    deployer
        .reconcile(&json!({"id": "tick-2"}), &invocation("r-3"))
        .await;
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Failed);
    let error = record.error.clone().unwrap_or_default();
    assert!(error.contains("alarm web-5xx in ALARM"), "{error}");
    assert_eq!(record.outcome_notified.unwrap().state, State::Failed);
}

/// A newer push while the older release waits at ECS's pause: the older request is
/// superseded before the newer release reaches ECS, its approval is refused and never
/// continues ECS, and the newer release's UpdateService starts a service deployment of
/// its own, recorded on the newer release.
#[tokio::test(flavor = "multi_thread")]
async fn a_newer_push_while_paused_supersedes_the_waiting_release() {
    let scene = Scene::new(16).await;
    let (deployer, calls) = scene.deployer(&paused_canary());
    scene.push(&deployer).await;
    scene.pause(&deployer).await;
    let older = scene.id();
    let first_arn = scene.ecs.newest();

    let newer_digest = scene.world.push_image(Some("v3")).await;
    deployer
        .handle_ecr_event(
            &push_event("e-2", Some("v3"), &newer_digest),
            &invocation("r-3"),
        )
        .await
        .unwrap();
    let newer = format!("web.{}", image_key(&newer_digest));
    assert_eq!(
        deployer.deployment(&older).await.unwrap().value.state,
        State::Superseded
    );
    let refused = deployer
        .decide(&older, Verdict::Approve, &approver(1), None)
        .await
        .unwrap();
    assert!(
        matches!(refused, DecisionOutcome::Refused { .. }),
        "{refused:?}"
    );
    assert!(
        scene.ecs.continues().is_empty(),
        "the superseded pause is never continued"
    );
    assert_eq!(calls.updates.load(Ordering::SeqCst), 2);
    assert_eq!(scene.ecs.started(), 2);
    let record = deployer.deployment(&newer).await.unwrap().value;
    assert_eq!(record.state, State::Rolling);
    let recorded = record.progress.unwrap().service_deployment_arn;
    assert_eq!(recorded, scene.ecs.newest());
    assert_ne!(recorded, first_arn);
}

/// A canary with Slipway's test probe: its UpdateService carries the AWS_LAMBDA hook at
/// POST_TEST_TRAFFIC_SHIFT (function, ECS's invoke role, the check in `hookDetails`); ECS
/// calls the hook, which GETs the test listener (a local server) over HTTP: while it
/// answers 200 the hook says IN_PROGRESS, carrying its progress, and the first 503 is
/// FAILED. ECS rolls back, and the reconciler records the release `failed`, as ECS says.
#[tokio::test(flavor = "multi_thread")]
async fn the_test_probe_failing_answers_failed_and_the_release_ends_failed() {
    let listener = TestListener::start().await;
    let scene = Scene::new(17).await;
    let mut config: serde_json::Value = serde_json::from_str(&canary("auto", json!(null))).unwrap();
    let rollout = &mut config["targets"][0]["rollout"];
    rollout["load_balancer"]["test_url"] = json!(listener.url);
    rollout["test_probe"] = json!({"path": "/healthz", "for_seconds": 60, "every_seconds": 10,
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:slipway-test-probe",
        "role_arn": "arn:aws:iam::123456789012:role/slipway-ecs-hooks"});
    let (deployer, _) = scene.deployer(&config.to_string());
    scene.push(&deployer).await;
    let update = scene.update_service();
    let healthz = format!("{}/healthz", listener.url.trim_end_matches('/'));
    assert_eq!(
        update["deploymentConfiguration"]["lifecycleHooks"],
        json!([{"targetType": "AWS_LAMBDA",
            "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:slipway-test-probe",
            "roleArn": "arn:aws:iam::123456789012:role/slipway-ecs-hooks",
            "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "hookDetails": {"url": healthz, "status": 200, "for_seconds": 60, "every_seconds": 10},
            "timeoutConfiguration": {"timeoutInMinutes": 7, "action": "ROLLBACK"}}]),
        "{update:#}"
    );

    let prober = HttpProber::new(Duration::from_secs(2));
    // The function GETs only the test listeners the config names (SLIPWAY_TEST_PROBE_ORIGINS).
    let allowed = vec![origin_of(&listener.url).unwrap()];
    let call: HookCall = serde_json::from_value(scene.ecs.lambda_hook_call()).unwrap();
    let first = answer_hook(&call, &prober, &allowed, Utc::now()).await;
    assert_eq!(first.hook_status, HookStatus::InProgress);
    assert_eq!(first.call_back_delay, Some(10));
    assert_eq!(first.hook_details.as_ref().unwrap()["passed"], 1);
    assert_eq!(listener.gets(), 1);

    // ECS calls again with the answer's details; the new revision now answers 503.
    listener.answer_with(503);
    let again = HookCall {
        hook_details: first.hook_details.clone(),
        ..call.clone()
    };
    let second = answer_hook(&again, &prober, &allowed, Utc::now()).await;
    assert_eq!(
        serde_json::to_value(&second).unwrap(),
        json!({"hookStatus": "FAILED"}),
        "the documented answer"
    );
    assert_eq!(listener.gets(), 2, "the 503 was the listener's answer");

    scene.ecs.fail_lambda_hook();
    let id = scene.id();
    deployer
        .reconcile(&json!({"id": "tick-1"}), &invocation("r-2"))
        .await;
    let record = deployer.deployment(&id).await.unwrap().value;
    assert_eq!(record.state, State::Failed);
    let error = record.error.unwrap_or_default();
    assert!(error.contains("lifecycle hook"), "{error}");

    // A test listener that never answers (it takes connections, and nothing reads
    // them) fails the check too, once the GET's budget is spent.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/healthz", silent.local_addr().unwrap());
    let allowed_closed = vec![origin_of(&silent_url).unwrap()];
    let closed = HookCall {
        hook_details: Some(
            json!({"url": silent_url, "status": 200, "for_seconds": 60, "every_seconds": 10}),
        ),
        ..call
    };
    assert_eq!(
        answer_hook(&closed, &prober, &allowed_closed, Utc::now())
            .await
            .hook_status,
        HookStatus::Failed
    );
}

/// The test listener: answers GET /healthz with the status it is told, counting GETs.
struct TestListener {
    url: String,
    status: Arc<std::sync::atomic::AtomicU16>,
    gets: Arc<std::sync::atomic::AtomicUsize>,
    _server: tokio::task::JoinHandle<()>,
}

impl TestListener {
    async fn start() -> TestListener {
        use axum::{http::StatusCode, routing::get, Router};
        let status = Arc::new(std::sync::atomic::AtomicU16::new(200));
        let gets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (answer, count) = (status.clone(), gets.clone());
        let app = Router::new().route(
            "/healthz",
            get(move || {
                count.fetch_add(1, Ordering::SeqCst);
                let code = answer.load(Ordering::SeqCst);
                async move { StatusCode::from_u16(code).unwrap() }
            }),
        );
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", socket.local_addr().unwrap());
        let server = tokio::spawn(async move {
            common::serve::serve(socket, app).await;
        });
        TestListener {
            url,
            status,
            gets,
            _server: server,
        }
    }

    fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

/// The stand-in answers ECS's four service-deployment operations moto lacks as the API
/// reference documents them, through the SDK Slipway uses: what the other tests rest on.
#[tokio::test(flavor = "multi_thread")]
async fn the_stand_in_answers_ecs_service_deployment_operations_as_documented() {
    use aws_sdk_ecs::types::{ServiceDeploymentStatus, StopServiceDeploymentStopType};
    let scene = Scene::new(18).await;
    let (deployer, _) = scene.deployer(&paused_canary());
    scene.push(&deployer).await;
    let ecs = &scene.clients.ecs;
    let arn = scene.ecs.newest().unwrap();
    let cluster = arn.split('/').nth(1).unwrap().to_string();
    let listed = ecs
        .list_service_deployments()
        .cluster(&cluster)
        .service("web")
        .status(ServiceDeploymentStatus::InProgress)
        .send()
        .await
        .unwrap();
    let briefs = listed.service_deployments();
    assert_eq!(briefs.len(), 1);
    assert_eq!(briefs[0].service_deployment_arn(), Some(arn.as_str()));
    assert!(
        ecs.list_service_deployments()
            .cluster(&cluster)
            .send()
            .await
            .is_err(),
        "service is required"
    );

    let stopped = ecs
        .stop_service_deployment()
        .service_deployment_arn(&arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.service_deployment_arn(), Some(arn.as_str()));
    let described = ecs
        .describe_service_deployments()
        .service_deployment_arns(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.service_deployments()[0].status(),
        Some(&ServiceDeploymentStatus::RollbackRequested)
    );
    scene.ecs.end("ROLLBACK_SUCCESSFUL", &[]);
    let conflict = ecs
        .stop_service_deployment()
        .service_deployment_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        conflict
            .as_service_error()
            .is_some_and(|e| e.is_conflict_exception()),
        "{conflict:?}"
    );
}
