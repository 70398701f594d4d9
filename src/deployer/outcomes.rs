//! How rollouts end, and what operators ask after one went wrong.
//!
//! - ECS's "ECS Deployment State Change" events move a `rolling` deployment to
//!   `succeeded`, `failed` or `rolled-back` (the rules are in [`crate::model::rollout`]), record
//!   the last known good release or freeze the target, and tell people the truth by SNS
//!   and Slack — editing the approval's Slack message too, when there was one.
//! - Deployments ECS reports that Slipway did not start are recorded as external.
//! - "ECS Hook State Change" events are noted on the progressive rollout they belong to
//!   (`deployer::hooks`).
//! - "ECS Service Action" problems (tasks failing to start, placement failures) are noted
//!   on the rollout under way.
//! - Operators' requests (`slipway.operator` events) are handed to `deployer::operator`.

use chrono::Utc;
use serde_json::Value;
use tracing::info;
use tracing::Instrument;

use super::{
    decision_span, log_decision, log_warning, record_in_span, DeployError, Deployer, EventOutcome,
    Invocation, Report, StepError, TargetOutcome, TargetReport,
};
use crate::input::config::Target;
use crate::input::event::{is_operator_request, parse_ecs_event, DeploymentChanged, EcsEvent};
use crate::ledger::Versioned;
use crate::model::deployment::{Deployment, Notified, State, Trigger};
use crate::model::rollout::{
    on_deployment_event, release_name, GoodRelease, Move, RolloutKind, Rollouts, StartedRollout,
};
use crate::notify::{self, OutcomeContext};
use crate::ports::Adapters;

/// What one target's part of an event came to: the deployment it concerned and how.
pub(super) struct Handled {
    pub(super) deployment_id: String,
    pub(super) image: String,
    pub(super) outcome: TargetOutcome,
}

impl Handled {
    /// An event about no deployment Slipway knows of: nothing moved, and why.
    pub(super) fn unchanged(reason: String) -> Handled {
        Handled {
            deployment_id: String::new(),
            image: String::new(),
            outcome: TargetOutcome::Unchanged {
                state: None,
                reason,
            },
        }
    }

    pub(super) fn of(deployment: &Deployment, outcome: TargetOutcome) -> Handled {
        Handled {
            deployment_id: deployment.id.clone(),
            image: deployment.image.clone(),
            outcome,
        }
    }
}

impl<A: Adapters> Deployer<A> {
    /// Handles one event for the deployment-events function: ECS's deployment state
    /// changes and service actions, and operators' requests.
    pub async fn handle_deployment_event(
        &self,
        raw: &Value,
        invocation: &Invocation,
    ) -> Result<Report, DeployError> {
        let raw = super::redriven(raw);
        if is_operator_request(raw) {
            return self.handle_operator_request(raw, invocation).await;
        }
        if crate::input::hint::is_hint(raw) {
            return Box::pin(self.handle_hint(raw, invocation)).await;
        }
        if raw.get("detail-type").and_then(Value::as_str)
            == Some(crate::input::task_event::ECS_TASK_TYPE)
        {
            // Boxed: a run's pass is a large future, kept off this one's stack.
            return Box::pin(self.handle_task_event(raw, invocation)).await;
        }
        let event = match self.triage(raw, parse_ecs_event(raw)) {
            Ok(event) => event,
            Err(report) => return Ok(report),
        };
        let (event_id, service) = match &event {
            EcsEvent::Deployment(e) => (&e.event_id, &e.service),
            EcsEvent::ServiceAction(a) => (&a.event_id, &a.service),
            EcsEvent::Hook(h) => (&h.event_id, &h.service),
        };
        let home = &self.config.home;
        let targets: Vec<&Target> = self
            .config
            .targets
            .iter()
            .filter(|t| t.runs_on(&service.cluster, &service.service))
            .filter(|_| service.account == home.account && service.region == home.region)
            .collect();
        if targets.is_empty() {
            let reason = format!(
                "no target deploys to {}/{} in account {} region {}",
                service.cluster, service.service, service.account, service.region
            );
            info!(event_id, decision = "ignored", "{reason}");
            return Ok(self.report(raw, EventOutcome::Ignored { reason }));
        }
        let results = futures::future::join_all(targets.iter().map(|target| {
            let span = decision_span(event_id, &target.name, "", "");
            async {
                let result = match &event {
                    EcsEvent::Deployment(change) => {
                        Box::pin(self.record_deployment_event(target, change, invocation)).await
                    }
                    EcsEvent::ServiceAction(action) => {
                        self.note_service_action(target, action).await
                    }
                    EcsEvent::Hook(hook) => self.note_hook_event(target, hook).await,
                };
                if let Err(err) = &result {
                    if err.is_transient() {
                        log_warning("retry", &format!("the event will be retried: {err}"));
                    } else {
                        log_warning("failed", &format!("not retrying: {err}"));
                    }
                }
                result
            }
            .instrument(span)
        }))
        .await;
        self.collect(raw, event_id, &targets, results)
    }

    pub(super) fn collect(
        &self,
        raw: &Value,
        event_id: &str,
        targets: &[&Target],
        results: Vec<Result<Handled, StepError>>,
    ) -> Result<Report, DeployError> {
        let mut reports = Vec::new();
        let mut transient = Vec::new();
        for (target, result) in targets.iter().zip(results) {
            let handled = match result {
                Ok(handled) => handled,
                Err(err) if err.is_transient() => {
                    transient.push(format!("{}: {err}", target.name));
                    continue;
                }
                Err(err) => Handled {
                    deployment_id: String::new(),
                    image: String::new(),
                    outcome: super::permanent_outcome(err),
                },
            };
            reports.push(TargetReport {
                target: target.name.clone(),
                deployment_id: handled.deployment_id,
                image: handled.image,
                outcome: handled.outcome,
            });
        }
        if let Some(first) = transient.first() {
            return Err(DeployError {
                event_id: event_id.to_string(),
                failed: transient.len(),
                first: first.clone(),
            });
        }
        Ok(self.report(
            raw,
            EventOutcome::Targets {
                targets: reports,
                groups: Vec::new(),
            },
        ))
    }

    /// Finds the deployment an ECS deployment event is about and moves it.
    async fn record_deployment_event(
        &self,
        target: &Target,
        event: &DeploymentChanged,
        invocation: &Invocation,
    ) -> Result<Handled, StepError> {
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await?
            .map(|r| r.value)
            .unwrap_or_default();
        let entry = match rollouts.find(&event.ecs_deployment_id) {
            Some(entry) => entry.clone(),
            None => match self.rollback_of_latest(target, &rollouts, event).await? {
                Some(entry) => entry,
                None => {
                    if let Some(starting) = rollouts.starting_now(Utc::now()) {
                        return Err(StepError::Busy(format!(
                            "{} is calling UpdateService on {}/{} and has not recorded its ECS deployment id yet; {} may be it",
                            starting.deployment_id, target.cluster, target.service, event.ecs_deployment_id
                        )));
                    }
                    self.record_external(target, event).await?
                }
            },
        };
        let current = self
            .ledger
            .deployment(&target.name, &entry.key)
            .await?
            .ok_or_else(|| {
                StepError::Rejected(format!(
                    "the rollouts of {} name {} for ECS deployment {}, but the ledger has no such record: inspect targets/{}/target.json",
                    target.name, entry.deployment_id, entry.ecs_deployment_id, target.name
                ))
            })?;
        let current = self
            .adopt_if_unrecorded(current, &entry, invocation)
            .await?;
        let handled = self.apply_event(target, current, &entry, event).await?;
        self.go_on_with_group_run(target, &entry.key, invocation)
            .await?;
        Ok(handled)
    }

    /// A release group's step ended with its deployment: the run goes on (its next step,
    /// a rollback, or its end) in the same invocation.
    async fn go_on_with_group_run(
        &self,
        target: &Target,
        key: &str,
        invocation: &Invocation,
    ) -> Result<(), StepError> {
        let Some(deployment) = self.ledger.deployment(&target.name, key).await? else {
            return Ok(());
        };
        let Trigger::GroupStep { group, run_id, .. } = &deployment.value.trigger else {
            return Ok(());
        };
        if !deployment.value.state.is_terminal() {
            return Ok(());
        }
        let report = Box::pin(self.drive_group_run(group, run_id, invocation)).await?;
        log_decision(
            "group-run",
            &format!(
                "run {run_id}: {} ({})",
                report.state,
                report.actions.join(", ")
            ),
        );
        Ok(())
    }

    /// An IN_PROGRESS event whose reason says the circuit breaker is rolling back names a
    /// new ECS deployment (the rollback) and the one it returns to, not the one that
    /// failed. The circuit breaker only ever undoes the service's latest deployment: if
    /// that is ours and not over, this rollback is of it.
    async fn rollback_of_latest(
        &self,
        target: &Target,
        rollouts: &Rollouts,
        event: &DeploymentChanged,
    ) -> Result<Option<StartedRollout>, StepError> {
        if event.rolling_back_to().is_none() {
            return Ok(None);
        }
        let Some(latest) = rollouts.latest_own() else {
            return Ok(None);
        };
        if latest.ecs_deployment_id == event.rolling_back_to().unwrap_or_default() {
            return Ok(None);
        }
        let Some(record) = self.ledger.deployment(&target.name, &latest.key).await? else {
            return Ok(None);
        };
        if !matches!(record.value.state, State::Rolling | State::Failed) {
            return Ok(None);
        }
        let entry = StartedRollout {
            ecs_deployment_id: event.ecs_deployment_id.clone(),
            deployment_id: latest.deployment_id.clone(),
            key: latest.key.clone(),
            kind: RolloutKind::CircuitBreakerRollback,
            at: event.updated_at,
        };
        let remembered = entry.clone();
        self.update_rollouts(&target.name, move |r| {
            r.remember(remembered.clone());
            true
        })
        .await?;
        Ok(Some(entry))
    }

    /// A deployment that called UpdateService but did not get to record `rolling` (its
    /// invocation died, or is about to save): wait for a live one, adopt an abandoned one.
    async fn adopt_if_unrecorded(
        &self,
        current: Versioned<Deployment>,
        entry: &StartedRollout,
        invocation: &Invocation,
    ) -> Result<Versioned<Deployment>, StepError> {
        if !matches!(current.value.state, State::Planned | State::Approved) {
            return Ok(current);
        }
        if current
            .value
            .is_held_by_other(&invocation.request_id, Utc::now())
        {
            return Err(StepError::Busy(format!(
                "{} is still recording its rollout; retrying later",
                current.value.id
            )));
        }
        let mut next = current.value.clone();
        next.ecs_deployment_id = Some(entry.ecs_deployment_id.clone());
        next.lease = None;
        next.advance(
            State::Rolling,
            format!(
                "ECS reports deployment {}, which an interrupted attempt started",
                entry.ecs_deployment_id
            ),
            entry.at,
        )?;
        Ok(self.ledger.save(&current, next).await?)
    }

    async fn apply_event(
        &self,
        target: &Target,
        mut current: Versioned<Deployment>,
        entry: &StartedRollout,
        event: &DeploymentChanged,
    ) -> Result<Handled, StepError> {
        let image = current.value.image.clone();
        record_in_span("digest", super::image_digest(&image));
        record_in_span("deployment_id", &entry.deployment_id);
        let from = current.value.state;
        let outcome = match on_deployment_event(&current.value, event, entry.kind) {
            Move::To(state, note) => {
                let mut next = current.value.clone();
                next.advance(state, note.clone(), event.updated_at)?;
                next.ended_at.get_or_insert(event.updated_at);
                match state {
                    State::Failed => {
                        next.error = Some(
                            event
                                .reason
                                .clone()
                                .unwrap_or_else(|| "ECS reported the deployment failed".into()),
                        )
                    }
                    State::RolledBack => {
                        next.rolled_back_to = Some(self.describe_rollback(target, event).await?)
                    }
                    _ => {}
                }
                current = self.ledger.save(&current, next).await?;
                self.record_target_effects(target, &current.value, event)
                    .await?;
                log_decision(&state.to_string(), &notify::outcome_line(&current.value));
                TargetOutcome::Moved {
                    from,
                    to: state,
                    note,
                }
            }
            Move::Nothing(reason) => {
                log_decision("unchanged", &reason);
                TargetOutcome::Unchanged {
                    state: Some(from),
                    reason,
                }
            }
        };
        let handled = Handled::of(&current.value, outcome);
        self.tell_outcome(target, current).await?;
        Ok(handled)
    }

    /// What the circuit breaker returned the service to, in words.
    async fn describe_rollback(
        &self,
        target: &Target,
        event: &DeploymentChanged,
    ) -> Result<String, StepError> {
        let Some(to) = event.rolling_back_to() else {
            return Ok("the last completed deployment".into());
        };
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await?
            .map(|r| r.value)
            .unwrap_or_default();
        if let Some(good) = rollouts
            .last_good
            .as_ref()
            .filter(|g| g.ecs_deployment_id == to)
        {
            return Ok(good.release.clone());
        }
        if let Some(entry) = rollouts.find(to) {
            if let Some(record) = self.ledger.deployment(&target.name, &entry.key).await? {
                return Ok(release_name(&record.value));
            }
        }
        Ok(format!("ECS deployment {to}"))
    }

    /// A success becomes the last known good release; a failure freezes the target.
    async fn record_target_effects(
        &self,
        target: &Target,
        deployment: &Deployment,
        event: &DeploymentChanged,
    ) -> Result<(), StepError> {
        let external = matches!(deployment.trigger, Trigger::External { .. });
        match deployment.state {
            State::Succeeded if !external => {
                let Some(task_definition) = deployment.to_task_definition.clone() else {
                    return Ok(());
                };
                let good = GoodRelease {
                    deployment_id: deployment.id.clone(),
                    key: deployment.key.clone(),
                    release: release_name(deployment),
                    image: deployment.image.clone(),
                    version: deployment.version.clone(),
                    task_definition,
                    ecs_deployment_id: event.ecs_deployment_id.clone(),
                    completed_at: event.updated_at,
                };
                self.update_rollouts(&target.name, |r| {
                    let before = r.last_good.clone();
                    r.completed(good.clone());
                    r.last_good != before
                })
                .await?;
            }
            State::Failed | State::RolledBack => {
                let reason = notify::outcome_line(deployment);
                self.update_rollouts(&target.name, |r| {
                    let before = r.freeze.clone();
                    r.freeze_after(deployment, target.freeze_rule(), &reason, event.updated_at);
                    r.freeze != before
                })
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Tells people how the rollout ended — once per outcome: a retry after a failed send
    /// tells them, a duplicate event does not. SNS and the target's Slack channel must
    /// succeed (else the event is retried); editing the approval's Slack message is best
    /// effort.
    pub(super) async fn tell_outcome(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
    ) -> Result<(), StepError> {
        let state = current.value.state;
        // An expired pause inside a rollout is an outcome too: ECS rolled the release back.
        let paused_out = state == State::Expired && current.value.progress.is_some();
        if !matches!(state, State::Succeeded | State::Failed | State::RolledBack) && !paused_out {
            return Ok(());
        }
        if current
            .value
            .outcome_notified
            .as_ref()
            .is_some_and(|n| n.state == state)
        {
            return Ok(());
        }
        // Once per outcome, like the telling: the stages promoting from this target look
        // again now rather than on the reconciler's schedule.
        self.hint_success(&current.value).await;
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await?
            .map(|r| r.value)
            .unwrap_or_default();
        let context = OutcomeContext {
            frozen: rollouts
                .freeze
                .as_ref()
                .filter(|f| f.deployment_id == current.value.id)
                .map(|_| freeze_advice(target)),
            last_good: rollouts.last_good.as_ref().map(|g| {
                format!(
                    "{} ({}, completed {})",
                    g.release,
                    g.task_definition,
                    g.completed_at.format("%Y-%m-%d %H:%M UTC")
                )
            }),
        };
        let deployment = &current.value;
        let (subject, body) = notify::outcome_email(deployment, &context);
        let payload = target
            .outcome_channel()
            .map(|channel| (channel, notify::outcome_slack(deployment, &context)));
        let told = self
            .tell(
                &deployment.id,
                (&subject, &body),
                payload
                    .as_ref()
                    .map(|(channel, payload)| (*channel, payload)),
            )
            .await?;
        self.edit_request_message(deployment, &notify::outcome_line(deployment))
            .await;
        let mut next = current.value.clone();
        next.outcome_notified = Some(Notified {
            state,
            at: Utc::now(),
            deliveries: told.deliveries,
        });
        self.ledger.save(&current, next).await?;
        Ok(())
    }
}

/// How a frozen target resumes, for the failure notification.
fn freeze_advice(target: &Target) -> String {
    use crate::input::config::FreezeRule::*;
    let unfreeze = format!(
        "an operator can unfreeze it ({{\"action\": \"unfreeze\", \"target\": \"{}\", \"requested_by\": \"<you>\"}})",
        target.name
    );
    match target.freeze_rule() {
        UntilNewerImage => {
            format!("until a newer image is pushed, or {unfreeze}")
        }
        _ => format!("until {unfreeze}"),
    }
}
