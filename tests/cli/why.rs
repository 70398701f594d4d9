//! `slipway why IMAGE` against the local AWS: each broken link named, per target.

use serde_json::{json, Value};
use slipway::input::redrive::invocation_record;

use super::common::*;
use super::stack::Stack;

/// The link `why` names for `target`, and its explanation.
async fn why(stack: &Stack, image: &str, target: &str) -> (String, String) {
    let ran = stack
        .slipway(&["why", image, "--target", target, "--json"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let answer = ran.json(&format!("why-{}", target));
    let first = &answer["targets"][0];
    assert_eq!(first["target"], target);
    (
        first["link"].as_str().unwrap().to_string(),
        first["explanation"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn why_names_the_tag_rule_the_repository_and_an_undelivered_push() {
    let stack = Stack::new().await;
    stack.world.push_image(Some("latest")).await;
    let (link, text) = why(&stack, "app:latest", "web").await;
    assert_eq!(link, "tag-rule", "{text}");
    assert!(
        text.contains("glob v*") && text.contains("latest"),
        "{text}"
    );

    stack
        .world
        .clients
        .ecr
        .create_repository()
        .repository_name("other")
        .send()
        .await
        .unwrap();
    stack.world.push_image_to("other", Some("v5")).await;
    let (link, text) = why(&stack, "other:v5", "web").await;
    assert_eq!(link, "other-repository", "{text}");

    // Pushed, but no event ever reached Slipway.
    stack.world.push_image(Some("v7")).await;
    let (link, text) = why(&stack, "app:v7", "web").await;
    assert_eq!(link, "not-delivered", "{text}");
    assert!(text.contains("reconciler"), "{text}");

    let table = stack.slipway(&["why", "app:latest"]).await;
    assert!(
        table.stdout.contains("tag-rule") && table.stdout.lines().count() >= 3,
        "{}",
        table.stdout
    );
    let missing = stack.slipway(&["why", "app:never-pushed"]).await;
    assert_eq!(missing.code, 3, "{}", missing.stderr);
}

#[tokio::test]
async fn why_names_an_older_image_a_frozen_target_and_an_approval_awaited() {
    let stack = Stack::new().await;
    let older = stack.world.push_image(Some("v3")).await; // its event never delivered
                                                          // ECR's imagePushedAt is what orders pushes (README, "Which image wins"): a later second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, ecs) = stack.deploy("v4").await;
    stack.ecs_says("COMPLETED", &ecs).await;
    let (link, text) = why(&stack, &format!("app@{older}"), "web").await;
    assert_eq!(link, "older", "{text}");

    let (link, text) = why(&stack, "app:v4", "prod-web").await;
    assert_eq!(link, "awaiting-approval", "{text}");
    assert!(text.contains("slipway approve prod-web.img-"), "{text}");
    let (link, text) = why(&stack, "app:v4", "web").await;
    assert_eq!(link, "deployed", "ECS completed v4 on web: {text}");

    let ran = stack
        .slipway(&["freeze", "web", "--reason", "incident 42"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    stack.world.push_image(Some("v5")).await;
    let (link, text) = why(&stack, "app:v5", "web").await;
    assert_eq!(link, "frozen", "{text}");
    assert!(text.contains("incident 42"), "{text}");
}

#[tokio::test]
async fn why_names_a_dead_lettered_push_with_its_error() {
    let stack = Stack::new().await;
    let digest = stack.world.push_image(Some("v6")).await;
    let event = push_event("lost-push", Some("v6"), &digest);
    let record = invocation_record(
        &event,
        "arn:aws:lambda:us-east-1:123456789012:function:image-push",
        "ecs:UpdateService failed: AccessDeniedException",
        3,
    );
    let sqs = aws_sdk_sqs::Client::new(&stack.world.emulator.shared().await);
    sqs.send_message()
        .queue_url(&stack.dead_letters)
        .message_body(record.to_string())
        .send()
        .await
        .unwrap();

    let (link, text) = why(&stack, "app:v6", "web").await;
    assert_eq!(link, "dead-lettered", "{text}");
    assert!(
        text.contains("AccessDeniedException") && text.contains("RetriesExhausted"),
        "{text}"
    );

    let listed = stack.slipway(&["dlq", "list", "--json"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let messages: Value = listed.json("dlq-list")["messages"].clone();
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages:#}");
    assert_eq!(messages[0]["shape"], "lambda");
    assert_eq!(messages[0]["digest"], json!(digest));
    // Listing leaves the message where it is.
    let again = stack
        .slipway(&["dlq", "list", "--json"])
        .await
        .json("dlq-list-again");
    assert_eq!(again["messages"].as_array().unwrap().len(), 1);
}

/// The emulator's TestEventPattern answers nothing; the fault proxy answers it as
/// EventBridge would (tests/common/event_pattern.rs follows the documented matching).
fn play_test_event_pattern(proxy: &super::common::faults::FaultProxy) {
    proxy.rewrite(
        |call| call.operation == "TestEventPattern",
        |call, answer| {
            let body = call.body.clone().unwrap_or_default();
            let parse = |name: &str| {
                serde_json::from_str::<Value>(body[name].as_str().unwrap_or("null"))
                    .unwrap_or_default()
            };
            let result =
                super::common::event_pattern::matches(&parse("EventPattern"), &parse("Event"));
            *answer = json!({ "Result": result });
        },
    );
}

#[tokio::test]
async fn why_names_a_push_no_rule_matches() {
    let stack = Stack::new().await;
    let proxy = super::common::faults::FaultProxy::start(
        &stack.world.emulator.endpoint,
        std::time::Duration::from_secs(30),
        7,
    )
    .await;
    play_test_event_pattern(&proxy);
    let pattern = |repositories: Value| {
        json!({"source": ["aws.ecr"], "detail-type": ["ECR Image Action"],
               "detail": {"action-type": ["PUSH"], "result": ["SUCCESS"], "repository-name": repositories}})
        .to_string()
    };
    stack.world.push_image(Some("v8")).await;
    // The rule Terraform last applied lists another repository (the config changed since).
    stack
        .write_settings_with(json!({"push_rule_pattern": pattern(json!(["billing"]))}))
        .await;
    let ran = super::stack::slipway_at(
        &proxy.endpoint,
        &["why", "app:v8", "--target", "web", "--json"],
        &[],
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let answer = ran.json("why-no-rule");
    assert_eq!(
        answer["targets"][0]["link"], "no-rule-matches",
        "{answer:#}"
    );
    assert!(
        proxy
            .calls()
            .iter()
            .any(|c| c.operation == "TestEventPattern"),
        "EventBridge decided it"
    );

    stack
        .write_settings_with(json!({"push_rule_pattern": pattern(json!(["app"]))}))
        .await;
    let ran = super::stack::slipway_at(
        &proxy.endpoint,
        &["why", "app:v8", "--target", "web", "--json"],
        &[],
    )
    .await;
    let answer = ran.json("why-rule-matches");
    assert_eq!(
        answer["targets"][0]["link"], "not-delivered",
        "the rule matches; the event was lost: {answer:#}"
    );
}

/// The stand-in's matching, on the cases Slipway's rules use.
#[test]
fn the_subset_matches_as_eventbridge_documents() {
    let pattern = serde_json::json!({"source": ["aws.ecr"], "detail": {"repository-name": ["app"], "image-tag": [{"prefix": "v"}], "x": [{"exists": false}]}});
    let event = serde_json::json!({"source": "aws.ecr", "detail": {"repository-name": "app", "image-tag": "v1"}});
    assert!(super::common::event_pattern::matches(&pattern, &event));
    let other = serde_json::json!({"source": "aws.ecr", "detail": {"repository-name": "other", "image-tag": "v1"}});
    assert!(!super::common::event_pattern::matches(&pattern, &other));
}

/// web (auto) and worker (approval) released together by the group `shop`.
fn shop_config() -> String {
    let mut config: Value = serde_json::from_str(&super::stack::targets_config()).unwrap();
    let worker = target_json_with(
        "worker",
        "worker",
        r#"{"glob": "v*"}"#,
        "approval",
        json!({"approval": {"iam_approvers": [super::stack::ALICE_ARN]}}),
    );
    config["targets"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::from_str(&worker).unwrap());
    config["groups"] =
        json!([{"name": "shop", "steps": [{"service": "worker"}, {"service": "web"}]}]);
    config.to_string()
}

fn shop_run(digest: &str) -> String {
    let release = std::collections::BTreeMap::from([
        ("web".to_string(), image_uri(digest)),
        ("worker".to_string(), image_uri(digest)),
    ]);
    slipway::model::group::run_id("shop", &release)
}

#[tokio::test]
async fn why_explains_a_group_run_and_groups_lists_the_runs_newest_first() {
    let stack = Stack::with_config(shop_config()).await;
    let running = stack.world.push_image(Some("w1")).await;
    stack
        .world
        .create_service("worker", &image_uri(&running))
        .await;
    let (v2, _) = stack.push("v2").await;
    let first = shop_run(&v2);

    let ran = stack.slipway(&["why", &first]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("awaiting its one approval")
            && ran.stdout.contains(&format!("slipway approve {first}")),
        "{}",
        ran.stdout
    );
    let answer = stack
        .slipway(&["why", &first, "--json"])
        .await
        .json("why-run");
    assert_eq!(answer["run"]["state"], "awaiting-approval", "{answer}");
    assert!(answer["run"]["began_at"].is_string(), "{answer}");
    assert_eq!(answer["run"]["steps"][0]["target"], "worker", "{answer}");

    // A newer release supersedes the run still awaiting its approval.
    let (v3, _) = stack.push("v3").await;
    let second = shop_run(&v3);
    let listed = stack
        .slipway(&["groups", "shop", "--runs", "--json"])
        .await
        .json("groups-runs");
    let runs: Vec<(&str, &str)> = listed["groups"][0]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        runs,
        [
            (second.as_str(), "awaiting-approval"),
            (first.as_str(), "superseded")
        ],
        "newest first: {listed}"
    );
    let limited = stack
        .slipway(&["groups", "shop", "--runs", "--limit", "1"])
        .await;
    assert!(
        limited.stdout.contains(&second) && !limited.stdout.contains(&first),
        "{}",
        limited.stdout
    );
    let ran = stack.slipway(&["why", &first]).await;
    assert!(
        ran.stdout.contains("superseded before it started anything"),
        "{}",
        ran.stdout
    );

    // What is not a run, or not one of this config's groups, is "not found", and says so.
    let ran = stack.slipway(&["why", "shop-0000000000000000"]).await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("the ledger has no run"),
        "{}",
        ran.stderr
    );
    let ran = stack.slipway(&["why", "billing-0000000000000000"]).await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("is no run of this config's release groups (shop)"),
        "{}",
        ran.stderr
    );
    let ran = stack.slipway(&["why", &first, "--target", "web"]).await;
    assert_eq!(ran.code, 2, "{}", ran.stderr);
}
