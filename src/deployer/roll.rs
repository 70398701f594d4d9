//! The roll steps every pipeline shares: read the running definition, claim the
//! deployment, become the target's head, register the revision once, start the rollout,
//! record it, settle, and conclude (release the lease on a retryable failure).
use chrono::Utc;
use tracing::warn;

use crate::input::config::{Policy, Target};
use crate::ledger::{Claim, Home, LedgerError, TargetRecord, TargetUpdate, Versioned};
use crate::model::deployment::{Deployment, Progress, State, Trigger};
use crate::model::plan::{describe_changes, ImageChange, ImageChanges};
use crate::model::progressive::{ApprovalPoint, DeploymentSettings};
use crate::model::rollout::{RolloutKind, Rollouts, StartedRollout, Starting};
use crate::ports::{Adapters, DescribedTaskDefinition, Ecs, ServiceState};

use super::*;
use crate::ledger::{Change, Record, Updated};

impl<A: Adapters> Deployer<A> {
    /// The service as it runs now, the task definition it runs, and the warnings about it;
    /// a service Slipway cannot roll is refused here, before anything is written.
    pub(super) async fn running_definition(
        &self,
        target: &Target,
    ) -> Result<
        (
            ServiceState,
            DescribedTaskDefinition<<A::Ecs as Ecs>::TaskDefinition>,
            Vec<String>,
        ),
        StepError,
    > {
        let (service, warnings) = self.rollable_service(target).await?;
        let running = self
            .ecs
            .describe_task_definition(&service.task_definition)
            .await?;
        Ok((service, running, warnings))
    }

    /// DescribeServices, refusing a service Slipway cannot roll; with the warnings about it
    /// (logged here, once per rollout decision).
    pub(super) async fn rollable_service(
        &self,
        target: &Target,
    ) -> Result<(ServiceState, Vec<String>), StepError> {
        let service = self
            .ecs
            .describe_service(&target.cluster, &target.service)
            .await?;
        let warnings = crate::model::rollable::check(
            &service,
            &target.cluster,
            &target.service,
            &target.rollout.strategy,
        )?;
        crate::model::rollable::check_family(&service, target.task_family.as_deref())?;
        for warning in &warnings {
            warn!(target = target.name, decision = "warning", "{warning}");
        }
        Ok((service, warnings))
    }

    /// Creates the deployment's record, which only one invocation can do. Another
    /// invocation's record is a duplicate — unless an earlier attempt left it planned and
    /// its lease ran out, in which case this invocation takes over.
    pub(super) async fn claim(
        &self,
        record: Deployment,
        invocation: &Invocation,
    ) -> Result<Step<Versioned<Deployment>>, StepError> {
        let planned = describe_changes(&record.changes).join("; ");
        match self.ledger.claim(record).await? {
            Claim::Claimed(current) => {
                log_decision("claimed", &format!("planned: {planned}"));
                Ok(Step::Go(current))
            }
            Claim::Exists(existing) => self.take_over_or_stop(existing, invocation).await,
        }
    }

    /// A deployment that exists already: a duplicate — unless an earlier attempt left it
    /// planned and its lease ran out, in which case this invocation takes it over (only
    /// one can: compare-and-set).
    pub(super) async fn take_over_or_stop(
        &self,
        existing: Versioned<Deployment>,
        invocation: &Invocation,
    ) -> Result<Step<Versioned<Deployment>>, StepError> {
        if existing.value.state != State::Planned
            || existing
                .value
                .is_held_by_other(&invocation.request_id, Utc::now())
        {
            return Ok(Step::Stop(duplicate(&existing.value)));
        }
        let mut next = existing.value.clone();
        next.take_over(&invocation.request_id, invocation.deadline);
        let taken = self.ledger.save(&existing, next).await?;
        log_decision(
            "resumed",
            "resuming a deployment an earlier attempt left planned",
        );
        Ok(Step::Go(taken))
    }

    pub(super) async fn supersede(
        &self,
        current: Versioned<Deployment>,
        newer: String,
    ) -> Result<TargetOutcome, StepError> {
        let mut next = current.value.clone();
        next.advance(
            State::Superseded,
            format!("superseded by {newer}"),
            Utc::now(),
        )?;
        next.lease = None;
        self.ledger.save(&current, next).await?;
        log_decision(
            "superseded",
            &format!("a newer version was accepted meanwhile ({newer}): not rolling"),
        );
        Ok(TargetOutcome::Superseded { by: newer })
    }

    /// The claimed deployment's last steps: wait for approval, or register the new
    /// revision (once: a retry reuses it) and roll the service onto it.
    pub(super) async fn roll(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        base: &<A::Ecs as Ecs>::TaskDefinition,
        changes: Vec<ImageChange>,
    ) -> Result<TargetOutcome, StepError> {
        // A release group's step rolls when its run says so: the group's one approval
        // covers it, and neither the target's window nor its promotion gate holds one
        // step of a run half-way (README: "Release groups" says what a run does not
        // check yet).
        let group_step = current.value.is_group_step();
        // A gated target takes only what succeeded upstream: checked before anyone is
        // asked, and before the window.
        // Each step below is boxed: inline, every one of their futures (SDK calls, the
        // upstream's reads) would sit in this one's, and a debug build's poll frames copy
        // them — a push's pass outgrew the 2 MiB test-thread stack once the gate read
        // remote upstreams.
        let current = match Box::pin(self.promotion_gate(target, current)).await? {
            Step::Go(current) => current,
            Step::Stop(outcome) => return Ok(outcome),
        };
        let from_task_definition = current.value.from_task_definition.clone();
        let pause_inside = matches!(target.rollout.approval, ApprovalPoint::During(_));
        // A release that waited for its window may have been approved before it waited.
        let approved_before = current
            .value
            .approval
            .as_ref()
            .and_then(|a| a.decision.as_ref())
            .is_some_and(|d| d.verdict == crate::model::deployment::Verdict::Approve);
        let decided = current.value.state == State::Approved
            || (current.value.state == State::WaitingForWindow && approved_before);
        if target.policy == Policy::Approval && !pause_inside && !decided && !group_step {
            return Box::pin(self.request_approval(target, current)).await;
        }
        // Approved at ECS's pause: the release rolled already. Never a second
        // UpdateService for it — the pause is answered (or found answered already).
        let rolled_with_pause =
            current.value.progress.is_some() && current.value.ecs_deployment_id.is_some();
        if rolled_with_pause && current.value.state == State::Approved {
            return Box::pin(self.continue_paused(current)).await;
        }
        // Nothing reached ECS yet: the target's deployment window decides whether now.
        if let Some((because, opens_at)) = self
            .window_holds(target, &current.value)
            .filter(|_| !group_step)
        {
            return Box::pin(self.wait_for_window(target, current, because, opens_at)).await;
        }
        self.supersede_other_waiting(target, &current.value).await?;
        if target.policy == Policy::Approval && pause_inside {
            // The approval comes at ECS's pause; a request still waiting for an older
            // release is closed now (superseded), before this one reaches ECS.
            self.become_open_request(target, &current.value).await?;
        }
        let to_task_definition = match current.value.to_task_definition.clone() {
            Some(arn) => arn,
            None => Box::pin(self.register_once(&current.value, base, &changes)).await?,
        };
        let ecs_deployment_id =
            Box::pin(self.start_rollout(target, current, &to_task_definition)).await?;
        Ok(TargetOutcome::Rolling {
            from_task_definition,
            to_task_definition,
            ecs_deployment_id,
            changes,
        })
    }

    /// The new revision for `deployment`: registered now, or — if an attempt that was taken
    /// over may have registered it and died before UpdateService was recorded — the one it
    /// registered, found by its `slipway:deployment` tag (which is why nothing needs to be
    /// written between RegisterTaskDefinition and UpdateService).
    pub(super) async fn register_once(
        &self,
        deployment: &Deployment,
        base: &<A::Ecs as Ecs>::TaskDefinition,
        changes: &ImageChanges,
    ) -> Result<String, StepError> {
        if deployment.takeovers > 0 {
            if let Some(earlier) = self.ecs.find_registered(base, &deployment.id).await? {
                log_decision(
                    "registered",
                    &format!(
                        "reusing {} (revision {}), registered for this deployment by an earlier attempt",
                        earlier.arn, earlier.revision
                    ),
                );
                return Ok(earlier.arn);
            }
        }
        let registered = self
            .ecs
            .register_with_images(base, changes, &deployment.id)
            .await?;
        log_decision(
            "registered",
            &format!(
                "registered {} (revision {}) from {}",
                registered.arn, registered.revision, deployment.from_task_definition
            ),
        );
        Ok(registered.arn)
    }

    /// UpdateService onto `to_task_definition`, and the record of it. While UpdateService
    /// is in flight the target's rollouts say so (a push's claim said it already), and an
    /// ECS event for an id nobody knows yet is retried rather than taken for someone
    /// else's deployment.
    pub(super) async fn start_rollout(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        to_task_definition: &str,
    ) -> Result<String, StepError> {
        let current = self
            .mark_starting(target, current, to_task_definition)
            .await?;
        let settings = settings_for(target, &current.value);
        let started = self
            .ecs
            .update_service(
                &target.cluster,
                &target.service,
                to_task_definition,
                settings.as_ref(),
            )
            .await?;
        let progress = settings.map(|s| {
            Progress::new(
                s.strategy.describe(),
                started.service_deployment_arn.clone(),
            )
        });
        self.record_rollout(
            target,
            current,
            to_task_definition,
            started.ecs_deployment_id,
            progress,
        )
        .await
    }

    /// The starting marker, with the revision about to be rolled recorded in the
    /// deployment — one write of the target's document, none if the claim set the marker.
    async fn mark_starting(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        to_task_definition: &str,
    ) -> Result<Versioned<Deployment>, StepError> {
        let until = current
            .value
            .lease
            .as_ref()
            .map_or_else(|| Utc::now() + chrono::Duration::seconds(60), |l| l.until);
        let starting = Starting {
            deployment_id: current.value.id.clone(),
            key: current.value.key.clone(),
            until,
        };
        let mut next = current.value.clone();
        next.to_task_definition = Some(to_task_definition.to_string());
        if current.home == Home::Object {
            // A deployment of the layout before the target's document.
            let record = async { Ok::<_, StepError>(self.ledger.save(&current, next).await?) };
            let mark = self.change_rollouts(&target.name, None, |rollouts| {
                rollouts.starting = Some(starting.clone());
                true
            });
            return Ok(futures::try_join!(record, mark)?.0);
        }
        let key = current.value.key.clone();
        let updated = self
            .change_own(&target.name, &current, |document| {
                let rollouts = document.rollouts.get_or_insert_with(Default::default);
                if rollouts.starting.as_ref().is_some_and(|s| s.key == key) {
                    return false;
                }
                rollouts.starting = Some(starting.clone());
                rollouts.updated_at = Some(Utc::now());
                document.live.insert(key.clone(), next.clone());
                true
            })
            .await?;
        Ok(updated.unwrap_or(current))
    }

    /// What follows UpdateService, in one write: the deployment moves to `rolling`, the
    /// target's rollouts learn the ECS deployment id (so that ECS's events find it) and
    /// lose the starting marker, and the head settles (newer pushes need not wait).
    pub(super) async fn record_rollout(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        to_task_definition: &str,
        ecs_deployment_id: String,
        progress: Option<Progress>,
    ) -> Result<String, StepError> {
        let (deployment_id, key) = (current.value.id.clone(), current.value.key.clone());
        let now = Utc::now();
        let mut next = current.value.clone();
        next.ecs_deployment_id = Some(ecs_deployment_id.clone());
        let service_deployment = progress
            .as_ref()
            .and_then(|p| p.service_deployment_arn.clone());
        next.progress = progress;
        next.to_task_definition = Some(to_task_definition.to_string());
        next.advance(
            State::Rolling,
            format!("UpdateService started ECS deployment {ecs_deployment_id}"),
            now,
        )?;
        next.lease = None;
        next.error = None;
        let started = StartedRollout {
            ecs_deployment_id: ecs_deployment_id.clone(),
            deployment_id: deployment_id.clone(),
            key: key.clone(),
            kind: RolloutKind::Slipway,
            at: now,
        };
        let in_target = current.home == Home::Target;
        let record = |document: &mut TargetRecord| {
            let rollouts = document.rollouts.get_or_insert_with(Default::default);
            rollouts.remember(started.clone());
            if let Some(arn) = &service_deployment {
                rollouts.remember_service_deployment(arn, &ecs_deployment_id);
            }
            if rollouts.starting.as_ref().is_some_and(|s| s.key == key) {
                rollouts.starting = None;
            }
            rollouts.updated_at = Some(now);
            if let Some(head) = &mut document.head {
                head.settle(&deployment_id, now);
            }
            if in_target {
                document.live.insert(key.clone(), next.clone());
            }
            true
        };
        if in_target {
            self.change_own(&target.name, &current, record).await?;
        } else {
            self.ledger
                .update_target(&target.name, None, HEAD_ATTEMPTS * 2, |read| {
                    let mut document = read.record.clone();
                    record(&mut document);
                    Ok::<_, StepError>(Change::<_, ()>::Write(document))
                })
                .await?;
            self.ledger.save(&current, next).await?;
        }
        log_decision(
            "rolling",
            &format!(
                "rolling {}/{} onto {to_task_definition} (ECS deployment {ecs_deployment_id})",
                target.cluster, target.service
            ),
        );
        Ok(ecs_deployment_id)
    }

    /// Changes the target's document by compare-and-set as long as the deployment in it is
    /// still `current` (someone else moving it is a conflict). `change` returns whether it
    /// changed anything; the deployment as written, if it did.
    async fn change_own(
        &self,
        target: &str,
        current: &Versioned<Deployment>,
        mut change: impl FnMut(&mut TargetRecord) -> bool,
    ) -> Result<Option<Versioned<Deployment>>, StepError> {
        let key = current.value.key.clone();
        let expected = serde_json::to_value(&current.value).ok();
        let base = self.ledger.seen_at(target, &current.etag);
        let updated = self
            .ledger
            .update_target(target, base, HEAD_ATTEMPTS * 2, |read| {
                let ours = read
                    .record
                    .live
                    .get(&key)
                    .and_then(|d| serde_json::to_value(d).ok());
                if ours != expected {
                    return Err(StepError::Ledger(LedgerError::Conflict {
                        key: crate::ledger::target_path(target),
                    }));
                }
                let mut next = read.record.clone();
                Ok(if change(&mut next) {
                    Change::Write(next)
                } else {
                    Change::Leave(())
                })
            })
            .await?;
        Ok(match updated {
            TargetUpdate::Written(written) => Some(Versioned::in_target(
                written.record.live[&key].clone(),
                &written,
            )),
            TargetUpdate::Left(()) => None,
        })
    }

    /// Changes the target's rollouts record by compare-and-set, re-reading on conflict.
    /// `change` returns whether it changed anything (nothing is written if not).
    pub(super) async fn update_rollouts(
        &self,
        target: &str,
        change: impl FnMut(&mut Rollouts) -> bool,
    ) -> Result<Rollouts, StepError> {
        let latest = self.change_rollouts(target, None, change).await?;
        Ok(latest.map(|r| r.value).unwrap_or_default())
    }

    /// [`Self::update_rollouts`] starting from a read this invocation already holds, if
    /// any (a GET saved; a stale read costs a conflict and a re-read). Returns the record
    /// as it now stands, for the next change to start from.
    pub(super) async fn change_rollouts(
        &self,
        target: &str,
        known: Option<RolloutsRead>,
        mut change: impl FnMut(&mut Rollouts) -> bool,
    ) -> Result<RolloutsRead, StepError> {
        let read = match known {
            Some(read) => read,
            None => self.ledger.rollouts(target).await?,
        };
        let updated = self
            .ledger
            .update(
                Record::Rollouts { target },
                read,
                HEAD_ATTEMPTS * 2,
                |read: RolloutsRead| {
                    let mut next = read.as_ref().map(|r| r.value.clone()).unwrap_or_default();
                    let change = if change(&mut next) {
                        next.updated_at = Some(Utc::now());
                        Change::Write(next)
                    } else {
                        Change::Leave(read)
                    };
                    std::future::ready(Ok::<_, StepError>(change))
                },
            )
            .await?;
        Ok(match updated {
            Updated::Written(written) => Some(written),
            Updated::Left(read) => read,
        })
    }

    /// Best effort: after a transient failure, let Lambda's retry take over at once rather
    /// than wait for the lease to run out, and record why this attempt stopped (what a
    /// person sees if every retry fails and the event ends in the dead-letter queue). If
    /// this fails too, the lease simply expires.
    pub(super) async fn release_lease(
        &self,
        target: &str,
        key: &str,
        invocation: &Invocation,
        error: &StepError,
    ) {
        let Ok(Some(current)) = self.ledger.deployment(target, key).await else {
            return;
        };
        if current.value.lease.as_ref().map(|l| &l.holder) == Some(&invocation.request_id) {
            let mut next = current.value.clone();
            next.lease = None;
            next.error = Some(format!(
                "attempt {} stopped on a transient error, Lambda retries the event: {error}",
                invocation.request_id
            ));
            let _ = self.ledger.save(&current, next).await;
        }
    }

    /// Logs the outcome of one target; a transient error releases the lease for the retry.
    pub(super) async fn conclude(
        &self,
        result: Result<TargetOutcome, StepError>,
        target: &str,
        key: &str,
        invocation: &Invocation,
    ) -> Result<TargetOutcome, StepError> {
        match &result {
            Err(err) if err.is_transient() => {
                log_warning(
                    "retry",
                    &format!("transient AWS error, the event will be retried: {err}"),
                );
                // Best effort, and never at the cost of the error reaching Lambda in time:
                // when AWS is down this write would wait out its own timeouts.
                let budget = (invocation.deadline - Utc::now() - chrono::Duration::seconds(1))
                    .to_std()
                    .unwrap_or_default()
                    .min(RELEASE_BUDGET);
                let release = self.release_lease(target, key, invocation, err);
                if tokio::time::timeout(budget, release).await.is_err() {
                    log_warning(
                        "retry",
                        "could not release the lease in time; it runs out at the deadline",
                    );
                }
            }
            Err(err) => log_warning("failed", &format!("cannot deploy, not retrying: {err}")),
            Ok(_) => {}
        }
        result
    }
}

pub(super) fn duplicate(existing: &Deployment) -> TargetOutcome {
    let reason = match &existing.lease {
        Some(lease) if existing.state == State::Planned => format!(
            "duplicate delivery: request {} is deploying this until {}",
            lease.holder, lease.until
        ),
        _ => format!(
            "duplicate delivery: already handled for this target (state {})",
            existing.state
        ),
    };
    log_decision("duplicate", &reason);
    TargetOutcome::Duplicate {
        state: existing.state,
        reason,
    }
}

/// How long a failed attempt may spend releasing its lease (and recording its error).
const RELEASE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// What this deployment's UpdateService carries: the target's rollout policy, with its
/// pause for approval — except for a rollback, which is an operator's decision already.
fn settings_for(target: &Target, deployment: &Deployment) -> Option<DeploymentSettings> {
    let mut settings = target
        .rollout
        .settings(target.approval.expires_after.num_minutes())?;
    // A rollback is the way out: neither a person's pause nor the test probe holds it.
    if matches!(deployment.trigger, Trigger::Rollback { .. }) {
        settings.pause = None;
        settings.probe = None;
    }
    Some(settings)
}
