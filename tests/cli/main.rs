//! The `slipway` command line against the local AWS: the real binary, with an operator's
//! credentials and the settings in SSM as Terraform writes them, over ledger states the
//! pipelines made. Every JSON document it prints is also written to target/cli-json/ for
//! the schema check (`make cli-schema`).
//!
//! - `stack` — the emulator, the targets, the approval function behind a played API
//!   Gateway that checks SigV4 and IAM, and the binary's runner.
//! - `reads` — status, history, show, wait; exit codes 0, 1, 2, 3, 5, 6.
//! - `changes` — approve, reject, rollback, freeze, unfreeze through the operator
//!   endpoint as the signed caller; exit code 4; unsigned and forged requests.
//! - `why` — each broken link between a push and a target; `dlq list`.
//! - `replay` — archived events sent again by StartReplay, shuffled, end each target on
//!   its newest image.

#[path = "../common/mod.rs"]
mod common;

mod changes;
mod reads;
mod replay;
mod stack;
mod why;
