//! A run's steps on the targets: the revision each target takes (registered once, found
//! again by its tag after a lost answer), and a service step — or its rollback — as a
//! deployment of the target, claimed and rolled by the steps every pipeline shares. So
//! the target's ledger shows what runs and why, ECS's deployment events end the step as
//! they end any rollout, and a duplicate or a crash never sends a second UpdateService.

use chrono::Utc;

use crate::ledger::Versioned;
use crate::model::deployment::{Deployment, State, Trigger};
use crate::model::group::{GroupRun, RunState, Stale, StepKind, StepState};
use crate::model::plan::{self, Derivation};
use crate::ports::{Adapters, Ecs};

use super::*;

impl<A: Adapters> Deployer<A> {
    /// The target's revision for the run: the running one with the release's image in
    /// the target's containers, tagged for the run and target.
    pub(super) async fn register_for_run(
        &self,
        read: Versioned<GroupRun>,
        target_name: &str,
    ) -> Result<String, StepError> {
        let target = self.target_named(target_name)?;
        let image = read.value.release[target_name].clone();
        let (service, running, _) = self.running_definition(target).await?;
        let tag = format!("{}/{target_name}", read.value.id);
        let arn = match plan::derive(&target.name, &target.containers, &image, &running.summary)? {
            // The service runs the release already: its revision is the one.
            Derivation::AlreadyRunning { .. } => service.task_definition.clone(),
            Derivation::Change(changes) => {
                match self.ecs.find_registered(&running.full, &tag).await? {
                    Some(earlier) => earlier.arn,
                    None => {
                        self.ecs
                            .register_with_images(&running.full, &changes, &tag)
                            .await?
                            .arn
                    }
                }
            }
        };
        log_decision(
            "registered",
            &format!("run {}: {target_name} takes {arn}", read.value.id),
        );
        if let Err(Stale(why)) = self
            .move_run(read, |run| run.registered(target_name, &arn))
            .await?
        {
            log_decision("unchanged", &why);
        }
        Ok(format!("RegisterTaskDefinition {target_name}"))
    }

    /// UpdateService for step `index` onto the target's revision for the run — or, with
    /// `back_to`, onto what the service ran before the run — as a deployment of the
    /// target (`<target>.grp-<run>-<step>`, `…-back`): claimed once, so a second pass
    /// finds it and records the step started without rolling again.
    pub(super) async fn roll_service_step(
        &self,
        read: Versioned<GroupRun>,
        index: usize,
        back_to: Option<String>,
        invocation: &Invocation,
    ) -> Result<String, StepError> {
        let run = &read.value;
        let step = &run.steps[index];
        let target = self.target_named(&step.target)?;
        let rollback = back_to.is_some();
        let key = step_key(run, index, rollback);
        let to = match back_to {
            Some(to) => to,
            None => run.revisions[&step.target].clone(),
        };
        let (service, running, _) = self.running_definition(target).await?;
        // What the deployment puts on the service: the release's image, or for a rollback
        // the image the previous revision runs (the target's last good release after it).
        let image = match rollback {
            false => run.release[&step.target].clone(),
            true => {
                let previous = self.ecs.describe_task_definition(&to).await?.summary;
                previous
                    .containers
                    .iter()
                    .find(|c| target.containers.contains(&c.name))
                    .map(|c| c.image.clone())
                    .unwrap_or_else(|| to.clone())
            }
        };
        let record = Deployment {
            image,
            from_task_definition: service.task_definition.clone(),
            to_task_definition: Some(to.clone()),
            lease: Some(crate::model::deployment::Lease {
                holder: invocation.request_id.clone(),
                until: invocation.deadline,
            }),
            ..Deployment::new(
                &target.name,
                &target.cluster,
                &target.service,
                key.clone(),
                Trigger::GroupStep {
                    group: run.group.clone(),
                    run_id: run.id.clone(),
                    step: step.name.clone(),
                    rollback,
                },
            )
        };
        let name = step.name.clone();
        let claimed = self.claim(record, invocation).await?;
        let from = match claimed {
            // An earlier attempt claimed it, called UpdateService and died before
            // recording it: the service runs the step's revision already. Recorded now
            // with ECS's PRIMARY deployment, never rolled a second time.
            Step::Go(current)
                if current.value.takeovers > 0
                    && service.task_definition == to
                    && service.primary_deployment.is_some() =>
            {
                let from = current.value.from_task_definition.clone();
                let ecs_deployment_id = service.primary_deployment.clone().unwrap_or_default();
                log_decision(
                    "resumed",
                    &format!("step {name}: an earlier attempt rolled {} onto {to} and stopped before recording it: recording it now", target.service),
                );
                self.record_rollout(target, current, &to, ecs_deployment_id, None)
                    .await?;
                from
            }
            Step::Go(current) => {
                let from = current.value.from_task_definition.clone();
                let result = Box::pin(self.roll(target, current, &running.full, vec![])).await;
                let outcome = self
                    .conclude(result, &target.name, &key, invocation)
                    .await?;
                if !matches!(outcome, TargetOutcome::Rolling { .. }) {
                    log_warning("group-step", &format!("step {name}: {outcome:?}"));
                }
                from
            }
            // Claimed before (a duplicate pass, or one that died after UpdateService): the
            // deployment says what the service ran before it.
            Step::Stop(_) => self
                .ledger
                .deployment(&target.name, &key)
                .await?
                .map(|d| d.value.from_task_definition)
                .unwrap_or_else(|| service.task_definition.clone()),
        };
        let now = self.now();
        let recorded = self
            .move_run(read, |run| match rollback {
                false => run.service_started(index, &from, now),
                true => run.rollback_started(index),
            })
            .await?;
        if let Err(Stale(why)) = recorded {
            log_decision("unchanged", &format!("step {name}: {why}"));
        }
        Ok(format!(
            "UpdateService {name}{}",
            if rollback { " (back)" } else { "" }
        ))
    }

    /// A service step (or its rollback) under way ends when its deployment does: ECS's
    /// deployment events move the deployment, and this moves the step. Returns the run as
    /// it now stands.
    pub(super) async fn observe_service_step(
        &self,
        read: Versioned<GroupRun>,
    ) -> Result<Versioned<GroupRun>, StepError> {
        let run = &read.value;
        let watched = run.steps.iter().enumerate().find(|(_, s)| {
            s.kind == StepKind::Service
                && matches!(
                    (run.state, s.state),
                    (RunState::Running, StepState::Started)
                        | (RunState::RollingBack, StepState::RollingBack)
                )
        });
        let Some((index, step)) = watched else {
            return Ok(read);
        };
        let rollback = step.state == StepState::RollingBack;
        let key = step_key(run, index, rollback);
        let Some(deployment) = self.ledger.deployment(&step.target, &key).await? else {
            return Ok(read);
        };
        let deployment = deployment.value;
        if !deployment.state.is_terminal() {
            return Ok(read);
        }
        let outcome = match deployment.state {
            State::Succeeded => Ok(()),
            other => Err(deployment
                .error
                .clone()
                .unwrap_or_else(|| format!("deployment {} ended {other}", deployment.id))),
        };
        let at = deployment.ended_at.unwrap_or_else(Utc::now);
        let moved = self
            .move_run(read.clone(), |run| match rollback {
                false => run.service_ended(index, outcome.clone(), at),
                true => run.rollback_ended(index, outcome.clone()),
            })
            .await?;
        match moved {
            Ok(written) => Ok(written),
            Err(Stale(_)) => Ok(read),
        }
    }
}

/// The key of a service step's deployment in the target's ledger.
fn step_key(run: &GroupRun, index: usize, rollback: bool) -> String {
    format!(
        "grp-{}-{index}{}",
        run.id,
        if rollback { "-back" } else { "" }
    )
}
