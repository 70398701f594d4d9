//! "ECS Service Action" events (steady state, tasks failing to start, …): not outcomes,
//! but noted on the rollout under way, so that a person watching it sees the problem.

use chrono::Utc;
use tracing::info;

use super::{Deployer, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::input::event::ServiceAction;
use crate::model::deployment::{HistoryEntry, State};
use crate::ports::Adapters;

/// What one target's part of an event came to: the deployment it concerned and how.
use super::outcomes::Handled;

impl<A: Adapters> Deployer<A> {
    /// Problems ECS reports while a rollout is under way are noted on it, once.
    pub(super) async fn note_service_action(
        &self,
        target: &Target,
        action: &ServiceAction,
    ) -> Result<Handled, StepError> {
        let unchanged = Handled::unchanged;
        if !action.is_problem() {
            return Ok(unchanged(format!(
                "{} ({}): nothing to record; deployment outcomes come from deployment events",
                action.name, action.event_type
            )));
        }
        let rollouts = self
            .ledger
            .rollouts(&target.name)
            .await?
            .map(|r| r.value)
            .unwrap_or_default();
        let Some(latest) = rollouts.latest_own() else {
            return Ok(unchanged(format!(
                "{}: no rollout to note it on",
                action.name
            )));
        };
        let Some(current) = self.ledger.deployment(&target.name, &latest.key).await? else {
            return Ok(unchanged(format!(
                "{}: no rollout to note it on",
                action.name
            )));
        };
        if current.value.state != State::Rolling {
            return Ok(unchanged(format!(
                "{}: the latest rollout is {}, not under way",
                action.name, current.value.state
            )));
        }
        let note = format!(
            "ECS {} {}{} (event {})",
            action.event_type,
            action.name,
            action
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default(),
            action.event_id
        );
        if current.value.history.iter().any(|h| h.note == note) {
            return Ok(Handled::of(
                &current.value,
                TargetOutcome::Unchanged {
                    state: Some(State::Rolling),
                    reason: "already noted".into(),
                },
            ));
        }
        let mut next = current.value.clone();
        next.history.push(HistoryEntry {
            at: action.at.unwrap_or_else(Utc::now),
            state: State::Rolling,
            note: note.clone(),
        });
        self.ledger.save(&current, next).await?;
        info!(
            event_id = action.event_id,
            target = target.name,
            deployment_id = current.value.id,
            decision = "noted",
            "{note}"
        );
        Ok(Handled::of(
            &current.value,
            TargetOutcome::Unchanged {
                state: Some(State::Rolling),
                reason: format!("noted: {note}"),
            },
        ))
    }
}
