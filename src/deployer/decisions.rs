//! A person's decision on a deployment awaiting approval (toward issue 4: the approval
//! function and Slack call this once they have authenticated the request).
//!
//! The decision is taken once, through a compare-and-set on the ledger record; approving
//! then rolls exactly what was planned — unless the service changed since the plan, in
//! which case the approval is refused rather than applied to something nobody saw.

use chrono::Utc;
use serde::Serialize;

use tracing::Instrument;

use super::{decision_span, log_decision, Deployer, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::ledger::{LedgerError, Versioned};
use crate::model::deployment::{Action, Actor, Channel, Deployment, Lease, State, Verdict};
use crate::ports::ServiceState;
use crate::ports::{Adapters, Notifier};

/// What became of a decision.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum DecisionOutcome {
    /// Approved, and the service is rolling onto the planned revision.
    Rolled { rollout: TargetOutcome },
    /// Approved and recorded; the roll was left to a [`RollWhen::Later`] job
    /// ([`Deployer::roll_decided`]).
    Approved,
    /// Rejected: recorded, nothing rolls.
    Rejected,
    /// Not taken: already decided, expired, superseded, or the service changed since the
    /// plan. The attempt is in the ledger's audit all the same.
    Refused { reason: String },
}

/// Whether a decision was taken on the record, or refused.
enum Recorded {
    Taken(Box<Versioned<Deployment>>),
    Refused(DecisionOutcome),
}

/// When an approval rolls: within the request (the approval page), or after the answer,
/// by a job the caller hands over (Slack, which allows 3 seconds: `approval::later`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollWhen {
    Now,
    Later,
}

/// Why a decision could not be taken. The failed step keeps its kind, so the page and
/// Slack can say whether trying again helps.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("no deployment `{0}`")]
    UnknownDeployment(String),
    #[error("deciding on {deployment}: {source}")]
    Step {
        deployment: String,
        source: StepError,
    },
}

impl DecisionError {
    /// Whether trying the same decision again later may succeed (throttling, a timeout):
    /// the kind the failed step had.
    pub fn is_transient(&self) -> bool {
        match self {
            DecisionError::UnknownDeployment(_) => false,
            DecisionError::Step { source, .. } => source.is_transient(),
        }
    }
}

impl<A: Adapters> Deployer<A> {
    /// The configured target a deployment belongs to (gone from the config: unknown).
    pub(super) fn target_of(
        &self,
        deployment: &Deployment,
    ) -> Result<&crate::input::config::Target, DecisionError> {
        self.config
            .target(&deployment.target)
            .ok_or_else(|| DecisionError::UnknownDeployment(deployment.id.clone()))
    }

    /// The ledger record behind a deployment id (`<target>.<key>`).
    pub async fn deployment(
        &self,
        deployment_id: &str,
    ) -> Result<Versioned<Deployment>, DecisionError> {
        let (target, key) = deployment_id
            .split_once('.')
            .ok_or_else(|| DecisionError::UnknownDeployment(deployment_id.to_string()))?;
        self.ledger
            .deployment(target, key)
            .await
            .map_err(|err| step_error(deployment_id, err))?
            .filter(|record| record.value.id == deployment_id)
            .ok_or_else(|| DecisionError::UnknownDeployment(deployment_id.to_string()))
    }

    /// Takes `actor`'s decision on `deployment_id`. The caller has authenticated the
    /// request (signed link or Slack signature); this decides once and acts.
    pub async fn decide(
        &self,
        deployment_id: &str,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<DecisionOutcome, DecisionError> {
        self.decide_then(deployment_id, verdict, actor, reason, RollWhen::Now)
            .await
    }

    /// [`Deployer::decide`], with the roll of an approval done `when` the caller says:
    /// with [`RollWhen::Later`] an approval is recorded and answered
    /// [`DecisionOutcome::Approved`], and the caller hands [`Deployer::roll_decided`] over.
    pub async fn decide_then(
        &self,
        deployment_id: &str,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        when: RollWhen,
    ) -> Result<DecisionOutcome, DecisionError> {
        let current = self.deployment(deployment_id).await?;
        let span = decision_span(
            "",
            &current.value.target,
            super::image_digest(&current.value.image),
            deployment_id,
        );
        self.take_decision(current, verdict, actor, reason, when)
            .instrument(span)
            .await
    }

    /// The decision itself, within the deployment's span: a resume of an approval whose
    /// rollout stopped short, a refusal if the service changed since the plan, or the
    /// decision recorded once and then acted on.
    async fn take_decision(
        &self,
        current: Versioned<Deployment>,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        when: RollWhen,
    ) -> Result<DecisionOutcome, DecisionError> {
        let target = self.target_of(&current.value)?;
        let holder = decision_holder();
        // Approved earlier, but that request's rollout did not finish (a transient AWS
        // error after the decision): approving again completes it.
        if verdict == Verdict::Approve && current.value.state == State::Approved {
            if when == RollWhen::Later {
                return Ok(DecisionOutcome::Approved);
            }
            // Boxed, like the other branches: keeps `decide`'s future small on the stack.
            let taken = "taken: completing the rollout of an earlier approval that did not finish";
            return Box::pin(self.resume_approved(target, current, actor, &holder, taken)).await;
        }
        // Rejected earlier while ECS held the rollout, but ECS was not told (a transient
        // error): rejecting again tells it.
        if verdict == Verdict::Reject && current.value.state == State::Rejected {
            let paused = current
                .value
                .progress
                .as_ref()
                .is_some_and(|p| p.pause.is_some());
            if paused {
                return self.roll_back_if_paused(target, current).await;
            }
        }
        if let Some(service) = self.changed_since_plan(target, &current, verdict).await? {
            return Box::pin(self.refuse_changed_service(target, current, actor, &service)).await;
        }
        let key = current.value.key.clone();
        let saved = match self
            .record_decision(target, current, verdict, actor, reason, when, &holder)
            .await?
        {
            Recorded::Taken(saved) => *saved,
            Recorded::Refused(outcome) => return Ok(outcome),
        };
        self.announce_decision(&saved.value, verdict, actor).await;
        if verdict == Verdict::Reject {
            return self.roll_back_if_paused(target, saved).await;
        }
        if when == RollWhen::Later {
            return Ok(DecisionOutcome::Approved);
        }
        let rollout = Box::pin(self.roll_approved(target, saved)).await;
        self.finish_rollout(target, &key, &holder, rollout).await
    }

    /// A rejection of a rollout ECS holds at its pause is told to ECS (ROLLBACK).
    async fn roll_back_if_paused(
        &self,
        target: &Target,
        rejected: Versioned<Deployment>,
    ) -> Result<DecisionOutcome, DecisionError> {
        let paused = rejected
            .value
            .progress
            .as_ref()
            .is_some_and(|p| p.pause.is_some());
        if paused {
            let id = rejected.value.id.clone();
            self.roll_back_paused(target, rejected)
                .await
                .map_err(|err| step_error(&id, err))?;
        }
        Ok(DecisionOutcome::Rejected)
    }

    /// Approving something other than what was planned is refused before deciding: the
    /// service as it runs now, if it changed since the plan of a request still open.
    async fn changed_since_plan(
        &self,
        target: &Target,
        current: &Versioned<Deployment>,
        verdict: Verdict,
    ) -> Result<Option<ServiceState>, DecisionError> {
        let open = current.value.state == State::AwaitingApproval
            && !current.value.approval_expired(Utc::now());
        // Paused inside the rollout, the service runs the new revision already: the plan
        // is what ECS holds, and ECS's own pause keeps anything else from rolling.
        let paused = current
            .value
            .progress
            .as_ref()
            .is_some_and(|p| p.pause.is_some());
        if verdict != Verdict::Approve || !open || paused {
            return Ok(None);
        }
        let (service, _) = self
            .rollable_service(target)
            .await
            .map_err(|err| step_error(&current.value.id, err))?;
        Ok((service.task_definition != current.value.from_task_definition).then_some(service))
    }

    /// Takes the decision on the record once (a compare-and-set) and audits the attempt.
    /// Refused: already decided, expired, or someone decided at the same moment. A
    /// conflict with a write that decided nothing (ECS's hook event noted on a paused
    /// rollout) is tried again on the fresh record.
    #[allow(clippy::too_many_arguments)]
    async fn record_decision(
        &self,
        target: &Target,
        mut current: Versioned<Deployment>,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        when: RollWhen,
        holder: &str,
    ) -> Result<Recorded, DecisionError> {
        for _ in 0..super::HEAD_ATTEMPTS {
            match self
                .try_record_decision(
                    target,
                    current,
                    verdict,
                    actor,
                    reason.clone(),
                    when,
                    holder,
                )
                .await?
            {
                Attempt::Done(recorded) => return Ok(recorded),
                // Someone decided at the same moment: theirs stands (the next try refuses
                // and audits it). Anything else: try again.
                Attempt::Again(latest) => current = *latest,
            }
        }
        Err(step_error(
            &Deployment::id_for(&target.name, &current.value.key),
            StepError::Busy("the record kept changing while deciding; decide again".into()),
        ))
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_record_decision(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        when: RollWhen,
        holder: &str,
    ) -> Result<Attempt, DecisionError> {
        let now = Utc::now();
        let key = current.value.key.clone();
        let mut next = current.value.clone();
        let (decided, entry) = next.decide(verdict, actor, reason, now);
        if verdict == Verdict::Approve && when == RollWhen::Now {
            // Held while this request rolls, so that a resume cannot race it.
            next.lease = Some(Lease {
                holder: holder.to_string(),
                until: now + ROLL_LEASE,
            });
        }
        if let Err(refused) = decided {
            // Nothing to change but an expiry; the attempt is audited either way.
            self.audit(&target.name, &key, &entry).await?;
            if next.state != current.value.state
                && self.ledger.save(&current, next.clone()).await.is_ok()
            {
                self.edit_request_message(&next, &refused.to_string()).await;
            }
            log_decision(
                "refused",
                &format!("{} via {:?}: {refused}", actor.id, actor.channel),
            );
            return Ok(Attempt::Done(Recorded::Refused(DecisionOutcome::Refused {
                reason: refused.to_string(),
            })));
        }
        let saved = match self.ledger.save(&current, next).await {
            Ok(saved) => saved,
            Err(LedgerError::Conflict { .. }) => {
                return Ok(Attempt::Again(Box::new(
                    self.deployment(&current.value.id).await?,
                )));
            }
            Err(err) => return Err(step_error(&current.value.id, err)),
        };
        self.audit(&target.name, &key, &entry).await?;
        Ok(Attempt::Done(Recorded::Taken(Box::new(saved))))
    }

    /// Logs a decision just taken and edits the request's Slack message to say so (a Slack
    /// click is answered through its own response instead).
    async fn announce_decision(&self, deployment: &Deployment, verdict: Verdict, actor: &Actor) {
        let at = Utc::now().format("%Y-%m-%d %H:%M UTC");
        let (decision, word, consequence) = match verdict {
            Verdict::Reject => ("rejected", "Rejected", "; nothing rolls"),
            Verdict::Approve => ("approved", "Approved", ""),
        };
        log_decision(
            decision,
            &format!(
                "{decision} by {} via {:?}{consequence}",
                actor.id, actor.channel
            ),
        );
        if actor.channel != Channel::Slack {
            self.edit_request_message(deployment, &format!("{word} by {} at {at}", actor.id))
                .await;
        }
    }

    /// Records an attempt on `deployment` that was refused before it reached the decision
    /// (a bad link, a forged nonce, someone not on the approver list). Best effort: the
    /// refusal is answered whether or not the audit entry could be written.
    pub async fn audit_refused(
        &self,
        deployment: &Deployment,
        action: Action,
        actor: &Actor,
        why: &str,
    ) {
        let entry = deployment.attempt(action, actor, format!("refused: {why}"), Utc::now());
        if let Err(err) = self
            .ledger
            .append_audit(&deployment.target, &deployment.key, &entry)
            .await
        {
            tracing::warn!(
                deployment_id = deployment.id,
                "could not audit a refused attempt: {err}"
            );
        }
    }

    /// Edits or answers a Slack request through its `response_url`. Best effort: the
    /// decision is in the ledger whether or not Slack shows it.
    pub async fn answer_slack(&self, response_url: &str, payload: &crate::notify::SlackPayload) {
        if let Err(err) = self.notifier.respond_slack(response_url, payload).await {
            tracing::warn!("could not update the Slack message through response_url: {err}");
        }
    }

    pub(super) async fn audit(
        &self,
        target: &str,
        key: &str,
        entry: &crate::model::deployment::AuditEntry,
    ) -> Result<(), DecisionError> {
        self.ledger
            .append_audit(target, key, entry)
            .await
            .map_err(|err| step_error(&entry.deployment_id, err))
    }
}

/// One try at recording a decision: done (taken or refused), or the record changed first.
enum Attempt {
    Done(Recorded),
    Again(Box<Versioned<Deployment>>),
}

/// How long a decision's rollout holds the record against a concurrent resume.
pub(super) const ROLL_LEASE: chrono::Duration = chrono::Duration::seconds(120);

/// A unique holder id for one decision's lease.
pub(super) fn decision_holder() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    format!("decision-{}", hex::encode(bytes))
}

pub(super) fn step_error(deployment: &str, err: impl Into<StepError>) -> DecisionError {
    DecisionError::Step {
        deployment: deployment.to_string(),
        source: err.into(),
    }
}
