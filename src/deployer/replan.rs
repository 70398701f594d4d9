//! Approving what was planned against a service that has changed since: the approval is
//! refused (nobody saw the change it would now make), and a fresh plan of the same
//! release against what runs now is put up for approval.

use chrono::Utc;

use super::decisions::*;
use super::{log_warning, record_in_span, Deployer, StepError};
use crate::ledger::{Claim, Versioned};
use crate::model::deployment::{Action, Actor, Deployment, State};
use crate::model::plan::{self, Derivation};
use crate::ports::{Adapters, Ecs, ServiceState};

impl<A: Adapters> Deployer<A> {
    /// The service no longer runs what the plan was made against: the request is closed
    /// as superseded, and the same release is planned again against what runs now and
    /// put up for approval, so the approver sees the real change before saying yes.
    pub(super) async fn refuse_changed_service(
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
    pub(super) async fn replan(
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
}
