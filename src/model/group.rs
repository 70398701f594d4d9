//! Release groups: one release that is more than one service, under one approval.
//!
//! A group runs ordered steps — one-off tasks (a migration: `RunTask` of the target's new
//! revision with a command override, a success being exit code 0 of the named container)
//! and services (an `UpdateService` each) — and stops at the first failure, or rolls back
//! the services it already rolled, in reverse order (`rollback-completed`). A one-off task
//! is never "rolled back": what it changed stays, which is why a migration must be
//! backwards compatible with the services that still run the old code (expand, then
//! contract in a later release).
//!
//! Here are the plain rules; the ledger keeps a [`GroupRun`] and the pipeline acts on
//! [`GroupRun::next`]:
//! - [`gates`] — what a run passes before anything starts: promotion, then windows
//!   ([`gating`]: the moves);
//! - [`approval`] — the run's one approval: asked, decided once, or expired ([`request`]:
//!   the request as the record keeps it);
//! - [`spec`] — a group as the config names it;
//! - [`run`] — one run of a group: its state machine, and the moves each observation makes;
//! - [`line`] — one run of a group at a time: which run holds the line, which wait;
//!   [`arrival`] — how a release came (an upload, a push), which orders it against others;
//! - [`ids`] — RunTask's idempotency token and `startedBy` for a step of a run;
//! - [`next`] — what a run needs done now, and why doing it twice is harmless;
//! - [`task_exit`] — how a stopped task's event reads as a step's success or failure.

pub mod approval;
pub mod arrival;
pub mod gates;
pub mod gating;
pub mod ids;
pub mod line;
pub mod next;
pub mod request;
pub mod run;
pub mod spec;
pub mod task_exit;

pub use arrival::{Arrival, PushedRelease, ReleaseSource};
pub use gates::{Gate, RunGates, RunWait};
pub use ids::{is_group_name, is_run_of, run_id, MAX_GROUP_NAME};
pub use line::{Admission, GroupLine};
pub use next::Next;
pub use request::RunApproval;
pub use run::{GroupRun, RunState, Stale, StepKind, StepRun, StepState};
pub use spec::{Group, OnFailure, Step, MAX_TASK_TIMEOUT};
pub use task_exit::{ContainerExit, TaskStopped, TaskVerdict};

#[cfg(test)]
mod gating_tests;
#[cfg(test)]
mod tests;
