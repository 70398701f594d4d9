//! A release group's one approval against the emulator: the request goes out once by SNS
//! (read back from the queue subscribed to the topic) and Slack (the stand-in), the
//! approval function's handler shows the run's page and takes its POST, and the approved
//! run's first step rolls worker in moto's ECS. Only service steps: moto cannot run an
//! awsvpc task (`tests/group_tasks.rs`).

use super::*;
use slipway::model::group::{run_id, RunState};

/// Group `shop` rolls worker, then web, both from `app`; web's policy is `approval`.
fn shop_config() -> String {
    let approval = serde_json::json!({
        "expires_after_hours": 4, "slack_channel": "C0DEPLOYS", "slack_approvers": [SLACK_APPROVER],
    });
    let web = target_json_with(
        "web",
        "web",
        r#"{"glob": "v*"}"#,
        "approval",
        serde_json::json!({ "approval": approval }),
    );
    let worker = target_json_with(
        "worker",
        "worker",
        r#"{"glob": "v*"}"#,
        "auto",
        serde_json::json!({}),
    );
    let mut config: serde_json::Value = serde_json::from_str(&config(&[web, worker])).unwrap();
    config["groups"] = serde_json::json!([
        {"name": "shop", "steps": [{"service": "worker"}, {"service": "web"}]}
    ]);
    config.to_string()
}

#[tokio::test]
async fn a_group_asks_once_by_sns_and_slack_and_starts_on_the_pages_post() {
    let world = World::new().await;
    let v1 = world.push_image(Some("v1")).await;
    world.create_service("web", &image_uri(&v1)).await;
    world.create_service("worker", &image_uri(&v1)).await;
    let v2 = world.push_image(Some("v2")).await;
    let approvers = world.approvers().await;
    let (deployer, calls) = world.approval_deployer(&shop_config(), &approvers);
    let deployer = Arc::new(deployer);
    for attempt in ["e-g1", "e-g1", "e-g2"] {
        // The push, delivered again, and once more as another event: one request.
        let report = deployer
            .handle_ecr_event(&push_event(attempt, Some("v2"), &v2), &invocation(attempt))
            .await
            .unwrap();
        let report = serde_json::to_string(&report).unwrap();
        assert!(report.contains("awaiting-approval"), "{report}");
    }
    let release = std::collections::BTreeMap::from([
        ("web".to_string(), image_uri(&v2)),
        ("worker".to_string(), image_uri(&v2)),
    ]);
    let id = run_id("shop", &release);
    let published = world.published(&approvers).await;
    assert_eq!(published.len(), 1, "asked once: {published:?}");
    assert!(
        published[0].contains("before it runs release group shop"),
        "{}",
        published[0]
    );
    let link = link_in(&published[0]);
    assert!(
        link.contains(&format!("/group-approvals/{id}?t=")),
        "{link}"
    );
    assert_eq!(approvers.slack.calls_to("api/chat.postMessage").len(), 1);
    assert_eq!(
        calls.updates.load(Ordering::SeqCst),
        0,
        "nothing rolls before approval"
    );

    let app = TestFunction::new(ApprovalApp {
        deployer: deployer.clone(),
        slack_signing_secret: Some(SLACK_SIGNING_SECRET.as_bytes().to_vec()),
        later: None,
    });
    let path = link.strip_prefix("http://approvals.test").unwrap();
    let page = send(
        app.router(),
        request("GET", path).body(Default::default()).unwrap(),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Release group shop?")
            && page.body.contains("worker — roll prod/worker")
    );
    assert_eq!(
        calls.updates.load(Ordering::SeqCst),
        0,
        "the GET changed nothing"
    );

    let token = link.split("?t=").nth(1).unwrap();
    let nonce = hidden_field(&page.body, "nonce");
    let body = serde_urlencoded::to_string([
        ("t", token),
        ("nonce", nonce.as_str()),
        ("decision", "approve"),
        ("name", "ada"),
    ])
    .unwrap();
    let post_path = format!("/lambda-url/approval/group-approvals/{id}");
    let answer = send(app.router(), form_post(&post_path, body.clone(), &[])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("Approved by ada"), "{}", answer.body);
    let run = deployer.group_run_by_id(&id).await.unwrap().value;
    assert_eq!(run.state, RunState::Running);
    // Worker, the first step, rolled onto the pushed digest in the emulator's ECS.
    let (running, _) = world.running("worker").await;
    let app_image = running.container_definitions()[0]
        .image()
        .unwrap()
        .to_string();
    assert_eq!(app_image, image_uri(&v2));
    assert_eq!(calls.updates.load(Ordering::SeqCst), 1);
    let edits = approvers.slack.calls_to("api/chat.update");
    assert!(
        edits
            .iter()
            .any(|e| e.to_string().contains("approved by ada")),
        "{edits:?}"
    );

    // The same form again: refused, nothing more rolls.
    let again = send(app.router(), form_post(&post_path, body, &[])).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(calls.updates.load(Ordering::SeqCst), 1);
}
