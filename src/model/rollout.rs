//! How rollouts end. UpdateService returning is not "deployed": ECS's own deployment events
//! say how a rollout really ended, minutes later. This module holds the rules that turn
//! those events into ledger moves, and the per-target [`Rollouts`] record they need:
//! which ECS deployment ids are whose, the last known good release, and the freeze that
//! pauses automatic deploys after a failure.
//!
//! Events arrive twice, late and out of order. Every rule here only ever moves a
//! deployment forwards through the ledger's state machine, so a late IN_PROGRESS after a
//! COMPLETED, or a FAILED after the circuit breaker's rollback was recorded, changes
//! nothing.

use chrono::{DateTime, Utc};
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::model::deployment::{Deployment, State, Trigger};
use crate::model::ecs_event::{DeploymentChanged, DeploymentEventName};
use crate::model::freeze::FreezeRule;

/// How many rollouts per target are remembered for matching ECS events to deployments.
/// EventBridge gives up on an event after 24 hours; no target rolls 100 times in a day.
pub const REMEMBERED_ROLLOUTS: usize = 100;

/// Per target, in the ledger's target document (`targets/<target>/target.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollouts {
    /// The ECS deployments Slipway knows of for this target, oldest first.
    #[serde(default)]
    pub started: Vec<StartedRollout>,
    /// A deployment between its UpdateService call and recording the id ECS returned:
    /// an ECS event for an unknown id meanwhile may be Slipway's own, so it is retried.
    #[serde(default)]
    pub starting: Option<Starting>,
    /// The last deployment Slipway started that ECS reported COMPLETED.
    #[serde(default)]
    pub last_good: Option<GoodRelease>,
    /// The good release before it (another task definition): where a rollback goes when
    /// the service already runs the last good one, which completed but misbehaves.
    #[serde(default)]
    pub previous_good: Option<GoodRelease>,
    /// Set after a failure: automatic deploys to the target pause (see [`FreezeRule`]).
    #[serde(default)]
    pub freeze: Option<Freeze>,
    /// Set by an operator: automatic deploys pause, whatever the failure rule says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Hold>,
    /// The last time a freeze was lifted, and by whom.
    #[serde(default)]
    pub unfrozen: Option<Unfrozen>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Progressive rollouts' service deployment ARNs (which ECS's hook events name) and
    /// the `ecs-svc/…` id each was started as, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_deployments: Vec<KnownServiceDeployment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownServiceDeployment {
    pub arn: String,
    pub ecs_deployment_id: String,
}

/// One ECS deployment and the ledger record it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedRollout {
    pub ecs_deployment_id: String,
    pub deployment_id: String,
    pub key: String,
    pub kind: RolloutKind,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutKind {
    /// Slipway's UpdateService started it.
    Slipway,
    /// Someone else started it; recorded from ECS's events.
    External,
    /// ECS's circuit breaker started it to undo the record's deployment.
    CircuitBreakerRollback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Starting {
    pub deployment_id: String,
    pub key: String,
    pub until: DateTime<Utc>,
}

/// A release that ECS reported running in a steady state: what a rollback returns to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodRelease {
    pub deployment_id: String,
    pub key: String,
    /// In words, e.g. `app:v1.4.1`.
    pub release: String,
    pub image: String,
    pub version: Option<String>,
    /// Immutable: it pins the image by digest, so rolling back to it is exact.
    pub task_definition: String,
    pub ecs_deployment_id: String,
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    pub since: DateTime<Utc>,
    pub deployment_id: String,
    pub release: String,
    /// The failed image, so that pushing it again does not thaw the freeze.
    pub digest: Option<String>,
    /// The failed release's version, when the target orders tags by semver.
    pub version: Option<String>,
    pub reason: String,
}

/// An operator's freeze (`slipway freeze`): automatic deploys pause until an unfreeze or
/// `until`. Kept apart from a failure's [`Freeze`], which it neither replaces nor is
/// replaced by: a newer image thaws only the failure's, and a failure never lifts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The IAM caller who froze the target, as the operator endpoint verified it.
    pub by: String,
    pub reason: String,
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

impl Hold {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfrozen {
    pub at: DateTime<Utc>,
    /// An operator, or `slipway` when a newer push thawed it.
    pub by: String,
    pub reason: Option<String>,
    /// The failed deployment whose freeze was lifted.
    pub deployment_id: String,
}

/// Whether a push may deploy automatically to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeCheck {
    Open,
    /// Paused; the reason says why and how to resume.
    Frozen(String),
    /// The push is newer than the failed release: the freeze ends with it.
    Thaws(String),
}

impl Rollouts {
    /// The record an ECS deployment belongs to; the newest mention wins.
    pub fn find(&self, ecs_deployment_id: &str) -> Option<&StartedRollout> {
        self.started
            .iter()
            .rev()
            .find(|r| r.ecs_deployment_id == ecs_deployment_id)
    }

    /// The rollout a hook event's service deployment belongs to.
    pub fn find_service_deployment(&self, arn: &str) -> Option<&StartedRollout> {
        let known = self
            .service_deployments
            .iter()
            .rev()
            .find(|s| s.arn == arn)?;
        self.find(&known.ecs_deployment_id)
    }

    /// Remembers which ECS deployment a service deployment ARN names (once).
    pub fn remember_service_deployment(&mut self, arn: &str, ecs_deployment_id: &str) {
        if !self.service_deployments.iter().any(|s| s.arn == arn) {
            self.service_deployments.push(KnownServiceDeployment {
                arn: arn.to_string(),
                ecs_deployment_id: ecs_deployment_id.to_string(),
            });
        }
        let excess = self
            .service_deployments
            .len()
            .saturating_sub(REMEMBERED_ROLLOUTS);
        self.service_deployments.drain(..excess);
    }

    /// Remembers an ECS deployment (once), forgetting the oldest beyond the limit.
    pub fn remember(&mut self, rollout: StartedRollout) {
        let known = self.started.iter().any(|r| {
            r.ecs_deployment_id == rollout.ecs_deployment_id
                && r.key == rollout.key
                && r.kind == rollout.kind
        });
        if !known {
            self.started.push(rollout);
        }
        let excess = self.started.len().saturating_sub(REMEMBERED_ROLLOUTS);
        self.started.drain(..excess);
    }

    /// The newest rollout of the target that ECS could be rolling back: the circuit
    /// breaker only ever undoes the latest deployment.
    pub fn latest_own(&self) -> Option<&StartedRollout> {
        self.started
            .iter()
            .rev()
            .find(|r| r.kind != RolloutKind::CircuitBreakerRollback)
    }

    /// A deployment of ours that may have called UpdateService without recording it yet.
    pub fn starting_now(&self, now: DateTime<Utc>) -> Option<&Starting> {
        self.starting.as_ref().filter(|s| s.until > now)
    }

    /// Records a completed release as last known good, unless a later one already is.
    pub fn completed(&mut self, good: GoodRelease) {
        let newer = self
            .last_good
            .as_ref()
            .is_none_or(|current| good.completed_at >= current.completed_at);
        if newer {
            let replaced = self.last_good.replace(good);
            if let Some(replaced) = replaced {
                if Some(&replaced.task_definition)
                    != self.last_good.as_ref().map(|g| &g.task_definition)
                {
                    self.previous_good = Some(replaced);
                }
            }
        }
    }

    /// Where a rollback of a service running `running` goes: the last good release, or,
    /// if the service already runs it (it completed, but misbehaves), the one before. In
    /// that case the last good release is discredited, so that a later rollback never
    /// returns to it.
    pub fn rollback_target(&mut self, running: &str) -> Option<GoodRelease> {
        let last = self.last_good.clone()?;
        if last.task_definition != running {
            return Some(last);
        }
        let before = self.previous_good.take()?;
        self.last_good = Some(before.clone());
        Some(before)
    }

    /// Pauses automatic deploys after `deployment` failed, as the target's rule says.
    /// A freeze already in place for a later failure stays.
    pub fn freeze_after(
        &mut self,
        deployment: &Deployment,
        rule: FreezeRule,
        reason: &str,
        at: DateTime<Utc>,
    ) {
        if rule == FreezeRule::Never || !deployment_can_freeze(deployment) {
            return;
        }
        if self.freeze.as_ref().is_some_and(|f| f.since > at) {
            return;
        }
        self.freeze = Some(Freeze {
            since: at,
            deployment_id: deployment.id.clone(),
            release: release_name(deployment),
            digest: image_digest(&deployment.image),
            version: deployment.version.clone(),
            reason: reason.to_string(),
        });
    }

    /// Whether a push of `digest` (tag version `version`, received by ECR at `pushed_at`)
    /// may deploy automatically.
    pub fn check_push(
        &self,
        rule: FreezeRule,
        digest: &str,
        version: Option<&Version>,
        pushed_at: Option<DateTime<Utc>>,
    ) -> FreezeCheck {
        if let Some(hold) = self.held.as_ref().filter(|h| h.is_active(Utc::now())) {
            return FreezeCheck::Frozen(format!(
                "automatic deploys are paused: {} froze the target at {} ({}){}; `slipway unfreeze` lifts it",
                hold.by,
                hold.since.format("%Y-%m-%d %H:%M:%S UTC"),
                hold.reason,
                hold.until
                    .map(|u| format!(" until {}", u.format("%Y-%m-%d %H:%M:%S UTC")))
                    .unwrap_or_default()
            ));
        }
        let Some(freeze) = &self.freeze else {
            return FreezeCheck::Open;
        };
        let frozen = |why: String| {
            FreezeCheck::Frozen(format!(
                "automatic deploys are paused since {} failed ({}) at {}: {why}; an operator can unfreeze the target, or roll it back",
                freeze.release,
                freeze.reason,
                freeze.since.format("%Y-%m-%d %H:%M:%S UTC")
            ))
        };
        match rule {
            FreezeRule::Never => FreezeCheck::Open,
            FreezeRule::UntilUnfrozen => {
                frozen("the target's rule is `until-unfrozen`".to_string())
            }
            FreezeRule::UntilNewerImage => {
                if freeze.digest.as_deref() == Some(digest) {
                    return frozen("this is the image that failed".to_string());
                }
                let failed_version = freeze
                    .version
                    .as_deref()
                    .and_then(|v| Version::parse(v).ok());
                match (version, failed_version) {
                    (Some(ours), Some(failed)) if *ours > failed => FreezeCheck::Thaws(format!(
                        "version {ours} is above {failed}, which failed"
                    )),
                    (Some(ours), Some(failed)) => frozen(format!(
                        "version {ours} is not above {failed}, which failed: push a higher version"
                    )),
                    _ => match pushed_at {
                        Some(at) if at > freeze.since => {
                            FreezeCheck::Thaws(format!("pushed at {at}, after the failure"))
                        }
                        _ => frozen("this image was pushed before the failure".to_string()),
                    },
                }
            }
        }
    }

    /// An operator's freeze ([`Hold`]); whether it changed anything.
    pub fn freeze_by(
        &mut self,
        by: &str,
        reason: &str,
        until: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> bool {
        let same = self
            .held
            .as_ref()
            .is_some_and(|h| h.by == by && h.reason == reason && h.until == until);
        if !same {
            self.held = Some(Hold {
                by: by.to_string(),
                reason: reason.to_string(),
                since: at,
                until,
            });
        }
        !same
    }

    /// A newer image ends the failure's freeze of `failed_deployment` (an operator's hold
    /// stays, and so does a freeze for another failure recorded meanwhile); whether it
    /// changed anything.
    pub fn thaw(&mut self, failed_deployment: &str, why: String, at: DateTime<Utc>) -> bool {
        if self
            .freeze
            .as_ref()
            .is_none_or(|f| f.deployment_id != failed_deployment)
        {
            return false;
        }
        self.freeze = None;
        self.unfrozen = Some(Unfrozen {
            at,
            by: "slipway".to_string(),
            reason: Some(why),
            deployment_id: failed_deployment.to_string(),
        });
        true
    }

    /// Lifts both freezes (a failure's and an operator's), noting who did and why.
    pub fn unfreeze(&mut self, by: &str, reason: Option<String>, at: DateTime<Utc>) -> bool {
        let (freeze, held) = (self.freeze.take(), self.held.take());
        if freeze.is_none() && held.is_none() {
            return false;
        }
        self.unfrozen = Some(Unfrozen {
            at,
            by: by.to_string(),
            reason,
            deployment_id: freeze.map(|f| f.deployment_id).unwrap_or_default(),
        });
        true
    }
}

/// What an ECS deployment event does to the deployment it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Advance to this state, with this note in the history.
    To(State, String),
    /// Nothing changes; the reason goes in the log and the report.
    Nothing(String),
}

/// The rule for one event. `kind` is how the event's ECS deployment relates to the
/// record: its own rollout, or the circuit breaker's rollback of it. Only forward moves:
/// a duplicate or late event is `Nothing`.
pub fn on_deployment_event(
    deployment: &Deployment,
    event: &DeploymentChanged,
    kind: RolloutKind,
) -> Move {
    use DeploymentEventName::*;
    let state = deployment.state;
    let late = |what: &str| Move::Nothing(format!("{what}: the deployment is already {state}"));
    let reason = event.reason.clone().unwrap_or_default();
    match (kind, event.name) {
        (RolloutKind::CircuitBreakerRollback, InProgress) => rolled_back(deployment, event),
        (RolloutKind::CircuitBreakerRollback, Completed) => Move::Nothing(format!(
            "ECS finished rolling {} back; the deployment is {state}",
            deployment.service
        )),
        (RolloutKind::CircuitBreakerRollback, Failed) => Move::Nothing(format!(
            "ECS's rollback of this deployment failed too ({reason}); the deployment stays {state}"
        )),
        (_, InProgress) if event.rolling_back_to().is_some() => rolled_back(deployment, event),
        (_, InProgress) => match state {
            State::Rolling => Move::Nothing("already rolling".into()),
            _ => late("a late IN_PROGRESS"),
        },
        (_, Completed) if state == State::Rolling => Move::To(
            State::Succeeded,
            format!(
                "ECS deployment {} completed: the service reached a steady state",
                event.ecs_deployment_id
            ),
        ),
        (_, Completed) => late("a duplicate or late COMPLETED"),
        (_, Failed) if state == State::Rolling => Move::To(
            State::Failed,
            format!(
                "ECS deployment {} failed: {}",
                event.ecs_deployment_id,
                if reason.is_empty() {
                    "no reason given"
                } else {
                    &reason
                }
            ),
        ),
        (_, Failed) => late("a duplicate or late FAILED"),
    }
}

fn rolled_back(deployment: &Deployment, event: &DeploymentChanged) -> Move {
    let to = event
        .rolling_back_to()
        .unwrap_or("the last completed deployment");
    match deployment.state {
        State::Rolling | State::Failed => Move::To(
            State::RolledBack,
            format!("ECS's circuit breaker is rolling the service back to ECS deployment {to}"),
        ),
        state => Move::Nothing(format!(
            "a rollback to {to}: the deployment is already {state}"
        )),
    }
}

/// Only releases Slipway rolled out freeze a target: an external deployment's failure says
/// nothing about the images Slipway is about to push.
fn deployment_can_freeze(deployment: &Deployment) -> bool {
    !matches!(deployment.trigger, Trigger::External { .. })
}

/// The release in words: `app:v1.4.2`, `s3 deploy/web/taskdef.json`, …
pub fn release_name(deployment: &Deployment) -> String {
    match &deployment.trigger {
        Trigger::EcrPush {
            repository, tag, ..
        } => format!("{repository}:{tag}"),
        Trigger::SourceUpload { key, .. } => format!("s3 {key}"),
        Trigger::Rollback {
            to_deployment_id,
            to_release,
            ..
        } => match to_release.as_str() {
            "" => format!("rollback to {to_deployment_id}"),
            release => format!("rollback to {release}"),
        },
        Trigger::GroupStep {
            group,
            step,
            rollback: false,
            ..
        } => format!("group {group}, step {step}"),
        Trigger::GroupStep {
            group,
            step,
            rollback: true,
            ..
        } => format!("group {group}: {step} put back"),
        Trigger::External {
            ecs_deployment_id, ..
        } => format!("ECS deployment {ecs_deployment_id} (not started by Slipway)"),
    }
}

fn image_digest(image: &str) -> Option<String> {
    crate::model::image_ref::digest_of(image).map(str::to_string)
}

/// `3m12s`, `45s`, `1h02m`.
pub fn human_duration(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests;
