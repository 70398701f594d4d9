//! The test-probe function's pipeline: one call of ECS's Lambda lifecycle hook, one GET
//! of the test listener, one answer (`model::test_probe` holds the rules).
//!
//! ECS "rolls back the deployment" when the function "doesn't return a valid hookStatus,
//! or if it fails" (Developer Guide, "Lambda hooks for Amazon ECS service deployments"):
//! every path here answers, and a call the probe cannot make sense of answers FAILED
//! with the reason in the log, never an error. A call made during a rollback answers
//! SUCCEEDED at once: the probe never holds the way back.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::input::lifecycle_hook::{HookAnswer, HookCall, HookStatus};
use crate::model::progressive::Stage;
use crate::model::test_probe::{ProbeSpec, ProbeVerdict};
use crate::ports::Prober;

/// Answers one hook call at `now`.
pub async fn answer_hook(call: &HookCall, prober: &impl Prober, now: DateTime<Utc>) -> HookAnswer {
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
