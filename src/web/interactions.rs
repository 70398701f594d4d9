//! `POST /slack/interactions`: Slack's button clicks, and the roll jobs a Slack approval
//! hands over (`approval::later`).
//!
//! Slack must have its 200 within 3 seconds, so with a [`RollLater`] configured the
//! request path does only what must happen before the answer: verify the signature, check
//! the approver list, record the decision. The roll and the edit of the Slack message
//! (through `response_url`, which Slack accepts for 30 minutes) follow in the job.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use tracing::{info, warn};

use super::{capitalise, plain, AppState, ApprovalApp};
use crate::deployer::{DecisionError, DecisionOutcome, RollWhen};
use crate::model::deployment::{Actor, Channel, Verdict};
use crate::notify::{self, SlackPayload, APPROVE_ACTION, REJECT_ACTION};
use crate::ports::Adapters;
use crate::web::later::{RollJob, RollRequest};

/// Slack's button clicks: signature first, then the approver list, then the same
/// decision path as the page.
pub(super) async fn slack<A: Adapters>(
    State(app): AppState<A>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = app.slack_signing_secret.as_deref() else {
        return plain(
            StatusCode::NOT_FOUND,
            "Slack is not configured for this Slipway",
        );
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(err) = crate::web::slack::verify(
        secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        Utc::now(),
    ) {
        warn!(
            decision = "refused",
            channel = "slack",
            "Slack request refused: {err}"
        );
        return plain(StatusCode::UNAUTHORIZED, &err.to_string());
    }
    let click = match parse_click(&body) {
        Ok(click) => click,
        Err(problem) => return plain(StatusCode::BAD_REQUEST, &problem),
    };
    let verdict = match click.action_id.as_str() {
        APPROVE_ACTION => Verdict::Approve,
        REJECT_ACTION => Verdict::Reject,
        _ => return plain(StatusCode::OK, ""),
    };
    let actor = Actor {
        id: match &click.user_name {
            Some(name) => format!("{} ({name})", click.user_id),
            None => click.user_id.clone(),
        },
        channel: Channel::Slack,
        source: click.team_id.clone(),
    };
    app.click(&click, verdict, &actor).await;
    plain(StatusCode::OK, "")
}

impl<A: Adapters> ApprovalApp<A> {
    /// A verified click by `actor`: checked against the approver list, decided, and
    /// answered in Slack (now, or by the roll job).
    async fn click(&self, click: &SlackClick, verdict: Verdict, actor: &Actor) {
        let Ok(record) = self.deployer.deployment(&click.deployment_id).await else {
            let text = format!("Slipway has no deployment `{}`.", click.deployment_id);
            return self.respond(&click.response_url, ephemeral(&text)).await;
        };
        let allowed = self
            .deployer
            .config()
            .target(&record.value.target)
            .is_some_and(|target| target.approval.slack_approvers.contains(&click.user_id));
        if !allowed {
            let why = "not on the target's Slack approver list";
            self.deployer
                .audit_refused(&record.value, verdict.into(), actor, why)
                .await;
            let text = format!(
                "You are not on the approver list for {}: nothing was changed.",
                record.value.target
            );
            return self.respond(&click.response_url, ephemeral(&text)).await;
        }
        // A button of an earlier step's message (a rollout asking at every step) never
        // decides the step asked now.
        let asked = record.value.approval.as_ref().map_or(0, |a| a.step);
        if click.step != asked {
            let why = format!(
                "a button of step {} clicked while step {} is asked",
                click.step + 1,
                asked + 1
            );
            self.deployer
                .audit_refused(&record.value, verdict.into(), actor, &why)
                .await;
            let text = format!(
                "That button was for step {} of this rollout, which is over: use the message for step {}. Nothing was changed.",
                click.step + 1,
                asked + 1
            );
            return self.respond(&click.response_url, ephemeral(&text)).await;
        }
        let when = match &self.later {
            Some(_) => RollWhen::Later,
            None => RollWhen::Now,
        };
        let who = format!("<@{}>", click.user_id);
        let at = Utc::now().format("%Y-%m-%d %H:%M UTC");
        let decided = self
            .deployer
            .decide_then(&click.deployment_id, verdict, actor, None, when)
            .await;
        let outcome = match decided {
            Ok(DecisionOutcome::Approved) => {
                let job = RollJob {
                    slipway_roll: RollRequest {
                        deployment_id: click.deployment_id.clone(),
                        response_url: click.response_url.clone(),
                        approved_by: who,
                        actor: actor.clone(),
                    },
                };
                return self.hand_over(&job).await;
            }
            Ok(DecisionOutcome::Rolled { .. }) => format!("Approved by {who} at {at}: rolling out"),
            Ok(DecisionOutcome::Rejected) => format!("Rejected by {who} at {at}: nothing rolls"),
            Ok(DecisionOutcome::Refused { reason }) => capitalise(&reason),
            Err(err) => {
                return self
                    .decision_failed(&click.deployment_id, &click.response_url, &err)
                    .await
            }
        };
        let latest = self
            .deployer
            .deployment(&click.deployment_id)
            .await
            .map(|r| r.value)
            .unwrap_or(record.value);
        self.respond(&click.response_url, notify::closed_slack(&latest, &outcome))
            .await;
    }

    /// Hands the roll over; if the job is not accepted, rolls now rather than leave an
    /// approval without its rollout (Slack may then see a timeout, but nothing is lost).
    async fn hand_over(&self, job: &RollJob) {
        let later = self
            .later
            .as_ref()
            .expect("RollWhen::Later only with a RollLater");
        match later.hand_over(job).await {
            Ok(()) => info!(
                deployment_id = job.slipway_roll.deployment_id,
                "approval recorded; its roll is handed over to an asynchronous invocation"
            ),
            Err(err) => {
                warn!(
                    deployment_id = job.slipway_roll.deployment_id,
                    "the roll could not be handed over ({err}); rolling now"
                );
                // The outcome is in the ledger and Slack already; nothing more to answer.
                let _ = self.roll_job(job).await;
            }
        }
    }

    /// Runs a handed-over roll and reports it in Slack. `Err` only for a failure worth
    /// another attempt (Lambda retries a failed asynchronous invocation up to twice);
    /// a job for a deployment that is not waiting to roll changes nothing.
    pub async fn roll_job(&self, job: &RollJob) -> Result<(), DecisionError> {
        let request = &job.slipway_roll;
        let at = Utc::now().format("%Y-%m-%d %H:%M UTC");
        let outcome = match self
            .deployer
            .roll_decided(&request.deployment_id, &request.actor)
            .await
        {
            Ok(DecisionOutcome::Rolled {
                rollout: crate::deployer::TargetOutcome::WaitingForWindow { opens_at, .. },
            }) => format!(
                "Approved by {} at {at}: waits for the deployment window, which opens at {}",
                request.approved_by,
                opens_at.format("%Y-%m-%d %H:%M UTC")
            ),
            Ok(DecisionOutcome::Rolled { .. }) => {
                format!("Approved by {} at {at}: rolling out", request.approved_by)
            }
            Ok(other) => {
                info!(
                    deployment_id = request.deployment_id,
                    "roll job: nothing to do ({other:?})"
                );
                return Ok(());
            }
            Err(err) => {
                self.decision_failed(&request.deployment_id, &request.response_url, &err)
                    .await;
                return if err.is_transient() { Err(err) } else { Ok(()) };
            }
        };
        if let Ok(latest) = self.deployer.deployment(&request.deployment_id).await {
            let payload = notify::closed_slack(&latest.value, &outcome);
            self.respond(&request.response_url, payload).await;
        }
        Ok(())
    }

    async fn decision_failed(&self, deployment_id: &str, response_url: &str, err: &DecisionError) {
        warn!(
            deployment_id,
            transient = err.is_transient(),
            "Slack decision failed: {err}"
        );
        let text = if err.is_transient() {
            format!(
                "Slipway could not complete the decision just now ({err}); try again in a minute."
            )
        } else {
            format!("Slipway cannot complete the decision ({err}); trying again will not help: ask the team that runs Slipway.")
        };
        self.respond(response_url, ephemeral(&text)).await;
    }

    async fn respond(&self, response_url: &str, payload: SlackPayload) {
        self.deployer.answer_slack(response_url, &payload).await;
    }
}

struct SlackClick {
    action_id: String,
    deployment_id: String,
    /// Which request the button belongs to (`<id>#step-<n>`; a plain id is step 0).
    step: u32,
    user_id: String,
    user_name: Option<String>,
    team_id: Option<String>,
    response_url: String,
}

/// Reads a `block_actions` interaction: `payload=<JSON>` in a form body.
fn parse_click(body: &[u8]) -> Result<SlackClick, String> {
    #[derive(Deserialize)]
    struct Form {
        payload: String,
    }
    let form: Form = serde_urlencoded::from_bytes(body)
        .map_err(|_| "expected a form with a `payload` field".to_string())?;
    let payload: serde_json::Value =
        serde_json::from_str(&form.payload).map_err(|err| format!("payload is not JSON: {err}"))?;
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let required = |pointer: &str| text(pointer).ok_or_else(|| format!("payload has no {pointer}"));
    let value = required("/actions/0/value")?;
    let (deployment_id, step) = match value.split_once("#step-") {
        Some((id, step)) => (
            id.to_string(),
            step.parse()
                .map_err(|_| format!("the button's value `{value}` names no step"))?,
        ),
        None => (value, 0),
    };
    Ok(SlackClick {
        action_id: required("/actions/0/action_id")?,
        deployment_id,
        step,
        user_id: required("/user/id")?,
        user_name: text("/user/username").or_else(|| text("/user/name")),
        team_id: text("/team/id"),
        response_url: required("/response_url")?,
    })
}

fn ephemeral(text: &str) -> SlackPayload {
    SlackPayload {
        text: text.to_string(),
        blocks: serde_json::json!([{"type": "section", "text": {"type": "mrkdwn", "text": text}}]),
        replace_original: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slack_block_action_is_read_from_its_form_payload() {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": {"id": "U024BE7LH", "username": "alice"},
            "team": {"id": "T1"},
            "actions": [{"action_id": APPROVE_ACTION, "value": "web.img-ab"}],
            "response_url": "https://hooks.slack.com/actions/T1/1/x"
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let click = parse_click(body.as_bytes()).unwrap();
        assert_eq!(
            (
                click.action_id.as_str(),
                click.deployment_id.as_str(),
                click.user_id.as_str()
            ),
            (APPROVE_ACTION, "web.img-ab", "U024BE7LH")
        );
        assert_eq!(click.user_name.as_deref(), Some("alice"));
        assert_eq!(click.step, 0);
        assert!(parse_click(b"payload=%7B%7D").is_err());
        assert!(parse_click(b"nothing").is_err());

        // A later step's button names its step.
        let step = |value: &str| {
            let mut later = payload.clone();
            later["actions"][0]["value"] = serde_json::json!(value);
            let body = serde_urlencoded::to_string([("payload", later.to_string())]).unwrap();
            parse_click(body.as_bytes())
        };
        let click = step("web.img-ab#step-2").unwrap();
        assert_eq!(
            (click.deployment_id.as_str(), click.step),
            ("web.img-ab", 2)
        );
        assert!(step("web.img-ab#step-x").is_err());
    }
}
