//! The signed approval link: `GET` shows the confirm page and writes nothing; the page's
//! `POST` decides, once, through the same path as Slack's buttons.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tracing::info;

use super::{
    capitalise, failure_page, format_time, html_response, page, random_nonce, AppState,
    ApprovalApp, RequestSource,
};
use crate::approval::{binding, TokenError};
use crate::deployer::{DecisionError, DecisionOutcome};
use crate::ledger::Versioned;
use crate::model::deployment::{Actor, Channel, Deployment, State as Phase, Verdict};
use crate::notify;
use crate::ports::Adapters;
use crate::web::page::ConfirmPage;

#[derive(Deserialize)]
pub(super) struct LinkQuery {
    pub(super) t: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    pub(super) t: String,
    pub(super) nonce: String,
    pub(super) decision: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) reason: String,
}

/// Longest name or reason kept in the ledger.
const MAX_FIELD_CHARS: usize = 500;

/// GET: the confirm page, or why there is nothing to confirm. Writes nothing.
pub(super) async fn show<A: Adapters>(
    State(app): AppState<A>,
    Path(id): Path<String>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let token = query
        .ok()
        .and_then(|Query(q)| q.t)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return page(
            StatusCode::BAD_REQUEST,
            "Incomplete link",
            &TokenError::Malformed.to_string(),
        );
    };
    let record = match app.lookup(&id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let now = Utc::now();
    if let Err(refused) = app.check_token(&token, &record.value, now).await {
        return refused;
    }
    if let Some(closed) = closed_page(&record.value, now) {
        return closed;
    }
    confirm_page(&app, &record.value, &token, now)
}

fn confirm_page<A: Adapters>(
    app: &ApprovalApp<A>,
    deployment: &Deployment,
    token: &str,
    now: DateTime<Utc>,
) -> Response {
    let links = app.deployer.links().expect("checked by check_token");
    let form_nonce = links.keys().form_nonce(&deployment.id, token, now);
    let style_nonce = random_nonce();
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
        token,
        form_nonce: &form_nonce,
        style_nonce: &style_nonce,
        notice: unfinished_notice(deployment),
        live: notify::paused_line(deployment),
        upstream: notify::upstream_lines(deployment),
    }
    .render();
    match html {
        Ok(html) => html_response(StatusCode::OK, html, &style_nonce),
        Err(err) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            &format!("rendering the page failed: {err}"),
        ),
    }
}

/// POST: the page's form. Token, nonce and name are checked; then the decision is taken
/// once through the same path as Slack's buttons.
pub(super) async fn decide<A: Adapters>(
    State(app): AppState<A>,
    Path(id): Path<String>,
    source: Option<Extension<RequestSource>>,
    headers: HeaderMap,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    if let Err(FormRejection::InvalidFormContentType(_)) = form {
        return page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported form",
            "Use the buttons on the approval page.",
        );
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site")
    {
        return page(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form was sent from another site. Open the approval link and use its buttons.",
        );
    }
    let Ok(Form(form)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            "Incomplete form",
            "Use the buttons on the approval page.",
        );
    };
    let verdict = match form.decision.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        _ => {
            return page(
                StatusCode::BAD_REQUEST,
                "Incomplete form",
                "Use the Approve or Reject button.",
            )
        }
    };
    let record = match app.lookup(&id).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let name = clean(&form.name);
    let actor = Actor {
        id: if name.is_empty() {
            "unknown (approval link)".into()
        } else {
            format!("{name} (approval link)")
        },
        channel: Channel::Web,
        source: source.map(|Extension(RequestSource(source))| source),
    };
    if let Err(refused) = app.check_form(&form, &record.value, verdict, &actor).await {
        return refused;
    }
    if name.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "Who is deciding?",
            "Type your name on the page, so the record says who decided.",
        );
    }
    let reason = Some(clean(&form.reason)).filter(|r| !r.is_empty());
    let decided = app.deployer.decide(&id, verdict, &actor, reason).await;
    decided_page(decided, &record.value, &name)
}

fn decided_page(
    decided: Result<DecisionOutcome, DecisionError>,
    deployment: &Deployment,
    name: &str,
) -> Response {
    match decided {
        // Approved while the target's deployment window is closed: it waits.
        Ok(DecisionOutcome::Rolled {
            rollout: crate::deployer::TargetOutcome::WaitingForWindow { because, opens_at },
        }) => page(
            StatusCode::OK,
            "Approved",
            &format!(
                "Approved by {name}. The deployment window of {} is closed ({because}): {} rolls when it opens, at {}, unless a newer release is approved meanwhile.",
                deployment.target,
                notify::short_image(&deployment.image),
                opens_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        // `decide` rolls now: `Approved` (rolled later) does not come from it.
        Ok(DecisionOutcome::Rolled { .. } | DecisionOutcome::Approved) => page(
            StatusCode::OK,
            "Approved",
            &format!(
                "Approved by {name}. {}/{} is rolling onto {}. Slipway reports how it ends.",
                deployment.cluster,
                deployment.service,
                notify::short_image(&deployment.image)
            ),
        ),
        Ok(DecisionOutcome::Rejected) => page(
            StatusCode::OK,
            "Rejected",
            &format!("Rejected by {name}. Nothing was deployed."),
        ),
        Ok(DecisionOutcome::Refused { reason }) => page(
            StatusCode::CONFLICT,
            "Nothing was changed",
            &capitalise(&reason),
        ),
        Err(err) => failure_page(&err),
    }
}

impl<A: Adapters> ApprovalApp<A> {
    async fn lookup(&self, id: &str) -> Result<Versioned<Deployment>, Response> {
        match self.deployer.deployment(id).await {
            Ok(record) => Ok(record),
            Err(DecisionError::UnknownDeployment(_)) => Err(page(
                StatusCode::NOT_FOUND,
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
    ) -> Result<(), Response> {
        let Some(links) = self.deployer.links() else {
            return Err(page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Approvals are not configured",
                "This Slipway has no signing key.",
            ));
        };
        match links.verify(token, binding(deployment), now).await {
            Ok(_) => Ok(()),
            Err(TokenError::Expired(at)) => Err(page(
                StatusCode::GONE,
                "This request has expired",
                &format!("The approval link expired at {}. Nothing can be approved with it; push again or ask for a new request.", format_time(at)),
            )),
            Err(err) => {
                info!(deployment_id = deployment.id, decision = "refused", "approval link refused: {err}");
                Err(page(StatusCode::FORBIDDEN, "This link is not valid", &capitalise(&err.to_string())))
            }
        }
    }

    /// The form's token and CSRF nonce; a refused attempt is audited.
    async fn check_form(
        &self,
        form: &DecisionForm,
        deployment: &Deployment,
        verdict: Verdict,
        actor: &Actor,
    ) -> Result<(), Response> {
        let now = Utc::now();
        if let Err(refused) = self.check_token(&form.t, deployment, now).await {
            self.deployer
                .audit_refused(deployment, verdict.into(), actor, "bad approval link")
                .await;
            return Err(refused);
        }
        let links = self.deployer.links().expect("checked by check_token");
        if let Err(err) = links
            .keys()
            .verify_form_nonce(&form.nonce, &deployment.id, &form.t, now)
        {
            self.deployer
                .audit_refused(deployment, verdict.into(), actor, &err.to_string())
                .await;
            return Err(page(StatusCode::FORBIDDEN, "Refused", &err.to_string()));
        }
        Ok(())
    }
}

/// An approval whose rollout stopped short (a transient AWS error after the decision):
/// the page stays open so that approving again completes it.
fn unfinished_notice(deployment: &Deployment) -> Option<String> {
    let decision = deployment.approval.as_ref()?.decision.as_ref()?;
    (deployment.state == Phase::Approved).then(|| {
        format!(
            "Approved by {} at {}, but the rollout did not finish. Approve again to complete it.",
            decision.actor,
            format_time(decision.at)
        )
    })
}

/// The page for a request that can no longer be decided, if it cannot.
fn closed_page(deployment: &Deployment, now: DateTime<Utc>) -> Option<Response> {
    let decision = deployment
        .approval
        .as_ref()
        .and_then(|a| a.decision.as_ref());
    if deployment.state == Phase::Approved && decision.is_some() {
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
            StatusCode::OK,
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
    undecided_page(deployment, now)
}

/// The page for a request nobody decided, unless it is still open.
fn undecided_page(deployment: &Deployment, now: DateTime<Utc>) -> Option<Response> {
    let last_note = deployment
        .history
        .last()
        .map(|h| h.note.clone())
        .unwrap_or_default();
    match deployment.state {
        Phase::AwaitingApproval if deployment.approval_expired(now) => Some(page(
            StatusCode::GONE,
            "This request has expired",
            "Nobody decided in time; nothing can be approved with this link.",
        )),
        Phase::AwaitingApproval => None,
        Phase::Superseded => Some(page(
            StatusCode::GONE,
            "Superseded",
            &capitalise(&last_note),
        )),
        Phase::Expired => Some(page(
            StatusCode::GONE,
            "This request has expired",
            &capitalise(&last_note),
        )),
        Phase::Planned => Some(page(
            StatusCode::CONFLICT,
            "Not ready yet",
            "Slipway is still preparing this request: try again in a minute.",
        )),
        other => Some(page(
            StatusCode::CONFLICT,
            "Nothing to decide",
            &format!("This deployment is {other}."),
        )),
    }
}

/// Trims, drops control characters and caps the length of a typed field.
pub(super) fn clean(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FIELD_CHARS)
        .collect()
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
