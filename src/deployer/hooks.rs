//! "ECS Hook State Change" events: a lifecycle hook of a progressive rollout changed
//! state. The event names only the service deployment's ARN, which Slipway recorded when
//! its UpdateService started it; the stage reached and a pause ECS waits on are recorded
//! on the deployment's progress, once, so that people and the operator CLI see where the
//! rollout stands (Amazon ECS Developer Guide, "Amazon ECS service deployment hook state
//! change events"). How the rollout ends still comes from ECS's deployment events.

use chrono::Utc;
use tracing::info;

use super::outcomes::Handled;
use super::{Deployer, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::input::event::{HookChanged, HookEventName};
use crate::model::deployment::progress::PausedAt;
use crate::model::deployment::{HistoryEntry, Progress, State};
use crate::ports::Adapters;

impl<A: Adapters> Deployer<A> {
    pub(super) async fn note_hook_event(
        &self,
        target: &Target,
        hook: &HookChanged,
    ) -> Result<Handled, StepError> {
        let unchanged = |reason: String| Handled {
            deployment_id: String::new(),
            image: String::new(),
            outcome: TargetOutcome::Unchanged {
                state: None,
                reason,
            },
        };
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await?
            .map(|r| r.value)
            .unwrap_or_default();
        let Some(rollout) = rollouts.find_service_deployment(&hook.service_deployment_arn) else {
            return Ok(unchanged(format!(
                "service deployment {} is not one Slipway started: nothing to record",
                hook.service_deployment_arn
            )));
        };
        let Some(current) = self.ledger.deployment(&target.name, &rollout.key).await? else {
            return Ok(unchanged(format!(
                "the rollouts of {} name {} for {}, but the ledger has no such record",
                target.name, rollout.deployment_id, hook.service_deployment_arn
            )));
        };
        let stage = hook
            .stage
            .map_or("an unknown stage".to_string(), |s| s.ecs_name().to_string());
        let note = format!(
            "ECS hook {} {:?} at {stage} (event {})",
            hook.hook_id, hook.name, hook.event_id
        );
        if current.value.history.iter().any(|h| h.note == note) {
            return Ok(Handled::of(
                &current.value,
                TargetOutcome::Unchanged {
                    state: Some(current.value.state),
                    reason: "already noted".into(),
                },
            ));
        }
        let at = hook.updated_at.unwrap_or_else(Utc::now);
        let mut next = current.value.clone();
        let progress = next.progress.get_or_insert_with(|| {
            Progress::new(
                target.rollout.strategy.describe(),
                Some(hook.service_deployment_arn.clone()),
            )
        });
        if let Some(stage) = hook.stage {
            progress.reached(stage.ecs_name(), at);
        }
        match (hook.name, hook.stage) {
            (HookEventName::AwaitingAction, Some(stage)) => {
                progress.pause = Some(PausedAt {
                    hook_id: hook.hook_id.clone(),
                    stage,
                    expires_at: hook.expires_at,
                    since: at,
                })
            }
            (HookEventName::AwaitingAction, None) => {}
            _ if progress
                .pause
                .as_ref()
                .is_some_and(|p| p.hook_id == hook.hook_id) =>
            {
                progress.pause = None
            }
            _ => {}
        }
        next.history.push(HistoryEntry {
            at,
            state: current.value.state,
            note: note.clone(),
        });
        self.ledger.save(&current, next).await?;
        info!(
            event_id = hook.event_id,
            target = target.name,
            deployment_id = current.value.id,
            decision = "noted",
            "{note}"
        );
        let state: State = current.value.state;
        Ok(Handled::of(
            &current.value,
            TargetOutcome::Unchanged {
                state: Some(state),
                reason: format!("noted: {note}"),
            },
        ))
    }
}
