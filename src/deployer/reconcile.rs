//! The reconciler's run (an EventBridge schedule, every few minutes): per target, close
//! rollouts whose ending ECS reports but whose event was lost, and deploy the newest image
//! the target's rule accepts if the ledger never saw it pushed — both by handing the event
//! AWS would have sent to the same pipeline ([`crate::reconcile`]).
//!
//! A problem with one target is reported and the others still run; the next run tries
//! again, so nothing here is retried by Lambda.

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use super::{Deployer, Invocation, Report, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::model::deployment::State;
use crate::ports::{Adapters, Ecs, Registry};
use crate::reconcile::{deployment_event, ended, is_missed, newest_release, push_event};

/// How many of a target's latest rollouts are looked at: ECS lists only a service's recent
/// deployments, and an older one still `rolling` was closed by a run before.
const RECENT_ROLLOUTS: usize = 5;

/// What one run did, per target.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    pub targets: Vec<Reconciled>,
    /// The release groups' runs it drove (the run holding each group's line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<super::groups::GroupRunReport>,
    /// What stopped a group's run from being driven (the next run tries again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Reconciled {
    pub target: String,
    /// Rollouts closed from what DescribeServices says, with what the pipeline made of it.
    pub closed: Vec<Report>,
    /// A push no event told of, handed to the push pipeline.
    pub missed_push: Option<Report>,
    /// The release that waited for the target's deployment window, rolled now it is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_opened: Option<TargetOutcome>,
    /// What stopped this target's run (it runs again on the next schedule).
    pub problems: Vec<String>,
}

impl<A: Adapters> Deployer<A> {
    /// One reconciler run over every target. `raw` is the schedule's event, only logged.
    pub async fn reconcile(&self, raw: &Value, invocation: &Invocation) -> ReconcileReport {
        let schedule = raw.get("id").and_then(Value::as_str).unwrap_or_default();
        info!(
            event_id = schedule,
            "reconciling {} target(s)",
            self.config.targets.len()
        );
        let mut targets = Vec::new();
        for target in &self.config.targets {
            let mut reconciled = Reconciled {
                target: target.name.clone(),
                ..Reconciled::default()
            };
            if let Err(err) = self
                .close_lost_outcomes(target, invocation, &mut reconciled)
                .await
            {
                reconciled.problems.push(format!("closing rollouts: {err}"));
            }
            match self.release_waiting(target, invocation).await {
                Ok(outcome) => reconciled.window_opened = outcome,
                Err(err) => reconciled.problems.push(format!(
                    "rolling the release that waited for the window: {err}"
                )),
            }
            // A target a release group rolls moves only with its group's releases.
            if self.config.rolled_by_group(&target.name).is_none() {
                match self.deploy_missed_push(target, invocation).await {
                    Ok(report) => reconciled.missed_push = report,
                    Err(err) => reconciled
                        .problems
                        .push(format!("looking for a missed push: {err}")),
                }
            }
            for problem in &reconciled.problems {
                warn!(
                    target = target.name,
                    decision = "reconcile-failed",
                    "{problem}"
                );
            }
            targets.push(reconciled);
        }
        let (groups, group_problems) = self.reconcile_groups(invocation).await;
        for problem in &group_problems {
            warn!(decision = "reconcile-failed", "{problem}");
        }
        ReconcileReport {
            targets,
            groups,
            group_problems,
        }
    }

    /// The target's recent rollouts still `rolling` in the ledger whose ECS deployment has
    /// COMPLETED or FAILED: ECS's event for them is written and handled.
    async fn close_lost_outcomes(
        &self,
        target: &Target,
        invocation: &Invocation,
        reconciled: &mut Reconciled,
    ) -> Result<(), String> {
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await
            .map_err(|e| e.to_string())?;
        let Some(rollouts) = rollouts.map(|r| r.value) else {
            return Ok(());
        };
        let service = self
            .ecs
            .describe_service(&target.cluster, &target.service)
            .await
            .map_err(|e| e.to_string())?;
        let progressive = target.rollout.settings(0).is_some();
        for started in rollouts.started.iter().rev().take(RECENT_ROLLOUTS) {
            let Some(finished) = ended(&service, &started.ecs_deployment_id) else {
                if progressive {
                    if let Some(report) = self
                        .close_progressive(target, &service, started, invocation)
                        .await?
                    {
                        reconciled.closed.push(report);
                    }
                }
                continue;
            };
            let record = self
                .ledger
                .deployment(&target.name, &started.key)
                .await
                .map_err(|e| e.to_string())?;
            if record.is_none_or(|r| r.value.state != State::Rolling) {
                continue;
            }
            let event = deployment_event(&service, finished, Utc::now());
            info!(
                target = target.name,
                deployment_id = started.deployment_id,
                decision = "reconciled",
                "ECS reports {} {} but no event was handled: handling the event ECS would have sent",
                started.ecs_deployment_id,
                finished.rollout_state.as_deref().unwrap_or_default()
            );
            let report = self
                .handle_deployment_event(&event, invocation)
                .await
                .map_err(|e| e.to_string())?;
            reconciled.closed.push(report);
        }
        Ok(())
    }

    /// A progressive rollout still `rolling` whose service deployment ECS reports ended
    /// (DescribeServiceDeployments): the event that says so is written and handled.
    async fn close_progressive(
        &self,
        target: &Target,
        service: &crate::ports::ServiceState,
        started: &crate::model::rollout::StartedRollout,
        invocation: &Invocation,
    ) -> Result<Option<crate::deployer::Report>, String> {
        let record = self
            .ledger
            .deployment(&target.name, &started.key)
            .await
            .map_err(|e| e.to_string())?;
        let Some(record) = record.filter(|r| r.value.state == State::Rolling) else {
            return Ok(None);
        };
        let Some(arn) = record
            .value
            .progress
            .as_ref()
            .and_then(|p| p.service_deployment_arn.clone())
        else {
            return Ok(None);
        };
        let Some(described) = self
            .ecs
            .describe_service_deployment(&arn)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let Some(event) = crate::reconcile::service_deployment_event(
            service,
            &started.ecs_deployment_id,
            &described,
            Utc::now(),
        ) else {
            return Ok(None);
        };
        info!(
            target = target.name,
            deployment_id = started.deployment_id,
            decision = "reconciled",
            "ECS reports service deployment {arn} {}: handling the event that says so",
            described.status
        );
        let report = self
            .handle_deployment_event(&event, invocation)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(report))
    }

    /// The newest image the target's rule accepts, if the ledger never took it: its push
    /// event is written and handed to the push pipeline (which still checks order,
    /// freezes and approval as for any push).
    async fn deploy_missed_push(
        &self,
        target: &Target,
        invocation: &Invocation,
    ) -> Result<Option<Report>, StepError> {
        let repo = &target.repository;
        let images = self.registry.list_images(&repo.account, &repo.name).await?;
        let Some(newest) = newest_release(target, &images) else {
            return Ok(None);
        };
        let head = self.ledger.head(&target.name).await?.map(|h| h.value);
        if !is_missed(target, newest, head.as_ref()) {
            return Ok(None);
        }
        let (image, tag) = newest;
        info!(
            target = target.name,
            digest = image.digest,
            decision = "reconciled",
            "{}:{tag} is the newest release in ECR and no push event for it was handled: deploying it as that push",
            repo.name
        );
        let event = push_event(target, image, tag, Utc::now());
        match self.handle_ecr_event(&event, invocation).await {
            Ok(report) => Ok(Some(report)),
            Err(err) => Err(StepError::Rejected(err.to_string())),
        }
    }
}
