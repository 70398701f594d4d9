//! `slipway approve|reject <run>`: a release group run's one approval decided as the IAM
//! caller. Who may: an IAM approver (`approval.iam_approvers`) of every target of the
//! group that asks for approval — the one approval stands for each of them.

use axum::http::StatusCode;
use axum::response::Response;
use tracing::info;

use super::operator_answer::{answer, decision_status, failed};
use crate::deployer::{Deployer, GroupDecision};
use crate::model::deployment::{Actor, Channel, Verdict};
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
    let run = match deployer.group_run_by_id(id).await {
        Ok(read) => read.value,
        Err(err) => return failed(&err.to_string(), decision_status(&err)),
    };
    let Some(group) = deployer
        .config()
        .groups
        .iter()
        .find(|g| g.name == run.group)
    else {
        return failed(&format!("no group {}", run.group), StatusCode::NOT_FOUND);
    };
    let targets = deployer.approval_targets(group);
    let refused_by: Vec<&str> = targets
        .iter()
        .filter(|t| !t.approval.may_decide_as(caller))
        .map(|t| t.name.as_str())
        .collect();
    if targets.is_empty() || !refused_by.is_empty() {
        let why = if targets.is_empty() {
            format!("group {} asks no approval: nothing to decide", group.name)
        } else {
            format!(
                "{} is not among the IAM approvers of {} (approval.iam_approvers): run {id} needs an approver of every target of group {} that asks for approval",
                caller,
                refused_by.join(", "),
                group.name
            )
        };
        info!(run_id = id, actor = caller, decision = "refused", "{why}");
        return answer(
            StatusCode::FORBIDDEN,
            serde_json::json!({"result": "refused", "message": why}),
        );
    }
    let actor = Actor {
        id: caller.to_string(),
        channel: Channel::Iam,
        source,
    };
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
