//! "ECS Hook State Change" events, and the approval as a pause inside a progressive
//! rollout (Amazon ECS Developer Guide, "Pause lifecycle hooks for Amazon ECS service
//! deployments" and "Amazon ECS service deployment hook state change events").
//!
//! A target with `rollout.approval_at` rolls at once; its UpdateService carries a PAUSE
//! hook at that stage, timing out with ROLLBACK when the approval would expire. When ECS
//! waits there (HOOK_AWAITING_ACTION for a deployment Slipway started), the deployment
//! moves from `rolling` to `awaiting-approval` and the approvers get the usual signed link
//! and Slack buttons. The decision is taken once, as for any approval; then Slipway
//! answers ECS once — approve: ContinueServiceDeployment CONTINUE (`rolling` again);
//! reject: ROLLBACK (`rejected`, then `rolled-back`, told as a failure). HOOK_TIMED_OUT
//! while waiting: `expired`, and a failed Lambda hook: `failed` (`hook_endings.rs`; ECS
//! rolls back by itself). A later pause of the same rollout (PRE_PRODUCTION_TRAFFIC_SHIFT
//! repeats before every canary or linear step) is continued by Slipway itself — the
//! person approved the release, not each step — unless the target asks at every step.
//!
//! The event names only the service deployment's ARN, recorded when Slipway's
//! UpdateService started it; every hook event is also noted on the rollout's progress
//! (stage reached, pause), once.

use chrono::Utc;
use tracing::info;

use super::outcomes::Handled;
use super::pause_answer::rolling_outcome;
use super::{Deployer, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::input::event::{HookChanged, HookEventName};
use crate::ledger::Versioned;
use crate::model::deployment::progress::PausedAt;
use crate::model::deployment::{Deployment, HistoryEntry, Progress, State, Verdict};
use crate::model::progressive::ApprovalPoint;
use crate::model::service_deployment::HookAction;
use crate::ports::Adapters;

impl<A: Adapters> Deployer<A> {
    pub(super) async fn note_hook_event(
        &self,
        target: &Target,
        hook: &HookChanged,
    ) -> Result<Handled, StepError> {
        let unchanged = Handled::unchanged;
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await?
            .map(|r| r.value)
            .unwrap_or_default();
        let found = match rollouts.find_service_deployment(&hook.service_deployment_arn) {
            Some(rollout) => Some(rollout.clone()),
            None => self.unrecorded(target, &rollouts, hook).await?,
        };
        let Some(rollout) = found else {
            return Ok(unchanged(format!(
                "service deployment {} is not one Slipway started: nothing to record",
                hook.service_deployment_arn
            )));
        };
        let Some(current) = self.ledger.deployment(&target.name, &rollout.key).await? else {
            return Ok(unchanged(format!(
                "the rollouts of {} name {} for {}, but the ledger has no such record",
                target.name, rollout.deployment_id, hook.service_deployment_arn
            )));
        };
        // The pause the request waits on, as recorded before this event clears it.
        let awaited = current
            .value
            .progress
            .as_ref()
            .and_then(|p| p.pause.as_ref())
            .is_some_and(|p| p.hook_id == hook.hook_id);
        let current = match self.note(target, current, hook).await? {
            Noted::Already(current) => current,
            Noted::Now(current) => current,
        };
        let outcome = match hook.name {
            HookEventName::AwaitingAction => self.on_pause(target, current.clone(), hook).await?,
            HookEventName::TimedOut if awaited => {
                self.on_pause_timed_out(current.clone(), hook).await?
            }
            HookEventName::Failed | HookEventName::TimedOut if hook.hook_type == "AWS_LAMBDA" => {
                self.on_check_failed(current.clone(), hook).await?
            }
            _ => None,
        };
        let outcome = outcome.unwrap_or(TargetOutcome::Unchanged {
            state: Some(current.value.state),
            reason: format!("noted: hook {} {:?}", hook.hook_id, hook.name),
        });
        Ok(Handled::of(&current.value, outcome))
    }

    /// A hook event for a service deployment the rollouts do not name: while an
    /// UpdateService is in flight it may be its own (retried: a pause may come seconds
    /// after it starts), and a rollout whose UpdateService answer was lost recorded no
    /// ARN — the newest one, if it is progressive and knows none, is taken to be it.
    async fn unrecorded(
        &self,
        target: &Target,
        rollouts: &crate::model::rollout::Rollouts,
        hook: &HookChanged,
    ) -> Result<Option<crate::model::rollout::StartedRollout>, StepError> {
        if let Some(starting) = rollouts.starting_now(Utc::now()) {
            return Err(StepError::Busy(format!(
                "{} is calling UpdateService on {}/{} and has not recorded its service deployment yet; {} may be it",
                starting.deployment_id, target.cluster, target.service, hook.service_deployment_arn
            )));
        }
        let Some(latest) = rollouts.latest_own() else {
            return Ok(None);
        };
        let record = self.ledger.deployment(&target.name, &latest.key).await?;
        let unknown = record.is_some_and(|r| {
            r.value
                .progress
                .as_ref()
                .is_some_and(|p| p.service_deployment_arn.is_none())
        });
        Ok(unknown.then(|| latest.clone()))
    }

    /// Records the stage reached and the pause on the rollout's progress, once per event.
    async fn note(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        hook: &HookChanged,
    ) -> Result<Noted, StepError> {
        let stage = hook
            .stage
            .map_or("an unknown stage".to_string(), |s| s.ecs_name().to_string());
        let note = format!(
            "ECS hook {} {:?} at {stage} (event {})",
            hook.hook_id, hook.name, hook.event_id
        );
        if current.value.history.iter().any(|h| h.note == note) {
            return Ok(Noted::Already(current));
        }
        let at = hook.updated_at.unwrap_or_else(Utc::now);
        let mut next = current.value.clone();
        let progress = next.progress.get_or_insert_with(|| {
            Progress::new(
                target.rollout.strategy.describe(),
                Some(hook.service_deployment_arn.clone()),
            )
        });
        progress
            .service_deployment_arn
            .get_or_insert_with(|| hook.service_deployment_arn.clone());
        if let Some(stage) = hook.stage {
            progress.reached(stage.ecs_name(), at);
        }
        let answered = progress.answered(&hook.hook_id).is_some();
        match (hook.name, hook.stage) {
            (HookEventName::AwaitingAction, Some(stage)) if !answered => {
                progress.pause = Some(PausedAt {
                    hook_id: hook.hook_id.clone(),
                    stage,
                    expires_at: hook.expires_at,
                    since: at,
                })
            }
            (HookEventName::AwaitingAction, _) => {}
            _ if progress
                .pause
                .as_ref()
                .is_some_and(|p| p.hook_id == hook.hook_id) =>
            {
                progress.pause = None
            }
            _ => {}
        }
        next.history.push(HistoryEntry {
            at,
            state: current.value.state,
            note: note.clone(),
        });
        let saved = self.ledger.save(&current, next).await?;
        info!(
            event_id = hook.event_id,
            target = target.name,
            deployment_id = saved.value.id,
            decision = "noted",
            "{note}"
        );
        Ok(Noted::Now(saved))
    }

    /// ECS waits at a PAUSE hook of one of Slipway's rollouts: the approval Slipway asked
    /// ECS for (ask the approvers), a later step of an approved release (continue), or a
    /// pause Slipway did not ask for (left to whoever configured it).
    async fn on_pause(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        hook: &HookChanged,
    ) -> Result<Option<TargetOutcome>, StepError> {
        let ApprovalPoint::During(stage) = target.rollout.approval else {
            return Ok(None);
        };
        let ours = hook.stage == Some(stage)
            && current
                .value
                .progress
                .as_ref()
                .and_then(|p| p.pause.as_ref())
                .is_some_and(|p| p.hook_id == hook.hook_id);
        if !ours || current.value.state != State::Rolling {
            return Ok(None);
        }
        let approved = current
            .value
            .approval
            .as_ref()
            .and_then(|a| a.decision.as_ref())
            .is_some_and(|d| d.verdict == Verdict::Approve);
        if approved && target.rollout.ask_each_step {
            // A later step, and the target asks at every one: the step before keeps its
            // request (and decision) in the record; this step gets a request of its own.
            let mut next = current.value.clone();
            let earlier = next.approval.take().expect("approved above");
            if let Some(progress) = next.progress.as_mut() {
                progress.earlier_approvals.push(earlier);
            }
            let saved = self.ledger.save(&current, next).await?;
            return Ok(Some(self.request_approval(target, saved).await?));
        }
        if approved {
            // A later step of a release a person approved: Slipway continues it.
            let answer = self
                .answer_pause(&current.value, HookAction::Continue, "slipway")
                .await?;
            let saved = self
                .record_answer(current, &answer, HookAction::Continue, "slipway", None)
                .await?;
            return Ok(Some(rolling_outcome(&saved.value)));
        }
        if !self.is_newest(target, &current.value).await? {
            // An older release's pause, after a newer one was accepted: Slipway never
            // continues an older release; ECS rolls it back.
            let answer = self
                .answer_pause(&current.value, HookAction::Rollback, "slipway")
                .await?;
            let saved = self
                .record_answer(
                    current,
                    &answer,
                    HookAction::Rollback,
                    "slipway (a newer release was accepted)",
                    Some(State::RolledBack),
                )
                .await?;
            return Ok(Some(TargetOutcome::Moved {
                from: State::Rolling,
                to: saved.value.state,
                note: "an older release's pause: rolled back".into(),
            }));
        }
        // `rolling` → `awaiting-approval`, with the request's expiry ECS's own.
        Ok(Some(self.request_approval(target, current).await?))
    }

    /// Whether `deployment` is the target's newest rollout (no push, upload or other
    /// deployment reached ECS after it).
    async fn is_newest(&self, target: &Target, deployment: &Deployment) -> Result<bool, StepError> {
        let rollouts = self.ledger.rollouts(&target.name).await?;
        Ok(rollouts
            .and_then(|r| r.value.latest_own().map(|l| l.deployment_id.clone()))
            .is_none_or(|newest| newest == deployment.id))
    }
}

enum Noted {
    Already(Versioned<Deployment>),
    Now(Versioned<Deployment>),
}
