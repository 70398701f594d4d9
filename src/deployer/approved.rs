//! Rolling an approved deployment: now (the page), after the answer (Slack's roll job),
//! or again when an earlier approval's rollout stopped short — always exactly the change
//! that was planned, derived again from the planned base.

use chrono::Utc;

use tracing::Instrument;

use super::decisions::*;
use super::{decision_span, log_decision, log_warning, Deployer, StepError, TargetOutcome};
use crate::input::source::{parse_manifest, Manifest, ManifestKind, MAX_MANIFEST_BYTES};
use crate::ledger::{LedgerError, Versioned};
use crate::model::deployment::{
    Action, Actor, DecisionRefused, Deployment, State, Trigger, Verdict,
};
use crate::ports::{Adapters, DescribedTaskDefinition, Ecs, SourceBucket, SourceObject};

impl<A: Adapters> Deployer<A> {
    /// Rolls a deployment a person approved with [`RollWhen::Later`]. Only an approved
    /// deployment whose rollout has not started rolls; anything else (a job delivered
    /// twice, a deployment already rolling) is answered `Refused` and changes nothing.
    pub async fn roll_decided(
        &self,
        deployment_id: &str,
        actor: &Actor,
    ) -> Result<DecisionOutcome, DecisionError> {
        let current = self.deployment(deployment_id).await?;
        let approved = current
            .value
            .approval
            .as_ref()
            .and_then(|request| request.decision.as_ref())
            .is_some_and(|decision| decision.verdict == Verdict::Approve);
        if current.value.state != State::Approved || !approved {
            return Ok(DecisionOutcome::Refused {
                reason: format!("nothing to roll: it is {}", current.value.state),
            });
        }
        let target = self.target_of(&current.value)?;
        let span = decision_span(
            "",
            &target.name,
            super::image_digest(&current.value.image),
            deployment_id,
        );
        let taken = "taken: rolling out the approval recorded before the answer";
        Box::pin(self.resume_approved(target, current, actor, &decision_holder(), taken))
            .instrument(span)
            .await
    }

    /// Releases the decision's lease if its rollout stopped short, so that approving
    /// again completes it at once.
    pub(super) async fn finish_rollout(
        &self,
        target: &crate::input::config::Target,
        key: &str,
        holder: &str,
        rollout: Result<TargetOutcome, StepError>,
    ) -> Result<DecisionOutcome, DecisionError> {
        match rollout {
            Ok(rollout) => Ok(DecisionOutcome::Rolled { rollout }),
            Err(err) => {
                log_warning(
                    "failed",
                    &format!(
                        "approved, but the rollout stopped: {err}; approving again completes it"
                    ),
                );
                let invocation = super::Invocation {
                    request_id: holder.to_string(),
                    deadline: Utc::now(),
                };
                self.release_lease(&target.name, key, &invocation, &err)
                    .await;
                Err(step_error(&Deployment::id_for(&target.name, key), err))
            }
        }
    }

    /// Completes the rollout of a deployment approved earlier whose rollout stopped short.
    pub(super) async fn resume_approved(
        &self,
        target: &crate::input::config::Target,
        current: Versioned<Deployment>,
        actor: &Actor,
        holder: &str,
        taken_note: &str,
    ) -> Result<DecisionOutcome, DecisionError> {
        let id = current.value.id.clone();
        let now = Utc::now();
        let mut next = current.value.clone();
        // Who approved, for the approver who came second: the same words as any other
        // refusal of an already decided request.
        let decided = current
            .value
            .approval
            .as_ref()
            .and_then(|request| request.decision.clone())
            .map(|decision| DecisionRefused::AlreadyDecided(decision).to_string())
            .unwrap_or_else(|| "it was approved".into());
        let reason = format!("{decided}; it is being rolled out right now: nothing to do");
        let refused =
            current
                .value
                .attempt(Action::Approve, actor, format!("refused: {reason}"), now);
        let busy = || async {
            self.audit(&target.name, &current.value.key, &refused)
                .await?;
            Ok(DecisionOutcome::Refused {
                reason: reason.clone(),
            })
        };
        if current.value.is_held_by_other(holder, now) {
            return busy().await;
        }
        next.take_over(holder, now + ROLL_LEASE);
        let taken = match self.ledger.save(&current, next).await {
            Ok(taken) => taken,
            Err(LedgerError::Conflict { .. }) => return busy().await,
            Err(err) => return Err(step_error(&id, err)),
        };
        let entry = taken.value.attempt(Action::Approve, actor, taken_note, now);
        self.audit(&target.name, &taken.value.key, &entry).await?;
        log_decision("resumed", "completing the rollout of an earlier approval");
        let key = taken.value.key.clone();
        let rollout = Box::pin(self.roll_approved(target, taken)).await;
        self.finish_rollout(target, &key, holder, rollout).await
    }

    /// Registers and rolls exactly the planned change, derived again from the planned
    /// base: the running definition the plan was made against, or the uploaded version.
    pub(super) async fn roll_approved(
        &self,
        target: &crate::input::config::Target,
        approved: Versioned<Deployment>,
    ) -> Result<TargetOutcome, StepError> {
        let changes = approved.value.changes.clone();
        let base = match self.uploaded_definition(&approved.value).await? {
            Some(uploaded) => uploaded.full,
            None => {
                self.ecs
                    .describe_task_definition(&approved.value.from_task_definition)
                    .await?
                    .full
            }
        };
        self.roll(target, approved, &base, changes).await
    }

    /// The uploaded `taskdef.json` a deployment was planned from, read again by its
    /// version id; `None` for deployments derived from the running definition.
    pub(super) async fn uploaded_definition(
        &self,
        deployment: &Deployment,
    ) -> Result<Option<DescribedTaskDefinition<<A::Ecs as Ecs>::TaskDefinition>>, StepError> {
        let Trigger::SourceUpload {
            bucket,
            key,
            version_id,
            manifest: ManifestKind::TaskDefinition,
            ..
        } = &deployment.trigger
        else {
            return Ok(None);
        };
        let body = match self
            .sources
            .read_version(bucket, key, version_id, MAX_MANIFEST_BYTES)
            .await?
        {
            SourceObject::Found { body } => body,
            _ => {
                return Err(StepError::Rejected(format!(
                    "version {version_id} of {key} is gone: cannot roll it"
                )))
            }
        };
        let Ok(Manifest::TaskDefinition(document)) =
            parse_manifest(ManifestKind::TaskDefinition, &body)
        else {
            return Err(StepError::Rejected(format!("{key} no longer parses")));
        };
        let parsed = self
            .ecs
            .parse_task_definition(&document)
            .await
            .map_err(StepError::Rejected)?;
        Ok(Some(parsed))
    }
}
