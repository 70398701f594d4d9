//! An approver's override of a closed deployment window for one release (`slipway
//! override-window <id> --reason …`): the one way to roll inside a deny span. Who and why
//! are kept on the release and in its audit trail; the release then rolls as the
//! window's opening would roll it, so what else holds a release still holds it — a
//! freeze of an `auto` target, a service that another release moved on, a newer release.

use chrono::{DateTime, Utc};

use super::decisions::step_error;
use super::{log_decision, DecisionError, Deployer, Invocation, TargetOutcome};
use crate::ledger::LedgerError;
use crate::model::deployment::{Action, Actor, Deployment, State, WindowOverride, OVERRIDE_LASTS};
use crate::ports::Adapters;

/// What an override did.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum OverrideOutcome {
    /// Let through, and it rolls: what the roll did.
    Released { rollout: TargetOutcome },
    /// Let through, but it did not roll now (frozen, superseded, another invocation at
    /// work): why, and until when the override lets it through the reconciler's runs.
    NotRolled { why: String, until: DateTime<Utc> },
    /// Not taken (not waiting for its window, no reason): audited all the same.
    Refused { reason: String },
}

impl<A: Adapters> Deployer<A> {
    /// `actor` (an approver of the target: the caller checks) lets `deployment_id`
    /// through its closed window, saying why.
    pub async fn override_window(
        &self,
        deployment_id: &str,
        actor: &Actor,
        reason: Option<String>,
        invocation: &Invocation,
    ) -> Result<OverrideOutcome, DecisionError> {
        let current = self.deployment(deployment_id).await?;
        let target = self.target_of(&current.value)?;
        let record = &current.value;
        let refuse = |why: String| async move {
            self.audit_refused(record, Action::OverrideWindow, actor, &why)
                .await;
            Ok(OverrideOutcome::Refused { reason: why })
        };
        let Some(reason) = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
        else {
            return refuse(
                "an override needs a reason (--reason): it is kept with the release".into(),
            )
            .await;
        };
        if current.value.state != State::WaitingForWindow {
            let why = format!(
                "{deployment_id} is {}: only a release waiting for its deployment window can be let through",
                current.value.state
            );
            return refuse(why).await;
        }
        let now = self.now();
        let mut next = current.value.clone();
        if let Some(window) = next.window.as_mut() {
            window.overridden = Some(WindowOverride {
                by: actor.id.clone(),
                reason: reason.clone(),
                at: now,
            });
        }
        let saved = match self.ledger.save(&current, next).await {
            Ok(saved) => saved,
            Err(LedgerError::Conflict { .. }) => {
                return refuse(format!(
                    "{deployment_id} changed while the override was recorded: look at it again (slipway show)"
                ))
                .await
            }
            Err(err) => return Err(step_error(deployment_id, err)),
        };
        let entry = saved.value.attempt(
            Action::OverrideWindow,
            actor,
            format!("taken: {reason}"),
            now,
        );
        self.audit(&target.name, &saved.value.key, &entry).await?;
        log_decision(
            "window-overridden",
            &format!(
                "{} let {deployment_id} through the closed window: {reason}",
                actor.id
            ),
        );
        let rollout = self
            .release_waiting(target, invocation)
            .await
            .map_err(|err| step_error(deployment_id, err))?;
        let until = now + OVERRIDE_LASTS;
        let why = match rollout {
            Some(TargetOutcome::Rolling { .. } | TargetOutcome::AwaitingApproval { .. }) => {
                return Ok(OverrideOutcome::Released {
                    rollout: rollout.expect("matched"),
                })
            }
            Some(TargetOutcome::Frozen { reason }) => format!("the target is frozen: {reason}"),
            Some(TargetOutcome::Superseded { by }) => format!("it was superseded by {by}"),
            Some(other) => format!(
                "the roll answered {}",
                serde_json::to_string(&other).unwrap_or_default()
            ),
            None => match self.deployment(deployment_id).await.map(|d| d.value) {
                Ok(d) if d.state == State::WaitingForWindow => {
                    "another invocation is at work on the target: the reconciler's next run rolls it".into()
                }
                Ok(d) => format!("it is {} now: {}", d.state, last_note(&d)),
                Err(err) => err.to_string(),
            },
        };
        log_decision(
            "window-overridden",
            &format!("{deployment_id} did not roll now ({why}); the override lasts until {until}"),
        );
        Ok(OverrideOutcome::NotRolled { why, until })
    }
}

fn last_note(deployment: &Deployment) -> &str {
    deployment.history.last().map_or("", |h| h.note.as_str())
}
