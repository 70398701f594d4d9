//! The approval function's HTTP surface: an axum [`Router`] that `aws::http` runs under
//! Lambda (as aws-lambda-rust-runtime's `examples/http-axum` does) and the tests serve
//! over real HTTP or call directly.
//!
//! - `GET /approvals/{id}?t=<token>` — the confirm page. Never writes anything: mail
//!   scanners and chat unfurlers fetch links before people do (HEAD is answered too).
//! - `POST /approvals/{id}` — the page's form: token, CSRF nonce, decision, name, reason.
//!   The only way a link decides ([`link`]).
//! - `GET` and `POST /group-approvals/{run}` — the same for a release group run's one
//!   approval: the whole release on one page ([`group_link`]).
//! - `POST /slack/interactions` — Slack's button clicks, signed by Slack ([`interactions`]).
//! - `POST /operator/{action}` — the operator endpoint the `slipway` command line signs
//!   its requests to (IAM-authorised on AWS): rollback, freeze, unfreeze, approve, reject
//!   as the verified caller ([`operator`]).
//!
//! Every route is also served under `/lambda-url/approval`, the prefix `cargo lambda
//! watch` gives the function's URL locally.

use std::sync::Arc;

use askama::Template;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use tracing::warn;

mod group_link;
mod interactions;
pub mod later;
mod link;
pub mod operator;
mod operator_answer;
mod operator_group;
pub mod page;
pub mod slack;

use crate::deployer::{DecisionError, Deployer};
use crate::ports::Adapters;
use later::RollLater;
use page::{security_headers, MessagePage};

/// Where `cargo lambda watch` serves the approval function's URL.
pub const LOCAL_URL_PREFIX: &str = "/lambda-url/approval";

/// The caller's IP and user agent, for the audit trail: a request extension the Lambda
/// adapter sets from the function URL's request context (tests set their own).
#[derive(Debug, Clone)]
pub struct RequestSource(pub String);

/// The router's state, as handlers extract it.
type AppState<A> = axum::extract::State<Arc<ApprovalApp<A>>>;

/// The approval function's state: the pipeline, and what the HTTP surface adds to it.
pub struct ApprovalApp<A: Adapters> {
    pub deployer: Arc<Deployer<A>>,
    /// Slack's signing secret; without it `/slack/interactions` answers 404.
    pub slack_signing_secret: Option<Vec<u8>>,
    /// Where a Slack approval's roll is handed over, to answer Slack within its 3 s; without
    /// it Slack approvals roll before the answer (tests, `cargo lambda watch`).
    pub later: Option<Arc<dyn RollLater>>,
}

impl<A: Adapters> ApprovalApp<A> {
    /// The routes, with this app as their state.
    pub fn router(self: Arc<Self>) -> Router {
        let routes = Router::new()
            .route(
                "/approvals/{id}",
                get(link::show::<A>)
                    .post(link::decide::<A>)
                    .fallback(method_not_allowed),
            )
            .route(
                "/group-approvals/{id}",
                get(group_link::show::<A>)
                    .post(group_link::decide::<A>)
                    .fallback(method_not_allowed),
            )
            .route("/slack/interactions", post(interactions::slack::<A>))
            .route("/operator/{action}", post(operator::act::<A>));
        Router::new()
            .merge(routes.clone())
            .nest(LOCAL_URL_PREFIX, routes)
            .fallback(not_found)
            .with_state(self)
    }
}

async fn method_not_allowed() -> Response {
    page(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "Open the link, then use the page's buttons.",
    )
}

async fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "This is Slipway's approval page: open the link from the approval email or Slack message.",
    )
}

fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
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

/// A message page: every outcome other than the confirm page itself.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
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

/// A failed decision, answered by its kind: a transient failure (throttling, a timeout, a
/// concurrent write) is worth the same click again (503); a permanent one is not, and
/// the page says who can fix it (500).
fn failure_page(err: &DecisionError) -> Response {
    warn!(
        transient = err.is_transient(),
        "approval request failed: {err}"
    );
    if err.is_transient() {
        page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again",
            &format!("Slipway could not complete this just now: {err}. Nothing was lost; try again in a minute."),
        )
    } else {
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "This cannot be completed",
            &format!("Slipway cannot complete this: {err}. Trying again will not help; ask the team that runs Slipway."),
        )
    }
}

fn html_response(status: StatusCode, body: String, style_nonce: &str) -> Response {
    with_headers(status, body, security_headers(style_nonce))
}

fn plain(status: StatusCode, text: &str) -> Response {
    with_headers(
        status,
        text.to_string(),
        vec![
            ("content-type", "text/plain; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
        ],
    )
}

fn with_headers(
    status: StatusCode,
    body: String,
    headers: Vec<(&'static str, String)>,
) -> Response {
    let mut response = (status, body).into_response();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

#[cfg(test)]
mod group_link_tests;
