//! Approving what was planned against a service that has changed since: the approval is
//! refused (nobody saw the change it would now make), and a fresh plan of the same
//! release against what runs now is put up for approval.

use chrono::Utc;

use super::decisions::*;
use super::{log_decision, log_warning, record_in_span, Deployer, Step, StepError, TargetOutcome};
use crate::ledger::{Claim, Versioned};
use crate::model::deployment::{Action, Actor, Deployment, State};
use crate::model::plan::{self, Derivation, ImageChanges, TaskDefinitionSummary};
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
        let Some((changes, planned)) = self.plan_again(target, old, &running.summary).await? else {
            return Ok(None);
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

    /// `old`'s images planned against `running`: the changes and the definition they make;
    /// `None` if it runs them already.
    async fn plan_again(
        &self,
        target: &crate::input::config::Target,
        old: &Deployment,
        running: &TaskDefinitionSummary,
    ) -> Result<Option<(ImageChanges, TaskDefinitionSummary)>, StepError> {
        if let Some(uploaded) = self.uploaded_definition(old).await? {
            let planned = uploaded.summary.with_images(&old.changes);
            return Ok(Some((old.changes.clone(), planned)));
        }
        let wanted: Vec<(&str, &str)> = old
            .changes
            .iter()
            .map(|c| (c.container.as_str(), c.to.as_str()))
            .collect();
        Ok(match plan::derive_images(&target.name, running, &wanted)? {
            Derivation::AlreadyRunning { .. } => None,
            Derivation::Change(changes) => {
                let planned = running.with_images(&changes);
                Some((changes, planned))
            }
        })
    }

    /// A release waiting for upstream whose service moved on meanwhile: nobody saw its
    /// plan yet, so it is planned again in place against what runs now (its approval, if
    /// the target asks for one, shows the new change); one the service runs already ends
    /// superseded.
    pub(super) async fn rebase_waiting(
        &self,
        target: &crate::input::config::Target,
        waiting: Versioned<Deployment>,
        service: &ServiceState,
    ) -> Result<Step<Versioned<Deployment>>, StepError> {
        let now_runs = &service.task_definition;
        let running = self.ecs.describe_task_definition(now_runs).await?;
        let mut next = waiting.value.clone();
        let Some((changes, planned)) = self.plan_again(target, &next, &running.summary).await?
        else {
            next.advance(
                State::Superseded,
                format!("the service runs its images already ({now_runs})"),
                Utc::now(),
            )?;
            self.ledger.save(&waiting, next).await?;
            return Ok(Step::Stop(TargetOutcome::Superseded {
                by: now_runs.clone(),
            }));
        };
        log_decision(
            "replanned",
            &format!(
                "{} waited for upstream while the service moved on from {} to {now_runs}: planned again against it",
                next.id, next.from_task_definition
            ),
        );
        next.diff = plan::summary_diff(&running.summary, &planned);
        next.changes = changes;
        next.from_task_definition = now_runs.clone();
        Ok(Step::Go(self.ledger.save(&waiting, next).await?))
    }
}
