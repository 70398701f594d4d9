//! The bottom layer: plain data and pure rules, depending on nothing else in the crate.
//!
//! - [`image_ref`] — the one image-reference type, and a repository in a registry.
//! - [`deployment`] — a deployment, its state machine, actors, decisions and audit entries.
//! - [`target`] — per-target records: the head that orders pushes, the open approval
//!   request, the newest version of each source object.
//! - [`ordering`] — which image wins: newer pushes, and pushes older than what runs.
//! - [`plan`] — the derivation of a new task-definition revision and its diff.
//! - [`service`] — an ECS service as DescribeServices reports it.
//! - [`service_deployment`] — a service deployment as ECS describes it, how it ended,
//!   and the answer to a paused one.
//! - [`rollable`] — which services Slipway can roll.
//! - [`ecs_event`] — ECS's deployment and service events as plain data.
//! - [`progressive`] — a target's rollout strategy (rolling, blue/green, canary,
//!   linear), where its approval pauses the rollout, and ECS's rules for both.
//! - [`test_probe`] — the check Slipway's own Lambda lifecycle hook runs on the test
//!   listener, and how one call's answer follows from the last.
//! - [`window`] — deployment windows: weekly local-time spans in a time zone, deny over
//!   allow, and when a closed window opens.
//! - [`promotion`] — which digests a stage may take: succeeded upstream, soaked, no
//!   alarm during the soak; the evidence an approver is shown.
//! - [`group`] — release groups: ordered one-off tasks and services under one approval,
//!   a run's state machine, what it needs done next, and how a stopped task reads.
//! - [`wake_up`] — one-time wake-ups of the reconciler when a wait ends (a window
//!   opening, a soak ending, a task's deadline), named so that asking twice schedules once.
//! - [`freeze`] and [`rollout`] — how rollouts end: ECS's events turned into forward-only
//!   moves, the last known good release, and the freeze after a failure.

pub mod deployment;
pub mod ecs_event;
pub mod freeze;
pub mod group;
pub mod image_ref;
pub mod ordering;
pub mod plan;
pub mod progressive;
pub mod promotion;
pub mod rollable;
pub mod rollout;
pub mod service;
pub mod service_deployment;
pub mod target;
pub mod test_probe;
pub mod wake_up;
pub mod window;
