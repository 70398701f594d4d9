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
//! while waiting: `expired` (ECS rolls back by itself). A later pause of the same rollout
//! (PRE_PRODUCTION_TRAFFIC_SHIFT repeats before every canary or linear step) is continued
//! by Slipway itself: the person approved the release, not each step.
//!
//! The event names only the service deployment's ARN, recorded when Slipway's
//! UpdateService started it; every hook event is also noted on the rollout's progress
//! (stage reached, pause), once.

use chrono::Utc;
use tracing::info;

use super::outcomes::Handled;
use super::{log_decision, Deployer, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::input::event::{HookChanged, HookEventName};
use crate::ledger::Versioned;
use crate::model::deployment::progress::{AnsweredHook, PausedAt};
use crate::model::deployment::{Action, Actor, Deployment, HistoryEntry, Progress, State, Verdict};
use crate::model::progressive::ApprovalPoint;
use crate::model::service_deployment::HookAction;
use crate::ports::{Adapters, Ecs};

impl<A: Adapters> Deployer<A> {
    pub(super) async fn note_hook_event(
        &self,
        target: &Target,
        hook: &HookChanged,
    ) -> Result<Handled, StepError> {
        let unchanged = |reason: String| Handled {
            deployment_id: String::new(),
            image: String::new(),
            outcome: TargetOutcome::Unchanged {
                state: None,
                reason,
            },
        };
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

    /// ECS's pause ran out before anyone decided: the request expires; ECS rolls back by
    /// itself (the hook's timeout action).
    async fn on_pause_timed_out(
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

    /// An approved deployment that already rolled with a pause: ContinueServiceDeployment
    /// CONTINUE, then `rolling` again (what `roll` does instead of registering and
    /// rolling; it never calls UpdateService for it again). If ECS no longer waits — the
    /// pause was answered by an earlier attempt whose record was lost, in the console, or
    /// timed out — the deployment is `rolling` all the same, and ECS's end of it (read by
    /// the reconciler) says how it went.
    pub(super) async fn continue_paused(
        &self,
        approved: Versioned<Deployment>,
    ) -> Result<TargetOutcome, StepError> {
        let by = decided_by(&approved.value);
        let answer = self
            .answer_pause(&approved.value, HookAction::Continue, &by)
            .await?;
        let saved = self
            .record_answer(
                approved,
                &answer,
                HookAction::Continue,
                &by,
                Some(State::Rolling),
            )
            .await?;
        Ok(rolling_outcome(&saved.value))
    }

    /// A rejected deployment ECS holds at its pause: ContinueServiceDeployment ROLLBACK,
    /// then `rolled-back`, told as a failure.
    pub(super) async fn roll_back_paused(
        &self,
        target: &Target,
        rejected: Versioned<Deployment>,
    ) -> Result<(), StepError> {
        let by = decided_by(&rejected.value);
        let answer = self
            .answer_pause(&rejected.value, HookAction::Rollback, &by)
            .await?;
        let saved = self
            .record_answer(
                rejected,
                &answer,
                HookAction::Rollback,
                &by,
                Some(State::RolledBack),
            )
            .await?;
        Box::pin(self.tell_outcome(target, saved)).await
    }

    /// Answers the pause the deployment records. ECS accepts an answer only while the hook
    /// is AWAITING_ACTION (Developer Guide, "Continue a paused service deployment"), so a
    /// refused answer is checked against DescribeServiceDeployments: a hook no longer
    /// waiting was answered already (or timed out), which is not an error to retry.
    async fn answer_pause(
        &self,
        deployment: &Deployment,
        action: HookAction,
        by: &str,
    ) -> Result<Answer, StepError> {
        let progress = deployment.progress.as_ref();
        let Some(pause) = progress.and_then(|p| p.pause.clone()) else {
            return Ok(Answer {
                hook: None,
                elsewhere: Some("ECS no longer waits at a pause of this rollout".into()),
            });
        };
        let Some(arn) = progress.and_then(|p| p.service_deployment_arn.clone()) else {
            return Err(StepError::Rejected(format!(
                "{} records no service deployment: its pause cannot be answered",
                deployment.id
            )));
        };
        let answered = self
            .ecs
            .continue_service_deployment(&arn, &pause.hook_id, action)
            .await;
        let elsewhere = match answered {
            Ok(()) => None,
            Err(err) => {
                let described = self.ecs.describe_service_deployment(&arn).await?;
                match described {
                    Some(d) if !d.awaiting.iter().any(|h| h.hook_id == pause.hook_id) => {
                        Some(format!(
                            "ECS no longer waits at this pause (the service deployment is {})",
                            d.status
                        ))
                    }
                    _ => return Err(err.into()),
                }
            }
        };
        log_decision(
            "answered-pause",
            &format!(
                "ContinueServiceDeployment {} for {arn} at {} ({by}){}",
                action.ecs_name(),
                pause.stage.ecs_name(),
                elsewhere
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        );
        Ok(Answer {
            hook: Some(pause),
            elsewhere,
        })
    }

    /// Records the answer to the pause (and the move, if any) on the deployment, again on
    /// a fresh read when a hook event or a retry wrote it meanwhile.
    async fn record_answer(
        &self,
        mut current: Versioned<Deployment>,
        answer: &Answer,
        action: HookAction,
        by: &str,
        to: Option<State>,
    ) -> Result<Versioned<Deployment>, StepError> {
        for _ in 0..super::HEAD_ATTEMPTS {
            let Some(next) = answered(&current.value, answer, action, by, to, Utc::now())? else {
                return Ok(current);
            };
            match self.ledger.save(&current, next).await {
                Ok(saved) => return Ok(saved),
                Err(crate::ledger::LedgerError::Conflict { .. }) => {
                    current = self
                        .ledger
                        .deployment(&current.value.target, &current.value.key)
                        .await?
                        .ok_or_else(|| {
                            StepError::Rejected(format!("{} disappeared", current.value.id))
                        })?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(StepError::Busy(format!(
            "{}: the answer to ECS's pause was given, but recording it kept conflicting; deciding again records it",
            current.value.id
        )))
    }
}

/// How a pause was answered: the hook, and why ECS no longer waited if it did not.
struct Answer {
    hook: Option<PausedAt>,
    elsewhere: Option<String>,
}

/// The deployment with the answer recorded, or `None` when it already is.
fn answered(
    deployment: &Deployment,
    answer: &Answer,
    action: HookAction,
    by: &str,
    to: Option<State>,
    now: chrono::DateTime<Utc>,
) -> Result<Option<Deployment>, StepError> {
    let mut next = deployment.clone();
    let mut changed = false;
    if let (Some(progress), Some(hook)) = (next.progress.as_mut(), &answer.hook) {
        if progress
            .pause
            .as_ref()
            .is_some_and(|p| p.hook_id == hook.hook_id)
        {
            progress.pause = None;
            changed = true;
        }
        if progress.answered(&hook.hook_id).is_none() {
            progress.answered.push(AnsweredHook {
                hook_id: hook.hook_id.clone(),
                action,
                by: by.to_string(),
                at: now,
            });
            changed = true;
        }
    }
    let stage = answer
        .hook
        .as_ref()
        .map_or("its pause".to_string(), |h| h.stage.ecs_name().to_string());
    let elsewhere = answer
        .elsewhere
        .as_ref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    match to {
        Some(to) if next.state != to && next.state.can_move_to(to) => {
            let note = match action {
                HookAction::Continue => {
                    format!("approved by {by}: ECS continues from {stage}{elsewhere}")
                }
                HookAction::Rollback => {
                    format!("rejected by {by} at {stage}: ECS rolls the service back{elsewhere}")
                }
            };
            next.advance(to, note, now)?;
            if to == State::RolledBack {
                next.rolled_back_to =
                    Some(format!("what ran before ({})", next.from_task_definition));
                next.ended_at = Some(now);
            }
            changed = true;
        }
        Some(_) => {}
        None if changed => next.history.push(HistoryEntry {
            at: now,
            state: next.state,
            note: format!(
                "Slipway continued ECS's pause at {stage} (the release was approved){elsewhere}"
            ),
        }),
        None => {}
    }
    if !changed {
        return Ok(None);
    }
    next.lease = None;
    Ok(Some(next))
}

enum Noted {
    Already(Versioned<Deployment>),
    Now(Versioned<Deployment>),
}

fn decided_by(deployment: &Deployment) -> String {
    deployment
        .approval
        .as_ref()
        .and_then(|a| a.decision.as_ref())
        .map_or_else(|| "slipway".to_string(), |d| d.actor.clone())
}

fn rolling_outcome(deployment: &Deployment) -> TargetOutcome {
    TargetOutcome::Rolling {
        from_task_definition: deployment.from_task_definition.clone(),
        to_task_definition: deployment.to_task_definition.clone().unwrap_or_default(),
        ecs_deployment_id: deployment.ecs_deployment_id.clone().unwrap_or_default(),
        changes: deployment.changes.clone(),
    }
}
