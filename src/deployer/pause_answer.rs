//! Answering ECS's pause of a progressive rollout (ContinueServiceDeployment): for a
//! person's approval or rejection, and for the later steps Slipway continues itself. ECS
//! accepts an answer only while the hook is AWAITING_ACTION (Amazon ECS Developer Guide,
//! "Continue a paused service deployment"), so an answer ECS refuses is checked against
//! DescribeServiceDeployments, and every answer is recorded on a fresh read when a hook
//! event wrote the deployment meanwhile.

use chrono::Utc;

use super::{log_decision, Deployer, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::ledger::Versioned;
use crate::model::deployment::progress::{AnsweredHook, PausedAt};
use crate::model::deployment::{Deployment, HistoryEntry, State};
use crate::model::service_deployment::HookAction;
use crate::ports::{Adapters, Ecs};

impl<A: Adapters> Deployer<A> {
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
    pub(super) async fn answer_pause(
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
    pub(super) async fn record_answer(
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
pub(super) struct Answer {
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

fn decided_by(deployment: &Deployment) -> String {
    deployment
        .approval
        .as_ref()
        .and_then(|a| a.decision.as_ref())
        .map_or_else(|| "slipway".to_string(), |d| d.actor.clone())
}

pub(super) fn rolling_outcome(deployment: &Deployment) -> TargetOutcome {
    TargetOutcome::Rolling {
        from_task_definition: deployment.from_task_definition.clone(),
        to_task_definition: deployment.to_task_definition.clone().unwrap_or_default(),
        ecs_deployment_id: deployment.ecs_deployment_id.clone().unwrap_or_default(),
        changes: deployment.changes.clone(),
    }
}
