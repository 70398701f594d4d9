//! Operators' requests (`slipway.operator` events): roll a target back to its last known
//! good release (itself a ledger entry, which ECS's events then conclude), or unfreeze it.

use chrono::Utc;
use serde_json::Value;
use tracing::Instrument;

use super::outcomes::Handled;
use super::{
    decision_span, log_decision, log_warning, record_in_span, DeployError, Deployer, Invocation,
    Report, Step, StepError, TargetOutcome,
};
use crate::input::config::Target;
use crate::input::event::{parse_operator_request, Intent, OperatorRequest};
use crate::input::source::{ImageRef, ImageReference};
use crate::ledger::{rollback_key, Versioned};
use crate::model::deployment::{Deployment, Lease, Notified, State, Trigger};
use crate::model::rollout::{GoodRelease, RolloutKind, Rollouts};
use crate::ports::{Adapters, Registry, ServiceState};

impl<A: Adapters> Deployer<A> {
    pub(super) async fn handle_operator_request(
        &self,
        raw: &Value,
        invocation: &Invocation,
    ) -> Result<Report, DeployError> {
        let request = match self.triage(raw, parse_operator_request(raw).map(Intent::Deploy)) {
            Ok(request) => request,
            Err(report) => return Ok(report),
        };
        let Some(target) = self.config.target(&request.target) else {
            let names: Vec<&str> = self
                .config
                .targets
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            let error = format!(
                "no target named `{}`; the targets are: {}",
                request.target,
                names.join(", ")
            );
            let problem = crate::input::event::EventError::BadDetail {
                id: request.event_id.clone(),
                problem: error,
            };
            return Ok(self.refused(raw, problem));
        };
        let span = decision_span(&request.event_id, &target.name, "", "");
        let result = async {
            let result = self.operator_step(target, &request, invocation).await;
            if let Err(err) = &result {
                log_warning("failed", &format!("{:?} refused: {err}", request.action));
            }
            result
        }
        .instrument(span)
        .await;
        self.collect(raw, &request.event_id, &[target], vec![result])
    }

    /// Lets automatic deploys to the target resume.
    pub(super) async fn unfreeze(
        &self,
        target: &Target,
        request: &OperatorRequest,
    ) -> Result<Handled, StepError> {
        let mut lifted = None;
        self.update_rollouts(&target.name, |r| {
            let before = (r.freeze.clone(), r.held.clone());
            let changed = r.unfreeze(&request.requested_by, request.reason.clone(), Utc::now());
            lifted = Some(before).filter(|_| changed);
            changed
        })
        .await?;
        let Some((freeze, held)) = lifted else {
            log_decision("unchanged", "unfreeze: the target is not frozen");
            return Ok(Handled {
                deployment_id: String::new(),
                image: String::new(),
                outcome: TargetOutcome::Unchanged {
                    state: None,
                    reason: "the target is not frozen".into(),
                },
            });
        };
        let what = [
            freeze
                .as_ref()
                .map(|f| format!("frozen since {} failed", f.release)),
            held.as_ref()
                .map(|h| format!("frozen by {}: {}", h.by, h.reason)),
        ];
        let what: Vec<String> = what.into_iter().flatten().collect();
        log_decision(
            "unfrozen",
            &format!(
                "{} unfroze the target ({})",
                request.requested_by,
                what.join("; ")
            ),
        );
        let failed = freeze.map(|f| f.deployment_id).unwrap_or_default();
        Ok(Handled {
            deployment_id: failed.clone(),
            image: String::new(),
            outcome: TargetOutcome::Unfrozen {
                failed_deployment: failed,
            },
        })
    }

    /// Rolls the target back to its last known good release: UpdateService onto that
    /// release's task definition (immutable, pinned by digest; nothing is registered),
    /// recorded as a deployment of its own that ECS's events then conclude. The release
    /// rolled back from freezes the target, so it does not come straight back.
    ///
    /// An operator's request is itself the human decision, so a rollback does not wait
    /// for approval even on a target whose policy is `approval`.
    pub(super) async fn roll_back(
        &self,
        target: &Target,
        request: &OperatorRequest,
        invocation: &Invocation,
    ) -> Result<Handled, StepError> {
        let key = rollback_key(&request.event_id);
        let id = Deployment::id_for(&target.name, &key);
        if let Some(existing) = self.ledger.deployment(&target.name, &key).await? {
            return Box::pin(self.redelivered_rollback(target, existing.value, invocation)).await;
        }
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await?
            .map(|r| r.value)
            .unwrap_or_default();
        let (service, _) = self.rollable_service(target).await?;
        let chosen = match &request.to {
            Some(to) => Some(self.chosen_release(target, to).await?),
            None => rollouts.clone().rollback_target(&service.task_definition),
        };
        let Some(good) = chosen else {
            return Err(StepError::Rejected(format!(
                "target `{}` has no known good release to return to: no other deployment Slipway started has reached COMPLETED",
                target.name
            )));
        };
        record_in_span("digest", super::image_digest(&good.image));
        record_in_span("deployment_id", &id);
        if service.task_definition == good.task_definition {
            log_decision(
                "already-running",
                &format!(
                    "{} already runs {} ({})",
                    target.service, good.release, good.task_definition
                ),
            );
            return Ok(Handled {
                deployment_id: good.deployment_id.clone(),
                image: good.image.clone(),
                outcome: TargetOutcome::AlreadyRunning {
                    task_definition: good.task_definition,
                },
            });
        }
        self.check_still_in_ecr(&good).await?;
        let record = rollback_record(target, request, &service, &good, key, invocation);
        let current = match self.claim(record, invocation).await? {
            Step::Go(current) => current,
            Step::Stop(duplicate) => {
                return Ok(Handled {
                    deployment_id: id,
                    image: good.image,
                    outcome: duplicate,
                })
            }
        };
        let reason = format!(
            "rolled back by {}{}",
            request.requested_by,
            request
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        let bad = self
            .freeze_rolled_back(
                target,
                &rollouts,
                &good,
                &service.task_definition,
                &reason,
                request.to.is_none(),
            )
            .await?;
        let ecs_deployment_id = self
            .start_rollout(target, current, &good.task_definition)
            .await?;
        // A release still rolling (ECS gave up without a circuit breaker, say) will hear
        // no more from ECS: the operator's rollback is its end.
        if let Some(bad) = bad.filter(|b| b.value.state == State::Rolling) {
            self.end_rolled_back(bad, &reason, &good).await?;
        }
        Ok(Handled {
            deployment_id: id,
            image: good.image,
            outcome: TargetOutcome::Rolling {
                from_task_definition: service.task_definition,
                to_task_definition: good.task_definition,
                ecs_deployment_id,
                changes: vec![],
            },
        })
    }
}

impl<A: Adapters> Deployer<A> {
    /// The release of an earlier deployment an operator named (`rollback --to`): only one
    /// ECS completed is a release to return to — never "the revision before", which may
    /// never have run (kayac/ecspresso#22).
    async fn chosen_release(&self, target: &Target, id: &str) -> Result<GoodRelease, StepError> {
        let key = id
            .strip_prefix(&format!("{}.", target.name))
            .ok_or_else(|| {
                StepError::Rejected(format!("`{id}` is not a deployment of `{}`", target.name))
            })?;
        let Some(found) = self.ledger.deployment(&target.name, key).await? else {
            return Err(StepError::Rejected(format!(
                "no deployment `{id}` in the ledger"
            )));
        };
        let d = found.value;
        let (State::Succeeded, Some(task_definition), Some(ecs_deployment_id)) = (
            d.state,
            d.to_task_definition.clone(),
            d.ecs_deployment_id.clone(),
        ) else {
            return Err(StepError::Rejected(format!(
                "{id} is {}, not succeeded: only a release ECS completed can be rolled back to",
                d.state
            )));
        };
        Ok(GoodRelease {
            deployment_id: d.id.clone(),
            key: d.key.clone(),
            release: crate::model::rollout::release_name(&d),
            image: d.image.clone(),
            version: d.version.clone(),
            task_definition,
            ecs_deployment_id,
            completed_at: d.ended_at.unwrap_or_else(Utc::now),
        })
    }

    /// Refuses a rollback onto an image ECR no longer has. The revision is immutable, but
    /// the image it pins can expire under the repository's lifecycle policy (README,
    /// "Rolling back"): ECS could not pull it, and the rollback would take the service
    /// down instead of restoring it. Images outside a private ECR registry are not checked.
    async fn check_still_in_ecr(&self, good: &GoodRelease) -> Result<(), StepError> {
        let Ok(image) = ImageRef::parse(&good.image) else {
            return Ok(());
        };
        let (Some((account, _)), ImageReference::Digest(digest)) =
            (image.ecr_registry(), &image.reference)
        else {
            return Ok(());
        };
        match self
            .registry
            .image_pushed_at(&account, &image.repository, digest)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(StepError::Rejected(format!(
                "the last known good release {} ({}) is no longer in ECR — expired by the repository's lifecycle \
                 policy, or deleted: ECS could not pull it, so nothing was rolled back. Push that image again (the \
                 same build gives the same digest) and repeat the request, or deploy a newer fix",
                good.release, good.image
            ))),
        }
    }

    /// The release rolled back from is no longer good, and freezes the target so that it
    /// does not come straight back; returns its record, if Slipway started it.
    async fn freeze_rolled_back(
        &self,
        target: &Target,
        rollouts: &Rollouts,
        good: &GoodRelease,
        running: &str,
        reason: &str,
        // Returning to the last good release moves it (when the service already runs it, the
        // one before becomes last good); a release the operator named moves nothing.
        to_last_good: bool,
    ) -> Result<Option<Versioned<Deployment>>, StepError> {
        let bad = match rollouts
            .latest_own()
            .filter(|l| l.kind == RolloutKind::Slipway && l.deployment_id != good.deployment_id)
        {
            Some(latest) => self.ledger.deployment(&target.name, &latest.key).await?,
            None => None,
        };
        self.update_rollouts(&target.name, |r| {
            let before = r.clone();
            if to_last_good {
                r.rollback_target(running);
            }
            if let Some(bad) = &bad {
                r.freeze_after(&bad.value, target.freeze_rule(), reason, Utc::now());
            }
            *r != before
        })
        .await?;
        Ok(bad)
    }

    /// Ends a release still rolling when an operator rolled it back.
    async fn end_rolled_back(
        &self,
        bad: Versioned<Deployment>,
        reason: &str,
        good: &GoodRelease,
    ) -> Result<(), StepError> {
        let mut next = bad.value.clone();
        next.advance(State::RolledBack, reason, Utc::now())?;
        next.rolled_back_to = Some(good.release.clone());
        next.ended_at = Some(Utc::now());
        // The rollback's own outcome is what people are told.
        next.outcome_notified = Some(Notified {
            state: State::RolledBack,
            at: Utc::now(),
            deliveries: Vec::new(),
        });
        self.ledger.save(&bad, next).await?;
        Ok(())
    }

    /// The same rollback request again: a duplicate, unless an earlier attempt died
    /// before UpdateService (then this one finishes it, onto the revision chosen then).
    async fn redelivered_rollback(
        &self,
        target: &Target,
        existing: Deployment,
        invocation: &Invocation,
    ) -> Result<Handled, StepError> {
        let (id, image) = (existing.id.clone(), existing.image.clone());
        record_in_span("digest", super::image_digest(&image));
        record_in_span("deployment_id", &id);
        let current = match self.claim(existing, invocation).await? {
            Step::Go(current) => current,
            Step::Stop(duplicate) => {
                return Ok(Handled {
                    deployment_id: id.clone(),
                    image,
                    outcome: duplicate,
                })
            }
        };
        let from_task_definition = current.value.from_task_definition.clone();
        let to_task_definition = current.value.to_task_definition.clone().unwrap_or_default();
        let ecs_deployment_id = self
            .start_rollout(target, current, &to_task_definition)
            .await?;
        Ok(Handled {
            deployment_id: id.clone(),
            image,
            outcome: TargetOutcome::Rolling {
                from_task_definition,
                to_task_definition,
                ecs_deployment_id,
                changes: vec![],
            },
        })
    }
}

/// The deployment an operator's rollback claims: the last known good release's task
/// definition (immutable, pinned by digest), leased to this invocation.
fn rollback_record(
    target: &Target,
    request: &OperatorRequest,
    service: &ServiceState,
    good: &GoodRelease,
    key: String,
    invocation: &Invocation,
) -> Deployment {
    let trigger = Trigger::Rollback {
        event_id: request.event_id.clone(),
        requested_by: request.requested_by.clone(),
        reason: request.reason.clone(),
        to_deployment_id: good.deployment_id.clone(),
        to_release: good.release.clone(),
    };
    Deployment {
        image: good.image.clone(),
        version: good.version.clone(),
        diff: vec![format!(
            "task definition {} → {} ({}, the last known good release)",
            service.task_definition, good.task_definition, good.release
        )],
        from_task_definition: service.task_definition.clone(),
        to_task_definition: Some(good.task_definition.clone()),
        lease: Some(Lease {
            holder: invocation.request_id.clone(),
            until: invocation.deadline,
        }),
        ..Deployment::new(&target.name, &target.cluster, &target.service, key, trigger)
    }
}
