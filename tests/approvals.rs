//! Approvals end to end against the local AWS emulator: the request goes out by SNS (read
//! back from an SQS queue subscribed to the topic) and Slack (a local stand-in), and the
//! approval function's handler takes the approver's GET and POST, or Slack's click.

mod common;
#[path = "approvals/group.rs"]
mod group;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{Duration, Utc};
use common::web::{form_post, request, send, Answer, TestFunction};
use common::*;
use slipway::approval::{binding, SigningKeys};
use slipway::deployer::{DecisionOutcome, TargetOutcome};
use slipway::ledger::image_key;
use slipway::model::deployment::{Actor, Channel, State, Verdict};
use slipway::web::later::{HandOver, RollJob, RollLater, RollRequest};
use slipway::web::ApprovalApp;

const SLACK_APPROVER: &str = "U024BE7LH";

fn approval_target(name: &str, service: &str) -> String {
    let approval = serde_json::json!({
        "expires_after_hours": 4, "slack_channel": "C0DEPLOYS", "slack_approvers": [SLACK_APPROVER],
    });
    target_json_with(
        name,
        service,
        r#"{"glob": "v*"}"#,
        "approval",
        serde_json::json!({ "approval": approval }),
    )
}

/// Stands in for Lambda's asynchronous Invoke: keeps the jobs handed over, or refuses them.
#[derive(Default)]
struct CapturedJobs {
    jobs: std::sync::Mutex<Vec<RollJob>>,
    refuse: bool,
}

impl RollLater for CapturedJobs {
    fn hand_over<'a>(&'a self, job: &'a RollJob) -> HandOver<'a> {
        Box::pin(async move {
            if self.refuse {
                return Err("TooManyRequestsException (stand-in)".to_string());
            }
            self.jobs.lock().unwrap().push(job.clone());
            Ok(())
        })
    }
}

struct Scene {
    world: World,
    approvers: Approvers,
    deployer: Arc<TestDeployer>,
    calls: Arc<EcsCalls>,
    digest: String,
    id: String,
}

impl Scene {
    /// `web` runs v1; v2 was pushed and awaits approval.
    async fn awaiting() -> Scene {
        let (world, digest) = World::with_web_and_a_new_push().await;
        let approvers = world.approvers().await;
        let (deployer, calls) =
            world.approval_deployer(&config(&[approval_target("web", "web")]), &approvers);
        let report = deployer
            .handle_ecr_event(&push_event("e-a", Some("v2"), &digest), &invocation("r-a"))
            .await
            .unwrap();
        let report = serde_json::to_string(&report).unwrap();
        assert!(report.contains("awaiting-approval"), "{report}");
        let id = format!("web.{}", image_key(&digest));
        Scene {
            world,
            approvers,
            deployer: Arc::new(deployer),
            calls,
            digest,
            id,
        }
    }

    fn app(&self) -> TestFunction {
        self.app_with(None)
    }

    /// The approval function handing Slack approvals' rolls to `later`, as on AWS.
    fn app_with(&self, later: Option<Arc<dyn RollLater>>) -> TestFunction {
        TestFunction::new(ApprovalApp {
            deployer: self.deployer.clone(),
            slack_signing_secret: Some(SLACK_SIGNING_SECRET.as_bytes().to_vec()),
            later,
        })
    }

    /// The link the approvers were sent, read from the SNS message.
    async fn emailed_link(&self) -> String {
        let published = self.world.published(&self.approvers).await;
        let body = published
            .iter()
            .find(|m| m.contains(&self.id))
            .unwrap_or_else(|| panic!("no message for {}: {published:?}", self.id));
        link_in(body)
    }

    async fn get(&self, link: &str) -> Answer {
        let path = link.strip_prefix("http://approvals.test").unwrap();
        let get = request("GET", path).body(Default::default()).unwrap();
        send(self.app().router(), get).await
    }

    async fn post(&self, id: &str, fields: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let path = format!("/lambda-url/approval/approvals/{id}");
        send(self.app().router(), form_post(&path, body, &[])).await
    }

    /// POSTs Approve with `token` and a nonce as a page rendered now would carry.
    async fn approve_with(&self, id: &str, token: &str, name: &str) -> Answer {
        let nonce = test_keys().form_nonce(id, token, Utc::now());
        self.post(
            id,
            &[
                ("t", token),
                ("nonce", &nonce),
                ("decision", "approve"),
                ("name", name),
            ],
        )
        .await
    }

    /// Opens the emailed link as a browser would: the token, and the page's form nonce.
    async fn opened_form(&self) -> (String, String) {
        let link = self.emailed_link().await;
        let page = self.get(&link).await;
        let token = link.split("?t=").nth(1).unwrap().to_string();
        (token, hidden_field(&page.body, "nonce"))
    }

    /// POSTs a decision with the page's token and nonce.
    async fn post_decision(
        &self,
        token: &str,
        nonce: &str,
        decision: &str,
        name: String,
    ) -> Answer {
        let fields = [
            ("t", token),
            ("nonce", nonce),
            ("decision", decision),
            ("name", name.as_str()),
            ("reason", "racing"),
        ];
        self.post(&self.id, &fields).await
    }

    /// Opens the link, then presses a button on the page as a browser would.
    async fn press(&self, link: &str, decision: &str, name: &str) -> Answer {
        let page = self.get(link).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let token = link.split("?t=").nth(1).unwrap();
        let nonce = hidden_field(&page.body, "nonce");
        self.post(
            &self.id,
            &[
                ("t", token),
                ("nonce", &nonce),
                ("decision", decision),
                ("name", name),
            ],
        )
        .await
    }

    async fn slack_click(&self, action: &str, user: &str, timestamp: i64, secret: &str) -> Answer {
        self.slack_click_on(&self.app(), action, user, timestamp, secret)
            .await
    }

    async fn slack_click_on(
        &self,
        app: &TestFunction,
        action: &str,
        user: &str,
        timestamp: i64,
        secret: &str,
    ) -> Answer {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": {"id": user, "username": "alice"},
            "team": {"id": "T0001"},
            "actions": [{"action_id": action, "value": self.id}],
            "response_url": self.approvers.slack.response_url("click"),
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let signature = slack_signature(secret, timestamp, body.as_bytes());
        let headers = [
            ("x-slack-request-timestamp", timestamp.to_string()),
            ("x-slack-signature", signature),
        ];
        send(
            app.router(),
            form_post("/slack/interactions", body, &headers),
        )
        .await
    }

    async fn state(&self, id: &str) -> State {
        self.deployer.deployment(id).await.unwrap().value.state
    }

    async fn audit(&self, id: &str) -> Vec<serde_json::Value> {
        let key = id.split_once('.').unwrap().1;
        let mut entries = Vec::new();
        for path in self.world.ledger_keys().await {
            if path.starts_with(&format!("targets/web/audit/{key}/")) {
                let object = self
                    .world
                    .clients
                    .s3
                    .get_object()
                    .bucket(LEDGER_BUCKET)
                    .key(&path)
                    .send()
                    .await
                    .unwrap();
                let bytes = object.body.collect().await.unwrap().into_bytes();
                entries.push(serde_json::from_slice(&bytes).unwrap());
            }
        }
        entries
    }
}

fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|word| word.starts_with("http://approvals.test/"))
        .unwrap_or_else(|| panic!("no link in {text}"))
        .to_string()
}

fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

fn person(id: &str, channel: Channel) -> Actor {
    Actor {
        id: id.into(),
        channel,
        source: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_goes_out_by_email_and_slack_and_approving_on_the_page_rolls_exactly_the_plan()
{
    let scene = Scene::awaiting().await;
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 0);

    let published = scene.world.published(&scene.approvers).await;
    assert_eq!(published.len(), 1, "{published:?}");
    let email = &published[0];
    for expected in [
        "Slipway asks for your approval",
        "app:v2",
        "Expires:",
        "Opening the link changes nothing",
    ] {
        assert!(
            email.contains(expected),
            "{expected} missing from:\n{email}"
        );
    }
    let link = link_in(email);
    assert!(
        link.starts_with(&format!(
            "http://approvals.test/lambda-url/approval/approvals/{}?t=v1.k2.",
            scene.id
        )),
        "{link}"
    );
    let posted = scene.approvers.slack.calls_to("api/chat.postMessage");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["channel"], "C0DEPLOYS");
    assert_eq!(posted[0]["unfurl_links"], false);
    assert_eq!(
        posted[0]["blocks"][2]["elements"][0]["value"],
        scene.id.as_str()
    );

    let page = scene.get(&link).await;
    assert_eq!(page.status, 200);
    for expected in [
        "Deploy to web?",
        &image_uri(&scene.digest),
        "prod/web",
        "ECR push of app:v2",
    ] {
        assert!(
            page.body.contains(expected),
            "{expected} missing from the page"
        );
    }
    let header = |name: &str| page.header(name).unwrap().to_string();
    assert_eq!(header("Cache-Control"), "no-store");
    assert_eq!(header("Referrer-Policy"), "no-referrer");
    assert!(header("Content-Security-Policy").starts_with("default-src 'none'"));

    let response = scene.press(&link, "approve", "Alice Example").await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response.body.contains("Approved by Alice Example"),
        "{}",
        response.body
    );
    let (running, _) = scene.world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&scene.digest).as_str())
    );
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 1);
    let record = scene.deployer.deployment(&scene.id).await.unwrap().value;
    assert_eq!(record.state, State::Rolling);
    let decision = record.approval.unwrap().decision.unwrap();
    assert_eq!(
        (decision.actor.as_str(), decision.channel),
        ("Alice Example (approval link)", Channel::Web)
    );
    let audit = scene.audit(&scene.id).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["source"], "127.0.0.1 (test)");
    assert_eq!(audit[0]["image"], image_uri(&scene.digest).as_str());
    let edits = scene.approvers.slack.calls_to("api/chat.update");
    assert_eq!(
        edits.len(),
        1,
        "the Slack request says it was approved on the page"
    );
    assert!(edits[0]["text"]
        .as_str()
        .unwrap()
        .contains("Approved by Alice Example"));
}

#[tokio::test(flavor = "multi_thread")]
async fn any_number_of_gets_changes_nothing() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    let before = scene.world.ledger_keys().await;
    let record_before = scene.deployer.deployment(&scene.id).await.unwrap();
    for _ in 0..5 {
        assert_eq!(scene.get(&link).await.status, 200);
    }
    // A scanner that rewrites the link, or follows it with HEAD.
    let query = link.split_once('?').unwrap().1;
    let path = format!("/approvals/{}?{query}", scene.id);
    let head = send(
        scene.app().router(),
        request("HEAD", &path).body(Default::default()).unwrap(),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(scene.world.ledger_keys().await, before);
    let record_after = scene.deployer.deployment(&scene.id).await.unwrap();
    assert_eq!(record_after.etag, record_before.etag);
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejecting_records_who_and_why_and_rolls_nothing() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    let page = scene.get(&link).await;
    let token = link.split("?t=").nth(1).unwrap();
    let nonce = hidden_field(&page.body, "nonce");
    let response = scene
        .post(
            &scene.id,
            &[
                ("t", token),
                ("nonce", &nonce),
                ("decision", "reject"),
                ("name", "Bob"),
                ("reason", "freeze week"),
            ],
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.contains("Rejected by Bob"));
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);
    assert_eq!(scene.world.revisions("web").await, 1);
    let decision = scene
        .deployer
        .deployment(&scene.id)
        .await
        .unwrap()
        .value
        .approval
        .unwrap()
        .decision
        .unwrap();
    assert_eq!(
        (decision.actor.as_str(), decision.reason.as_deref()),
        ("Bob (approval link)", Some("freeze week"))
    );
    // The link now says who decided.
    let again = scene.get(&link).await;
    assert!(
        again.body.contains("rejected by Bob (approval link)"),
        "{}",
        again.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_double_post_or_two_approvers_at_once_give_one_decision() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    let page = scene.get(&link).await;
    let token = link.split("?t=").nth(1).unwrap();
    let nonce = hidden_field(&page.body, "nonce");
    let form = |name: &'static str| -> Vec<(&'static str, &str)> {
        vec![
            ("t", token),
            ("nonce", nonce.as_str()),
            ("decision", "approve"),
            ("name", name),
        ]
    };
    let (alice, bob) = (form("alice"), form("bob"));
    let (a, b) = tokio::join!(scene.post(&scene.id, &alice), scene.post(&scene.id, &bob));
    let statuses = [a.status, b.status];
    assert!(
        statuses.contains(&200) && statuses.contains(&409),
        "{statuses:?}: {} / {}",
        a.body,
        b.body
    );
    let refused = if a.status == 409 { &a } else { &b };
    assert!(
        refused.body.contains("Already approved by")
            || refused.body.contains("decided at the same moment"),
        "{}",
        refused.body
    );
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 1);
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 1);

    // A replayed POST later says who decided and changes nothing.
    let carol = form("carol");
    let replay = scene.post(&scene.id, &carol).await;
    assert_eq!(replay.status, 409);
    assert!(
        replay.body.contains("Already approved by"),
        "{}",
        replay.body
    );
    assert_eq!(scene.world.revisions("web").await, 2);
    assert_eq!(
        scene.audit(&scene.id).await.len(),
        3,
        "every attempt is audited"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_links_are_refused_and_audited() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    let token = link.split("?t=").nth(1).unwrap().to_string();
    let record = scene.deployer.deployment(&scene.id).await.unwrap().value;
    let now = Utc::now();

    // A tampered token: one character of the MAC changed.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // Another deployment's token.
    let mut other = record.clone();
    other.id = "web.img-0000".into();
    let other_token = test_keys().sign(binding(&other), now + Duration::hours(1));
    // Expired, and signed by a key Slipway does not hold.
    let expired = test_keys().sign(binding(&record), now - Duration::minutes(1));
    let unknown = SigningKeys {
        current: test_key("k9"),
        previous: None,
    }
    .sign(binding(&record), now + Duration::hours(1));

    for (token, status, says) in [
        (tampered.as_str(), 403, "not valid for this deployment"),
        (other_token.as_str(), 403, "not valid for this deployment"),
        (expired.as_str(), 410, "expired"),
        (unknown.as_str(), 403, "no longer accepted"),
        ("v1.k2", 403, "malformed"),
    ] {
        let page = scene
            .get(&format!(
                "http://approvals.test/approvals/{}?t={token}",
                scene.id
            ))
            .await;
        assert_eq!(page.status, status, "GET {token}: {}", page.body);
        assert!(page.body.contains(says), "GET {token}: {}", page.body);
        let post = scene.approve_with(&scene.id, token, "mallory").await;
        assert_eq!(post.status, status, "POST {token}: {}", post.body);
    }
    // A valid token with a forged or missing nonce (a POST not from Slipway's page).
    let forged = scene
        .post(
            &scene.id,
            &[
                ("t", &token),
                ("nonce", "1.AAAA"),
                ("decision", "approve"),
                ("name", "mallory"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let unknown_id = scene
        .get(&format!(
            "http://approvals.test/approvals/web.img-ffff?t={token}"
        ))
        .await;
    assert_eq!(unknown_id.status, 404);

    assert_eq!(scene.state(&scene.id).await, State::AwaitingApproval);
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);
    let audit = scene.audit(&scene.id).await;
    assert_eq!(audit.len(), 6, "each refused POST is audited: {audit:#?}");
    assert!(audit
        .iter()
        .all(|e| e["outcome"].as_str().unwrap().starts_with("refused")));
    // The real link still works afterwards.
    assert_eq!(scene.press(&link, "approve", "alice").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_push_supersedes_the_waiting_request_and_edits_its_slack_message() {
    let scene = Scene::awaiting().await;
    let old_link = scene.emailed_link().await;
    let v3 = scene.world.push_image(Some("v3")).await;
    scene
        .deployer
        .handle_ecr_event(&push_event("e-b", Some("v3"), &v3), &invocation("r-b"))
        .await
        .unwrap();
    let newer = format!("web.{}", image_key(&v3));

    assert_eq!(scene.state(&scene.id).await, State::Superseded);
    assert_eq!(scene.state(&newer).await, State::AwaitingApproval);
    let page = scene.get(&old_link).await;
    assert_eq!(page.status, 410);
    assert!(
        page.body.contains(&format!("Superseded by {newer}")),
        "{}",
        page.body
    );
    let token = old_link.split("?t=").nth(1).unwrap();
    let post = scene.approve_with(&scene.id, token, "alice").await;
    assert_eq!(post.status, 409, "{}", post.body);
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);

    let edits = scene.approvers.slack.calls_to("api/chat.update");
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0]["ts"], "1700000000.000001",
        "the first request's message"
    );
    assert!(edits[0]["text"]
        .as_str()
        .unwrap()
        .contains(&format!("Superseded by {newer}")));
    assert!(
        edits[0]["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"),
        "buttons removed"
    );
    let audit = scene.audit(&scene.id).await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "supersede" && e["actor"] == "slipway"),
        "{audit:#?}"
    );
    // The newer request went out too, and its link works.
    let published = scene.world.published(&scene.approvers).await;
    assert!(published.iter().any(|m| m.contains(&newer)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_request_cannot_act_and_its_slack_message_says_so() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    // Four hours later (the target's expiry): the record's clock has run out.
    let current = scene.deployer.deployment(&scene.id).await.unwrap();
    let mut aged = current.value.clone();
    let request = aged.approval.as_mut().unwrap();
    request.expires_at = Utc::now() - Duration::seconds(1);
    scene.deployer.ledger().save(&current, aged).await.unwrap();

    let page = scene.get(&link).await;
    assert_eq!(page.status, 410, "{}", page.body);
    let token = link.split("?t=").nth(1).unwrap();
    let post = scene.approve_with(&scene.id, token, "alice").await;
    assert_eq!(post.status, 409, "{}", post.body);
    assert!(post.body.contains("expired"), "{}", post.body);
    assert_eq!(scene.state(&scene.id).await, State::Expired);
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);
    let edits = scene.approvers.slack.calls_to("api/chat.update");
    assert!(
        edits
            .iter()
            .any(|e| e["text"].as_str().unwrap().contains("expired")),
        "{edits:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_clicks_are_verified_checked_against_the_approver_list_and_answered_through_response_url(
) {
    let scene = Scene::awaiting().await;
    let now = Utc::now().timestamp();
    use slipway::notify::{APPROVE_ACTION, REJECT_ACTION};

    let stale = scene
        .slack_click(
            APPROVE_ACTION,
            SLACK_APPROVER,
            now - 301,
            SLACK_SIGNING_SECRET,
        )
        .await;
    assert_eq!(stale.status, 401, "{}", stale.body);
    let forged = scene
        .slack_click(APPROVE_ACTION, SLACK_APPROVER, now, "another-secret")
        .await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let stranger = scene
        .slack_click(REJECT_ACTION, "U0STRANGER", now, SLACK_SIGNING_SECRET)
        .await;
    assert_eq!(stranger.status, 200);
    assert_eq!(scene.state(&scene.id).await, State::AwaitingApproval);
    let replies = scene.approvers.slack.calls_to("response/click");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["replace_original"], false);
    assert!(replies[0]["text"]
        .as_str()
        .unwrap()
        .contains("not on the approver list"));
    let audit = scene.audit(&scene.id).await;
    assert!(
        audit
            .iter()
            .any(|e| e["actor"] == "U0STRANGER (alice)" && e["channel"] == "slack"),
        "{audit:#?}"
    );

    let approved = scene
        .slack_click(APPROVE_ACTION, SLACK_APPROVER, now, SLACK_SIGNING_SECRET)
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(scene.state(&scene.id).await, State::Rolling);
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 1);
    let replies = scene.approvers.slack.calls_to("response/click");
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[1]["replace_original"], true);
    assert!(
        replies[1]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Approved by <@{SLACK_APPROVER}>")),
        "{:?}",
        replies[1]
    );

    // A second click says who decided; nothing more rolls.
    scene
        .slack_click(REJECT_ACTION, SLACK_APPROVER, now, SLACK_SIGNING_SECRET)
        .await;
    let replies = scene.approvers.slack.calls_to("response/click");
    assert!(
        replies[2]["text"]
            .as_str()
            .unwrap()
            .contains("Already approved"),
        "{:?}",
        replies[2]
    );
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 1);
}

/// Slack allows 3 s for the answer: with a hand-over configured (on AWS, the function's
/// asynchronous Invoke of itself), the click is answered once the decision is recorded,
/// before anything is registered, and the job rolls it, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_slack_approval_is_answered_before_anything_rolls_and_its_job_rolls_it_once() {
    let scene = Scene::awaiting().await;
    let later = Arc::new(CapturedJobs::default());
    let app = scene.app_with(Some(later.clone()));
    let now = Utc::now().timestamp();
    let job_for = |id: &str| RollJob {
        slipway_roll: RollRequest {
            deployment_id: id.to_string(),
            response_url: scene.approvers.slack.response_url("click"),
            approved_by: "<@U0FORGER>".into(),
            actor: Actor {
                id: "U0FORGER".into(),
                channel: Channel::Slack,
                source: None,
            },
        },
    };
    // A job is no authority: one for a deployment nobody approved changes nothing.
    let forged = serde_json::to_value(job_for(&scene.id)).unwrap();
    app.invoke(forged).await.unwrap();
    assert_eq!(scene.state(&scene.id).await, State::AwaitingApproval);
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);

    let answer = scene
        .slack_click_on(
            &app,
            slipway::notify::APPROVE_ACTION,
            SLACK_APPROVER,
            now,
            SLACK_SIGNING_SECRET,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        scene.state(&scene.id).await,
        State::Approved,
        "recorded before the answer"
    );
    assert_eq!(
        scene.calls.registers.load(Ordering::SeqCst),
        0,
        "nothing registered before the answer"
    );
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 0);
    assert!(scene.approvers.slack.calls_to("response/click").is_empty());
    let jobs = later.jobs.lock().unwrap().clone();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].slipway_roll.deployment_id, scene.id);

    // The job arrives as the function's own invocation payload, and Lambda may deliver it twice.
    let payload = serde_json::to_value(&jobs[0]).unwrap();
    for _ in 0..2 {
        app.invoke(payload.clone()).await.unwrap();
    }
    assert_eq!(scene.state(&scene.id).await, State::Rolling);
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 1);
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 1);
    let replies = scene.approvers.slack.calls_to("response/click");
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Approved by <@{SLACK_APPROVER}>")),
        "{:?}",
        replies[0]
    );
    let audit = scene.audit(&scene.id).await;
    assert!(
        audit.iter().any(|e| e["outcome"]
            .as_str()
            .is_some_and(|n| n.contains("recorded before the answer"))),
        "{audit:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slack_approval_whose_job_is_not_accepted_rolls_in_the_request() {
    let scene = Scene::awaiting().await;
    let later = CapturedJobs {
        refuse: true,
        ..CapturedJobs::default()
    };
    let app = scene.app_with(Some(Arc::new(later)));
    let answer = scene
        .slack_click_on(
            &app,
            slipway::notify::APPROVE_ACTION,
            SLACK_APPROVER,
            Utc::now().timestamp(),
            SLACK_SIGNING_SECRET,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(scene.state(&scene.id).await, State::Rolling);
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base64_encoded_function_url_body_verifies() {
    let scene = Scene::awaiting().await;
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": SLACK_APPROVER},
        "actions": [{"action_id": slipway::notify::REJECT_ACTION, "value": scene.id}],
        "response_url": scene.approvers.slack.response_url("b64"),
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let timestamp = Utc::now().timestamp();
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/slack/interactions", "rawQueryString": "",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": timestamp.to_string(),
            "x-slack-signature": slack_signature(SLACK_SIGNING_SECRET, timestamp, body.as_bytes()),
        },
        "requestContext": {"accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
            "domainPrefix": "x", "http": {"method": "POST", "path": "/slack/interactions", "protocol": "HTTP/1.1",
            "sourceIp": "3.90.1.2", "userAgent": "Slackbot"}, "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "23/Nov/2026:12:00:00 +0000", "timeEpoch": 1763900000000u64},
        "body": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body.as_bytes()),
        "isBase64Encoded": true,
    });
    // Through the function's own invocation path, as Lambda delivers the event.
    let response = scene.app().invoke(event).await.unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(scene.state(&scene.id).await, State::Rejected);
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_after_the_service_changed_is_refused_and_a_fresh_plan_is_put_up_for_approval() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    // Someone deploys by hand meanwhile.
    let other = scene.world.push_image(Some("hotfix")).await;
    let arn = scene
        .world
        .create_service("web-hotfix-td", &image_uri(&other))
        .await;
    scene
        .world
        .clients
        .ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .task_definition(&arn)
        .send()
        .await
        .unwrap();

    let response = scene.press(&link, "approve", "alice").await;
    assert_eq!(response.status, 409, "{}", response.body);
    assert!(
        response
            .body
            .contains("service changed since this was planned"),
        "{}",
        response.body
    );
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 0);
    assert_eq!(scene.state(&scene.id).await, State::Superseded);

    let fresh = scene
        .deployer
        .deployment(&format!("{}-r1", scene.id))
        .await
        .unwrap()
        .value;
    assert_eq!(fresh.state, State::AwaitingApproval);
    assert_eq!(fresh.from_task_definition, arn);
    assert_eq!(fresh.image, image_uri(&scene.digest));
    let published = scene.world.published(&scene.approvers).await;
    let fresh_link = link_in(
        published
            .iter()
            .find(|m| m.contains(&fresh.id))
            .expect("a fresh request was sent"),
    );
    let page = scene.get(&fresh_link).await;
    assert!(
        page.body.contains(&image_uri(&other)),
        "the fresh plan shows what runs now"
    );
    let approve_fresh = {
        let token = fresh_link.split("?t=").nth(1).unwrap();
        let nonce = hidden_field(&page.body, "nonce");
        scene
            .post(
                &fresh.id,
                &[
                    ("t", token),
                    ("nonce", &nonce),
                    ("decision", "approve"),
                    ("name", "alice"),
                ],
            )
            .await
    };
    assert_eq!(approve_fresh.status, 200, "{}", approve_fresh.body);
    let (running, _) = scene.world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&scene.digest).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn decisions_through_the_library_are_taken_once() {
    let scene = Scene::awaiting().await;
    let (alice, bob) = (person("alice", Channel::Web), person("bob", Channel::Slack));
    let (a, b) = tokio::join!(
        scene
            .deployer
            .decide(&scene.id, Verdict::Approve, &alice, None),
        scene
            .deployer
            .decide(&scene.id, Verdict::Reject, &bob, None),
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let taken = outcomes
        .iter()
        .filter(|o| !matches!(o, DecisionOutcome::Refused { .. }))
        .count();
    assert_eq!(taken, 1, "{outcomes:?}");
    if let Some(DecisionOutcome::Rolled { rollout }) = outcomes
        .iter()
        .find(|o| matches!(o, DecisionOutcome::Rolled { .. }))
    {
        assert!(matches!(rollout, TargetOutcome::Rolling { .. }));
        assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 1);
    } else {
        assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_whose_rollout_failed_is_completed_by_approving_again() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    scene.calls.failing_updates.store(1, Ordering::SeqCst);

    let first = scene.press(&link, "approve", "alice").await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(scene.state(&scene.id).await, State::Approved);

    let again = scene.press(&link, "approve", "alice").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(scene.state(&scene.id).await, State::Rolling);
    assert_eq!(
        scene.calls.registers.load(Ordering::SeqCst),
        1,
        "the revision registered by the first attempt is reused"
    );
    let (running, _) = scene.world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&scene.digest).as_str())
    );
}

/// A failure keeps its kind up to the page: throttling says "try again" (503), a missing
/// permission says that trying again will not help (500) — and neither claims success.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_approval_answers_with_the_status_and_advice_its_kind_calls_for() {
    let scene = Scene::awaiting().await;
    let link = scene.emailed_link().await;
    scene.calls.denied_updates.store(1, Ordering::SeqCst);
    let denied = scene.press(&link, "approve", "alice").await;
    assert_eq!(denied.status, 500, "{}", denied.body);
    assert!(
        denied.body.contains("Trying again will not help"),
        "{}",
        denied.body
    );
    assert!(
        denied.body.contains("AccessDeniedException"),
        "{}",
        denied.body
    );

    scene.calls.failing_updates.store(1, Ordering::SeqCst);
    let throttled = scene.press(&link, "approve", "alice").await;
    assert_eq!(throttled.status, 503, "{}", throttled.body);
    assert!(
        throttled.body.contains("try again in a minute"),
        "{}",
        throttled.body
    );
    assert_eq!(
        scene.state(&scene.id).await,
        State::Approved,
        "not rolled yet"
    );

    let done = scene.press(&link, "approve", "alice").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(scene.state(&scene.id).await, State::Rolling);
}

/// Reliability scenario 6 (RELIABILITY.md): the approval attacks under concurrency.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_6_fifty_simultaneous_posts_give_one_decision_and_approve_racing_reject_has_one_winner(
) {
    // 50 approvers POST the same signed link at once.
    let scene = Scene::awaiting().await;
    let (token, nonce) = scene.opened_form().await;
    let post = |n: usize| scene.post_decision(&token, &nonce, "approve", format!("approver-{n}"));
    // With them, in the same burst: 10 POSTs with a tampered token and 10 GETs of the link.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let link = format!("http://approvals.test/approvals/{}?t={token}", scene.id);
    let (answers, forged, gets) = tokio::join!(
        futures::future::join_all((0..50).map(post)),
        futures::future::join_all((0..10).map(|n| {
            scene.post_decision(&tampered, &nonce, "approve", format!("mallory-{n}"))
        })),
        futures::future::join_all((0..10).map(|_| scene.get(&link))),
    );
    let forged_refused = forged.iter().filter(|a| a.status == 403).count();
    let gets_shown = gets.iter().filter(|a| a.status == 200).count();
    let taken = answers.iter().filter(|a| a.status == 200).count();
    let refused_saying_who = answers
        .iter()
        .filter(|a| {
            a.status == 409
                && (a.body.contains("Already approved by")
                    || a.body.contains("decided at the same moment"))
        })
        .count();
    let mut simultaneous = json_figures(&scene, &answers, taken, refused_saying_who).await;
    let audited = scene.audit(&scene.id).await.len();
    simultaneous["tampered_token_posts"] = 10.into();
    simultaneous["tampered_refused_403"] = forged_refused.into();
    simultaneous["gets_in_the_burst"] = 10.into();
    simultaneous["gets_shown_the_page"] = gets_shown.into();
    simultaneous["audit_entries"] = audited.into();

    assert_eq!(taken, 1, "{simultaneous}");
    assert_eq!(refused_saying_who, 49, "{simultaneous}");
    assert_eq!(scene.calls.registers.load(Ordering::SeqCst), 1);
    assert_eq!(scene.calls.updates.load(Ordering::SeqCst), 1);
    assert_eq!(forged_refused, 10, "{simultaneous}");
    assert_eq!(gets_shown, 10, "{simultaneous}");
    assert_eq!(
        audited, 60,
        "every POST audited, forged ones too: {simultaneous}"
    );

    // Approve and reject race: 10 of each at once, on a fresh request.
    let scene = Scene::awaiting().await;
    let (token, nonce) = scene.opened_form().await;
    let racers = (0..20).map(|n| {
        let decision = if n % 2 == 0 { "approve" } else { "reject" };
        let (scene, token, nonce) = (&scene, &token, &nonce);
        async move {
            let answer = scene
                .post_decision(token, nonce, decision, format!("{decision}-{n}"))
                .await;
            (decision, answer)
        }
    });
    let answers = futures::future::join_all(racers).await;
    let winners: Vec<&str> = answers
        .iter()
        .filter(|(_, a)| a.status == 200)
        .map(|(d, _)| *d)
        .collect();
    let final_state = scene.state(&scene.id).await;
    let past = match final_state {
        State::Rejected => "rejected",
        _ => "approved",
    };
    let losers_told = answers
        .iter()
        .filter(|(_, a)| {
            a.status == 409
                && (a.body.contains(&format!("Already {past} by"))
                    || a.body.contains("decided at the same moment"))
        })
        .count();
    let registers = scene.calls.registers.load(Ordering::SeqCst);
    record_figures(
        "scenario-6-approvals",
        &serde_json::json!({
            "simultaneous_posts": simultaneous,
            "race": {
                "approve_posts": 10, "reject_posts": 10, "decisions_taken": winners.len(),
                "winner": winners.first(), "final_state": final_state.to_string(),
                "losers_told_the_outcome": losers_told, "register_task_definition": registers,
                "update_service": scene.calls.updates.load(Ordering::SeqCst),
            },
        }),
    );
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(losers_told, 19);
    match winners[0] {
        "approve" => {
            assert!(matches!(final_state, State::Rolling | State::Approved));
            assert_eq!(registers, 1);
        }
        _ => {
            assert_eq!(final_state, State::Rejected);
            assert_eq!(registers, 0);
        }
    }
}

async fn json_figures(
    scene: &Scene,
    answers: &[Answer],
    taken: usize,
    refused_saying_who: usize,
) -> serde_json::Value {
    let mut statuses = std::collections::BTreeMap::new();
    for answer in answers {
        *statuses.entry(answer.status.to_string()).or_insert(0usize) += 1;
    }
    serde_json::json!({
        "posts": answers.len(), "statuses": statuses, "decisions_taken": taken,
        "refused_naming_the_decision": refused_saying_who,
        "register_task_definition": scene.calls.registers.load(Ordering::SeqCst),
        "update_service": scene.calls.updates.load(Ordering::SeqCst),
        "final_state": scene.state(&scene.id).await.to_string(),
    })
}
