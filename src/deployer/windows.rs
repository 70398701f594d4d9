//! Deployment windows in the pipelines (`model::window` holds the rules). A release ready
//! to roll while its target's window is closed — a push or upload of an `auto` target, or
//! an approved release — waits as `waiting-for-window`, with when the window opens; a
//! newer release that waits supersedes it, so that only the newest rolls. The reconciler
//! rolls the waiting release once the window is open. An operator's rollback is never
//! held, and neither is a rollout already under way in ECS.

use chrono::{DateTime, Utc};

use super::{log_decision, Deployer, Invocation, Step, StepError, TargetOutcome};
use crate::input::config::{Policy, Target};
use crate::ledger::{LedgerError, Versioned};
use crate::model::deployment::{Deployment, State, Trigger, WindowHold};
use crate::model::rollout::FreezeCheck;
use crate::model::target::AwaitingPointer;
use crate::model::window::WindowVerdict;
use crate::ports::{Adapters, Ecs};

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
        // An approver let this release through (`slipway override-window`), lately.
        let now = self.now();
        if deployment
            .window
            .as_ref()
            .and_then(|w| w.overridden.as_ref())
            .is_some_and(|o| o.is_active(now))
        {
            return None;
        }
        match windows.verdict(now) {
            WindowVerdict::Open => None,
            WindowVerdict::Closed { because, opens_at } => Some((because, opens_at)),
        }
    }

    /// For a dry run: what the window would do with a release now.
    pub(super) fn window_warning(&self, target: &Target) -> Option<String> {
        match target.windows.as_ref()?.verdict(self.now()) {
            WindowVerdict::Open => None,
            WindowVerdict::Closed { because, opens_at } => Some(format!(
                "the deployment window is closed ({because}): it would not roll before {}",
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
            overridden: None,
        });
        next.lease = None;
        let saved = self.ledger.save(&current, next).await?;
        if let Some(by) = self.become_waiting(target, &saved.value).await? {
            return Ok(TargetOutcome::Superseded { by });
        }
        log_decision("waiting-for-window", &note);
        // One wake-up per target and opening: the newest release waiting then rolls.
        let subject = format!("window {}", target.name);
        let reason = format!("{}'s deployment window opens", target.name);
        Box::pin(self.wake_at(&subject, opens_at, &reason)).await;
        Ok(TargetOutcome::WaitingForWindow { because, opens_at })
    }

    /// Makes `ours` the target's waiting release (for the window, or for upstream),
    /// superseding the older one it replaces; `Some(newer)` when a newer release waits
    /// already, which supersedes ours instead.
    pub(super) async fn become_waiting(
        &self,
        target: &Target,
        ours: &Deployment,
    ) -> Result<Option<String>, StepError> {
        let mine = AwaitingPointer {
            deployment_id: ours.id.clone(),
            key: ours.key.clone(),
            updated_at: self.now(),
        };
        for _ in 0..5 {
            let pointer = self.ledger.waiting(&target.name).await?;
            if let Some(other) = pointer.as_ref().filter(|p| p.value.key != ours.key) {
                // A release that began after ours (a push delivered out of order, an
                // older release approved late) keeps the place: ours gives way to it.
                if let Some(newer) = self
                    .ledger
                    .deployment(&target.name, &other.value.key)
                    .await?
                    .filter(|d| is_waiting(d.value.state) && is_newer(&d.value, ours))
                {
                    self.supersede_waiting(target, &ours.key, &newer.value.id)
                        .await?;
                    return Ok(Some(newer.value.id));
                }
                self.supersede_waiting(target, &other.value.key, &ours.id)
                    .await?;
            }
            match self
                .ledger
                .set_waiting(&target.name, pointer.as_ref(), mine.clone())
                .await
            {
                Ok(_) => return Ok(None),
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
        if !is_waiting(older.value.state) {
            return Ok(());
        }
        let mut next = older.value.clone();
        next.advance(
            State::Superseded,
            format!("superseded by {by}, a newer release of the target"),
            self.now(),
        )?;
        match self.ledger.save(&older, next).await {
            Ok(_) | Err(LedgerError::Conflict { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// The reconciler's part: the target's newest waiting release rolls once its window
    /// is open — unless an operator froze the target (auto targets), or the service moved
    /// on while it waited (another release reached ECS): it is never rolled over that.
    /// The waiting releases are read from the target's document, so one whose pointer
    /// write was lost, or of a target whose windows were removed, still rolls.
    pub(super) async fn release_waiting(
        &self,
        target: &Target,
        invocation: &Invocation,
    ) -> Result<Option<TargetOutcome>, StepError> {
        if self.is_dry_run() {
            return Ok(None);
        }
        let Some(newest) = Box::pin(self.newest_waiting(target)).await? else {
            return Ok(None);
        };
        let Some(waiting) = self
            .ledger
            .deployment(&target.name, &newest)
            .await?
            .filter(|d| is_waiting(d.value.state))
        else {
            return Ok(None);
        };
        let now = self.now();
        let still_closed = waiting.value.state == State::WaitingForWindow
            && self.window_holds(target, &waiting.value).is_some();
        // Upstream is looked at again once the soak it waits for has ended, and on every
        // run while it waits for an upstream rollout to end (no time to wait for).
        // A soak an approver bypassed is not waited out.
        let soaking = waiting.value.state == State::WaitingForUpstream
            && waiting
                .value
                .promotion
                .as_ref()
                .filter(|c| c.soak_bypass.is_none())
                .and_then(|c| c.look_again_at)
                .is_some_and(|at| at > now);
        if still_closed || soaking {
            return Ok(None);
        }
        if let Some(reason) = Box::pin(self.held_back(target, &waiting.value)).await? {
            log_decision("frozen", &format!("the window is open, but {reason}"));
            return Ok(Some(TargetOutcome::Frozen { reason }));
        }
        let service = self
            .ecs
            .describe_service(&target.cluster, &target.service)
            .await?;
        // The service moved on while it waited. A release waiting for upstream was never
        // shown to anyone: it is planned again against what runs now, as a push arriving
        // now would be. One that waits for its window was approved (or is an auto
        // release the service has gone past): it never rolls over what runs now.
        let waiting = if service.task_definition != waiting.value.from_task_definition
            && waiting.value.state == State::WaitingForUpstream
        {
            match Box::pin(self.rebase_waiting(target, waiting, &service)).await? {
                Step::Go(rebased) => rebased,
                Step::Stop(outcome) => return Ok(Some(outcome)),
            }
        } else {
            waiting
        };
        if service.task_definition != waiting.value.from_task_definition {
            let now_runs = service.task_definition.clone();
            self.supersede_waiting(
                target,
                &waiting.value.key,
                &format!("what the service runs now ({now_runs}), which another release put there while it waited"),
            )
            .await?;
            return Ok(Some(TargetOutcome::Superseded { by: now_runs }));
        }
        // A release waiting for upstream is judged again first, writing only what changed
        // (a run that finds it still soaking writes nothing); only one that goes on is
        // taken over below.
        let waiting = if waiting.value.state == State::WaitingForUpstream {
            // Boxed, as the roll below: each holds a whole pipeline's state.
            match Box::pin(self.promotion_gate(target, waiting)).await? {
                Step::Go(passed) => passed,
                Step::Stop(TargetOutcome::WaitingForUpstream { .. }) => return Ok(None),
                Step::Stop(outcome) => return Ok(Some(outcome)),
            }
        } else {
            waiting
        };
        let holder = invocation.request_id.as_str();
        if waiting.value.is_held_by_other(holder, now) {
            return Ok(None);
        }
        let mut next = waiting.value.clone();
        next.take_over(holder, now + super::decisions::ROLL_LEASE);
        let taken = match self.ledger.save(&waiting, next).await {
            Ok(taken) => taken,
            Err(LedgerError::Conflict { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        log_decision(
            "window-open",
            &format!("the deployment window is open: rolling {}", taken.value.id),
        );
        let key = taken.value.key.clone();
        match Box::pin(self.roll_approved(target, taken)).await {
            Err(err) if !err.is_transient() => {
                // It would fail the same way every run: it ends here, saying why.
                self.fail_waiting(target, &key, &err.to_string()).await?;
                Err(err)
            }
            rolled => rolled.map(Some),
        }
    }

    /// The key of the target's newest waiting release (the pointer's, else the last to
    /// start waiting); the others are superseded by it.
    async fn newest_waiting(&self, target: &Target) -> Result<Option<String>, StepError> {
        let read = self.ledger.target(&target.name).await?;
        let mut waiting: Vec<&Deployment> = read
            .record
            .live
            .values()
            .filter(|d| is_waiting(d.state))
            .collect();
        if waiting.is_empty() {
            return Ok(None);
        }
        // The newest is the one that began last (`is_newer`); the pointer breaks ties.
        waiting.sort_by_key(|d| began(d));
        let pointer = self.ledger.waiting(&target.name).await?;
        let newest = pointer
            .map(|p| p.value.key)
            .filter(|key| waiting.iter().any(|d| &d.key == key))
            .unwrap_or_else(|| waiting.last().expect("not empty").key.clone());
        let by = Deployment::id_for(&target.name, &newest);
        for older in waiting.iter().filter(|d| d.key != newest) {
            self.supersede_waiting(target, &older.key, &by).await?;
        }
        Ok(Some(newest))
    }

    /// An operator's hold or a failure's freeze of an `auto` target: what stops a push
    /// stops the release that waited too.
    async fn held_back(
        &self,
        target: &Target,
        waiting: &Deployment,
    ) -> Result<Option<String>, StepError> {
        if target.policy != Policy::Auto {
            return Ok(None);
        }
        let Some(rollouts) = self.ledger.rollouts(&target.name).await? else {
            return Ok(None);
        };
        let digest = super::image_digest(&waiting.image);
        Ok(
            match rollouts
                .value
                .check_push(target.freeze_rule(), digest, None, None)
            {
                FreezeCheck::Frozen(reason) => Some(reason),
                _ => None,
            },
        )
    }

    async fn fail_waiting(&self, target: &Target, key: &str, why: &str) -> Result<(), StepError> {
        let Some(current) = self.ledger.deployment(&target.name, key).await? else {
            return Ok(());
        };
        if !is_waiting(current.value.state) {
            return Ok(());
        }
        let mut next = current.value.clone();
        let note = format!("it stopped waiting, but it cannot roll: {why}");
        next.advance(State::Failed, note.clone(), self.now())?;
        next.error = Some(note);
        next.lease = None;
        match self.ledger.save(&current, next).await {
            Ok(_) | Err(LedgerError::Conflict { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// A release about to reach ECS supersedes an older one waiting (for the window or
    /// upstream): the waiting one must never roll over it later.
    pub(super) async fn supersede_other_waiting(
        &self,
        target: &Target,
        ours: &Deployment,
    ) -> Result<(), StepError> {
        if target.windows.is_none() && target.promotion.is_none() {
            return Ok(());
        }
        let Some(pointer) = self.ledger.waiting(&target.name).await? else {
            return Ok(());
        };
        if pointer.value.key == ours.key {
            return Ok(());
        }
        // Only an older one: a newer release that waits keeps waiting, and is planned
        // again against what ours leaves running when its turn comes (`rebase_waiting`).
        let waiting = self
            .ledger
            .deployment(&target.name, &pointer.value.key)
            .await?;
        if waiting.is_some_and(|w| !is_newer(&w.value, ours)) {
            self.supersede_waiting(target, &pointer.value.key, &ours.id)
                .await?;
        }
        Ok(())
    }
}

/// When a release began: its first step in the ledger (none yet: it is being claimed
/// now, the newest of all).
fn began(deployment: &Deployment) -> Option<DateTime<Utc>> {
    deployment.history.first().map(|h| h.at)
}

/// Whether `a` began after `b`.
fn is_newer(a: &Deployment, b: &Deployment) -> bool {
    match (began(a), began(b)) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => a > b,
    }
}

/// The states a release waits in before it reaches ECS: for the window, or upstream.
fn is_waiting(state: State) -> bool {
    matches!(state, State::WaitingForWindow | State::WaitingForUpstream)
}
