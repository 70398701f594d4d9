//! How a hook ends a progressive rollout before its service deployment does: a pause
//! nobody answered in time (HOOK_TIMED_OUT: `expired`), and a Lambda hook — Slipway's
//! test probe — that failed or ran out of time (HOOK_FAILED / HOOK_TIMED_OUT with
//! `hookType` AWS_LAMBDA: `failed`, an open approval request closed with it). In both
//! ECS rolls the service back by itself (the Developer Guide's Lambda hooks page: on
//! FAILED "Amazon ECS rolls back the deployment"; a hook's timeout action is ROLLBACK).

use chrono::Utc;

use super::{log_decision, Deployer, StepError, TargetOutcome};
use crate::input::event::HookChanged;
use crate::ledger::Versioned;
use crate::model::deployment::{Action, Actor, Deployment, State};
use crate::model::ecs_event::HookEventName;
use crate::ports::Adapters;

impl<A: Adapters> Deployer<A> {
    /// ECS's pause ran out before anyone decided: the request expires; ECS rolls back by
    /// itself (the hook's timeout action).
    pub(super) async fn on_pause_timed_out(
        &self,
        current: Versioned<Deployment>,
        hook: &HookChanged,
    ) -> Result<Option<TargetOutcome>, StepError> {
        let waiting = current.value.state == State::AwaitingApproval
            && current
                .value
                .approval
                .as_ref()
                .is_some_and(|a| a.decision.is_none());
        if !waiting {
            return Ok(None);
        }
        let outcome = format!(
            "Expired: nobody decided before ECS's pause ran out{}; ECS rolls the service back",
            hook.expires_at
                .map(|at| format!(" at {}", at.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        );
        let mut next = current.value.clone();
        next.advance(State::Expired, outcome.clone(), Utc::now())?;
        let saved = self.ledger.save(&current, next).await?;
        let entry = saved
            .value
            .attempt(Action::Expire, &Actor::slipway(), &outcome, Utc::now());
        self.ledger
            .append_audit(&saved.value.target, &saved.value.key, &entry)
            .await?;
        self.edit_request_message(&saved.value, &outcome).await;
        log_decision("expired", &outcome);
        let target = self
            .target_of(&saved.value)
            .map_err(|err| StepError::Rejected(err.to_string()))?;
        Box::pin(self.tell_outcome(target, saved)).await?;
        Ok(Some(TargetOutcome::Moved {
            from: State::AwaitingApproval,
            to: State::Expired,
            note: outcome,
        }))
    }

    /// A Lambda hook (Slipway's test probe) failed or timed out: ECS rolls back. The
    /// release is `failed` at once — an open request is closed with it, so that nobody
    /// approves a release ECS is already rolling back. A release that ended otherwise is
    /// left as it is.
    pub(super) async fn on_check_failed(
        &self,
        current: Versioned<Deployment>,
        hook: &HookChanged,
    ) -> Result<Option<TargetOutcome>, StepError> {
        let from = current.value.state;
        let open = from == State::AwaitingApproval
            && current
                .value
                .approval
                .as_ref()
                .is_some_and(|a| a.decision.is_none());
        if from != State::Rolling && !open {
            return Ok(None);
        }
        let stage = hook
            .stage
            .map(|s| s.ecs_name().to_string())
            .unwrap_or_else(|| "its stage".into());
        let outcome = format!(
            "ECS's Lambda hook {} {} at {stage} (Slipway's test probe: its log says what it saw); ECS rolls the service back{}",
            hook.hook_id,
            if hook.name == HookEventName::TimedOut {
                "did not finish in time"
            } else {
                "answered FAILED"
            },
            if open {
                "; the approval request is closed"
            } else {
                ""
            }
        );
        let mut next = current.value.clone();
        next.advance(State::Failed, outcome.clone(), Utc::now())?;
        next.error = Some(outcome.clone());
        // The history says why; the audit is for attempts to decide, and nobody tried.
        let saved = self.ledger.save(&current, next).await?;
        if open {
            self.edit_request_message(&saved.value, &outcome).await;
        }
        log_decision("failed", &outcome);
        let target = self
            .target_of(&saved.value)
            .map_err(|err| StepError::Rejected(err.to_string()))?;
        Box::pin(self.tell_outcome(target, saved)).await?;
        Ok(Some(TargetOutcome::Moved {
            from,
            to: State::Failed,
            note: outcome,
        }))
    }
}
