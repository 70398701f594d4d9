//! `slipway approve|reject <run>`: a release group run's one approval decided as the IAM
//! caller, and `slipway override-window|bypass-soak <run>`: its gates opened by one. Who
//! may: an IAM approver (`approval.iam_approvers`) of every target of the group that asks
//! for approval — the one approval stands for each of them.

use axum::http::StatusCode;
use axum::response::Response;
use tracing::info;

use super::operator_answer::{answer, decision_status, failed};
use crate::deployer::{Deployer, GroupDecision, RunGateAction, RunGateOutcome};
use crate::model::deployment::{Action, Actor, Channel, Verdict};
use crate::ports::Adapters;

/// Whether `id` names a run rather than a deployment: a deployment id is
/// `<target>.<key>`, a run id `<group>-<hash>` (no dot: group names have none).
pub(super) fn is_run_id(id: &str) -> bool {
    !id.contains('.')
}

pub(super) async fn decide_run<A: Adapters>(
    deployer: &Deployer<A>,
    id: &str,
    verdict: Verdict,
    caller: &str,
    source: Option<String>,
    reason: Option<String>,
) -> Response {
    let actor = iam_actor(caller, source);
    let action = Action::from(verdict);
    if let Err(refused) = approver_of_run(deployer, id, &actor, action, true).await {
        return refused;
    }
    match deployer.decide_group_run(id, verdict, &actor, reason).await {
        Ok(GroupDecision::Refused { reason }) => answer(
            StatusCode::CONFLICT,
            serde_json::json!({"result": "refused", "message": reason, "run_id": id}),
        ),
        Ok(decided) => answer(
            StatusCode::OK,
            serde_json::json!({"result": "done", "by": caller, "run_id": id, "answer": decided}),
        ),
        Err(err) => failed(&err.to_string(), decision_status(&err)),
    }
}

/// `slipway override-window <run>` and `slipway bypass-soak <run>`: who may is who may
/// decide the run. A group that asks no approval has no approvers: anyone IAM lets call
/// `override-window` may override its windows, as for a single `auto` target; its soak
/// cannot be bypassed at all (the deployer says why: the bypass needs an approval).
pub(super) async fn open_run_gate<A: Adapters>(
    deployer: &Deployer<A>,
    id: &str,
    action: RunGateAction,
    caller: &str,
    source: Option<String>,
    reason: Option<String>,
) -> Response {
    let must_ask = action == RunGateAction::BypassSoak;
    let actor = iam_actor(caller, source);
    if let Err(refused) = approver_of_run(deployer, id, &actor, action.audited(), must_ask).await {
        return refused;
    }
    match Box::pin(deployer.open_run_gate(id, action, &actor, reason)).await {
        Ok(RunGateOutcome::Refused { reason }) => answer(
            StatusCode::CONFLICT,
            serde_json::json!({"result": "refused", "message": reason, "run_id": id}),
        ),
        // Taken, but the run did not go on now: 202, and why, so that nobody reads
        // "done" as "started".
        Ok(outcome @ RunGateOutcome::NotReleased { .. }) => answer(
            StatusCode::ACCEPTED,
            serde_json::json!({"result": "not-released", "by": caller, "run_id": id, "answer": outcome}),
        ),
        Ok(outcome) => answer(
            StatusCode::OK,
            serde_json::json!({"result": "done", "by": caller, "run_id": id, "answer": outcome}),
        ),
        Err(err) => failed(&err.to_string(), decision_status(&err)),
    }
}

fn iam_actor(caller: &str, source: Option<String>) -> Actor {
    Actor {
        id: caller.to_string(),
        channel: Channel::Iam,
        source,
    }
}

/// Ok when `actor` is an IAM approver of every target of run `id`'s group that asks for
/// approval (or the group asks none, and `must_ask` is false); else the answer to send,
/// the refused `action` audited on the run.
async fn approver_of_run<A: Adapters>(
    deployer: &Deployer<A>,
    id: &str,
    actor: &Actor,
    action: Action,
    must_ask: bool,
) -> Result<(), Response> {
    let caller = actor.id.as_str();
    let run = match deployer.group_run_by_id(id).await {
        Ok(read) => read.value,
        Err(err) => return Err(failed(&err.to_string(), decision_status(&err))),
    };
    let Some(group) = deployer
        .config()
        .groups
        .iter()
        .find(|g| g.name == run.group)
    else {
        return Err(failed(
            &format!("no group {}", run.group),
            StatusCode::NOT_FOUND,
        ));
    };
    let targets = deployer.approval_targets(group);
    let refused_by: Vec<&str> = targets
        .iter()
        .filter(|t| !t.approval.may_decide_as(caller))
        .map(|t| t.name.as_str())
        .collect();
    let why = if targets.is_empty() && must_ask {
        format!("group {} asks no approval: nothing to decide", group.name)
    } else if refused_by.is_empty() {
        return Ok(());
    } else {
        format!(
            "{} is not among the IAM approvers of {} (approval.iam_approvers): run {id} needs an approver of every target of group {} that asks for approval",
            caller,
            refused_by.join(", "),
            group.name
        )
    };
    info!(run_id = id, actor = caller, decision = "refused", "{why}");
    deployer
        .audit_run(&run, action, actor, format!("refused: {why}"))
        .await;
    Err(answer(
        StatusCode::FORBIDDEN,
        serde_json::json!({"result": "refused", "message": why}),
    ))
}
