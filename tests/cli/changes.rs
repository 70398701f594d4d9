//! The commands that change something, through the operator endpoint as the signed
//! caller: the ledger records the signer's ARN whatever the body claims; an unsigned or
//! forged request gets 403 and writes nothing; a caller the rules refuse gets exit 4.

use std::collections::BTreeSet;

use serde_json::json;
use slipway::cli::endpoint::OperatorEndpoint;
use slipway::deployer::TargetOutcome;

use super::common::*;
use super::stack::{Stack, ALICE, ALICE_ARN, BOB, BOB_ARN, CAROL};

/// web ran v2, then v3 (both completed): a rollback returns to v2.
async fn two_good_releases(stack: &Stack) -> (String, String) {
    let (v2, ecs_v2) = stack.deploy("v2").await;
    stack.ecs_says("COMPLETED", &ecs_v2).await;
    let (v3, ecs_v3) = stack.deploy("v3").await;
    stack.ecs_says("COMPLETED", &ecs_v3).await;
    (v2, v3)
}

/// The operator endpoint called directly with `key`/`secret`, as the binary calls it.
async fn endpoint_as(stack: &Stack, key: &str, secret: &str) -> OperatorEndpoint {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            key, secret, None, None, "test",
        ))
        .load()
        .await;
    OperatorEndpoint::new(
        &format!("{}/operator", stack.gateway.endpoint),
        REGION,
        &shared,
    )
    .unwrap()
}

async fn every_key(stack: &Stack) -> BTreeSet<String> {
    stack.ledger_keys("").await.into_iter().collect()
}

#[tokio::test]
async fn a_rollback_prints_its_id_first_and_records_the_signers_arn() {
    let stack = Stack::new().await;
    let (v2, _) = two_good_releases(&stack).await;

    let ran = stack
        .slipway(&["rollback", "web", "--reason", "500s since v3"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let id = ran.stdout.lines().next().unwrap().to_string();
    assert!(id.starts_with("web.rb-"), "the id first: {}", ran.stdout);

    let shown = stack.slipway(&["show", &id, "--json"]).await;
    let record = &shown.json("show-rollback")["deployment"]["record"];
    assert_eq!(record["trigger"]["requested_by"], ALICE_ARN, "{record:#}");
    assert_eq!(record["trigger"]["to_deployment_id"], v2.as_str());
    assert_eq!(record["state"], "rolling");
}

#[tokio::test]
async fn a_rollback_to_a_named_release_needs_one_that_succeeded() {
    let stack = Stack::new().await;
    let (v2, _) = two_good_releases(&stack).await;
    let (v4, _) = stack.deploy("v4").await; // rolling, never completed
    let refused = stack
        .slipway(&["rollback", "web", "--to", &v4, "--reason", "x"])
        .await;
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not succeeded"),
        "{}",
        refused.stderr
    );
    let ran = stack
        .slipway(&[
            "rollback",
            "web",
            "--to",
            &v2,
            "--reason",
            "back to v2",
            "--json",
        ])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let answer = ran.json("rollback");
    let id = answer["deployment_id"].as_str().unwrap().to_string();
    let record = &stack
        .slipway(&["show", &id, "--json"])
        .await
        .json("show-rollback-to")["deployment"]["record"];
    assert_eq!(record["trigger"]["to_deployment_id"], v2.as_str());
}

#[tokio::test]
async fn a_body_claiming_someone_else_records_the_signer() {
    let stack = Stack::new().await;
    let alice = endpoint_as(&stack, ALICE.0, ALICE.1).await;
    let answer = alice
        .call(
            "freeze",
            &json!({"target": "web", "reason": "release week", "requested_by": "mallory"}),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let status = stack
        .slipway(&["status", "web", "--json"])
        .await
        .json("status-frozen");
    let frozen = &status["targets"][0]["frozen"];
    assert_eq!(frozen["by"], ALICE_ARN, "{frozen:#}");
    assert!(!status.to_string().contains("mallory"));
}

#[tokio::test]
async fn unsigned_or_forged_requests_get_403_and_write_nothing() {
    let stack = Stack::new().await;
    two_good_releases(&stack).await;
    let before = every_key(&stack).await;
    let url = format!("{}/operator/rollback", stack.gateway.endpoint);
    let body = json!({"target": "web", "reason": "x"});

    let unsigned = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    let forged = endpoint_as(&stack, ALICE.0, "not-alices-secret").await;
    assert_eq!(forged.call("rollback", &body).await.unwrap().status, 403);
    let unknown = endpoint_as(&stack, "AKIDNOBODY000000000", "x").await;
    assert_eq!(unknown.call("rollback", &body).await.unwrap().status, 403);

    assert_eq!(stack.gateway.counts().invoked, 0, "the function never ran");
    assert_eq!(every_key(&stack).await, before, "nothing was written");

    // And the function itself refuses a request that reached it without a verified caller.
    let function = super::common::web::TestFunction::new(slipway::web::ApprovalApp {
        deployer: stack.deployer.clone(),
        slack_signing_secret: None,
        later: None,
    });
    let request = super::common::web::request("POST", "/operator/rollback")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let answer = super::common::web::send(function.router(), request).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(every_key(&stack).await, before, "nothing was written");
}

#[tokio::test]
async fn approve_as_an_iam_approver_decides_once_and_records_the_arn() {
    let stack = Stack::new().await;
    let (digest, _) = stack.push("v2").await;
    let id = format!("prod-web.img-{}", digest.trim_start_matches("sha256:"));
    let ran = stack
        .slipway(&["approve", &id, "--reason", "checked on web"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let shown = stack
        .slipway(&["show", &id, "--json"])
        .await
        .json("show-approved");
    let decision = &shown["deployment"]["record"]["approval"]["decision"];
    assert_eq!(decision["actor"], ALICE_ARN, "{decision:#}");
    assert_eq!(decision["channel"], "iam");
    assert_eq!(shown["deployment"]["summary"]["state"], "rolling");
    // A second decision is refused by the rules: exit 4.
    let again = stack
        .slipway(&["reject", &id, "--reason", "too late"])
        .await;
    assert_eq!(again.code, 4, "{}", again.stderr);
    assert!(
        again.stderr.contains("already approved"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn exit_4_refused_by_policy() {
    let stack = Stack::new().await;
    let (digest, _) = stack.push("v2").await;
    let id = format!("prod-web.img-{}", digest.trim_start_matches("sha256:"));

    // Bob signs correctly, but prod-web's iam_approvers do not name him: refused and audited.
    let bob = stack.slipway_as(BOB, &["approve", &id]).await;
    assert_eq!(bob.code, 4, "{}", bob.stderr);
    assert!(
        bob.stderr.contains("not among the IAM approvers"),
        "{}",
        bob.stderr
    );
    let shown = stack
        .slipway(&["show", &id, "--json"])
        .await
        .json("show-refused");
    let audit = shown["deployment"]["audit"].as_array().unwrap();
    assert!(
        audit.iter().any(|a| a["actor"] == BOB_ARN && a["outcome"].as_str().unwrap().starts_with("refused")),
        "{audit:?}"
    );
    assert_eq!(shown["deployment"]["summary"]["state"], "awaiting-approval");

    // Carol's IAM policy allows only freeze: API Gateway refuses her rollback.
    let carol = stack
        .slipway_as(CAROL, &["rollback", "web", "--reason", "x"])
        .await;
    assert_eq!(carol.code, 4, "{}", carol.stderr);
    assert!(carol.stderr.contains("not authorized"), "{}", carol.stderr);

    // Nothing to roll back to: Slipway's rules refuse.
    let nothing = stack.slipway(&["rollback", "web", "--reason", "x"]).await;
    assert_eq!(nothing.code, 4, "{}", nothing.stderr);
    assert!(
        nothing.stderr.contains("no known good release"),
        "{}",
        nothing.stderr
    );
}

#[tokio::test]
async fn a_freeze_holds_newer_pushes_until_it_is_lifted() {
    let stack = Stack::new().await;
    let ran = stack
        .slipway(&["freeze", "web", "--reason", "year-end", "--until", "2h"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let status = stack
        .slipway(&["status", "web", "--json"])
        .await
        .json("status-operator-frozen");
    let frozen = &status["targets"][0]["frozen"];
    assert_eq!(frozen["by"], ALICE_ARN);
    let until = super::stack::time(&frozen["until"]);
    let in_two_hours = chrono::Utc::now() + chrono::Duration::hours(2);
    assert!(
        (until - in_two_hours).num_seconds().abs() < 60,
        "{frozen:#}"
    );

    let (_, outcomes) = stack.push("v9").await;
    let web = outcomes
        .iter()
        .find(|(t, _)| t == "web")
        .map(|(_, o)| o.clone());
    assert!(
        matches!(web, Some(TargetOutcome::Frozen { .. })),
        "a newer image does not thaw an operator's freeze: {web:?}"
    );

    // prod-web deploys only what a person approves: nothing to freeze, and it says so.
    let approval = stack
        .slipway(&["freeze", "prod-web", "--reason", "year-end"])
        .await;
    assert_eq!(approval.code, 4, "{}", approval.stderr);
    assert!(approval.stderr.contains("approves"), "{}", approval.stderr);

    let ran = stack
        .slipway(&["unfreeze", "web", "--reason", "freeze over"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let status = stack
        .slipway(&["status", "web", "--json"])
        .await
        .json("status-unfrozen");
    assert!(status["targets"][0]["frozen"].is_null());
}

#[tokio::test]
async fn exit_10_a_plan_with_changes_and_nothing_written() {
    let stack = Stack::new().await;
    stack.world.push_image(Some("v2")).await;
    let before = every_key(&stack).await;
    let revisions = stack.world.revisions("web").await;

    let ran = stack
        .slipway(&["plan", "--image", "app:v2", "--detailed-exitcode", "--json"])
        .await;
    assert_eq!(ran.code, 10, "{}", ran.stderr);
    let plan = ran.json("plan");
    assert_eq!(plan["changes"], true);
    let web = plan["report"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["result"], "dry-run", "{web:#}");
    assert!(web["diff"].to_string().contains("app"), "{web:#}");
    assert!(
        web["calls"].to_string().contains("UpdateService"),
        "{web:#}"
    );
    assert_eq!(every_key(&stack).await, before, "a plan writes nothing");
    assert_eq!(
        stack.world.revisions("web").await,
        revisions,
        "a plan registers nothing"
    );

    let table = stack.slipway(&["plan", "--image", "app:v2"]).await;
    assert_eq!(
        table.code, 0,
        "without --detailed-exitcode a plan exits 0: {}",
        table.stderr
    );
    assert!(
        table.stdout.contains("web") && table.stdout.contains("dry-run"),
        "{}",
        table.stdout
    );

    stack.world.push_image(Some("nightly")).await;
    let none = stack
        .slipway(&["plan", "--image", "app:nightly", "--detailed-exitcode"])
        .await;
    assert_eq!(
        none.code, 0,
        "no target wants it: no changes: {}",
        none.stdout
    );
}

/// A deny span from an hour ago to an hour from now, in UTC: the window is closed now.
fn closed_now() -> String {
    use chrono::Datelike;
    let day = |at: chrono::DateTime<chrono::Utc>| {
        ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][at.weekday().num_days_from_monday() as usize]
    };
    let (from, to) = (
        chrono::Utc::now() - chrono::Duration::hours(1),
        chrono::Utc::now() + chrono::Duration::hours(1),
    );
    format!(
        "{} {} -> {} {}",
        day(from),
        from.format("%H:%M"),
        day(to),
        to.format("%H:%M")
    )
}

#[tokio::test]
async fn override_window_lets_one_waiting_release_through_as_an_approver_with_a_reason() {
    let windows = serde_json::json!({"time_zone": "UTC", "deny": [closed_now()]});
    let config = super::common::configs::config(&[
        super::common::configs::target_json("web", "web", r#"{"glob": "v*"}"#, "auto"),
        super::common::configs::target_json_with(
            "prod-web",
            "web-prod",
            r#"{"glob": "v*"}"#,
            "approval",
            serde_json::json!({
                "approval": {"iam_approvers": ["arn:aws:sts::123456789012:assumed-role/release-managers/*"]},
                "windows": windows,
            }),
        ),
    ]);
    let stack = Stack::with_config(config).await;
    let (digest, _) = stack.push("v2").await;
    let id = format!("prod-web.img-{}", digest.trim_start_matches("sha256:"));
    let approved = stack.slipway(&["approve", &id, "--reason", "ok"]).await;
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let state = |shown: &serde_json::Value| shown["deployment"]["summary"]["state"].clone();
    let shown = stack
        .slipway(&["show", &id, "--json"])
        .await
        .json("show-waiting-for-window");
    assert_eq!(
        state(&shown),
        "waiting-for-window",
        "approved inside the deny span: it waits"
    );

    // Bob may call the action, but is not among prod-web's approvers: refused, audited.
    let bob = stack
        .slipway_as(BOB, &["override-window", &id, "--reason", "trust me"])
        .await;
    assert_eq!(bob.code, 4, "{}", bob.stderr);
    assert!(
        bob.stderr.contains("not among the IAM approvers"),
        "{}",
        bob.stderr
    );

    let ran = stack
        .slipway(&[
            "override-window",
            &id,
            "--reason",
            "hotfix for incident 4711",
        ])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let shown = stack
        .slipway(&["show", &id, "--json"])
        .await
        .json("show-window-overridden");
    assert_eq!(state(&shown), "rolling", "{shown:#}");
    let overridden = &shown["deployment"]["record"]["window"]["overridden"];
    assert_eq!(overridden["by"], ALICE_ARN, "{overridden:#}");
    assert_eq!(overridden["reason"], "hotfix for incident 4711");
    let audit = shown["deployment"]["audit"].as_array().unwrap();
    for (actor, outcome) in [(BOB_ARN, "refused"), (ALICE_ARN, "taken")] {
        assert!(
            audit.iter().any(|a| a["action"] == "override-window"
                && a["actor"] == actor
                && a["outcome"].as_str().unwrap().starts_with(outcome)),
            "{actor} {outcome}: {audit:#?}"
        );
    }
    // It is rolling now: a second override has nothing to let through.
    let again = stack
        .slipway(&["override-window", &id, "--reason", "again"])
        .await;
    assert_eq!(again.code, 4, "{}", again.stderr);
    assert!(again.stderr.contains("is rolling"), "{}", again.stderr);
}

#[tokio::test]
async fn bypass_soak_lets_a_hotfix_skip_the_soak_as_an_approver_and_still_asks_for_approval() {
    let config = super::common::configs::config(&[
        super::common::configs::target_json("web", "web", r#"{"glob": "v*"}"#, "auto"),
        super::common::configs::target_json_with(
            "prod-web",
            "web-prod",
            r#"{"glob": "v*"}"#,
            "approval",
            serde_json::json!({
                "approval": {"iam_approvers": ["arn:aws:sts::123456789012:assumed-role/release-managers/*"]},
                "promotion": {"from": ["web"], "soak": "2h"},
            }),
        ),
    ]);
    let stack = Stack::with_config(config).await;
    let (digest, outcomes) = stack.push("v2").await;
    let ecs_id = outcomes
        .iter()
        .find_map(|(target, outcome)| match outcome {
            TargetOutcome::Rolling {
                ecs_deployment_id, ..
            } if target == "web" => Some(ecs_deployment_id.clone()),
            _ => None,
        })
        .expect("web rolls v2");
    let id = format!("prod-web.img-{}", digest.trim_start_matches("sha256:"));
    let state = |shown: &serde_json::Value| shown["deployment"]["summary"]["state"].clone();

    // Bob may call the action, but is not among prod-web's approvers: refused, audited.
    let bob = stack
        .slipway_as(BOB, &["bypass-soak", &id, "--reason", "trust me"])
        .await;
    assert_eq!(bob.code, 4, "{}", bob.stderr);
    assert!(
        bob.stderr.contains("not among the IAM approvers"),
        "{}",
        bob.stderr
    );

    stack.ecs_says("COMPLETED", &ecs_id).await;
    let ran = stack
        .slipway(&["bypass-soak", &id, "--reason", "hotfix for incident 4711"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let shown = stack
        .slipway(&["show", &id, "--json"])
        .await
        .json("show-soak-bypassed");
    assert_eq!(state(&shown), "awaiting-approval", "{shown:#}");
    let bypass = &shown["deployment"]["record"]["promotion"]["soak_bypass"];
    assert_eq!(bypass["by"], ALICE_ARN, "{bypass:#}");
    assert_eq!(bypass["reason"], "hotfix for incident 4711");
    let audit = shown["deployment"]["audit"].as_array().unwrap();
    for (actor, outcome) in [(BOB_ARN, "refused"), (ALICE_ARN, "taken")] {
        assert!(
            audit.iter().any(|a| a["action"] == "bypass-soak"
                && a["actor"] == actor
                && a["outcome"].as_str().unwrap().starts_with(outcome)),
            "{actor} {outcome}: {audit:#?}"
        );
    }
    // It awaits its approval now: there is no soak left to bypass.
    let again = stack
        .slipway(&["bypass-soak", &id, "--reason", "again"])
        .await;
    assert_eq!(again.code, 4, "{}", again.stderr);
    assert!(
        again.stderr.contains("is awaiting-approval"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn freeze_all_stops_the_line_for_every_automatic_target_and_unfreeze_all_lifts_it() {
    let config = super::common::configs::config(&[
        super::common::configs::target_json("web", "web", r#"{"glob": "v*"}"#, "auto"),
        super::common::configs::target_json("canary-web", "web-prod", r#"{"glob": "v*"}"#, "auto"),
        super::common::configs::target_json(
            "prod-web",
            "web-prod",
            r#"{"glob": "release-*"}"#,
            "approval",
        ),
    ]);
    let stack = Stack::with_config(config).await;
    let ran = stack
        .slipway(&[
            "freeze",
            "--all",
            "--reason",
            "incident 4711: stop the line",
        ])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.lines().any(|l| l == "web:") && ran.stdout.lines().any(|l| l == "canary-web:"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains("prod-web: left alone"),
        "{}",
        ran.stderr
    );
    let (_, outcomes) = stack.push("v9").await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    for (target, outcome) in &outcomes {
        assert!(
            matches!(outcome, TargetOutcome::Frozen { .. }),
            "{target}: {outcome:?}"
        );
    }
    let ran = stack
        .slipway(&["unfreeze", "--all", "--reason", "incident over"])
        .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let status = stack
        .slipway(&["status", "--json"])
        .await
        .json("status-unfrozen-all");
    for target in status["targets"].as_array().unwrap() {
        assert!(target["frozen"].is_null(), "{target:#}");
    }
    let both = stack
        .slipway(&["freeze", "web", "--all", "--reason", "x"])
        .await;
    assert_eq!(both.code, 2, "a target and --all: usage: {}", both.stderr);
}
