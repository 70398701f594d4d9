//! The approval function's HTTP surface, over plain request/response types so that it is
//! tested without Lambda (the function's `main.rs` only converts to and from lambda_http).
//!
//! - `GET /approvals/<id>?t=<token>` — the confirm page. Never writes anything: mail
//!   scanners and chat unfurlers fetch links before people do.
//! - `POST /approvals/<id>` — the page's form: token, CSRF nonce, decision, name, reason.
//!   The only way a link decides.
//! - `POST /slack/interactions` — Slack's button clicks, signed by Slack.
//!
//! Paths are matched on their last segments, so the same code serves the function URL
//! (`/approvals/…`) and `cargo lambda watch` (`/lambda-url/approval/approvals/…`).

use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tracing::{info, warn};

mod interactions;

use super::later::RollLater;
use super::page::{security_headers, ConfirmPage, MessagePage};
use super::{binding, ApprovalLinks, TokenError};
use crate::deployer::{DecisionError, DecisionOutcome, Deployer};
use crate::ledger::{Action, Actor, Channel, Deployment, State, Verdict, Versioned};
use crate::notify;
use crate::ports::{Ecs, Notifier, ObjectStore, Registry, SourceBucket};

/// An HTTP request as the function URL delivers it (body already base64-decoded).
#[derive(Debug, Clone, Default)]
pub struct WebRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The caller's IP and user agent, for the audit trail.
    pub source: Option<String>,
}

impl WebRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The approval function: pages for the signed links, and Slack's interactions.
pub struct ApprovalApp<'a, E, R, S, B, N> {
    pub deployer: &'a Deployer<E, R, S, B, N>,
    /// Slack's signing secret; without it `/slack/interactions` answers 404.
    pub slack_signing_secret: Option<&'a [u8]>,
    /// Where a Slack approval's roll is handed over, to answer Slack within its 3 s; without
    /// it Slack approvals roll before the answer (tests, `cargo lambda watch`).
    pub later: Option<&'a dyn RollLater>,
}

#[derive(Deserialize)]
struct LinkQuery {
    t: Option<String>,
}

#[derive(Deserialize)]
struct DecisionForm {
    t: String,
    nonce: String,
    decision: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    reason: String,
}

/// Longest name or reason kept in the ledger.
const MAX_FIELD_CHARS: usize = 500;

impl<E: Ecs, R: Registry, S: ObjectStore, B: SourceBucket, N: Notifier>
    ApprovalApp<'_, E, R, S, B, N>
{
    pub async fn handle(&self, request: &WebRequest) -> WebResponse {
        let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
        let method = request.method.to_ascii_uppercase();
        match (method.as_str(), segments.as_slice()) {
            ("POST", [.., "slack", "interactions"]) => self.slack(request).await,
            ("GET" | "HEAD", [.., "approvals", id]) => self.show(request, id).await,
            ("POST", [.., "approvals", id]) => self.decide(request, id).await,
            (_, [.., "approvals", _]) => page(405, "Method not allowed", "Open the link, then use the page's buttons."),
            _ => page(404, "Not found", "This is Slipway's approval page: open the link from the approval email or Slack message."),
        }
    }

    fn links(&self) -> Option<&ApprovalLinks> {
        self.deployer.links()
    }

    /// GET: the confirm page, or why there is nothing to confirm. Writes nothing.
    async fn show(&self, request: &WebRequest, id: &str) -> WebResponse {
        let query: LinkQuery =
            serde_urlencoded::from_str(&request.query).unwrap_or(LinkQuery { t: None });
        let Some(token) = query.t.filter(|t| !t.is_empty()) else {
            return page(400, "Incomplete link", &TokenError::Malformed.to_string());
        };
        let record = match self.lookup(id).await {
            Ok(record) => record,
            Err(response) => return response,
        };
        let now = Utc::now();
        if let Err(refused) = self.check_token(&token, &record.value, now).await {
            return refused;
        }
        if let Some(closed) = closed_page(&record.value, now) {
            return closed;
        }
        let links = self.links().expect("checked by check_token");
        let form_nonce = links.keys().form_nonce(id, &token, now);
        let style_nonce = random_nonce();
        let deployment = &record.value;
        let request_info = deployment
            .approval
            .as_ref()
            .expect("awaiting has a request");
        let html = ConfirmPage {
            deployment_id: &deployment.id,
            target: &deployment.target,
            cluster: &deployment.cluster,
            service: &deployment.service,
            trigger: &notify::trigger_line(deployment),
            requested_at: format_time(request_info.requested_at),
            expires_at: format_time(request_info.expires_at),
            from_task_definition: &deployment.from_task_definition,
            images: &deployment.changes,
            diff: &deployment.diff,
            action: &deployment.id,
            token: &token,
            form_nonce: &form_nonce,
            style_nonce: &style_nonce,
            notice: unfinished_notice(deployment),
        }
        .render();
        match html {
            Ok(html) => html_response(200, html, &style_nonce),
            Err(err) => page(
                500,
                "Something went wrong",
                &format!("rendering the page failed: {err}"),
            ),
        }
    }

    /// POST: the page's form. Token, nonce and name are checked; then the decision is
    /// taken once through the same path as Slack's buttons.
    async fn decide(&self, request: &WebRequest, id: &str) -> WebResponse {
        let content_type = request.header("content-type").unwrap_or_default();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return page(
                415,
                "Unsupported form",
                "Use the buttons on the approval page.",
            );
        }
        if request.header("sec-fetch-site") == Some("cross-site") {
            return page(
                403,
                "Refused",
                "This form was sent from another site. Open the approval link and use its buttons.",
            );
        }
        let Ok(form) = serde_urlencoded::from_bytes::<DecisionForm>(&request.body) else {
            return page(
                400,
                "Incomplete form",
                "Use the buttons on the approval page.",
            );
        };
        let verdict = match form.decision.as_str() {
            "approve" => Verdict::Approve,
            "reject" => Verdict::Reject,
            _ => return page(400, "Incomplete form", "Use the Approve or Reject button."),
        };
        let record = match self.lookup(id).await {
            Ok(record) => record,
            Err(response) => return response,
        };
        let now = Utc::now();
        let name = clean(&form.name);
        let mut actor = Actor {
            id: if name.is_empty() {
                "unknown (approval link)".into()
            } else {
                name.clone()
            },
            channel: Channel::Web,
            source: request.source.clone(),
        };
        if let Err(refused) = self.check_token(&form.t, &record.value, now).await {
            self.audit_refusal(&record.value, verdict.into(), &actor, "bad approval link")
                .await;
            return refused;
        }
        let links = self.links().expect("checked by check_token");
        if let Err(err) = links
            .keys()
            .verify_form_nonce(&form.nonce, id, &form.t, now)
        {
            self.audit_refusal(&record.value, verdict.into(), &actor, &err.to_string())
                .await;
            return page(403, "Refused", &err.to_string());
        }
        if name.is_empty() {
            return page(
                400,
                "Who is deciding?",
                "Type your name on the page, so the record says who decided.",
            );
        }
        actor.id = format!("{name} (approval link)");
        let reason = Some(clean(&form.reason)).filter(|r| !r.is_empty());
        match self.deployer.decide(id, verdict, &actor, reason).await {
            // `decide` rolls now: `Approved` (rolled later) does not come from it.
            Ok(DecisionOutcome::Rolled { .. } | DecisionOutcome::Approved) => page(
                200,
                "Approved",
                &format!(
                    "Approved by {name}. {}/{} is rolling onto {}. Slipway reports how it ends.",
                    record.value.cluster,
                    record.value.service,
                    notify::short_image(&record.value.image)
                ),
            ),
            Ok(DecisionOutcome::Rejected) => page(
                200,
                "Rejected",
                &format!("Rejected by {name}. Nothing was deployed."),
            ),
            Ok(DecisionOutcome::Refused { reason }) => {
                page(409, "Nothing was changed", &capitalise(&reason))
            }
            Err(err) => failure_page(&err),
        }
    }

    async fn lookup(&self, id: &str) -> Result<Versioned<Deployment>, WebResponse> {
        match self.deployer.deployment(id).await {
            Ok(record) => Ok(record),
            Err(DecisionError::UnknownDeployment(_)) => Err(page(
                404,
                "No such deployment",
                "Slipway has no deployment for this link. Copy the whole link from the message.",
            )),
            Err(err) => Err(failure_page(&err)),
        }
    }

    async fn check_token(
        &self,
        token: &str,
        deployment: &Deployment,
        now: DateTime<Utc>,
    ) -> Result<(), WebResponse> {
        let Some(links) = self.links() else {
            return Err(page(
                503,
                "Approvals are not configured",
                "This Slipway has no signing key.",
            ));
        };
        match links.verify(token, binding(deployment), now).await {
            Ok(_) => Ok(()),
            Err(TokenError::Expired(at)) => Err(page(
                410,
                "This request has expired",
                &format!("The approval link expired at {}. Nothing can be approved with it; push again or ask for a new request.", format_time(at)),
            )),
            Err(err) => {
                info!(deployment_id = deployment.id, decision = "refused", "approval link refused: {err}");
                Err(page(403, "This link is not valid", &capitalise(&err.to_string())))
            }
        }
    }

    async fn audit_refusal(
        &self,
        deployment: &Deployment,
        action: Action,
        actor: &Actor,
        why: &str,
    ) {
        let entry = deployment.attempt(action, actor, format!("refused: {why}"), Utc::now());
        if let Err(err) = self
            .deployer
            .ledger()
            .append_audit(&deployment.target, &deployment.key, &entry)
            .await
        {
            warn!(
                deployment_id = deployment.id,
                "could not audit a refused attempt: {err}"
            );
        }
    }
}

/// An approval whose rollout stopped short (a transient AWS error after the decision):
/// the page stays open so that approving again completes it.
fn unfinished_notice(deployment: &Deployment) -> Option<String> {
    let decision = deployment.approval.as_ref()?.decision.as_ref()?;
    (deployment.state == State::Approved).then(|| {
        format!(
            "Approved by {} at {}, but the rollout did not finish. Approve again to complete it.",
            decision.actor,
            format_time(decision.at)
        )
    })
}

/// The page for a request that can no longer be decided, if it cannot.
fn closed_page(deployment: &Deployment, now: DateTime<Utc>) -> Option<WebResponse> {
    let decision = deployment
        .approval
        .as_ref()
        .and_then(|a| a.decision.as_ref());
    if deployment.state == State::Approved && decision.is_some() {
        return None;
    }
    if let Some(decision) = decision {
        let word = match decision.verdict {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        };
        let why = decision
            .reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Some(page(
            200,
            &format!("Already {word}"),
            &format!(
                "{} was {word} by {} via {:?} at {}{why}. It is now {}. Nothing was changed.",
                deployment.id,
                decision.actor,
                decision.channel,
                format_time(decision.at),
                deployment.state
            ),
        ));
    }
    let last_note = deployment
        .history
        .last()
        .map(|h| h.note.clone())
        .unwrap_or_default();
    match deployment.state {
        State::AwaitingApproval if deployment.approval_expired(now) => Some(page(
            410,
            "This request has expired",
            "Nobody decided in time; nothing can be approved with this link.",
        )),
        State::AwaitingApproval => None,
        State::Superseded => Some(page(410, "Superseded", &capitalise(&last_note))),
        State::Expired => Some(page(
            410,
            "This request has expired",
            &capitalise(&last_note),
        )),
        State::Planned => Some(page(
            409,
            "Not ready yet",
            "Slipway is still preparing this request: try again in a minute.",
        )),
        other => Some(page(
            409,
            "Nothing to decide",
            &format!("This deployment is {other}."),
        )),
    }
}

fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Trims, drops control characters and caps the length of a typed field.
fn clean(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FIELD_CHARS)
        .collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn random_nonce() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn page(status: u16, title: &str, message: &str) -> WebResponse {
    let style_nonce = random_nonce();
    let html = MessagePage {
        title,
        message,
        style_nonce: &style_nonce,
    }
    .render()
    .unwrap_or_else(|_| title.to_string());
    html_response(status, html, &style_nonce)
}

fn failure_page(err: &DecisionError) -> WebResponse {
    warn!("approval request failed: {err}");
    page(
        503,
        "Please try again",
        &format!("Slipway could not complete this just now: {err}"),
    )
}

fn html_response(status: u16, body: String, style_nonce: &str) -> WebResponse {
    WebResponse {
        status,
        headers: security_headers(style_nonce)
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
        body,
    }
}

fn plain(status: u16, text: &str) -> WebResponse {
    WebResponse {
        status,
        headers: vec![
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
            ("Cache-Control".into(), "no-store".into()),
        ],
        body: text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_fields_are_trimmed_stripped_and_capped() {
        assert_eq!(clean("  al\u{7}ice \n"), "alice");
        assert_eq!(clean(&"x".repeat(900)).len(), MAX_FIELD_CHARS);
    }
}
