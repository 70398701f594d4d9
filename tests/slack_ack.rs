//! Reliability scenario 8: Slack's 3-second acknowledgement at a cold start, with every
//! AWS call as slow as on AWS (the fault proxy's latency mode: a 30 ms median, 300 ms at
//! the 99th percentile, 100 ms more for each service's first connection).
//!
//! Each round starts cold — new clients, the config object, the signing keys and the
//! Slack secret read through the proxy, as `slipway_from_env` does — and answers one
//! Slack click. Side by side in each round: the click handed over to an asynchronous
//! Invoke (as on AWS; the Invoke itself is a stand-in that waits one latency draw, since
//! the emulator cannot run a function), and the same click rolled in the request.
//! `SLIPWAY_RELIABILITY=full` runs 20 rounds (make reliability); make test runs 3.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use common::faults::{FaultProxy, Latency};
use common::web::{form_post, send, TestFunction};
use common::*;
use serde_json::json;
use slipway::approval::ApprovalLinks;
use slipway::aws::{AwsNotifier, CallTimeouts, SlackApi};
use slipway::input::config::Home;
use slipway::ledger::image_key;
use slipway::model::deployment::State;
use slipway::web::later::{HandOver, RollJob, RollLater};
use slipway::web::ApprovalApp;

const APPROVER: &str = "U024BE7LH";
/// Slack's limit for the answer ("Handling user interaction in your Slack apps").
const SLACK_LIMIT: Duration = Duration::from_secs(3);

fn full_size() -> bool {
    std::env::var("SLIPWAY_RELIABILITY").as_deref() == Ok("full")
}

fn target() -> String {
    let approval = json!({"slack_channel": "C0DEPLOYS", "slack_approvers": [APPROVER]});
    target_json_with(
        "web",
        "web",
        r#"{"glob": "v*"}"#,
        "approval",
        json!({ "approval": approval }),
    )
}

/// Lambda's Invoke with InvocationType=Event, played: it costs one AWS-like call (its
/// latency drawn from the proxy's distribution when the round starts).
struct LatentInvoke {
    latency: Duration,
    jobs: Mutex<Vec<RollJob>>,
}

impl RollLater for LatentInvoke {
    fn hand_over<'a>(&'a self, job: &'a RollJob) -> HandOver<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            self.jobs.lock().unwrap().push(job.clone());
            Ok(())
        })
    }
}

/// One cold start and one click; how long until Slack had its answer.
async fn cold_click(round: u64, hand_over: bool) -> Duration {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    let approvers = world.approvers().await;
    let config_json = config(&[target()]);
    let (deployer, _) = world.approval_deployer(&config_json, &approvers);
    deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();
    let id = format!("web.{}", image_key(&pushed));
    seed_cold_start(&world, &config_json).await;

    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), round).await;
    proxy.with_latency(Latency::AWS_LIKE);
    let started = Instant::now();
    // The cold start: what slipway_from_env reads before the first request.
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    let home = Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let uri = format!("s3://{LEDGER_BUCKET}/config/targets.json");
    slipway::aws::config_from_object(&clients.s3, &home, &uri, None)
        .await
        .unwrap();
    let keys = slipway::aws::secrets::signing_keys(&clients.secrets(), "signing-keys")
        .await
        .unwrap();
    let slack = slipway::aws::secrets::slack(&clients.secrets(), "slack")
        .await
        .unwrap();
    let (cold, _) = world.deployer_with_clients(&config_json, false, None, &clients);
    let notifier = AwsNotifier::new(
        Some(slipway::aws::SnsTopic {
            client: clients.sns(),
            arn: approvers.topic_arn.clone(),
        }),
        Some(SlackApi::new(
            &format!("{}/api", approvers.slack.url),
            slack.bot_token.clone(),
        )),
    );
    let cold = cold.with_approvals(Some(ApprovalLinks::new(APPROVAL_URL, keys)), notifier);
    let later = Arc::new(LatentInvoke {
        latency: proxy.sample_latency(),
        jobs: Mutex::new(Vec::new()),
    });
    let cold = Arc::new(cold);
    let app = TestFunction::new(ApprovalApp {
        deployer: cold.clone(),
        slack_signing_secret: Some(slack.signing_secret.into_bytes()),
        later: hand_over.then(|| later.clone() as Arc<dyn RollLater>),
    });
    let answer = send(app.router(), click(&id, &approvers)).await;
    let took = started.elapsed();

    assert_eq!(answer.status, 200, "{}", answer.body);
    let state = cold.deployment(&id).await.unwrap().value.state;
    let expected = if hand_over {
        State::Approved
    } else {
        State::Rolling
    };
    assert_eq!(state, expected, "hand_over = {hand_over}");
    if hand_over {
        assert_eq!(later.jobs.lock().unwrap().len(), 1);
    }
    took
}

/// What Terraform and the operator put in place before the first request.
async fn seed_cold_start(world: &World, config_json: &str) {
    world
        .clients
        .s3
        .put_object()
        .bucket(LEDGER_BUCKET)
        .key("config/targets.json")
        .body(config_json.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let secrets = [
        (
            "signing-keys",
            json!({"current": {"id": "k1", "secret": "a".repeat(64)}, "previous": null}),
        ),
        (
            "slack",
            json!({"signing_secret": SLACK_SIGNING_SECRET, "bot_token": "xoxb-test"}),
        ),
    ];
    for (name, value) in secrets {
        world
            .clients
            .secrets()
            .create_secret()
            .name(name)
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
    }
}

/// Slack's signed block_actions request for Approve.
fn click(id: &str, approvers: &Approvers) -> Request<Body> {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": APPROVER, "username": "alice"},
        "team": {"id": "T0001"},
        "actions": [{"action_id": slipway::notify::APPROVE_ACTION, "value": id}],
        "response_url": approvers.slack.response_url("click"),
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let timestamp = Utc::now().timestamp();
    let signature = slack_signature(SLACK_SIGNING_SECRET, timestamp, body.as_bytes());
    let headers = [
        ("x-slack-request-timestamp", timestamp.to_string()),
        ("x-slack-signature", signature),
    ];
    form_post("/slack/interactions", body, &headers)
}

fn millis(mut durations: Vec<Duration>) -> serde_json::Value {
    durations.sort();
    let at = |q: f64| durations[((durations.len() - 1) as f64 * q).round() as usize].as_millis();
    json!({"median_ms": at(0.5), "p90_ms": at(0.9), "max_ms": at(1.0)})
}

#[tokio::test(flavor = "multi_thread")]
async fn scenario_8_a_slack_approval_is_acknowledged_within_3_s_at_a_cold_start_with_aws_like_latency(
) {
    let rounds = if full_size() { 20 } else { 3 };
    let (mut handed_over, mut in_request) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        handed_over.push(cold_click(round, true).await);
        in_request.push(cold_click(round, false).await);
    }
    let slowest = *handed_over.iter().max().unwrap();
    record_figures(
        "scenario-8-slack-ack",
        &json!({
            "rounds": rounds,
            "latency": {"median_ms": 30, "p99_ms": 300, "first_call_ms": 100},
            "limit_ms": SLACK_LIMIT.as_millis(),
            "handed_over": millis(handed_over),
            "rolled_in_the_request": millis(in_request),
        }),
    );
    assert!(
        slowest < SLACK_LIMIT,
        "a cold Slack acknowledgement took {slowest:?}, over Slack's 3 s"
    );
}
