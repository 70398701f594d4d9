//! `slipway replay` against the local AWS: events archived on the default bus, sent again
//! by StartReplay to Slipway's rule only. The emulator's EventBridge cannot invoke a
//! Lambda target (its rule targets are SQS, logs and buses), so the rule's target here is
//! an SQS queue and the test plays EventBridge's delivery to the function from it.

use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::common::*;
use super::stack::Stack;

#[tokio::test]
async fn a_replay_of_shuffled_pushes_ends_each_target_on_its_newest_image() {
    let stack = Stack::new().await;
    let shared = stack.world.emulator.shared().await;
    let events = aws_sdk_eventbridge::Client::new(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default");
    let archive = events
        .create_archive()
        .archive_name("slipway-test-events")
        .event_source_arn(&bus)
        .event_pattern(
            json!({"source": ["aws.ecr"], "detail-type": ["ECR Image Action"]}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .archive_arn()
        .unwrap()
        .to_string();
    let queue = sqs
        .create_queue()
        .queue_name("image-push-deliveries")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:image-push-deliveries");
    let rule = events
        .put_rule()
        .name("slipway-test-image-push")
        .event_pattern(json!({"source": ["aws.ecr"], "detail-type": ["ECR Image Action"], "detail": {"action-type": ["PUSH"], "result": ["SUCCESS"], "repository-name": ["app"]}}).to_string())
        .send()
        .await
        .unwrap()
        .rule_arn()
        .unwrap()
        .to_string();
    events
        .put_targets()
        .rule("slipway-test-image-push")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("image-push")
                .arn(&queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    stack
        .write_settings_with(
            json!({"archive_arn": archive, "event_bus_arn": bus, "replay_rule_arns": [rule]}),
        )
        .await;

    // Four releases, a second apart (ECR's imagePushedAt orders them), announced in a
    // shuffled order; those deliveries were lost (the queue is drained unread).
    let from = Utc::now() - chrono::Duration::seconds(5);
    let mut pushed = Vec::new();
    for tag in ["v2", "v3", "v4", "v5"] {
        pushed.push((tag, stack.world.push_image(Some(tag)).await));
        tokio::time::sleep(Duration::from_millis(1050)).await;
    }
    let newest = pushed.last().unwrap().1.clone();
    let mut order: Vec<usize> = (0..pushed.len()).collect();
    fastrand::shuffle(&mut order);
    for i in order {
        let (tag, digest) = &pushed[i];
        let event = push_event(&format!("push-{tag}"), Some(tag), digest);
        events
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source("aws.ecr")
                    .detail_type("ECR Image Action")
                    .detail(event["detail"].to_string())
                    .resources(format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app"))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    stack.world.drain_queue(&queue).await;

    let to = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let ran = stack
        .slipway(&[
            "replay",
            "--from",
            &from.to_rfc3339(),
            "--to",
            &to,
            "--wait",
            "--timeout",
            "60s",
        ])
        .await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let name = ran.stdout.lines().next().unwrap().to_string();
    assert!(
        name.starts_with("slipway-"),
        "the replay's name first: {}",
        ran.stdout
    );
    assert!(ran.stdout.contains("COMPLETED"), "{}", ran.stdout);

    // EventBridge's part: each replayed event (shuffled again) to image-push.
    let mut replayed: Vec<Value> = stack
        .world
        .drain_queue(&queue)
        .await
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(
        replayed.len(),
        pushed.len(),
        "every archived push replayed: {replayed:#?}"
    );
    fastrand::shuffle(&mut replayed);
    for event in &replayed {
        stack
            .deployer
            .handle_ecr_event(event, &invocation("replayed"))
            .await
            .unwrap();
    }
    let (running, _) = stack.world.running("web").await;
    let image = running.container_definitions()[0]
        .image()
        .unwrap()
        .to_string();
    assert!(
        image.ends_with(&newest),
        "web ends on v5 ({newest}), runs {image}"
    );
    let status = stack
        .slipway(&["status", "prod-web", "--json"])
        .await
        .json("status-after-replay");
    let pending = status["targets"][0]["pending_approval"]["deployment_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        pending.ends_with(newest.trim_start_matches("sha256:")),
        "prod-web asks for v5 only: {status:#}"
    );
}
