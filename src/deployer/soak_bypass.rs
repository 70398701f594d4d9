//! An approver's hotfix bypass of a promotion soak (`slipway bypass-soak <id> --reason …`):
//! the release waiting out its soak goes on now — and still needs the approval its target
//! demands, which is why only a target with policy `approval` can be bypassed, and only
//! by one of its approvers (the operator endpoint checks). Only the soak is bypassed: a
//! digest that did not succeed upstream, or whose alarms went to ALARM, stays refused.
//! Who, when and why are kept on the release (`promotion.soak_bypass`, and the evidence's
//! "the soak bypassed by …" the approvers read) and in its audit trail.

use super::decisions::step_error;
use super::{log_decision, DecisionError, Deployer, Invocation, TargetOutcome};
use crate::input::config::Policy;
use crate::ledger::LedgerError;
use crate::model::deployment::{Action, Actor, SoakBypass, State};
use crate::ports::Adapters;

/// What a bypass did.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum BypassOutcome {
    /// Recorded, and the release went on: what it did (asked the approvers, most often).
    Released { rollout: TargetOutcome },
    /// Recorded, but the release did not go on now: why (the reconciler's next run looks
    /// again, the bypass kept).
    NotReleased { why: String },
    /// Not taken: audited all the same.
    Refused { reason: String },
}

impl<A: Adapters> Deployer<A> {
    /// `actor` (an approver of the target: the caller checks) bypasses the soak
    /// `deployment_id` waits out, saying why.
    pub async fn bypass_soak(
        &self,
        deployment_id: &str,
        actor: &Actor,
        reason: Option<String>,
        invocation: &Invocation,
    ) -> Result<BypassOutcome, DecisionError> {
        let current = self.deployment(deployment_id).await?;
        let target = self.target_of(&current.value)?;
        let record = &current.value;
        let refuse = |why: String| async move {
            self.audit_refused(record, Action::BypassSoak, actor, &why)
                .await;
            Ok(BypassOutcome::Refused { reason: why })
        };
        let Some(reason) = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
        else {
            return refuse(
                "a bypass needs a reason (--reason): it is kept with the release".into(),
            )
            .await;
        };
        if target.policy != Policy::Approval {
            return refuse(format!(
                "target {} deploys automatically: a bypassed soak must still be approved, so only a target with policy `approval` can have its soak bypassed",
                target.name
            ))
            .await;
        }
        // Waiting for upstream: out its soak, or for the upstream's rollout to end (the
        // bypass then lets it go on the moment that rollout succeeds).
        if current.value.state != State::WaitingForUpstream {
            return refuse(format!(
                "{deployment_id} is {}: only a release waiting for upstream can have its soak bypassed",
                current.value.state
            ))
            .await;
        }
        let now = self.now();
        let mut next = current.value.clone();
        if let Some(check) = next.promotion.as_mut() {
            check.soak_bypass = Some(SoakBypass {
                by: actor.id.clone(),
                reason: reason.clone(),
                at: now,
            });
        }
        let saved = match self.ledger.save(&current, next).await {
            Ok(saved) => saved,
            Err(LedgerError::Conflict { .. }) => {
                return refuse(format!(
                    "{deployment_id} changed while the bypass was recorded: look at it again (slipway show)"
                ))
                .await
            }
            Err(err) => return Err(step_error(deployment_id, err)),
        };
        let entry = saved
            .value
            .attempt(Action::BypassSoak, actor, format!("taken: {reason}"), now);
        self.audit(&target.name, &saved.value.key, &entry).await?;
        log_decision(
            "soak-bypassed",
            &format!(
                "{} bypassed the soak of {deployment_id}: {reason}",
                actor.id
            ),
        );
        let rollout = Box::pin(self.release_waiting(target, invocation))
            .await
            .map_err(|err| step_error(deployment_id, err))?;
        Ok(match rollout {
            Some(rollout @ TargetOutcome::AwaitingApproval { .. }) => {
                BypassOutcome::Released { rollout }
            }
            Some(other) => BypassOutcome::NotReleased {
                why: serde_json::to_string(&other).unwrap_or_default(),
            },
            None => BypassOutcome::NotReleased {
                why: match self.deployment(deployment_id).await.map(|d| d.value) {
                    Ok(d) => format!(
                        "it is {}: {}",
                        d.state,
                        d.history.last().map_or("", |h| h.note.as_str())
                    ),
                    Err(err) => err.to_string(),
                },
            },
        })
    }
}
