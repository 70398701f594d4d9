//! A release group's one approval over the in-memory adapters: asked once when the run
//! holds the line, nothing started before a decision, decided once, expired in time.

use serde_json::json;

use super::group_tests::{release_with, world_from, World};
use super::*;
use crate::approval::{ApprovalLinks, SigningKey, SigningKeys};
use crate::memory::RecordingNotifier;
use crate::model::deployment::{Actor, Channel, Verdict};
use crate::model::group::{run_id, RunState};

fn links() -> ApprovalLinks {
    let keys = SigningKeys {
        current: SigningKey::new("k1", vec![7u8; 32]).unwrap(),
        previous: None,
    };
    ApprovalLinks::new("https://approve.example/", keys)
}

/// Group shop (migrate, worker, web) where web's policy is `approval`: 4 hours, Slack.
fn world() -> World<RecordingNotifier> {
    let target = |name: &str, extra: serde_json::Value| {
        let mut t = json!({"name": name, "cluster": "prod", "service": name,
                           "containers": ["app"], "repository": name,
                           "tags": {"glob": "v*"}, "policy": "auto"});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        t
    };
    let web = target(
        "web",
        json!({"policy": "approval",
               "approval": {"expires_after_hours": 4, "slack_channel": "C0DEPLOYS",
                            "slack_approvers": ["U024BE7LH"]}}),
    );
    world_from(json!({
        "targets": [web, target("worker", json!({}))],
        "groups": [{"name": "shop", "steps": [
            {"task": {"name": "migrate", "target": "web", "container": "app",
                      "command": ["./manage", "migrate"], "timeout": "15m"}},
            {"service": "worker"},
            {"service": "web"}
        ]}]
    }))
    .approving(links())
}

fn ada() -> Actor {
    Actor {
        id: "ada (approval link)".into(),
        channel: Channel::Web,
        source: None,
    }
}

fn id_of(web: char) -> String {
    run_id("shop", &release_with(web, 'b'))
}

impl World<RecordingNotifier> {
    async fn decide(&self, web: char, verdict: Verdict) -> GroupDecision {
        self.deployer
            .decide_group_run(&id_of(web), verdict, &ada(), Some("checked".into()))
            .await
            .unwrap()
    }

    fn emails(&self) -> Vec<(String, String)> {
        self.deployer.notifier().published()
    }
}

#[tokio::test]
async fn a_run_asks_once_and_starts_nothing_until_a_person_approves() {
    let world = world();
    let asked = world.start_release(&release_with('a', 'b')).await;
    assert_eq!(asked.state, RunState::AwaitingApproval);
    assert_eq!(asked.actions, ["asked the approvers"]);
    // The event again (a duplicate delivery): nobody is asked twice.
    world.start_release(&release_with('a', 'b')).await;
    let emails = world.emails();
    assert_eq!(emails.len(), 1, "{emails:?}");
    let (subject, body) = &emails[0];
    assert_eq!(subject, "Approve release of group shop?");
    let id = id_of('a');
    assert!(
        body.contains(&format!(
            "https://approve.example/group-approvals/{id}?t=v1.k1."
        )),
        "{body}"
    );
    assert!(body.contains("1. migrate — one-off task on web's new revision"));
    assert!(body.contains("2. worker — roll prod/worker"));
    let slack = world.deployer.notifier().slack();
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].0, "C0DEPLOYS");
    assert!(world.tasks.started().is_empty(), "no step before approval");
    assert_eq!(world.deployer.ecs.updates(), 0);
    assert_eq!(world.deployer.ecs.registers(), 0);
    let run = world.run_of(&release_with('a', 'b')).await;
    let request = run.approval.unwrap();
    assert_eq!(
        request.expires_at - request.requested_at,
        chrono::Duration::hours(4)
    );
    assert!(request.notified_at.is_some() && request.slack.is_some());

    let GroupDecision::Decided { verdict, run } = world.decide('a', Verdict::Approve).await else {
        panic!("not decided");
    };
    assert_eq!(verdict, Verdict::Approve);
    assert_eq!(run.state, RunState::Running);
    assert_eq!(
        run.actions,
        ["RegisterTaskDefinition web", "RunTask migrate"]
    );
    assert_eq!(world.tasks.started().len(), 1);
    let slack = world.deployer.notifier().slack();
    assert!(
        slack[1].0.starts_with("update ") && slack[1].1.contains("approved by ada"),
        "the request's Slack message says it was decided: {slack:?}"
    );
    let decision = world
        .run_of(&release_with('a', 'b'))
        .await
        .approval
        .unwrap()
        .decision
        .unwrap();
    assert_eq!(decision.actor, "ada (approval link)");
    assert_eq!(decision.reason.as_deref(), Some("checked"));

    // A second click (or a second approver) changes nothing and starts nothing.
    let GroupDecision::Refused { reason } = world.decide('a', Verdict::Approve).await else {
        panic!("decided twice");
    };
    assert!(reason.contains("already approved by ada"), "{reason}");
    assert_eq!(world.tasks.started().len(), 1);
}

#[tokio::test]
async fn a_rejected_run_starts_nothing_and_hands_the_line_over() {
    let world = world();
    world.start_release(&release_with('a', 'b')).await;
    let GroupDecision::Decided { run, .. } = world.decide('a', Verdict::Reject).await else {
        panic!("not decided");
    };
    assert_eq!(run.state, RunState::Rejected);
    assert_eq!(
        run.why.as_deref(),
        Some("rejected by ada (approval link): checked")
    );
    assert!(world.tasks.started().is_empty());
    assert_eq!(world.deployer.ecs.registers(), 0);
    let line = world.deployer.ledger.group_line("shop").await.unwrap();
    assert_eq!(line.unwrap().value.holder, None, "the line is free");
    // The next release takes the line and asks for itself.
    let next = world.start_release(&release_with('c', 'b')).await;
    assert_eq!(next.state, RunState::AwaitingApproval);
    assert_eq!(world.emails().len(), 2);
}

#[tokio::test]
async fn nobody_decides_in_time_and_the_run_expires_then_refuses_a_late_click() {
    let world = world();
    world.start_release(&release_with('a', 'b')).await;
    let id = id_of('a');
    let asked_at = *world.now.lock().unwrap();
    *world.now.lock().unwrap() =
        asked_at + chrono::Duration::hours(4) - chrono::Duration::seconds(1);
    let waiting = world
        .deployer
        .drive_group_run("shop", &id, &super::pipeline_tests::invocation())
        .await
        .unwrap();
    assert_eq!(
        waiting.state,
        RunState::AwaitingApproval,
        "not a second early"
    );
    *world.now.lock().unwrap() = asked_at + chrono::Duration::hours(4);
    // The reconciler's pass finds it.
    let (reports, problems) = world
        .deployer
        .reconcile_groups(&super::pipeline_tests::invocation())
        .await;
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(reports[0].state, RunState::Expired);
    assert!(reports[0]
        .why
        .as_deref()
        .unwrap()
        .starts_with("expired: nobody decided before"));
    let GroupDecision::Refused { reason } = world.decide('a', Verdict::Approve).await else {
        panic!("a late approval was taken");
    };
    assert!(reason.contains("expired"), "{reason}");
    assert!(world.tasks.started().is_empty());
}

#[tokio::test]
async fn a_newer_release_supersedes_a_run_awaiting_approval_and_says_so_in_slack() {
    let world = world();
    world.start_release(&release_with('a', 'b')).await;
    let newer = world.start_release(&release_with('c', 'b')).await;
    assert_eq!(newer.state, RunState::AwaitingApproval);
    assert_eq!(
        world.run_of(&release_with('a', 'b')).await.state,
        RunState::Superseded
    );
    let slack = world.deployer.notifier().slack();
    assert!(
        slack
            .iter()
            .any(|(to, text)| to.starts_with("update ") && text.contains("superseded")),
        "{slack:?}"
    );
    let GroupDecision::Refused { reason } = world.decide('a', Verdict::Approve).await else {
        panic!("the superseded run was approved");
    };
    assert!(reason.contains("superseded"), "{reason}");
}

#[tokio::test]
async fn a_link_approves_only_the_run_and_release_it_was_signed_for() {
    let world = world();
    world.start_release(&release_with('a', 'b')).await;
    let run = world.run_of(&release_with('a', 'b')).await;
    let expires = run.approval.as_ref().unwrap().expires_at;
    let link = links().run_link(&run, expires);
    let token = link.split("?t=").nth(1).unwrap();
    let now = *world.now.lock().unwrap();
    assert!(links().verify_run(token, &run, now).await.is_ok());
    let mut other = run.clone();
    other
        .release
        .insert("worker".into(), "elsewhere@sha256:ff".into());
    assert!(
        links().verify_run(token, &other, now).await.is_err(),
        "another image"
    );
    let mut renamed = run.clone();
    renamed.id = id_of('c');
    assert!(
        links().verify_run(token, &renamed, now).await.is_err(),
        "another run"
    );
}

#[tokio::test]
async fn without_a_signing_key_the_run_is_refused_and_starts_nothing() {
    let world = world();
    let deployer = world
        .deployer
        .with_approvals(None, RecordingNotifier::default());
    let err = deployer
        .start_group_run(
            "shop",
            release_with('a', 'b'),
            &super::pipeline_tests::invocation(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no signing key"), "{err}");
    assert!(!err.is_transient());
    assert!(world.tasks.started().is_empty());
}
