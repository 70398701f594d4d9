//! Promotion: a stage takes only a digest that succeeded upstream (Kargo's "freight").
//!
//! A target with a `promotion` block names its upstream targets. A digest is *available*
//! to it only if, on an upstream target, Slipway's deployment of that digest `succeeded`
//! (ECS reported COMPLETED), stayed the upstream's running release for the whole soak, and
//! the named CloudWatch alarms were never in ALARM during the soak — judged from their
//! history, not from their state at the end. `one-of` needs one such upstream, `all` needs
//! every one. The evidence comes from the upstream's ledger record itself: an event that
//! says "succeeded" is only ever a hint to look.
//!
//! Everything here is a pure function of what the ledger and CloudWatch said; the
//! pipeline (`deployer::promotion`) reads those and acts on the verdict.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::model::deployment::{Deployment, State};
use crate::model::image_ref::digest_of;
use crate::model::plan::ImageChange;
use crate::model::rollout::{RolloutKind, Rollouts};

mod alarms;
pub use alarms::{AlarmState, AlarmTimeline, AlarmTransition};

/// "CloudWatch retains the history of active and deleted alarms for two weeks"
/// (mon-describe-alarm-history, Amazon CloudWatch CLI reference).
pub const ALARM_HISTORY_KEPT: Duration = Duration::days(14);

/// The longest soak a config may ask for: well inside the alarm history CloudWatch keeps.
pub const MAX_SOAK: Duration = Duration::days(7);

/// A target's `promotion` block, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// The upstream targets, by name (other targets of the same config).
    pub from: Vec<String>,
    pub availability: Availability,
    /// How long the digest must have run upstream after ECS reported it COMPLETED.
    pub soak: Duration,
    /// Alarms that must not have been in ALARM at any moment of the soak.
    pub alarms_ok: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Availability {
    /// One upstream target is enough.
    OneOf,
    /// Every upstream target must have run it.
    All,
}

/// What an upstream's ledger holds about one digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Slipway never deployed the digest there (by an image push).
    Never {
        target: String,
    },
    /// No record yet, but the digest is on its way there: the upstream takes the same
    /// push, or its repository holds the digest under a tag it takes (pushed within the
    /// last hour: the upstream's event, or the reconciler, has not been handled yet).
    Expected {
        target: String,
    },
    Run(UpstreamRun),
}

/// Slipway's deployment of the digest on an upstream target, and what followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRun {
    pub target: String,
    pub deployment_id: String,
    pub state: State,
    /// When ECS reported the rollout COMPLETED (a `succeeded` record has it).
    pub succeeded_at: Option<DateTime<Utc>>,
    pub ecs_deployment_id: Option<String>,
    /// The first rollout on the upstream after this one: from then on it was no longer
    /// the upstream's running release.
    pub moved_past: Option<MovedPast>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedPast {
    pub at: DateTime<Utc>,
    /// In words: the deployment that replaced it, or how.
    pub by: String,
}

/// What made a digest available on one upstream target: shown to approvers and kept on
/// the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub upstream: String,
    pub deployment_id: String,
    pub succeeded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_deployment_id: Option<String>,
    /// How long it has run upstream since it succeeded (at least the soak).
    pub soaked_seconds: i64,
    pub soak_seconds: i64,
    /// The alarms whose history was checked over the soak, none of which was in ALARM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms_ok: Vec<String>,
    /// An approver let it through before the soak ended (a hotfix): who, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_bypassed_by: Option<String>,
}

impl Evidence {
    /// One line for an approver: "succeeded on staging-web at 2026-12-06 10:04 UTC (ECS
    /// ecs-svc/…), soaked 2h01m, alarms a, b: no ALARM during the soak".
    pub fn describe(&self) -> String {
        let ecs = self
            .ecs_deployment_id
            .as_deref()
            .map(|id| format!(" (ECS {id})"))
            .unwrap_or_default();
        let alarms = if self.alarms_ok.is_empty() {
            String::new()
        } else {
            format!(
                ", alarms {}: no ALARM during the soak",
                self.alarms_ok.join(", ")
            )
        };
        // A bypass is part of the evidence: whoever reads it (the approvers, `slipway
        // why`) must see that the soak was not waited out, and who decided so.
        let bypass = self
            .soak_bypassed_by
            .as_deref()
            .map(|by| format!(" — the soak bypassed by {by}"))
            .unwrap_or_default();
        format!(
            "succeeded on {} at {}{ecs}, soaked {}{alarms}{bypass}",
            self.upstream,
            self.succeeded_at.format("%Y-%m-%d %H:%M UTC"),
            hours_minutes(self.soaked_seconds),
        )
    }
}

/// What one upstream target says of the digest now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamVerdict {
    Available(Evidence),
    /// Not yet: it may become available (still rolling, or soaking) — look again at `at`
    /// (`None`: when the upstream's rollout ends, which its event or the reconciler tells).
    NotYet {
        why: String,
        at: Option<DateTime<Utc>>,
    },
    /// It never will be on this upstream.
    Never(String),
}

/// The verdict over all upstream targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Available(Vec<Evidence>),
    NotYet {
        why: String,
        at: Option<DateTime<Utc>>,
    },
    Refused(String),
}

impl Promotion {
    /// The interval whose alarm history matters for `run`: from its success to the end
    /// of the soak (or now, while it soaks, or when it was moved past, if earlier).
    pub fn soak_interval(
        &self,
        run: &UpstreamRun,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = run.succeeded_at.filter(|_| run.state == State::Succeeded)?;
        let mut end = (start + self.soak).min(now);
        if let Some(moved) = &run.moved_past {
            end = end.min(moved.at);
        }
        Some((start, end.max(start)))
    }

    /// One upstream's verdict. `alarms` holds the timeline of each of `alarms_ok` since at
    /// least the start of the soak (`None` in the list: the alarm does not exist).
    pub fn judge(
        &self,
        upstream: &Upstream,
        alarms: &[(String, Option<AlarmTimeline>)],
        now: DateTime<Utc>,
        bypass_soak: Option<&str>,
    ) -> UpstreamVerdict {
        let run = match upstream {
            Upstream::Never { target } => {
                return UpstreamVerdict::Never(format!("{target} never deployed it"))
            }
            Upstream::Expected { target } => {
                return UpstreamVerdict::NotYet {
                    why: format!("{target} takes this digest too and has not deployed it yet"),
                    at: None,
                }
            }
            Upstream::Run(run) => run,
        };
        let on = &run.target;
        let start = match (run.state, run.succeeded_at) {
            (State::Succeeded, Some(at)) => at,
            (State::Succeeded, None) => {
                return UpstreamVerdict::Never(format!(
                    "{on}'s record {} says succeeded without ECS's COMPLETED time",
                    run.deployment_id
                ))
            }
            (state, _) if state.is_terminal() => {
                return UpstreamVerdict::Never(format!(
                    "its deployment on {on} ({}) ended {state}",
                    run.deployment_id
                ))
            }
            (state, _) => {
                return UpstreamVerdict::NotYet {
                    why: format!("its deployment on {on} ({}) is {state}", run.deployment_id),
                    at: None,
                }
            }
        };
        let soak_end = start + self.soak;
        if let Some(moved) = run.moved_past.as_ref().filter(|m| m.at < soak_end) {
            return UpstreamVerdict::Never(format!(
                "{on} moved past it before the soak ended ({} at {}, {} into a {} soak)",
                moved.by,
                moved.at.format("%Y-%m-%d %H:%M UTC"),
                hours_minutes((moved.at - start).num_seconds()),
                hours_minutes(self.soak.num_seconds()),
            ));
        }
        if !self.alarms_ok.is_empty() && start < now - ALARM_HISTORY_KEPT {
            return UpstreamVerdict::Never(format!(
                "it succeeded on {on} more than two weeks ago: CloudWatch no longer has the alarm history of its soak"
            ));
        }
        let checked_until = soak_end.min(now);
        for name in &self.alarms_ok {
            let timeline = alarms.iter().find(|(n, _)| n == name).map(|(_, t)| t);
            let Some(Some(timeline)) = timeline else {
                return UpstreamVerdict::Never(format!(
                    "alarm {name} does not exist in CloudWatch: fix `promotion.alarms_ok`"
                ));
            };
            if let Some(at) = timeline.first_alarm_between(start, checked_until) {
                return UpstreamVerdict::Never(format!(
                    "alarm {name} was in ALARM at {} during the soak on {on}",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ));
            }
        }
        let evidence = |soak_bypassed_by: Option<String>| Evidence {
            upstream: on.clone(),
            deployment_id: run.deployment_id.clone(),
            succeeded_at: start,
            ecs_deployment_id: run.ecs_deployment_id.clone(),
            // Until now, or until upstream moved past it (after the soak, or it would
            // not be available): what it really ran, not the time since it succeeded.
            soaked_seconds: (run.moved_past.as_ref().map_or(now, |m| m.at.min(now)) - start)
                .num_seconds()
                .max(0),
            soak_seconds: self.soak.num_seconds(),
            alarms_ok: self.alarms_ok.clone(),
            soak_bypassed_by,
        };
        if now < soak_end {
            if let Some(by) = bypass_soak {
                return UpstreamVerdict::Available(evidence(Some(by.to_string())));
            }
            // No elapsed time in the words: a look that finds the same wait must read
            // the same, so that it writes nothing.
            return UpstreamVerdict::NotYet {
                why: format!(
                    "it soaks on {on} until {} (a {} soak)",
                    soak_end.format("%Y-%m-%d %H:%M:%S UTC"),
                    hours_minutes(self.soak.num_seconds()),
                ),
                at: Some(soak_end),
            };
        }
        UpstreamVerdict::Available(evidence(None))
    }

    /// Combines the upstream verdicts by `availability`.
    pub fn combine(&self, verdicts: Vec<UpstreamVerdict>) -> Verdict {
        let mut available = vec![];
        let mut waiting: Vec<(String, Option<DateTime<Utc>>)> = vec![];
        let mut never = vec![];
        for verdict in verdicts {
            match verdict {
                UpstreamVerdict::Available(evidence) => available.push(evidence),
                UpstreamVerdict::NotYet { why, at } => waiting.push((why, at)),
                UpstreamVerdict::Never(why) => never.push(why),
            }
        }
        let refused = |never: Vec<String>| {
            Verdict::Refused(format!("not succeeded upstream: {}", never.join("; ")))
        };
        let not_yet = |waiting: Vec<(String, Option<DateTime<Utc>>)>| {
            // Look again when the first (one-of) or the last (all) soak ends, unless one
            // waits for a rollout (no time): then its event, or the reconciler, says when.
            let times = waiting.iter().map(|(_, at)| *at);
            let at = match self.availability {
                Availability::OneOf => times.flatten().min(),
                Availability::All => times
                    .collect::<Option<Vec<_>>>()
                    .and_then(|t| t.into_iter().max()),
            };
            let why = waiting.into_iter().map(|(why, _)| why).collect::<Vec<_>>();
            Verdict::NotYet {
                why: format!("not yet available upstream: {}", why.join("; ")),
                at,
            }
        };
        match self.availability {
            Availability::OneOf if !available.is_empty() => Verdict::Available(available),
            Availability::OneOf if !waiting.is_empty() => not_yet(waiting),
            Availability::OneOf => refused(never),
            Availability::All if !never.is_empty() => refused(never),
            Availability::All if !waiting.is_empty() => not_yet(waiting),
            Availability::All => Verdict::Available(available),
        }
    }
}

impl Verdict {
    /// The verdict on a release that changes several images (an upload may change more
    /// than one container): each digest must be available. One refused refuses it; else
    /// one not yet makes it wait, until the last of their times.
    pub fn every(verdicts: Vec<(String, Verdict)>) -> Verdict {
        let several = verdicts.len() > 1;
        let named = |digest: &str, why: String| {
            if several {
                format!("{}: {why}", short_digest(digest))
            } else {
                why
            }
        };
        let mut available = vec![];
        let mut waiting = vec![];
        let mut times = vec![];
        for (digest, verdict) in verdicts {
            match verdict {
                Verdict::Refused(why) => return Verdict::Refused(named(&digest, why)),
                Verdict::NotYet { why, at } => {
                    waiting.push(named(&digest, why));
                    times.push(at);
                }
                Verdict::Available(evidence) => available.extend(evidence),
            }
        }
        if waiting.is_empty() {
            return Verdict::Available(available);
        }
        Verdict::NotYet {
            why: waiting.join("; "),
            at: times
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .and_then(|t| t.into_iter().max()),
        }
    }
}

/// The digests a release asks its stage to take: those of the images it changes (a push
/// changes one or more containers to one digest; an upload may change several), each
/// once. A release that changes no image asks for none.
pub fn gated_digests(changes: &[ImageChange]) -> Vec<String> {
    let mut digests: Vec<String> = vec![];
    for change in changes.iter().filter(|c| c.from != c.to) {
        let digest = digest_of(&change.to).unwrap_or(&change.to).to_string();
        if !digests.contains(&digest) {
            digests.push(digest);
        }
    }
    digests
}

fn short_digest(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

/// What an upstream's ledger says of its deployment of the digest: the record itself and
/// the upstream's rollouts, which tell whether (and when) another release replaced it.
pub fn upstream_run(deployment: &Deployment, rollouts: Option<&Rollouts>) -> UpstreamRun {
    let succeeded_at = deployment
        .ended_at
        .filter(|_| deployment.state == State::Succeeded);
    UpstreamRun {
        target: deployment.target.clone(),
        deployment_id: deployment.id.clone(),
        state: deployment.state,
        succeeded_at,
        ecs_deployment_id: deployment.ecs_deployment_id.clone(),
        moved_past: rollouts.and_then(|r| moved_past(deployment, r, succeeded_at)),
    }
}

/// The first rollout after `deployment`'s own on its target (anyone's: Slipway's, an
/// operator's rollback, a deployment from the console). A deployment no longer among the
/// remembered rollouts counts as replaced from its success on, unless it is still the
/// last good release.
fn moved_past(
    deployment: &Deployment,
    rollouts: &Rollouts,
    succeeded_at: Option<DateTime<Utc>>,
) -> Option<MovedPast> {
    let ours = rollouts
        .started
        .iter()
        .rposition(|r| r.deployment_id == deployment.id && r.kind == RolloutKind::Slipway);
    let Some(ours) = ours else {
        let still_running = rollouts
            .last_good
            .as_ref()
            .is_some_and(|good| good.deployment_id == deployment.id);
        return (!still_running).then(|| MovedPast {
            at: succeeded_at
                .or(deployment.history.last().map(|h| h.at))
                .unwrap_or_default(),
            by: "a later release (its own rollout is no longer remembered)".into(),
        });
    };
    let next = rollouts.started[ours + 1..]
        .iter()
        .find(|r| r.deployment_id != deployment.id)?;
    let how = match next.kind {
        RolloutKind::Slipway => "",
        RolloutKind::External => "an external deployment, ",
        RolloutKind::CircuitBreakerRollback => "a circuit-breaker rollback, ",
    };
    Some(MovedPast {
        at: next.at,
        by: format!("{how}{} ({})", next.deployment_id, next.ecs_deployment_id),
    })
}

/// `2h01m`, `45m`, `3h00m`; under a minute, `20s` (a soak that short is a test's).
pub fn hours_minutes(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let minutes = seconds / 60;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests;
