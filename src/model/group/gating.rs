//! A run's moves through its gates ([`super::gates`]): promoted, let through by the
//! windows, held, or refused for good.

use chrono::{DateTime, Utc};

use super::gates::RunWait;
use super::run::{GroupRun, RunState, Stale, StepState};
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

    fn is_awaiting_start(&self) -> bool {
        matches!(self.state, RunState::AwaitingApproval | RunState::Running)
    }
}
