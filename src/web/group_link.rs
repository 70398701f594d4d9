//! A release group run's approval link: `GET /group-approvals/{run}` shows the whole
//! release and writes nothing; the page's `POST` decides, once. The same checks as a
//! deployment's link (`link`): a signed, expiring token bound to the run and every
//! target's image, a CSRF nonce from a page Slipway rendered, a typed name.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use chrono::{DateTime, Utc};
use tracing::info;

use super::link::{clean, DecisionForm, LinkQuery};
use super::page::GroupConfirmPage;
use super::{
    capitalise, failure_page, format_time, html_response, page, random_nonce, AppState,
    ApprovalApp, RequestSource,
};
use crate::approval::TokenError;
use crate::deployer::{DecisionError, GroupDecision};
use crate::model::deployment::{Actor, Channel, Verdict};
use crate::model::group::approval::verdict_word;
use crate::model::group::{GroupRun, RunState};
use crate::notify;
use crate::ports::Adapters;

/// GET: the confirm page, or why there is nothing to confirm. Writes nothing.
pub(super) async fn show<A: Adapters>(
    State(app): AppState<A>,
    Path(id): Path<String>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let Some(token) = query
        .ok()
        .and_then(|Query(q)| q.t)
        .filter(|t| !t.is_empty())
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Incomplete link",
            &TokenError::Malformed.to_string(),
        );
    };
    let run = match app.lookup_run(&id).await {
        Ok(run) => run,
        Err(response) => return response,
    };
    let now = Utc::now();
    if let Err(refused) = app.check_run_token(&token, &run, now).await {
        return refused;
    }
    if let Some(closed) = closed_page(&run, now) {
        return closed;
    }
    confirm_page(&app, &run, &token, now)
}

fn confirm_page<A: Adapters>(
    app: &ApprovalApp<A>,
    run: &GroupRun,
    token: &str,
    now: DateTime<Utc>,
) -> Response {
    let links = app.deployer.links().expect("checked by check_run_token");
    let form_nonce = links.keys().form_nonce(&run.id, token, now);
    let style_nonce = random_nonce();
    let request = run.approval.as_ref().expect("open runs were asked");
    let config = app.deployer.config();
    let steps = notify::group_step_lines(run, |target| {
        config.target(target).map_or(target.to_string(), |t| {
            format!("{}/{}", t.cluster, t.service)
        })
    });
    let html = GroupConfirmPage {
        run_id: &run.id,
        group: &run.group,
        requested_at: format_time(request.requested_at),
        expires_at: format_time(request.expires_at),
        steps: &steps,
        on_failure: notify::on_failure_line(run.on_failure),
        images: run
            .release
            .iter()
            .map(|(t, i)| (t.as_str(), i.as_str()))
            .collect(),
        evidence: run.gates.evidence.iter().map(|e| e.describe()).collect(),
        action: &run.id,
        token,
        form_nonce: &form_nonce,
        style_nonce: &style_nonce,
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

/// POST: the page's form. Token, nonce and name are checked; then the run is decided once.
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
    let run = match app.lookup_run(&id).await {
        Ok(run) => run,
        Err(response) => return response,
    };
    let now = Utc::now();
    let name = clean(&form.name);
    if let Err(refused) = app.check_run_token(&form.t, &run, now).await {
        return refused;
    }
    let links = app.deployer.links().expect("checked by check_run_token");
    if let Err(err) = links
        .keys()
        .verify_form_nonce(&form.nonce, &run.id, &form.t, now)
    {
        info!(
            run_id = run.id,
            name,
            decision = "refused",
            "run decision refused: {err}"
        );
        return page(StatusCode::FORBIDDEN, "Refused", &err.to_string());
    }
    if name.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "Who is deciding?",
            "Type your name on the page, so the record says who decided.",
        );
    }
    let actor = Actor {
        id: format!("{name} (approval link)"),
        channel: Channel::Web,
        source: source.map(|Extension(RequestSource(source))| source),
    };
    let reason = Some(clean(&form.reason)).filter(|r| !r.is_empty());
    let decided = app
        .deployer
        .decide_group_run(&id, verdict, &actor, reason)
        .await;
    decided_page(decided, &name)
}

fn decided_page(decided: Result<GroupDecision, DecisionError>, name: &str) -> Response {
    match decided {
        Ok(GroupDecision::Decided { verdict: Verdict::Approve, run }) => page(
            StatusCode::OK,
            "Approved",
            &format!(
                "Approved by {name}. Run {} of group {} is {}{}. Slipway takes its steps in order and records how each ends (`slipway groups {}`).",
                run.run_id,
                run.group,
                run.state,
                if run.actions.is_empty() { String::new() } else { format!(" ({})", run.actions.join(", ")) },
                run.group
            ),
        ),
        Ok(GroupDecision::Decided { verdict: Verdict::Reject, .. }) => page(
            StatusCode::OK,
            "Rejected",
            &format!("Rejected by {name}. No step of the release ran."),
        ),
        Ok(GroupDecision::Refused { reason }) => page(
            StatusCode::CONFLICT,
            "Nothing was changed",
            &capitalise(&reason),
        ),
        Err(err) => failure_page(&err),
    }
}

impl<A: Adapters> ApprovalApp<A> {
    async fn lookup_run(&self, id: &str) -> Result<GroupRun, Response> {
        match self.deployer.group_run_by_id(id).await {
            Ok(read) => Ok(read.value),
            Err(DecisionError::UnknownDeployment(_)) => Err(page(
                StatusCode::NOT_FOUND,
                "No such release",
                "Slipway has no release group run for this link. Copy the whole link from the message.",
            )),
            Err(err) => Err(failure_page(&err)),
        }
    }

    async fn check_run_token(
        &self,
        token: &str,
        run: &GroupRun,
        now: DateTime<Utc>,
    ) -> Result<(), Response> {
        let Some(links) = self.deployer.links() else {
            return Err(page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Approvals are not configured",
                "This Slipway has no signing key.",
            ));
        };
        match links.verify_run(token, run, now).await {
            Ok(_) => Ok(()),
            Err(TokenError::Expired(at)) => Err(page(
                StatusCode::GONE,
                "This request has expired",
                &format!("The approval link expired at {}. Nothing can be approved with it; release again for a new request.", format_time(at)),
            )),
            Err(err) => {
                info!(run_id = run.id, decision = "refused", "run approval link refused: {err}");
                Err(page(StatusCode::FORBIDDEN, "This link is not valid", &capitalise(&err.to_string())))
            }
        }
    }
}

/// The page for a run that can no longer be decided, if it cannot.
fn closed_page(run: &GroupRun, now: DateTime<Utc>) -> Option<Response> {
    if let Some(decision) = run.approval.as_ref().and_then(|a| a.decision.as_ref()) {
        let word = verdict_word(decision.verdict);
        return Some(page(
            StatusCode::OK,
            &format!("Already {word}"),
            &format!(
                "Run {} was {word} by {} at {}. It is now {}. Nothing was changed.",
                run.id,
                decision.actor,
                format_time(decision.at),
                run.state
            ),
        ));
    }
    let why = capitalise(run.why.as_deref().unwrap_or_default());
    match run.state {
        RunState::AwaitingApproval if run.approval_expired(now) => Some(page(
            StatusCode::GONE,
            "This request has expired",
            "Nobody decided in time; nothing can be approved with this link.",
        )),
        RunState::AwaitingApproval if run.approval.is_some() => None,
        RunState::Superseded => Some(page(StatusCode::GONE, "Superseded", &why)),
        RunState::Expired => Some(page(StatusCode::GONE, "This request has expired", &why)),
        RunState::Queued | RunState::AwaitingApproval => Some(page(
            StatusCode::CONFLICT,
            "Not ready yet",
            "Slipway is still preparing this request: try again in a minute.",
        )),
        other => Some(page(
            StatusCode::CONFLICT,
            "Nothing to decide",
            &format!("This run is {other}."),
        )),
    }
}
