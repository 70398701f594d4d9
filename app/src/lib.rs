//! The service Slipway deploys: a small HTTP server built the way an ECS task should be.
//!
//! - [`settings`]: what the environment configures (`PORT`, `DRAIN_SECONDS`), checked at start.
//! - [`build_info`]: the release baked in at build time (`/version`, every log line).
//! - [`instance`]: the task's unique id, from ECS's task metadata endpoint when there is one.
//! - [`routes`]: the HTTP contract — `/`, `/health` (the ALB's check), `/version`, `/delay/{s}`.
//! - [`serve`]: listening, and draining in-flight requests on SIGTERM inside ECS's stop timeout.
//! - [`healthcheck`]: `app healthcheck`, the container health check (the image has no curl).

pub mod build_info;
pub mod healthcheck;
pub mod instance;
pub mod routes;
pub mod serve;
pub mod settings;
