//! `slipway status`: per target, what runs and why — the answer to "what runs where".
//!
//! What runs is ECS's word (`service.taskDefinition`), matched against the task
//! definitions Slipway registered: a revision no Slipway deployment rolled out is drift
//! (someone used the console, the CLI or another tool).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::reads::started_at;
use super::release;
use crate::input::config::{Policy, Target};
use crate::ledger::TargetRecord;
use crate::model::deployment::{Deployment, State, Trigger};
use crate::model::rollout::{GoodRelease, RolloutKind};
use crate::ports::ServiceState;

/// How many of a target's newest rollouts status reads to find what runs.
pub const ROLLOUTS_READ: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub cluster: String,
    pub service: String,
    pub policy: Policy,
    /// What ECS runs, as far as Slipway can name it; `None` when ECS could not be read.
    pub running: Option<Running>,
    /// Why ECS could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_error: Option<String>,
    pub last_known_good: Option<Good>,
    /// The newest deployment Slipway started for the target.
    pub latest: Option<Latest>,
    pub frozen: Option<Frozen>,
    pub pending_approval: Option<Pending>,
    /// The release waiting for the target's deployment window, and when it opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for_window: Option<WaitingForWindow>,
    /// The release waiting for its digest to be available upstream (promotion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for_upstream: Option<WaitingForUpstream>,
    /// ECS runs something Slipway did not start.
    pub drift: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Running {
    pub release: String,
    pub image: Option<String>,
    pub task_definition: String,
    /// The Slipway deployment that rolled it out (`None`: drift).
    pub deployment_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Good {
    pub release: String,
    pub deployment_id: String,
    pub task_definition: String,
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latest {
    pub deployment_id: String,
    pub release: String,
    pub state: State,
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frozen {
    pub since: DateTime<Utc>,
    pub reason: String,
    /// The deployment whose failure froze the target (`None`: an operator's freeze).
    pub deployment_id: Option<String>,
    /// `slipway` after a failure, or the IAM caller who froze it.
    pub by: String,
    /// When an operator's freeze ends by itself.
    pub until: Option<DateTime<Utc>>,
    /// What lifts it.
    pub lifted_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pending {
    pub deployment_id: String,
    pub release: String,
    pub expires_at: DateTime<Utc>,
    pub expires_in_seconds: i64,
}

/// Everything status reads for one target.
pub struct Inputs<'a> {
    pub target: &'a Target,
    pub record: &'a TargetRecord,
    /// The deployments of the newest rollouts ([`rollouts_to_read`]) and the live ones.
    pub deployments: &'a [Deployment],
    pub service: Result<&'a ServiceState, String>,
    pub now: DateTime<Utc>,
}

/// The keys of the deployments behind the target's newest rollouts, newest first.
pub fn rollouts_to_read(record: &TargetRecord) -> Vec<String> {
    let Some(rollouts) = &record.rollouts else {
        return vec![];
    };
    let mut keys: Vec<String> = Vec::new();
    for rollout in rollouts.started.iter().rev() {
        if rollout.kind != RolloutKind::CircuitBreakerRollback && !keys.contains(&rollout.key) {
            keys.push(rollout.key.clone());
        }
        if keys.len() == ROLLOUTS_READ {
            break;
        }
    }
    keys
}

pub fn status(inputs: &Inputs) -> TargetStatus {
    let Inputs {
        target,
        record,
        deployments,
        now,
        ..
    } = inputs;
    let rollouts = record.rollouts.clone().unwrap_or_default();
    let (running, drift, service_error) = match &inputs.service {
        Ok(service) => {
            let (running, drift) = running(
                service,
                deployments,
                &rollouts.last_good,
                &rollouts.previous_good,
            );
            (Some(running), drift, None)
        }
        Err(error) => (None, None, Some(error.clone())),
    };
    TargetStatus {
        target: target.name.clone(),
        cluster: target.cluster.clone(),
        service: target.service.clone(),
        policy: target.policy,
        running,
        service_error,
        last_known_good: rollouts.last_good.as_ref().map(good),
        latest: latest(deployments),
        frozen: frozen(&rollouts, target, *now),
        pending_approval: pending(deployments, *now),
        waiting_for_window: waiting(deployments),
        waiting_for_upstream: waiting_upstream(deployments),
        drift,
    }
}

fn good(release: &GoodRelease) -> Good {
    Good {
        release: release::of_good(release),
        deployment_id: release.deployment_id.clone(),
        task_definition: release.task_definition.clone(),
        completed_at: release.completed_at,
    }
}

/// What the service runs, named by the deployment that rolled it out; drift if none did.
fn running(
    service: &ServiceState,
    deployments: &[Deployment],
    last_good: &Option<GoodRelease>,
    previous_good: &Option<GoodRelease>,
) -> (Running, Option<String>) {
    let task_definition = service.task_definition.clone();
    let ours = deployments
        .iter()
        .filter(|d| d.to_task_definition.as_deref() == Some(task_definition.as_str()))
        .filter(|d| d.ecs_deployment_id.is_some())
        .max_by_key(|d| rolled_at(d));
    if let Some(deployment) = ours {
        let running = Running {
            release: release::of_deployment(deployment),
            image: Some(deployment.image.clone()),
            task_definition,
            deployment_id: Some(deployment.id.clone()),
            since: rolled_at(deployment),
        };
        let drift = matches!(deployment.trigger, Trigger::External { .. }).then(|| {
            format!(
                "ECS runs {}, rolled out outside Slipway (recorded as {})",
                short_task_definition(&running.task_definition),
                deployment.id
            )
        });
        return (running, drift);
    }
    let known = [last_good, previous_good]
        .into_iter()
        .flatten()
        .find(|good| good.task_definition == task_definition);
    if let Some(good) = known {
        let running = Running {
            release: release::of_good(good),
            image: Some(good.image.clone()),
            task_definition,
            deployment_id: Some(good.deployment_id.clone()),
            since: Some(good.completed_at),
        };
        return (running, None);
    }
    let drift = format!(
        "ECS runs {}, which no Slipway deployment rolled out",
        short_task_definition(&task_definition)
    );
    let running = Running {
        release: short_task_definition(&task_definition),
        image: None,
        task_definition,
        deployment_id: None,
        since: None,
    };
    (running, Some(drift))
}

/// When the deployment reached ECS: its move to `rolling`.
pub fn rolled_at(deployment: &Deployment) -> Option<DateTime<Utc>> {
    deployment
        .history
        .iter()
        .find(|entry| entry.state == State::Rolling)
        .map(|entry| entry.at)
}

/// `web:42` out of `arn:aws:ecs:…:task-definition/web:42`.
pub fn short_task_definition(arn: &str) -> String {
    arn.rsplit_once('/')
        .map_or(arn, |(_, name)| name)
        .to_string()
}

/// The newest deployment Slipway started for the target (a push, an upload, a rollback).
fn latest(deployments: &[Deployment]) -> Option<Latest> {
    let newest = deployments.iter().max_by_key(|d| started_at(d))?;
    Some(Latest {
        deployment_id: newest.id.clone(),
        release: release::of_deployment(newest),
        state: newest.state,
        started_at: started_at(newest),
    })
}

fn frozen(
    rollouts: &crate::model::rollout::Rollouts,
    target: &Target,
    now: DateTime<Utc>,
) -> Option<Frozen> {
    let failed = rollouts.freeze.as_ref();
    if let Some(hold) = rollouts.held.as_ref().filter(|h| h.is_active(now)) {
        let ends = match hold.until {
            Some(until) => format!(
                "{}, or an operator unfreezes",
                until.format("%Y-%m-%d %H:%M:%SZ")
            ),
            None => "an operator unfreezes".to_string(),
        };
        let after = failed.map_or(String::new(), |f| {
            format!(
                " (the freeze after {} failed stays until then too)",
                f.release
            )
        });
        return Some(Frozen {
            since: hold.since,
            reason: hold.reason.clone(),
            deployment_id: failed.map(|f| f.deployment_id.clone()),
            by: hold.by.clone(),
            until: hold.until,
            lifted_by: format!("{ends}{after}"),
        });
    }
    let freeze = failed?;
    let lifted_by = match target.freeze_rule() {
        crate::model::freeze::FreezeRule::UntilNewerImage => {
            "a newer image is pushed, or an operator unfreezes".to_string()
        }
        _ => "an operator unfreezes".to_string(),
    };
    Some(Frozen {
        since: freeze.since,
        reason: freeze.reason.clone(),
        deployment_id: Some(freeze.deployment_id.clone()),
        by: "slipway".to_string(),
        until: None,
        lifted_by,
    })
}

fn pending(deployments: &[Deployment], now: DateTime<Utc>) -> Option<Pending> {
    // A request past its expiry is expired, whether or not Slipway has recorded it yet.
    let waiting = deployments
        .iter()
        .filter(|d| d.state == State::AwaitingApproval)
        .filter(|d| d.approval.as_ref().is_some_and(|a| a.expires_at > now))
        .max_by_key(|d| started_at(d))?;
    let request = waiting.approval.as_ref()?;
    Some(Pending {
        deployment_id: waiting.id.clone(),
        release: release::of_deployment(waiting),
        expires_at: request.expires_at,
        expires_in_seconds: (request.expires_at - now).num_seconds(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingForWindow {
    pub deployment_id: String,
    pub release: String,
    pub opens_at: DateTime<Utc>,
    pub because: String,
}

fn waiting(deployments: &[Deployment]) -> Option<WaitingForWindow> {
    let waiting = deployments
        .iter()
        .filter(|d| d.state == State::WaitingForWindow)
        .max_by_key(|d| started_at(d))?;
    let hold = waiting.window.as_ref()?;
    Some(WaitingForWindow {
        deployment_id: waiting.id.clone(),
        release: release::of_deployment(waiting),
        opens_at: hold.opens_at,
        because: hold.because.clone(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingForUpstream {
    pub deployment_id: String,
    pub release: String,
    pub why: String,
    /// When the soak it waits for ends (absent: when an upstream rollout ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub look_again_at: Option<DateTime<Utc>>,
}

fn waiting_upstream(deployments: &[Deployment]) -> Option<WaitingForUpstream> {
    let waiting = deployments
        .iter()
        .filter(|d| d.state == State::WaitingForUpstream)
        .max_by_key(|d| started_at(d))?;
    let check = waiting.promotion.as_ref()?;
    Some(WaitingForUpstream {
        deployment_id: waiting.id.clone(),
        release: release::of_deployment(waiting),
        why: check.waiting.clone().unwrap_or_default(),
        look_again_at: check.look_again_at,
    })
}
