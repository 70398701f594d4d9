use std::sync::Mutex;

use chrono::{Duration, Utc};
use serde_json::json;

use super::*;
use crate::model::test_probe::Observation;

/// Answers every GET with `seen`, and remembers the URLs.
struct Seen {
    seen: Observation,
    urls: Mutex<Vec<String>>,
}

impl Prober for Seen {
    async fn get(&self, url: &str) -> Observation {
        self.urls.lock().unwrap().push(url.to_string());
        self.seen.clone()
    }
}

fn seen(observation: Observation) -> Seen {
    Seen {
        seen: observation,
        urls: Mutex::new(vec![]),
    }
}

fn call(stage: &str, details: serde_json::Value) -> HookCall {
    let raw = std::fs::read_to_string(format!(
        "{}/events/lifecycle-hook-post-test-traffic.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut call: HookCall = serde_json::from_str(&raw).unwrap();
    call.lifecycle_stage = stage.into();
    call.hook_details = Some(details);
    call
}

/// The test listener Slipway's config names (the function's SLIPWAY_TEST_PROBE_ORIGINS).
fn allowed() -> Vec<String> {
    vec!["http://test.example:8443".to_string()]
}

fn details() -> serde_json::Value {
    json!({"url": "http://test.example:8443/healthz", "status": 200, "for_seconds": 60, "every_seconds": 10})
}

#[tokio::test]
async fn a_good_answer_asks_ecs_to_call_again_carrying_the_progress() {
    let prober = seen(Observation::Status(200));
    let now = Utc::now();
    let answer = answer_hook(
        &call("POST_TEST_TRAFFIC_SHIFT", details()),
        &prober,
        &allowed(),
        now,
    )
    .await;
    assert_eq!(answer.hook_status, HookStatus::InProgress);
    assert_eq!(answer.call_back_delay, Some(10));
    let carried = answer.hook_details.unwrap();
    assert_eq!(carried["passed"], 1);
    assert_eq!(carried["url"], "http://test.example:8443/healthz");
    assert_eq!(
        *prober.urls.lock().unwrap(),
        ["http://test.example:8443/healthz"]
    );

    // ECS calls again with those details merged in; the check has lasted long enough.
    let mut again = details();
    again["started_at"] = json!(now - Duration::seconds(61));
    again["passed"] = json!(6);
    let answer = answer_hook(
        &call("POST_TEST_TRAFFIC_SHIFT", again),
        &prober,
        &allowed(),
        now,
    )
    .await;
    assert_eq!(answer.hook_status, HookStatus::Succeeded);
    assert_eq!(answer.hook_details, None);
}

#[tokio::test]
async fn a_bad_answer_fails_the_hook_and_ecs_rolls_back() {
    for observed in [
        Observation::Status(502),
        Observation::NoAnswer("timed out".into()),
    ] {
        let answer = answer_hook(
            &call("POST_TEST_TRAFFIC_SHIFT", details()),
            &seen(observed),
            &allowed(),
            Utc::now(),
        )
        .await;
        assert_eq!(answer.hook_status, HookStatus::Failed);
    }
}

#[tokio::test]
async fn what_the_probe_cannot_check_fails_and_a_rollback_is_never_held() {
    let prober = seen(Observation::Status(200));
    let elsewhere = answer_hook(
        &call("PRE_SCALE_UP", details()),
        &prober,
        &allowed(),
        Utc::now(),
    )
    .await;
    assert_eq!(elsewhere.hook_status, HookStatus::Failed);
    let garbled = answer_hook(
        &call("POST_TEST_TRAFFIC_SHIFT", json!({"url": "ftp://x"})),
        &prober,
        &allowed(),
        Utc::now(),
    )
    .await;
    assert_eq!(garbled.hook_status, HookStatus::Failed);
    assert!(prober.urls.lock().unwrap().is_empty(), "nothing was probed");

    let green = "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/2";
    let blue = "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1";
    let mut rollback = call("TEST_TRAFFIC_SHIFT", details());
    rollback.execution_details.target_service_revision_arn = green.into();
    rollback.execution_details.test_traffic_weights =
        [(green.to_string(), 0.0), (blue.to_string(), 100.0)].into();
    let unprobed = seen(Observation::Status(500));
    let answer = answer_hook(&rollback, &unprobed, &allowed(), Utc::now()).await;
    assert_eq!(answer.hook_status, HookStatus::Succeeded);
    assert!(
        unprobed.urls.lock().unwrap().is_empty(),
        "a rollback is not probed"
    );
}

/// Whoever may invoke the function, with whatever URL: it GETs only the test listeners
/// the config names.
#[tokio::test]
async fn a_url_outside_the_configured_test_listeners_is_never_fetched() {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
        "http://test.example:8443@evil.example/healthz",
        "https://test.example:8443/healthz",
        "http://test.example/healthz",
    ] {
        let prober = seen(Observation::Status(200));
        let mut hijacked = details();
        hijacked["url"] = json!(url);
        let answer = answer_hook(
            &call("POST_TEST_TRAFFIC_SHIFT", hijacked),
            &prober,
            &allowed(),
            Utc::now(),
        )
        .await;
        assert_eq!(answer.hook_status, HookStatus::Failed, "{url}");
        assert!(prober.urls.lock().unwrap().is_empty(), "{url} was fetched");
    }
    let upper = seen(Observation::Status(200));
    let mut same = details();
    same["url"] = json!("HTTP://Test.Example:8443/healthz");
    let answer = answer_hook(
        &call("POST_TEST_TRAFFIC_SHIFT", same),
        &upper,
        &allowed(),
        Utc::now(),
    )
    .await;
    assert_eq!(
        answer.hook_status,
        HookStatus::InProgress,
        "origins compare without case"
    );
}

#[test]
fn a_payload_of_another_shape_is_answered_failed() {
    let answer = answer_unreadable(
        &json!({"resourceArn": "arn:x"}),
        "missing field `executionId`",
    );
    assert_eq!(answer.hook_status, HookStatus::Failed);
}
