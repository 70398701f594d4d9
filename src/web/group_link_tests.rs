//! The approval page of a release group run, over the router and the in-memory adapters:
//! GET shows the whole release and writes nothing; only the page's POST, with its nonce
//! and a name, decides — once.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use chrono::TimeZone;
use serde_json::json;
use tower::ServiceExt;

use super::ApprovalApp;
use crate::approval::{ApprovalLinks, SigningKey, SigningKeys};
use crate::deployer::Deployer;
use crate::input::config::{Config, Home};
use crate::memory::{
    MemoryEcs, MemoryRegistry, MemorySources, MemoryStore, RecordingNotifier, ACCOUNT, REGION,
};
use crate::model::group::{run_id, RunState};

type Adapters = (
    MemoryEcs,
    MemoryRegistry,
    MemoryStore,
    MemorySources,
    RecordingNotifier,
);

const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// Group `shop` rolls worker, then web; web asks for approval.
fn deployer() -> Deployer<Adapters> {
    deployer_with(json!({}))
}

/// [`deployer`] with `extra` in web's target.
fn deployer_with(extra: serde_json::Value) -> Deployer<Adapters> {
    let target = |name: &str, policy: &str| {
        let mut t = json!({"name": name, "cluster": "prod", "service": name,
                           "containers": ["app"], "repository": name,
                           "tags": {"glob": "v*"}, "policy": policy});
        if policy == "approval" {
            t["approval"] = json!({"expires_after_hours": 2,
                                   "iam_approvers": ["arn:aws:sts::123456789012:assumed-role/release-*/*"]});
        }
        t
    };
    let mut web = target("web", "approval");
    for (key, value) in extra.as_object().unwrap() {
        web[key] = value.clone();
    }
    let config = json!({
        "targets": [web, target("worker", "auto")],
        "groups": [{"name": "shop", "steps": [{"service": "worker"}, {"service": "web"}]}]
    });
    let home = Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let config = Config::from_json(&config.to_string(), &home).unwrap();
    let ecs = MemoryEcs::default()
        .with_service(
            "prod",
            "web",
            "web",
            &[("app", &format!("{REGISTRY}/web:v1"))],
        )
        .with_service(
            "prod",
            "worker",
            "worker",
            &[("app", &format!("{REGISTRY}/worker:v1"))],
        );
    let keys = SigningKeys {
        current: SigningKey::new("k1", vec![9u8; 32]).unwrap(),
        previous: None,
    };
    Deployer::new(
        config,
        ecs,
        MemoryRegistry::default(),
        MemoryStore::default(),
        MemorySources::default(),
        false,
    )
    .with_approvals(
        Some(ApprovalLinks::new("https://approve.example", keys)),
        RecordingNotifier::default(),
    )
}

fn release() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "web".into(),
            format!("{REGISTRY}/web@sha256:{}", "a".repeat(64)),
        ),
        (
            "worker".into(),
            format!("{REGISTRY}/worker@sha256:{}", "b".repeat(64)),
        ),
    ])
}

async fn send(app: &Arc<ApprovalApp<Adapters>>, request: Request<Body>) -> (u16, String) {
    let response = app.clone().router().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(path: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// The app, and the path of the run's link (from the email the run sent).
async fn asked() -> (Arc<ApprovalApp<Adapters>>, String) {
    asked_of(deployer()).await
}

async fn asked_of(deployer: Deployer<Adapters>) -> (Arc<ApprovalApp<Adapters>>, String) {
    let invocation = crate::Invocation {
        request_id: "r-1".into(),
        deadline: chrono::Utc::now() + chrono::Duration::minutes(1),
    };
    let report = deployer
        .start_group_run("shop", release(), &invocation)
        .await
        .unwrap();
    assert_eq!(report.state, RunState::AwaitingApproval);
    let (_, body) = deployer.notifier().published().remove(0);
    let link = body
        .lines()
        .find(|l| l.starts_with("https://approve.example/"))
        .unwrap()
        .trim_start_matches("https://approve.example")
        .to_string();
    let app = Arc::new(ApprovalApp {
        deployer: Arc::new(deployer),
        slack_signing_secret: None,
        later: None,
    });
    (app, link)
}

fn hidden<'a>(page: &'a str, name: &str) -> &'a str {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page.find(&marker).unwrap() + marker.len();
    &page[start..start + page[start..].find('"').unwrap()]
}

#[tokio::test]
async fn the_page_shows_the_whole_release_and_writes_nothing() {
    let (app, link) = asked().await;
    let before = app
        .deployer
        .ledger()
        .group_run("shop", &run_id("shop", &release()))
        .await
        .unwrap()
        .unwrap();
    let (status, page) = send(&app, Request::get(&link).body(Body::empty()).unwrap()).await;
    assert_eq!(status, 200, "{page}");
    for expected in [
        "Release group shop?",
        "worker — roll prod/worker",
        "web — roll prod/web",
        &"a".repeat(64),
        "the group stops; what already rolled stays",
    ] {
        assert!(page.contains(expected), "{expected} missing from the page");
    }
    let after = app
        .deployer
        .ledger()
        .group_run("shop", &run_id("shop", &release()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.etag, after.etag, "a GET writes nothing");
    assert_eq!(app.deployer.config().groups.len(), 1);
}

#[tokio::test]
async fn only_the_pages_post_with_a_name_approves_and_only_once() {
    let (app, link) = asked().await;
    let (path, query) = link.split_once('?').unwrap();
    let token = query.trim_start_matches("t=").to_string();
    let (_, page) = send(&app, Request::get(&link).body(Body::empty()).unwrap()).await;
    let nonce = hidden(&page, "nonce").to_string();

    let forged = format!("t={token}&nonce=1.forged&decision=approve&name=mallory");
    assert_eq!(send(&app, post(path, forged)).await.0, 403);
    let nameless = format!("t={token}&nonce={nonce}&decision=approve&name=");
    assert_eq!(send(&app, post(path, nameless)).await.0, 400);
    let other_run = path.replace("shop-", "shop-0");
    let wrong = format!("t={token}&nonce={nonce}&decision=approve&name=ada");
    assert_eq!(send(&app, post(&other_run, wrong)).await.0, 404);
    let run = app
        .deployer
        .group_run_by_id(&run_id("shop", &release()))
        .await
        .unwrap();
    assert_eq!(
        run.value.state,
        RunState::AwaitingApproval,
        "nothing decided yet"
    );

    let approve = format!("t={token}&nonce={nonce}&decision=approve&name=ada");
    let (status, answer) = send(&app, post(path, approve.clone())).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("Approved by ada"), "{answer}");
    let run = app
        .deployer
        .group_run_by_id(&run_id("shop", &release()))
        .await
        .unwrap();
    assert_eq!(run.value.state, RunState::Running);
    assert_eq!(
        run.value.approval.unwrap().decision.unwrap().actor,
        "ada (approval link)"
    );
    // The same form again, and the link afterwards: nothing more happens.
    let (status, again) = send(&app, post(path, approve)).await;
    assert_eq!(status, 409, "{again}");
    let (status, shown) = send(&app, Request::get(&link).body(Body::empty()).unwrap()).await;
    assert_eq!(status, 200);
    assert!(shown.contains("Already approved"), "{shown}");
}

#[tokio::test]
async fn a_deployments_route_does_not_take_a_runs_link() {
    let (app, link) = asked().await;
    let as_deployment = link.replace("/group-approvals/", "/approvals/");
    let (status, _) = send(
        &app,
        Request::get(&as_deployment).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}

async fn run_audit(
    app: &Arc<ApprovalApp<Adapters>>,
    id: &str,
) -> Vec<crate::model::deployment::AuditEntry> {
    use crate::ports::{ObjectList, ObjectStore};
    let store = app.deployer.ledger().store();
    let mut entries = vec![];
    for path in store
        .list(&crate::ledger::group_audit_prefix("shop", id))
        .await
        .unwrap()
    {
        let object = store.get(&path).await.unwrap().unwrap();
        entries.push(serde_json::from_slice(&object.body).unwrap());
    }
    entries
}

fn operator(action: &str, arn: &str, id: &str) -> Request<Body> {
    Request::post(format!("/operator/{action}"))
        .header("content-type", "application/json")
        .extension(super::operator::VerifiedCaller {
            arn: arn.into(),
            account: ACCOUNT.into(),
        })
        .body(Body::from(
            json!({"deployment": id, "reason": "checked", "request_id": "cli-1"}).to_string(),
        ))
        .unwrap()
}

#[tokio::test]
async fn slipway_approve_decides_a_run_as_an_iam_approver_of_its_approval_targets() {
    let (app, _) = asked().await;
    let id = run_id("shop", &release());
    let stranger = "arn:aws:sts::123456789012:assumed-role/developers/bob";
    let (status, body) = send(&app, operator("approve", stranger, &id)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("not among the IAM approvers of web"),
        "{body}"
    );
    let run = app.deployer.group_run_by_id(&id).await.unwrap().value;
    assert_eq!(run.state, RunState::AwaitingApproval);

    let approver = "arn:aws:sts::123456789012:assumed-role/release-managers/ada";
    let (status, body) = send(&app, operator("approve", approver, &id)).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["run_id"], json!(id));
    assert_eq!(answer["answer"]["run"]["state"], json!("running"));
    let run = app.deployer.group_run_by_id(&id).await.unwrap().value;
    let decision = run.approval.unwrap().decision.unwrap();
    assert_eq!(decision.actor, approver);
    assert_eq!(decision.channel, crate::model::deployment::Channel::Iam);

    let (status, body) = send(&app, operator("reject", approver, &id)).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already approved"), "{body}");

    // The stranger's attempt, the approval and the late rejection: one entry each.
    use crate::model::deployment::Action;
    let mut trail = run_audit(&app, &id).await;
    trail.sort_by_key(|e| e.at);
    let seen: Vec<(Action, &str, bool)> = trail
        .iter()
        .map(|e| (e.action, e.actor.as_str(), e.outcome.starts_with("taken")))
        .collect();
    assert_eq!(
        seen,
        [
            (Action::Approve, stranger, false),
            (Action::Approve, approver, true),
            (Action::Reject, approver, false)
        ]
    );
}

#[tokio::test]
async fn slipway_override_window_lets_an_approved_run_through_as_an_approver_of_its_group() {
    // Friday 17:00 UTC, inside web's weekend freeze: the run is approved, then held.
    let friday = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 17, 0, 0).unwrap();
    let deployer =
        deployer_with(json!({"windows": {"time_zone": "UTC", "deny": ["FR 16:00 -> MO 08:00"]}}))
            .with_clock(Arc::new(move || friday));
    let (app, _) = asked_of(deployer).await;
    let id = run_id("shop", &release());
    let approver = "arn:aws:sts::123456789012:assumed-role/release-managers/ada";
    let (status, body) = send(&app, operator("approve", approver, &id)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("window is closed"), "held: {body}");

    let stranger = "arn:aws:sts::123456789012:assumed-role/developers/bob";
    let (status, body) = send(&app, operator("override-window", stranger, &id)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("not among the IAM approvers of web"),
        "{body}"
    );
    let trail = run_audit(&app, &id).await;
    assert!(
        trail.iter().any(|e| e.actor == stranger
            && e.action == crate::model::deployment::Action::OverrideWindow
            && e.outcome.starts_with("refused: ")),
        "the refused attempt is audited: {trail:?}"
    );
    let (status, body) = send(&app, operator("bypass-soak", approver, &id)).await;
    assert_eq!(status, 409, "no soak holds it: {body}");
    assert!(body.contains("only a run waiting for upstream"), "{body}");

    let (status, body) = send(&app, operator("override-window", approver, &id)).await;

    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["run_id"], json!(id));
    assert_eq!(answer["answer"]["result"], json!("released"));
    let run = app.deployer.group_run_by_id(&id).await.unwrap().value;
    let taken = run.gates.window_override.unwrap();
    assert_eq!(
        (taken.by.as_str(), taken.reason.as_str()),
        (approver, "checked")
    );
    assert_eq!(run.gates.window_open_at, Some(friday));
    assert!(
        run.steps[0].state != crate::model::group::StepState::Pending,
        "worker rolls inside the freeze: {:?}",
        run.steps[0]
    );
}
