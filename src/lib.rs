//! Slipway: an event-driven deployer for Amazon ECS.
//!
//! # Layout
//! The decisions are pure and free of AWS SDK types; the `aws` module is the only place
//! that talks to AWS (build with `--no-default-features` to leave it out).
//!
//! - [`image_ref`] — the one image-reference type (`registry/repository:tag@digest`),
//!   which every other module splits references with.
//! - [`config`] — the targets config: which repository and tags deploy to which service,
//!   and with which policy; validated at cold start.
//! - [`event`] — EventBridge events as AWS sends them, turned into intents.
//! - [`source`] — S3 "Object Created" events under `deploy/<target>/` and the manifests
//!   they name (imagedefinitions.json, imageDetail.json, taskdef.json).
//! - [`plan`] — the derivation of a new task-definition revision: which container images
//!   change, the value-free diff a person sees, and the ordering helpers.
//! - [`ledger`] — the durable record per target and deployment in S3: a state machine
//!   moved only by conditional writes, which makes duplicates and races harmless.
//! - [`deployer`] — the pipelines (image push, source upload) that tie them together
//!   for one event; asking for approval (one open request per target); a person's
//!   decision on a deployment awaiting approval; and ECS's deployment events and
//!   operators' rollback and unfreeze requests (`deployer::outcomes`).
//! - [`reconcile`] — what the scheduled reconciler finds that a lost event should have
//!   told (a rollout's end, a push), written as the event AWS would have sent.
//! - [`redrive`] — the two shapes a dead-letter queue holds (the raw event, Lambda's
//!   on-failure invocation record), made into the event again for a redrive.
//! - [`rollable`] — which ECS services Slipway can roll (deployment controller, strategy,
//!   circuit breaker), checked before anything is registered.
//! - [`rollout`] — how rollouts end: ECS's deployment events turned into forward-only
//!   ledger moves, the last known good release per target, and the freeze after a failure.
//! - [`approval`] — signed, expiring approval links bound to one deployment and image,
//!   CSRF form nonces, the pages an approver sees, and `approval::web`: the approval
//!   function's HTTP surface as an axum `Router` (confirm page, decision POST, Slack
//!   interactions), which `aws::http` runs under Lambda.
//! - [`notify`] — what people are told: the approval email and Slack messages, and the
//!   edits that close a Slack request.
//! - [`slack`] — verification of Slack's request signatures.
//! - [`ports`] — the traits the pipeline needs from AWS, over plain types.
//! - `aws` — those traits implemented with the AWS SDK (and Slack's Web API), secrets
//!   from Secrets Manager, the approval function's invocations (`aws::http`), and the
//!   cold-start wiring.
//! - `telemetry` — JSON logs.

pub mod approval;
pub mod config;
pub mod deployer;
pub mod event;
pub mod image_ref;
pub mod ledger;
pub mod notify;
pub mod plan;
pub mod ports;
pub mod reconcile;
pub mod redrive;
pub mod rollable;
pub mod rollout;
pub mod slack;
pub mod source;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod telemetry;

pub use config::{Config, ConfigError};
pub use deployer::{Deployer, Invocation, Report};
