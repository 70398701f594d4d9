//! `POST /operator/{action}`: the operator endpoint the `slipway` command line calls —
//! `rollback`, `freeze`, `unfreeze`, `approve`, `reject`, `override-window`, `bypass-soak` —
//! each acting
//! as the caller.
//!
//! On AWS the route's authorization is `AWS_IAM`: API Gateway checks the request's SigV4
//! signature and the caller's `execute-api:Invoke` permission on
//! `…/POST/operator/<action>` before the function runs, and puts the verified identity in
//! the event's `requestContext.authorizer.iam` (API Gateway Developer Guide, "Control
//! access to HTTP APIs with IAM authorization in API Gateway"). `aws::http` turns that into
//! a [`VerifiedCaller`]; a request without one — any other route, a function URL — is
//! refused with 403 before anything is read or written. What the body says about who is
//! asking is never read: the ledger records the signer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::operator_answer::{answer, decision_status, failed};
use super::operator_group::{decide_run, is_run_id, open_run_gate};
use super::{AppState, RequestSource};
use crate::deployer::{
    BypassOutcome, DecisionOutcome, Invocation, OperatorError, OverrideOutcome, RunGateAction,
};
use crate::input::event::{OperatorAction, OperatorRequest};
use crate::model::deployment::{Action, Actor, Channel, Verdict};
use crate::ports::Adapters;

/// The IAM caller API Gateway authenticated (`requestContext.authorizer.iam`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCaller {
    /// `userArn`: an IAM user, or `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    pub account: String,
}

/// How long an operator's request may hold what it claims: the approval function's
/// timeout is under the HTTP API's 30 s integration limit.
const REQUEST_SECONDS: i64 = 25;

/// The request body. Unknown fields (a `requested_by`, say) are ignored, never believed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct OperatorBody {
    target: Option<String>,
    deployment: Option<String>,
    reason: Option<String>,
    to: Option<String>,
    until: Option<DateTime<Utc>>,
    /// The client's idempotency token: the same request sent twice acts once.
    request_id: Option<String>,
    /// A plan's event: an ECR push or an S3 upload, in the shape AWS sends.
    event: Option<serde_json::Value>,
}

pub(super) async fn act<A: Adapters>(
    State(app): AppState<A>,
    Path(action): Path<String>,
    caller: Option<Extension<VerifiedCaller>>,
    source: Option<Extension<RequestSource>>,
    body: Result<Json<OperatorBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(Extension(caller)) = caller else {
        return answer(
            StatusCode::FORBIDDEN,
            json!({"message": "the operator endpoint acts only for a verified IAM caller: sign the request with SigV4 (the slipway command line does)"}),
        );
    };
    let Ok(Json(body)) = body else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"message": "the body must be a JSON object"}),
        );
    };
    let source = source.map(|Extension(RequestSource(s))| s);
    // Each action boxed: inline, this one frame would hold every action's pipeline at
    // once (a debug build's poll frames copy them; the approval function's tokio workers
    // and the tests' threads have 2 MiB stacks).
    let deployer = &app.deployer;
    match action.as_str() {
        "approve" => Box::pin(decide(deployer, Verdict::Approve, &caller, source, body)).await,
        "reject" => Box::pin(decide(deployer, Verdict::Reject, &caller, source, body)).await,
        "rollback" => Box::pin(operate(deployer, OperatorAction::Rollback, &caller, body)).await,
        "freeze" => Box::pin(operate(deployer, OperatorAction::Freeze, &caller, body)).await,
        "unfreeze" => Box::pin(operate(deployer, OperatorAction::Unfreeze, &caller, body)).await,
        "plan" => Box::pin(plan(deployer, &caller, body)).await,
        "override-window" => Box::pin(override_window(deployer, &caller, source, body)).await,
        "bypass-soak" => Box::pin(bypass_soak(deployer, &caller, source, body)).await,
        other => answer(
            StatusCode::NOT_FOUND,
            json!({"message": format!("no operator action `{other}`: rollback, freeze, unfreeze, approve, reject, plan, override-window, bypass-soak")}),
        ),
    }
}

async fn operate<A: Adapters>(
    deployer: &crate::deployer::Deployer<A>,
    action: OperatorAction,
    caller: &VerifiedCaller,
    body: OperatorBody,
) -> Response {
    let Some(target) = body.target.filter(|t| !t.is_empty()) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"message": "name the `target`"}),
        );
    };
    let request_id = match body.request_id {
        Some(id) if valid_request_id(&id) => id,
        Some(_) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"message": "`request_id` must be 1-64 letters, digits and dashes"}),
            )
        }
        None => random_id(),
    };
    let request = OperatorRequest {
        event_id: format!("operator-{request_id}"),
        action,
        target,
        requested_by: caller.arn.clone(),
        reason: body.reason.filter(|r| !r.trim().is_empty()),
        to: body.to,
        until: body.until,
    };
    let invocation = Invocation {
        request_id: request.event_id.clone(),
        deadline: Utc::now() + chrono::Duration::seconds(REQUEST_SECONDS),
    };
    match deployer.operate(request, &invocation).await {
        Ok(done) => answer(
            StatusCode::OK,
            json!({"result": "done", "by": caller.arn, "answer": done}),
        ),
        Err(err) => failed(&err.to_string(), operator_status(&err)),
    }
}

/// The dry run of an event, as the pipeline would take it now: writes nothing.
async fn plan<A: Adapters>(
    deployer: &crate::deployer::Deployer<A>,
    caller: &VerifiedCaller,
    body: OperatorBody,
) -> Response {
    let Some(event) = body.event.filter(serde_json::Value::is_object) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"message": "give the `event` to plan: an ECR push or an S3 upload, as AWS sends it"}),
        );
    };
    let invocation = Invocation {
        request_id: format!("plan-{}", random_id()),
        deadline: Utc::now() + chrono::Duration::seconds(REQUEST_SECONDS),
    };
    match deployer.plan(&event, &invocation).await {
        Ok(report) => answer(
            StatusCode::OK,
            json!({"result": "done", "by": caller.arn, "answer": report}),
        ),
        Err(err) => failed(&err.to_string(), StatusCode::SERVICE_UNAVAILABLE),
    }
}

fn operator_status(err: &OperatorError) -> StatusCode {
    match err {
        OperatorError::UnknownTarget { .. } => StatusCode::NOT_FOUND,
        OperatorError::Refused(_) => StatusCode::CONFLICT,
        err if err.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A decision as the IAM caller, through the same path as the page and Slack; who may
/// decide is the target's `approval.iam_approvers` (a release group run's: `operator_group`).
async fn decide<A: Adapters>(
    deployer: &crate::deployer::Deployer<A>,
    verdict: Verdict,
    caller: &VerifiedCaller,
    source: Option<String>,
    body: OperatorBody,
) -> Response {
    if let Some(run) = body.deployment.as_deref().filter(|id| is_run_id(id)) {
        return decide_run(deployer, run, verdict, &caller.arn, source, body.reason).await;
    }
    let (id, record, actor) =
        match named_deployment(deployer, body.deployment, caller, source).await {
            Ok(found) => found,
            Err(answered) => return answered,
        };
    if let Some(refused) =
        refuse_non_approver(deployer, &record.value, &actor, Action::from(verdict)).await
    {
        return refused;
    }
    match deployer.decide(&id, verdict, &actor, body.reason).await {
        Ok(DecisionOutcome::Refused { reason }) => answer(
            StatusCode::CONFLICT,
            json!({"result": "refused", "message": reason, "deployment_id": id}),
        ),
        Ok(outcome) => answer(
            StatusCode::OK,
            json!({"result": "done", "by": caller.arn, "deployment_id": id, "answer": outcome}),
        ),
        Err(err) => failed(&err.to_string(), decision_status(&err)),
    }
}

/// The deployment a request names, read, and the caller as the actor on it.
async fn named_deployment<A: Adapters>(
    deployer: &crate::deployer::Deployer<A>,
    deployment: Option<String>,
    caller: &VerifiedCaller,
    source: Option<String>,
) -> Result<
    (
        String,
        crate::ledger::Versioned<crate::model::deployment::Deployment>,
        Actor,
    ),
    Response,
> {
    let Some(id) = deployment.filter(|d| !d.is_empty()) else {
        return Err(answer(
            StatusCode::BAD_REQUEST,
            json!({"message": "name the `deployment`"}),
        ));
    };
    let record = deployer
        .deployment(&id)
        .await
        .map_err(|err| failed(&err.to_string(), decision_status(&err)))?;
    let actor = Actor {
        id: caller.arn.clone(),
        channel: Channel::Iam,
        source,
    };
    Ok((id, record, actor))
}

/// 403 (audited) unless the caller is among the target's `approval.iam_approvers`.
async fn refuse_non_approver<A: Adapters>(
    deployer: &crate::deployer::Deployer<A>,
    record: &crate::model::deployment::Deployment,
    actor: &Actor,
    action: Action,
) -> Option<Response> {
    let allowed = deployer
        .config()
        .target(&record.target)
        .is_some_and(|target| target.approval.may_decide_as(&actor.id));
    if allowed {
        return None;
    }
    let why = format!(
        "{} is not among the IAM approvers of target `{}` (approval.iam_approvers)",
        actor.id, record.target
    );
    deployer.audit_refused(record, action, actor, &why).await;
    Some(answer(
        StatusCode::FORBIDDEN,
        json!({"result": "refused", "message": why}),
    ))
}

/// An approver lets one release (or a release group run) through its closed deployment
/// window, saying why.
async fn override_window<A: Adapters>(
    deployer: &crate::deployer::Deployer<A>,
    caller: &VerifiedCaller,
    source: Option<String>,
    body: OperatorBody,
) -> Response {
    if let Some(run) = body.deployment.as_deref().filter(|id| is_run_id(id)) {
        let action = RunGateAction::OverrideWindow;
        return open_run_gate(deployer, run, action, &caller.arn, source, body.reason).await;
    }
    let (id, record, actor) =
        match named_deployment(deployer, body.deployment, caller, source).await {
            Ok(found) => found,
            Err(answered) => return answered,
        };
    // An `auto` target has no approvers: whoever IAM lets call this action may (as for
    // freeze and rollback). A target that asks approvers lets only them.
    let needs_approver = deployer
        .config()
        .target(&record.value.target)
        .is_none_or(|target| target.policy == crate::input::config::Policy::Approval);
    if needs_approver {
        if let Some(refused) =
            refuse_non_approver(deployer, &record.value, &actor, Action::OverrideWindow).await
        {
            return refused;
        }
    }
    let invocation = Invocation {
        request_id: format!("operator-{}", random_id()),
        deadline: Utc::now() + chrono::Duration::seconds(REQUEST_SECONDS),
    };
    match deployer
        .override_window(&id, &actor, body.reason, &invocation)
        .await
    {
        Ok(OverrideOutcome::Refused { reason }) => answer(
            StatusCode::CONFLICT,
            json!({"result": "refused", "message": reason, "deployment_id": id}),
        ),
        // Recorded, but not rolled: 202, and why, so that nobody reads "done" as "deployed".
        Ok(outcome @ OverrideOutcome::NotRolled { .. }) => answer(
            StatusCode::ACCEPTED,
            json!({"result": "not-rolled", "by": caller.arn, "deployment_id": id, "answer": outcome}),
        ),
        Ok(outcome) => answer(
            StatusCode::OK,
            json!({"result": "done", "by": caller.arn, "deployment_id": id, "answer": outcome}),
        ),
        Err(err) => failed(&err.to_string(), decision_status(&err)),
    }
}

/// An approver bypasses the promotion soak of one release or release group run (a
/// hotfix), saying why; the release still asks for its approval.
async fn bypass_soak<A: Adapters>(
    deployer: &crate::deployer::Deployer<A>,
    caller: &VerifiedCaller,
    source: Option<String>,
    body: OperatorBody,
) -> Response {
    if let Some(run) = body.deployment.as_deref().filter(|id| is_run_id(id)) {
        let action = RunGateAction::BypassSoak;
        return open_run_gate(deployer, run, action, &caller.arn, source, body.reason).await;
    }
    let (id, record, actor) =
        match named_deployment(deployer, body.deployment, caller, source).await {
            Ok(found) => found,
            Err(answered) => return answered,
        };
    if let Some(refused) =
        refuse_non_approver(deployer, &record.value, &actor, Action::BypassSoak).await
    {
        return refused;
    }
    let invocation = Invocation {
        request_id: format!("operator-{}", random_id()),
        deadline: Utc::now() + chrono::Duration::seconds(REQUEST_SECONDS),
    };
    match Box::pin(deployer.bypass_soak(&id, &actor, body.reason, &invocation)).await {
        Ok(BypassOutcome::Refused { reason }) => answer(
            StatusCode::CONFLICT,
            json!({"result": "refused", "message": reason, "deployment_id": id}),
        ),
        // Recorded, but it did not go on now: 202, and why.
        Ok(outcome @ BypassOutcome::NotReleased { .. }) => answer(
            StatusCode::ACCEPTED,
            json!({"result": "not-released", "by": caller.arn, "deployment_id": id, "answer": outcome}),
        ),
        Ok(outcome) => answer(
            StatusCode::OK,
            json!({"result": "done", "by": caller.arn, "deployment_id": id, "answer": outcome}),
        ),
        Err(err) => failed(&err.to_string(), decision_status(&err)),
    }
}

fn valid_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn random_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    hex::encode(bytes)
}
