//! Inputs, above the model: the targets config, EventBridge's events, S3 uploads and the
//! manifests they name, and the two shapes a dead-letter queue holds.
//!
//! - [`config`] — which repository and tags deploy to which service, with which policy;
//!   validated at cold start.
//! - [`event`] — EventBridge events as AWS sends them, turned into intents.
//! - [`source`] — S3 "Object Created" events under `deploy/<target>/` and their manifests.
//! - [`release`] — a release group's `release.json`: one image per target of the group.
//! - [`task_event`] — ECS's task state changes: a release group's one-off task stopped.
//! - [`hint`] — Slipway's own "upstream succeeded" event: a promotion stage looks again.
//! - [`lifecycle_hook`] — what ECS sends a Lambda lifecycle hook, and its answer.
//! - [`redrive`] — a dead-lettered event or Lambda invocation record, made into the event.

pub mod config;
pub mod event;
pub mod hint;
pub mod lifecycle_hook;
pub mod redrive;
pub mod release;
pub mod source;
pub mod task_event;
