//! What a pipeline answers: the invocation it ran in, the report of one event (one entry
//! per target), each target's outcome, and why a target's deployment stopped early
//! (`StepError`, which keeps its kind — retry later or not — up to the answer).
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ledger::LedgerError;
use crate::model::deployment::State;
use crate::model::plan::{ImageChange, PlanError};
use crate::ports::{AwsError, NotifyError};

/// The Lambda invocation handling an event: its request id holds the ledger lease until
/// its deadline, after which a retry may take over.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: DateTime<Utc>,
}

/// The invocation failed in a way worth retrying (throttling, 5xx): Lambda retries the
/// event, and the ledger makes the retry pick up where this attempt stopped.
#[derive(Debug, thiserror::Error)]
#[error("event {event_id}: {failed} target(s) hit a transient AWS error, so the event goes back to Lambda for a retry: {first}")]
pub struct DeployError {
    pub event_id: String,
    pub failed: usize,
    pub first: String,
}

/// What happened to one event; the function's response and the dry run's output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub event_id: Option<String>,
    pub dry_run: bool,
    #[serde(flatten)]
    pub outcome: EventOutcome,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum EventOutcome {
    /// Not an event to act on (bad shape, wrong kind): acknowledged so Lambda won't retry.
    Refused { error: String },
    /// A well-formed event that must not deploy (delete, failure, untagged manifest).
    Ignored { reason: String },
    /// A deployable push; one entry per matched target (none if nothing matched), and
    /// one per release group whose run the push started or drove.
    Targets {
        targets: Vec<TargetReport>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups: Vec<super::groups::GroupRunReport>,
    },
    /// A promotion hint: the stages downstream of `upstream` looked again, each from the
    /// ledger (`deployer::hints`).
    Hint {
        upstream: String,
        looked_again: Vec<super::hints::LookedAgain>,
    },
    /// A release group's run moved (a task of it stopped).
    GroupRun {
        run: Box<super::groups::GroupRunReport>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: String,
    pub deployment_id: String,
    pub image: String,
    #[serde(flatten)]
    pub outcome: TargetOutcome,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum TargetOutcome {
    Rolling {
        from_task_definition: String,
        to_task_definition: String,
        ecs_deployment_id: String,
        changes: Vec<ImageChange>,
    },
    AwaitingApproval {
        from_task_definition: String,
        changes: Vec<ImageChange>,
    },
    AlreadyRunning {
        task_definition: String,
    },
    Older {
        reason: String,
    },
    /// A failure froze automatic deploys to the target; nothing was written.
    Frozen {
        reason: String,
    },
    /// The target's deployment window is closed: the release waits, and rolls when it
    /// opens (if no newer one came meanwhile).
    WaitingForWindow {
        because: String,
        opens_at: chrono::DateTime<chrono::Utc>,
    },
    /// The digest is not available upstream yet (rolling there, or soaking): the release
    /// waits, and goes on once it is.
    WaitingForUpstream {
        why: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        look_again_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The digest did not succeed upstream (or failed its soak): it is not deployed here.
    NotPromoted {
        reason: String,
    },
    /// An ECS event moved the deployment.
    Moved {
        from: State,
        to: State,
        note: String,
    },
    /// An ECS event or operator request that changes nothing (a duplicate, a late event).
    Unchanged {
        state: Option<State>,
        reason: String,
    },
    /// An operator lifted the freeze of the target.
    Unfrozen {
        failed_deployment: String,
    },
    Duplicate {
        state: State,
        reason: String,
    },
    Superseded {
        by: String,
    },
    DryRun {
        from_task_definition: String,
        diff: Vec<String>,
        calls: Vec<String>,
        /// What a person should know before it rolls (no circuit breaker, say).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The service cannot be rolled by Slipway (its deployment controller or strategy):
    /// nothing was registered or written.
    Unsupported {
        deployment_controller: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        strategy: Option<String>,
        error: String,
    },
    /// A permanent problem (missing service or container, permissions): logged, not
    /// retried, nothing written.
    Failed {
        error: String,
    },
}

/// Why one target's deployment stopped early.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Transition(#[from] crate::model::deployment::TransitionError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// Bad input in a source upload; recorded, logged, never retried.
    #[error("{0}")]
    Rejected(String),
    /// Another deployment holds what this one needs (an older push on its way to ECS):
    /// retried later.
    #[error("{0}")]
    Busy(String),
    /// A service Slipway cannot roll; found before anything is written.
    #[error(transparent)]
    Unrollable(#[from] crate::model::rollable::Unrollable),
}

/// What a target is told when its deployment stopped for good.
pub(super) fn permanent_outcome(err: StepError) -> TargetOutcome {
    match err {
        StepError::Unrollable(refused) => TargetOutcome::Unsupported {
            deployment_controller: refused.controller,
            strategy: refused.strategy,
            error: refused.reason,
        },
        err => TargetOutcome::Failed {
            error: err.to_string(),
        },
    }
}

impl StepError {
    /// Worth trying again later (throttling, a timeout, a concurrent write).
    pub fn is_transient(&self) -> bool {
        match self {
            StepError::Aws(err) | StepError::Ledger(LedgerError::Store(err)) => err.is_transient(),
            // Someone moved our record while we held the lease: decide again on retry.
            StepError::Ledger(LedgerError::Conflict { .. }) | StepError::Busy(_) => true,
            StepError::Notify(err) => err.transient,
            _ => false,
        }
    }
}

/// What a step of a pipeline decided: go on with its value, or stop here with the
/// target's outcome (a duplicate, a freeze). Failures stay in the `Result` around it.
#[derive(Debug)]
pub enum Step<T> {
    Go(T),
    Stop(TargetOutcome),
}
