//! Slipway: an event-driven deployer for Amazon ECS.
//!
//! # Layout
//! In layers, each importing only from those below it (`tests/layering.rs` holds the
//! order and refuses any import cycle). The decisions are free of AWS SDK types; `aws` is
//! the only place that talks to AWS (build with `--no-default-features` to leave it out).
//!
//! 1. [`model`] — plain data and pure rules: a deployment and its state machine, the
//!    target's records (head, open approval, source heads), the ordering rule, the plan
//!    of a new revision, ECS's events and how rollouts end, the freeze, the one
//!    image-reference type, a target's progressive rollout policy (ECS's blue/green,
//!    canary, linear) and ECS's service deployments.
//! 2. [`input`] — what arrives: the targets config (validated at cold start),
//!    EventBridge events turned into intents, S3 uploads and their manifests, the
//!    two shapes a dead-letter queue holds, and what ECS sends a Lambda lifecycle hook.
//! 3. [`notify`] — what people are told (the approval email and Slack messages, the
//!    edits that close them); [`approval`] — signed, expiring approval links bound to one
//!    deployment and image, and CSRF form nonces.
//! 4. [`ports`] — the traits the pipelines need from AWS, over plain types.
//! 5. [`ledger`] — the durable record in S3: one document per target (head, rollouts,
//!    source heads, the deployments still running) and an object per finished
//!    deployment, moved only by conditional writes, which makes duplicates and races
//!    harmless.
//! 6. [`deployer`] — the pipelines for one event: image push, source upload, asking for
//!    approval and deciding, ECS's deployment events, operators' requests and the
//!    reconciler's findings; [`reconcile`] — what the reconciler finds that a lost event
//!    should have told, written as the event AWS would have sent; [`probe`] — one call of
//!    Slipway's own Lambda lifecycle hook: GET the test listener, answer ECS.
//! 7. [`web`] — the approval function's HTTP surface: an axum router (confirm page,
//!    decision POST, a release group run's page, Slack interactions), its pages, Slack's
//!    signatures, and the roll jobs a Slack approval hands over.
//!    [`console`] — what operators are shown (`slipway status`, `history`, `show`, `wait`,
//!    `dlq list`): views over the ledger's reads, as plain data.
//! 8. `aws` — the ports implemented with the AWS SDK (and Slack's Web API), secrets from
//!    Secrets Manager, the approval function's invocations, and the cold-start wiring;
//!    `telemetry` — JSON logs; `memory` (the `test-util` feature) — the same ports over
//!    plain collections, beside the AWS ones, for tests that run in milliseconds;
//!    `cli` (the `cli` feature) — the operator's `slipway` command: arguments, AWS
//!    wiring from the settings Terraform writes, tables and JSON, exit codes.

pub mod approval;
pub mod console;
pub mod deployer;
pub mod input;
pub mod ledger;
pub mod model;
pub mod notify;
pub mod ports;
pub mod probe;
pub mod reconcile;
pub mod web;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
#[cfg(feature = "aws")]
pub mod telemetry;

pub use deployer::{Deployer, Invocation, Report};
pub use input::config::{Config, ConfigError};
