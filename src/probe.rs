//! The test-probe function's pipeline: one call of ECS's Lambda lifecycle hook, one GET
//! of the test listener, one answer (`model::test_probe` holds the rules).
//!
//! ECS "rolls back the deployment" when the function "doesn't return a valid hookStatus,
//! or if it fails" (Developer Guide, "Lambda hooks for Amazon ECS service deployments"):
//! every path here answers, and a call the probe cannot make sense of answers FAILED
//! with the reason in the log, never an error (a payload that does not parse included:
//! the function reads it as plain JSON first). It GETs only the test listeners Slipway's
//! config names: a call with any other URL is FAILED unprobed. A call made during a
//! traffic shift's rollback (should the hook ever be attached there) answers SUCCEEDED
//! at once: the probe never holds the way back.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::input::lifecycle_hook::{HookAnswer, HookCall, HookStatus};
use crate::model::progressive::Stage;
pub use crate::model::test_probe::origin_of;
use crate::model::test_probe::{ProbeSpec, ProbeVerdict};
use crate::ports::Prober;

/// Answers one hook call at `now`. `allowed` are the origins (`scheme://host:port`) of
/// the test listeners Slipway's config names (Terraform renders them into the function's
/// environment): the function GETs nothing else, whoever invoked it with whatever URL.
pub async fn answer_hook(
    call: &HookCall,
    prober: &impl Prober,
    allowed: &[String],
    now: DateTime<Utc>,
) -> HookAnswer {
    let deployment = &call.resource_arn;
    if call.is_rollback() {
        info!(
            deployment,
            stage = call.lifecycle_stage,
            "a rollback: not probed, SUCCEEDED"
        );
        return answer(HookStatus::Succeeded, None, None);
    }
    if call.stage() != Some(Stage::PostTestTraffic) {
        warn!(
            deployment,
            stage = call.lifecycle_stage,
            "the test probe runs at POST_TEST_TRAFFIC_SHIFT only; this hook is attached elsewhere: FAILED"
        );
        return answer(HookStatus::Failed, None, None);
    }
    let details = call.hook_details.clone().unwrap_or_default();
    let (spec, progress) = match ProbeSpec::from_details(&details) {
        Ok(parsed) => parsed,
        Err(problem) => {
            warn!(deployment, "cannot probe: {problem}: FAILED");
            return answer(HookStatus::Failed, None, None);
        }
    };
    if !spec.origin().is_some_and(|o| allowed.contains(&o)) {
        warn!(
            deployment,
            url = spec.url,
            "not a test listener of Slipway's config (allowed: {}): not probed, FAILED",
            allowed.join(", ")
        );
        return answer(HookStatus::Failed, None, None);
    }
    let observed = prober.get(&spec.url).await;
    match spec.judge(progress, &observed, now) {
        ProbeVerdict::Continue {
            progress,
            delay_seconds,
        } => {
            info!(
                deployment,
                url = spec.url,
                passed = progress.passed,
                "answered {} as expected: IN_PROGRESS, again in {delay_seconds} s",
                spec.status
            );
            answer(
                HookStatus::InProgress,
                Some(delay_seconds),
                Some(spec.details(Some(&progress))),
            )
        }
        ProbeVerdict::Passed { passed } => {
            info!(
                deployment,
                url = spec.url,
                "{passed} answer(s) of {} over {} s: SUCCEEDED",
                spec.status,
                spec.for_seconds
            );
            answer(HookStatus::Succeeded, None, None)
        }
        ProbeVerdict::Failed { reason } => {
            warn!(
                deployment,
                url = spec.url,
                "{reason}: FAILED, ECS rolls back"
            );
            answer(HookStatus::Failed, None, None)
        }
    }
}

/// Answers a call whose payload is not the documented shape: FAILED (ECS rolls back),
/// with the reason logged, rather than an error with no line saying why.
pub fn answer_unreadable(payload: &serde_json::Value, problem: &str) -> HookAnswer {
    let deployment = payload
        .get("resourceArn")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?");
    warn!(
        deployment,
        "the hook call is not ECS's documented shape ({problem}): FAILED"
    );
    answer(HookStatus::Failed, None, None)
}

fn answer(
    hook_status: HookStatus,
    call_back_delay: Option<u32>,
    hook_details: Option<serde_json::Value>,
) -> HookAnswer {
    HookAnswer {
        hook_status,
        call_back_delay,
        hook_details,
    }
}

#[cfg(test)]
mod tests;
