//! A person's decision on a deployment awaiting approval (toward issue 4: the approval
//! function and Slack call this once they have authenticated the request).
//!
//! The decision is taken once, through a compare-and-set on the ledger record; approving
//! then rolls exactly what was planned — unless the service changed since the plan, in
//! which case the approval is refused rather than applied to something nobody saw.

use chrono::Utc;
use serde::Serialize;

use super::{Deployer, LogContext, StepError, TargetOutcome};
use crate::ledger::{Channel, Deployment, LedgerError, State, Trigger, Verdict, Versioned};
use crate::ports::{Ecs, ObjectStore, Registry, SourceBucket, SourceObject};
use crate::source::{parse_manifest, Manifest, MAX_MANIFEST_BYTES};

/// What became of a decision.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum DecisionOutcome {
    /// Approved, and the service is rolling onto the planned revision.
    Rolled { rollout: TargetOutcome },
    /// Rejected: recorded, nothing rolls.
    Rejected,
    /// Not taken: already decided, expired, superseded, or the service changed since the
    /// plan. The attempt is in the ledger's audit all the same.
    Refused { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("no deployment `{0}`")]
    UnknownDeployment(String),
    #[error("deciding on {deployment}: {source}")]
    Step {
        deployment: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl<E: Ecs, R: Registry, S: ObjectStore, B: SourceBucket> Deployer<E, R, S, B> {
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
        actor: &str,
        channel: Channel,
        reason: Option<String>,
    ) -> Result<DecisionOutcome, DecisionError> {
        let current = self.deployment(deployment_id).await?;
        let target = self
            .config
            .target(&current.value.target)
            .ok_or_else(|| DecisionError::UnknownDeployment(deployment_id.to_string()))?;
        let log = LogContext {
            event_id: "",
            target: &target.name,
            digest: super::image_digest(&current.value.image),
            deployment_id,
        };
        let now = Utc::now();
        let key = current.value.key.clone();

        // Approving something other than what was planned is refused before deciding.
        if verdict == Verdict::Approve && current.value.state == State::AwaitingApproval {
            let service = self
                .ecs
                .describe_service(&target.cluster, &target.service)
                .await
                .map_err(|err| step_error(deployment_id, err))?;
            if service.task_definition != current.value.from_task_definition {
                let reason = format!(
                    "the service changed since this was planned (it now runs {}, the plan was made against {}): not approving what nobody reviewed",
                    service.task_definition, current.value.from_task_definition
                );
                let entry = current.value.attempt(
                    verdict,
                    actor,
                    channel,
                    format!("refused: {reason}"),
                    now,
                );
                self.audit(&target.name, &key, &entry).await?;
                let mut next = current.value.clone();
                next.advance(State::Superseded, reason.clone(), now)
                    .map_err(|err| step_error(deployment_id, err))?;
                self.ledger
                    .save(&current, next)
                    .await
                    .map_err(|err| step_error(deployment_id, err))?;
                log.warned("refused", &reason);
                return Ok(DecisionOutcome::Refused { reason });
            }
        }

        let mut next = current.value.clone();
        let (decided, entry) = next.decide(verdict, actor, channel, reason, now);
        if let Err(refused) = decided {
            // Nothing to change but an expiry; the attempt is audited either way.
            self.audit(&target.name, &key, &entry).await?;
            if next.state != current.value.state {
                let _ = self.ledger.save(&current, next).await;
            }
            log.decided("refused", &format!("{actor} via {channel:?}: {refused}"));
            return Ok(DecisionOutcome::Refused {
                reason: refused.to_string(),
            });
        }
        let saved = match self.ledger.save(&current, next).await {
            Ok(saved) => saved,
            // Someone decided at the same moment: theirs stands.
            Err(LedgerError::Conflict { .. }) => {
                let latest = self.deployment(deployment_id).await?;
                let (refused, entry) = latest
                    .value
                    .clone()
                    .decide(verdict, actor, channel, None, now);
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
        if verdict == Verdict::Reject {
            log.decided(
                "rejected",
                &format!("rejected by {actor} via {channel:?}; nothing rolls"),
            );
            return Ok(DecisionOutcome::Rejected);
        }
        log.decided("approved", &format!("approved by {actor} via {channel:?}"));
        let rollout = self
            .roll_approved(target, saved, &log)
            .await
            .map_err(|err| step_error(deployment_id, err))?;
        Ok(DecisionOutcome::Rolled { rollout })
    }

    async fn audit(
        &self,
        target: &str,
        key: &str,
        entry: &crate::ledger::AuditEntry,
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
        target: &crate::config::Target,
        approved: Versioned<Deployment>,
        log: &LogContext<'_>,
    ) -> Result<TargetOutcome, StepError> {
        let changes = approved.value.changes.clone();
        let base = match &approved.value.trigger {
            Trigger::SourceUpload {
                bucket,
                key,
                version_id,
                manifest,
                ..
            } if *manifest == crate::source::ManifestKind::TaskDefinition => {
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
                let Ok(Manifest::TaskDefinition(document)) = parse_manifest(*manifest, &body)
                else {
                    return Err(StepError::Rejected(format!("{key} no longer parses")));
                };
                self.ecs
                    .parse_task_definition(&document)
                    .await
                    .map_err(StepError::Rejected)?
                    .full
            }
            _ => {
                self.ecs
                    .describe_task_definition(&approved.value.from_task_definition)
                    .await?
                    .full
            }
        };
        self.roll(target, approved, &base, changes, log).await
    }
}

fn step_error(deployment: &str, err: impl Into<StepError>) -> DecisionError {
    DecisionError::Step {
        deployment: deployment.to_string(),
        source: Box::new(err.into()),
    }
}
