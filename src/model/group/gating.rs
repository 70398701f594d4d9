//! A run's moves through its gates ([`super::gates`]): promoted, let through by the
//! windows, held, or refused for good — and an approver's override of the windows or
//! bypass of the soak, each taken only from a run its gate holds.

use chrono::{DateTime, Utc};

use super::gates::{Gate, RunWait};
use super::run::{GroupRun, RunState, Stale, StepState};
use crate::model::deployment::{SoakBypass, WindowOverride};
use crate::model::promotion::Evidence;

impl GroupRun {
    /// No step started (registrations may have been made: they change nothing).
    pub fn nothing_started(&self) -> bool {
        self.steps.iter().all(|s| s.state == StepState::Pending)
    }

    /// The promotion gate is still to pass: it comes first, before the approval.
    pub fn promotion_pending(&self) -> bool {
        self.gates.promotion && self.gates.promoted_at.is_none() && self.nothing_started()
    }

    /// The windows are still to let the run start.
    pub fn windows_pending(&self) -> bool {
        self.gates.windows && self.gates.window_open_at.is_none() && self.nothing_started()
    }

    /// Every gated image is available upstream: the evidence is kept (and shown to the
    /// approvers).
    pub fn promoted(&mut self, evidence: Vec<Evidence>, now: DateTime<Utc>) -> Result<(), Stale> {
        if !self.promotion_pending() || !self.is_awaiting_start() {
            return Err(Stale(format!(
                "run {} is {}, its promotion judged already",
                self.id, self.state
            )));
        }
        self.gates.evidence = evidence;
        self.gates.promoted_at = Some(now);
        self.gates.waiting = None;
        Ok(())
    }

    /// Every target's window is open now: the run may start.
    pub fn window_opened(&mut self, now: DateTime<Utc>) -> Result<(), Stale> {
        if !self.windows_pending() || self.state != RunState::Running {
            return Err(Stale(format!(
                "run {} is {}, its windows judged already",
                self.id, self.state
            )));
        }
        self.gates.window_open_at = Some(now);
        self.gates.waiting = None;
        Ok(())
    }

    /// A gate holds the run; the same wait again changes nothing (no write).
    pub fn held(&mut self, wait: RunWait) -> Result<(), Stale> {
        if !self.is_awaiting_start() || !self.nothing_started() {
            return Err(Stale(format!("run {} is {}", self.id, self.state)));
        }
        if self.gates.waiting.as_ref() == Some(&wait) {
            return Err(Stale(format!(
                "run {} waits already: {}",
                self.id, wait.why
            )));
        }
        self.gates.waiting = Some(wait);
        Ok(())
    }

    /// An image will never be available upstream: the run ends with nothing started
    /// (`not promoted: …`), and its approval is never asked.
    pub fn not_promoted(&mut self, reason: &str) -> Result<(), Stale> {
        if !self.promotion_pending() || !self.is_awaiting_start() {
            return Err(Stale(format!("run {} is {}", self.id, self.state)));
        }
        self.state = RunState::Failed;
        self.why = Some(format!("not promoted: {reason}"));
        self.gates.waiting = None;
        Ok(())
    }

    /// An approver lets the run through its closed windows: only a run that may start
    /// (approved, or asking nobody) and that a window holds.
    pub fn override_window(&mut self, taken: WindowOverride) -> Result<(), Stale> {
        if let Some(earlier) = self
            .gates
            .window_override
            .as_ref()
            .filter(|o| o.is_active(taken.at))
        {
            return Err(Stale(format!(
                "run {} was let through its window already, by {} at {}",
                self.id,
                earlier.by,
                earlier.at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if self.state != RunState::Running || !self.windows_pending() || !self.held_by(Gate::Window)
        {
            return Err(Stale(format!(
                "run {} is {}{}: only a run waiting for its deployment window can be let through",
                self.id,
                self.state,
                self.held_for()
            )));
        }
        self.gates.window_override = Some(taken);
        Ok(())
    }

    /// The override that lets the run through its windows at `now`, if one does.
    pub fn window_overridden(&self, now: DateTime<Utc>) -> Option<&WindowOverride> {
        self.gates
            .window_override
            .as_ref()
            .filter(|o| o.is_active(now))
    }

    /// An approver bypasses the soak the run waits out (a hotfix): only a run that asks
    /// its approval (the bypass is no way around it) and that its upstream holds.
    pub fn bypass_soak(&mut self, taken: SoakBypass) -> Result<(), Stale> {
        if let Some(earlier) = &self.gates.soak_bypass {
            return Err(Stale(format!(
                "the soak of run {} was bypassed already, by {} at {}",
                self.id,
                earlier.by,
                earlier.at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if !self.needs_approval {
            return Err(Stale(format!(
                "group {} asks no approval: a bypassed soak must still be approved, so only a run of a group with a target whose policy is `approval` can have its soak bypassed",
                self.group
            )));
        }
        if !self.promotion_pending() || !self.is_awaiting_start() || !self.held_by(Gate::Upstream) {
            return Err(Stale(format!(
                "run {} is {}{}: only a run waiting for upstream can have its soak bypassed",
                self.id,
                self.state,
                self.held_for()
            )));
        }
        self.gates.soak_bypass = Some(taken);
        Ok(())
    }

    fn held_by(&self, gate: Gate) -> bool {
        self.gates.waiting.as_ref().is_some_and(|w| w.gate == gate)
    }

    /// What holds the run, for a refusal's words.
    fn held_for(&self) -> String {
        match &self.gates.waiting {
            Some(wait) => format!(" ({})", wait.why),
            None if self.nothing_started() => String::new(),
            None => ", a step started".into(),
        }
    }

    fn is_awaiting_start(&self) -> bool {
        matches!(self.state, RunState::AwaitingApproval | RunState::Running)
    }
}
