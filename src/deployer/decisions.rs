//! A person's decision on a deployment awaiting approval (toward issue 4: the approval
//! function and Slack call this once they have authenticated the request).
//!
//! The decision is taken once, through a compare-and-set on the ledger record; approving
//! then rolls exactly what was planned — unless the service changed since the plan, in
//! which case the approval is refused rather than applied to something nobody saw.

use chrono::Utc;
use serde::Serialize;

use tracing::Instrument;

use super::{
    decision_span, log_decision, log_warning, record_in_span, Deployer, StepError, TargetOutcome,
};
use crate::input::source::{parse_manifest, Manifest, ManifestKind, MAX_MANIFEST_BYTES};
use crate::ledger::{Claim, LedgerError, Versioned};
use crate::model::deployment::{
    Action, Actor, Channel, DecisionRefused, Deployment, Lease, State, Trigger, Verdict,
};
use crate::model::plan::{self, Derivation};
use crate::ports::{
    Adapters, DescribedTaskDefinition, Ecs, Notifier, ServiceState, SourceBucket, SourceObject,
};

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
    fn target_of(
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

    /// The decision itself, within the deployment's span.
    async fn take_decision(
        &self,
        current: Versioned<Deployment>,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        when: RollWhen,
    ) -> Result<DecisionOutcome, DecisionError> {
        let deployment_id = current.value.id.clone();
        let deployment_id = deployment_id.as_str();
        let target = self.target_of(&current.value)?;
        let now = Utc::now();
        let key = current.value.key.clone();
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

        // Approving something other than what was planned is refused before deciding, and
        // a fresh plan of the same release against what runs now is put up for approval.
        if verdict == Verdict::Approve
            && current.value.state == State::AwaitingApproval
            && !current.value.approval_expired(now)
        {
            let (service, _) = self
                .rollable_service(target)
                .await
                .map_err(|err| step_error(deployment_id, err))?;
            if service.task_definition != current.value.from_task_definition {
                return Box::pin(self.refuse_changed_service(target, current, actor, &service))
                    .await;
            }
        }

        let mut next = current.value.clone();
        let (decided, entry) = next.decide(verdict, actor, reason, now);
        if verdict == Verdict::Approve && when == RollWhen::Now {
            // Held while this request rolls, so that a resume cannot race it.
            next.lease = Some(Lease {
                holder: holder.clone(),
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
            return Ok(DecisionOutcome::Refused {
                reason: refused.to_string(),
            });
        }
        let saved = match self.ledger.save(&current, next).await {
            Ok(saved) => saved,
            // Someone decided at the same moment: theirs stands.
            Err(LedgerError::Conflict { .. }) => {
                let latest = self.deployment(deployment_id).await?;
                let (refused, entry) = latest.value.clone().decide(verdict, actor, None, now);
                self.audit(&target.name, &key, &entry).await?;
                let reason = refused.err().map_or_else(
                    || "someone else decided at the same moment".to_string(),
                    |refused| refused.to_string(),
                );
                return Ok(DecisionOutcome::Refused { reason });
            }
            Err(err) => return Err(step_error(deployment_id, err)),
        };
        self.audit(&target.name, &key, &entry).await?;
        let at = now.format("%Y-%m-%d %H:%M UTC");
        if verdict == Verdict::Reject {
            log_decision(
                "rejected",
                &format!(
                    "rejected by {} via {:?}; nothing rolls",
                    actor.id, actor.channel
                ),
            );
            if actor.channel != Channel::Slack {
                self.edit_request_message(
                    &saved.value,
                    &format!("Rejected by {} at {at}", actor.id),
                )
                .await;
            }
            return Ok(DecisionOutcome::Rejected);
        }
        log_decision(
            "approved",
            &format!("approved by {} via {:?}", actor.id, actor.channel),
        );
        if actor.channel != Channel::Slack {
            self.edit_request_message(&saved.value, &format!("Approved by {} at {at}", actor.id))
                .await;
        }
        if when == RollWhen::Later {
            return Ok(DecisionOutcome::Approved);
        }
        let rollout = Box::pin(self.roll_approved(target, saved)).await;
        self.finish_rollout(target, &key, &holder, rollout).await
    }

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
    async fn finish_rollout(
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
    async fn resume_approved(
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

    /// The service no longer runs what the plan was made against: the request is closed
    /// as superseded, and the same release is planned again against what runs now and
    /// put up for approval, so the approver sees the real change before saying yes.
    async fn refuse_changed_service(
        &self,
        target: &crate::input::config::Target,
        current: Versioned<Deployment>,
        actor: &Actor,
        service: &ServiceState,
    ) -> Result<DecisionOutcome, DecisionError> {
        let id = current.value.id.clone();
        let now = Utc::now();
        let running_now = &service.task_definition;
        let replanned = Box::pin(self.replan(target, &current.value, service))
            .await
            .map_err(|err| step_error(&id, err))?;
        let mut reason = format!(
            "the service changed since this was planned (it now runs {running_now}, the plan was made against {}): not approving what nobody reviewed",
            current.value.from_task_definition
        );
        match &replanned {
            Some(fresh) => reason.push_str(&format!(
                "; a fresh plan against what runs now awaits approval as {fresh}"
            )),
            None => reason.push_str("; the service already runs this release, nothing to approve"),
        }
        let entry =
            current
                .value
                .attempt(Action::Approve, actor, format!("refused: {reason}"), now);
        self.audit(&target.name, &current.value.key, &entry).await?;
        // The fresh request, if any, superseded this one already; otherwise close it here.
        if let Ok(latest) = self.deployment(&id).await {
            if latest.value.state == State::AwaitingApproval {
                let mut next = latest.value.clone();
                next.advance(State::Superseded, reason.clone(), now)
                    .map_err(|err| step_error(&id, err))?;
                if let Ok(saved) = self.ledger.save(&latest, next).await {
                    self.edit_request_message(&saved.value, &reason).await;
                }
            }
        }
        log_warning("refused", &reason);
        Ok(DecisionOutcome::Refused { reason })
    }

    /// Plans `old`'s release again against what `service` runs now and asks for
    /// approval; returns the new deployment's id, or `None` if it already runs.
    async fn replan(
        &self,
        target: &crate::input::config::Target,
        old: &Deployment,
        service: &ServiceState,
    ) -> Result<Option<String>, StepError> {
        let running = self
            .ecs
            .describe_task_definition(&service.task_definition)
            .await?;
        let (changes, planned) = match self.uploaded_definition(old).await? {
            Some(uploaded) => {
                let planned = uploaded.summary.with_images(&old.changes);
                (old.changes.clone(), planned)
            }
            None => {
                let wanted: Vec<(&str, &str)> = old
                    .changes
                    .iter()
                    .map(|c| (c.container.as_str(), c.to.as_str()))
                    .collect();
                match plan::derive_images(&target.name, &running.summary, &wanted)? {
                    Derivation::AlreadyRunning { .. } => return Ok(None),
                    Derivation::Change(changes) => {
                        let planned = running.summary.with_images(&changes);
                        (changes, planned)
                    }
                }
            }
        };
        // One fresh plan per (release, running revision): two approvers refused at once
        // claim the same record.
        let base_key = old.key.split("-r").next().unwrap_or(&old.key);
        let key = format!("{base_key}-r{}", running.summary.revision);
        let record = Deployment {
            image: old.image.clone(),
            version: old.version.clone(),
            diff: plan::summary_diff(&running.summary, &planned),
            changes,
            from_task_definition: service.task_definition.clone(),
            ..Deployment::new(
                &old.target,
                &old.cluster,
                &old.service,
                key,
                old.trigger.clone(),
            )
        };
        let id = record.id.clone();
        match self.ledger.claim(record).await? {
            Claim::Claimed(claimed) => {
                record_in_span("deployment_id", &id);
                Box::pin(self.request_approval(target, claimed)).await?;
            }
            Claim::Exists(_) => {}
        }
        Ok(Some(id))
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

    async fn audit(
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

    /// Registers and rolls exactly the planned change, derived again from the planned
    /// base: the running definition the plan was made against, or the uploaded version.
    async fn roll_approved(
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
        self.roll(target, approved, &base, changes, None).await
    }
}

impl<A: Adapters> Deployer<A> {
    /// The uploaded `taskdef.json` a deployment was planned from, read again by its
    /// version id; `None` for deployments derived from the running definition.
    async fn uploaded_definition(
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

/// How long a decision's rollout holds the record against a concurrent resume.
const ROLL_LEASE: chrono::Duration = chrono::Duration::seconds(120);

/// A unique holder id for one decision's lease.
fn decision_holder() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    format!("decision-{}", hex::encode(bytes))
}

fn step_error(deployment: &str, err: impl Into<StepError>) -> DecisionError {
    DecisionError::Step {
        deployment: deployment.to_string(),
        source: err.into(),
    }
}
