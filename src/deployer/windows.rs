//! Deployment windows in the pipelines (`model::window` holds the rules). A release ready
//! to roll while its target's window is closed — a push or upload of an `auto` target, or
//! an approved release — waits as `waiting-for-window`, with when the window opens; a
//! newer release that waits supersedes it, so that only the newest rolls. The reconciler
//! rolls the waiting release once the window is open. An operator's rollback is never
//! held, and neither is a rollout already under way in ECS.

use chrono::{DateTime, Utc};

use super::{log_decision, Deployer, StepError, TargetOutcome};
use crate::input::config::Target;
use crate::ledger::{LedgerError, Versioned};
use crate::model::deployment::{Deployment, State, Trigger, WindowHold};
use crate::model::target::AwaitingPointer;
use crate::model::window::WindowVerdict;
use crate::ports::Adapters;

impl<A: Adapters> Deployer<A> {
    /// Whether the target's windows hold `deployment` now: `Some((because, opens_at))`.
    pub(super) fn window_holds(
        &self,
        target: &Target,
        deployment: &Deployment,
    ) -> Option<(String, DateTime<Utc>)> {
        let windows = target.windows.as_ref()?;
        if matches!(deployment.trigger, Trigger::Rollback { .. }) {
            return None;
        }
        match windows.verdict(self.now()) {
            WindowVerdict::Open => None,
            WindowVerdict::Closed { because, opens_at } => Some((because, opens_at)),
        }
    }

    /// For a dry run: what the window would do with a release now.
    pub(super) fn window_warning(&self, target: &Target) -> Option<String> {
        match target.windows.as_ref()?.verdict(self.now()) {
            WindowVerdict::Open => None,
            WindowVerdict::Closed { because, opens_at } => Some(format!(
                "the deployment window is closed ({because}): it would wait until {}",
                opens_at.format("%Y-%m-%d %H:%M UTC")
            )),
        }
    }

    /// `current` waits for the window; the release that waited before it is superseded.
    pub(super) async fn wait_for_window(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        because: String,
        opens_at: DateTime<Utc>,
    ) -> Result<TargetOutcome, StepError> {
        let now = self.now();
        let note = format!(
            "the deployment window is closed ({because}): waits until {}",
            opens_at.format("%Y-%m-%d %H:%M UTC")
        );
        let mut next = current.value.clone();
        if current.value.state != State::WaitingForWindow {
            next.advance(State::WaitingForWindow, note.clone(), now)?;
        }
        next.window = Some(WindowHold {
            since: now,
            opens_at,
            because: because.clone(),
        });
        next.lease = None;
        let saved = self.ledger.save(&current, next).await?;
        self.become_waiting(target, &saved.value).await?;
        log_decision("waiting-for-window", &note);
        Ok(TargetOutcome::WaitingForWindow { because, opens_at })
    }

    /// Makes `ours` the target's waiting release, superseding the one it replaces.
    async fn become_waiting(&self, target: &Target, ours: &Deployment) -> Result<(), StepError> {
        let mine = AwaitingPointer {
            deployment_id: ours.id.clone(),
            key: ours.key.clone(),
            updated_at: self.now(),
        };
        for _ in 0..5 {
            let pointer = self.ledger.waiting(&target.name).await?;
            if let Some(old) = pointer.as_ref().filter(|p| p.value.key != ours.key) {
                self.supersede_waiting(target, &old.value.key, &ours.id)
                    .await?;
            }
            match self
                .ledger
                .set_waiting(&target.name, pointer.as_ref(), mine.clone())
                .await
            {
                Ok(_) => return Ok(()),
                Err(LedgerError::Conflict { .. }) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(StepError::Rejected(format!(
            "the waiting-for-window pointer of {} kept changing: try again",
            target.name
        )))
    }

    async fn supersede_waiting(
        &self,
        target: &Target,
        key: &str,
        by: &str,
    ) -> Result<(), StepError> {
        let Some(older) = self.ledger.deployment(&target.name, key).await? else {
            return Ok(());
        };
        if older.value.state != State::WaitingForWindow {
            return Ok(());
        }
        let mut next = older.value.clone();
        next.advance(
            State::Superseded,
            format!("superseded by {by}, which waits for the same window"),
            self.now(),
        )?;
        match self.ledger.save(&older, next).await {
            Ok(_) | Err(LedgerError::Conflict { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// The reconciler's part: the target's waiting release rolls once its window is open.
    pub(super) async fn release_waiting(
        &self,
        target: &Target,
    ) -> Result<Option<TargetOutcome>, StepError> {
        if target.windows.is_none() {
            return Ok(None);
        }
        let Some(pointer) = self.ledger.waiting(&target.name).await? else {
            return Ok(None);
        };
        let Some(waiting) = self
            .ledger
            .deployment(&target.name, &pointer.value.key)
            .await?
            .filter(|d| d.value.state == State::WaitingForWindow)
        else {
            return Ok(None);
        };
        if self.window_holds(target, &waiting.value).is_some() {
            return Ok(None);
        }
        let now = self.now();
        if waiting.value.is_held_by_other("reconcile", now) {
            return Ok(None);
        }
        let mut next = waiting.value.clone();
        next.take_over("reconcile", now + super::decisions::ROLL_LEASE);
        let taken = match self.ledger.save(&waiting, next).await {
            Ok(taken) => taken,
            Err(LedgerError::Conflict { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        log_decision(
            "window-open",
            &format!("the deployment window is open: rolling {}", taken.value.id),
        );
        Box::pin(self.roll_approved(target, taken)).await.map(Some)
    }
}
