//! What operators are shown: the views behind the `slipway` command line, as plain data.
//!
//! Reads go straight to the ledger (and ECS for what really runs); nothing here writes.
//! Each view serialises to the JSON the command line prints with `--json`, whose shape is
//! the stable interface (`src/cli/schema.json`, [`SCHEMA_VERSION`]); the tables people
//! read are drawn from the same views by `cli`.
//!
//! - [`reads`] — the target's document, a deployment, its audit entries, all of a target's
//!   deployments (the only listing Slipway does).
//! - [`status`] — per target: policy, what runs and since when, last known good, frozen,
//!   pending approval, drift.
//! - [`history`] — one row per deployment.
//! - [`show`] — one deployment with its history, audit entries and diff.
//! - [`wait`] — following a deployment until it ends, with a bounded number of reads.
//! - [`dead_letters`] — what a dead-letter queue holds, in both of its shapes.
//! - [`why`] — the first broken link between a push and a target, per target.
//! - [`groups`] — each release group's line: the run holding it, its step, who waits;
//!   with `--runs`, the group's runs newest first.
//! - [`group_why`] — one run of a group: what it waits for or how it ended, step by step.
//! - [`release`] — a release in words (`app:v1.4.2 @sha256:ab12cd34ef56…`).

pub mod dead_letters;
pub mod group_why;
#[cfg(test)]
mod group_why_tests;
pub mod groups;
pub mod history;
pub mod reads;
pub mod release;
pub mod show;
pub mod status;
pub mod wait;
pub mod why;

use crate::ledger::LedgerError;
use crate::ports::AwsError;

/// The version of the JSON documents `--json` prints. Raised on any change that could
/// break a reader (a field removed, renamed or retyped); new fields do not raise it.
pub const SCHEMA_VERSION: u32 = 1;

/// Why an operator's read failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// What was asked for does not exist: the message names what does.
    #[error("{0}")]
    NotFound(String),
    #[error("reading the ledger failed: {0}; check the credentials' s3:GetObject and s3:ListBucket on the ledger bucket")]
    Ledger(#[from] LedgerError),
    #[error("{0}; check the credentials and the region, then try again")]
    Aws(#[from] AwsError),
}

impl ConsoleError {
    /// Whether trying again later may help (throttling, a timeout, a 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            ConsoleError::NotFound(_) => false,
            ConsoleError::Ledger(LedgerError::Store(err)) | ConsoleError::Aws(err) => {
                err.is_transient()
            }
            ConsoleError::Ledger(_) => false,
        }
    }
}
