//! Where a deployment is in its life, and the only moves it may make.

use serde::{Deserialize, Serialize};

/// Where a deployment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Claimed and planned; the claiming invocation is registering and rolling.
    Planned,
    /// Waiting for a person (policy `approval`).
    AwaitingApproval,
    Approved,
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// A newer image for the same target made this one moot.
    Superseded,
    /// Ready to roll, held until the target's deployment window opens.
    WaitingForWindow,
    /// Held until its digest is available upstream (succeeded there, and soaked).
    WaitingForUpstream,
    /// UpdateService returned; ECS is rolling the service.
    Rolling,
    Succeeded,
    Failed,
    /// ECS's circuit breaker rolled the service back: a failure, reported as one.
    RolledBack,
}

impl State {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Rejected
                | State::Expired
                | State::Superseded
                | State::Succeeded
                | State::Failed
                | State::RolledBack
        )
    }

    /// The state machine. Anything not listed is refused, so a late or duplicate event
    /// can never move a deployment backwards.
    pub fn can_move_to(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Planned, AwaitingApproval | Rolling | Superseded | Failed)
                | (AwaitingApproval, Approved | Rejected | Expired | Superseded)
                // ECS's own check (a Lambda hook) failed while a person's decision was
                // awaited inside the rollout: ECS rolls back, nothing is left to decide.
                | (AwaitingApproval, Failed)
                // A window held it (a push or upload, or an approved release); when the
                // window opens the newest one rolls, and the older ones are superseded.
                | (Planned | Approved, WaitingForWindow)
                | (WaitingForWindow, Rolling | Superseded | Failed)
                // It waited as `auto`, and the target asks for approval now.
                | (WaitingForWindow, AwaitingApproval)
                // Its digest is not available upstream yet (still rolling there, or
                // soaking); once it is, it goes on as it would have: asks, waits for the
                // window, or rolls. A newer release supersedes it; an upstream failure
                // fails it.
                | (Planned, WaitingForUpstream)
                | (WaitingForUpstream, AwaitingApproval | WaitingForWindow | Rolling | Superseded | Failed)
                | (Approved, Rolling | Superseded | Failed)
                | (Rolling, Succeeded | Failed | RolledBack)
                // ECS paused a progressive rollout for a person's decision (a PAUSE hook).
                | (Rolling, AwaitingApproval)
                // ECS reports the failure first and the circuit breaker's rollback after it.
                | (Failed, RolledBack)
                // A paused rollout rejected: ECS rolls it back once told.
                | (Rejected, RolledBack)
        )
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_value(self).ok();
        f.write_str(text.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}
