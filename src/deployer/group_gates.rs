//! A run's gates in the pipeline (`model::group::gates` holds the rules). Before anything
//! starts, a run whose targets promise a promotion gate or deployment windows passes them
//! as a single release would:
//! - promotion, before the approval is asked: each gated target's image is judged as that
//!   target's own release would be (the upstream's ledger record, the soak, the alarms;
//!   `deployer::promotion`). Available, the evidence is kept on the run and shown to the
//!   approvers; not yet, the run waits, with a wake-up when a soak ends (the reconciler
//!   looks on each run anyway); never, the run ends `failed`, "not promoted", nothing
//!   started and nobody asked.
//! - windows, once the run may start (approved, or needing no approval): every target's
//!   window open at once, or the run waits until the first instant they all are.
//!
//! Once a step started the gates are behind the run: a migration half-way is never held.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ledger::Versioned;
use crate::model::deployment::Trigger;
use crate::model::group::{Gate, Group, GroupRun, RunWait, Stale};
use crate::model::promotion::{Evidence, Verdict};
use crate::model::window::WindowVerdict;
use crate::ports::Adapters;

use super::{log_decision, log_warning, Deployer, StepError};

/// What a gate did with the run.
pub(super) enum GateSays {
    /// Passed (or ended the run): the pass goes on; what happened, in a few words.
    Passed(String),
    /// The run waits, for this reason.
    Held(String),
}

/// How many openings the windows may be moved past while looking for an instant when
/// every target's window is open at once (a week of spans is far fewer).
const OPENINGS: usize = 64;

/// What the gated targets' upstreams say of a release's images, together.
pub(super) enum RunPromotion {
    Available(Vec<Evidence>),
    NotYet {
        why: String,
        until: Option<DateTime<Utc>>,
    },
    Refused(String),
}

/// What the group's targets' windows say now, together.
pub(super) enum RunWindows {
    Open,
    Closed {
        because: String,
        /// The first instant every window is open at once (`None`: not within
        /// [`OPENINGS`] openings).
        opens_at: Option<DateTime<Utc>>,
    },
}

impl<A: Adapters> Deployer<A> {
    /// Judges each gated target's image of `release`, as that target's own release
    /// would be judged (`bypass_soak`: the approver who bypassed the soak); reads only.
    pub(super) async fn run_promotion(
        &self,
        spec: &Group,
        run_id: &str,
        release: &BTreeMap<String, String>,
        bypass_soak: Option<&str>,
    ) -> Result<RunPromotion, StepError> {
        // No push of its own: the upstream's registry tags say whether it is on its way.
        let trigger = Trigger::GroupStep {
            group: spec.name.clone(),
            run_id: run_id.to_string(),
            step: "promotion".into(),
            rollback: false,
        };
        let mut evidence = Vec::new();
        let mut waits: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
        for name in spec.targets() {
            let target = self.target_named(name)?;
            let Some(promotion) = &target.promotion else {
                continue;
            };
            let digest = release
                .get(name)
                .and_then(|image| image.rsplit_once('@'))
                .map(|(_, digest)| digest.to_string())
                .ok_or_else(|| {
                    StepError::Rejected(format!(
                        "run {run_id} names no digest-pinned image for {name}"
                    ))
                })?;
            match Box::pin(self.promotion_verdict(
                target,
                promotion,
                &[digest],
                &trigger,
                bypass_soak,
            ))
            .await?
            {
                Verdict::Available(found) => evidence.extend(found),
                Verdict::NotYet { why, at } => waits.push((format!("{name}: {why}"), at)),
                Verdict::Refused(reason) => {
                    return Ok(RunPromotion::Refused(format!("{name}: {reason}")))
                }
            }
        }
        if waits.is_empty() {
            return Ok(RunPromotion::Available(evidence));
        }
        let until = waits.iter().filter_map(|(_, at)| *at).min();
        let why = waits
            .into_iter()
            .map(|(why, _)| why)
            .collect::<Vec<_>>()
            .join("; ");
        Ok(RunPromotion::NotYet { why, until })
    }

    /// Whether every target of `spec` may roll now, or when they all may at once.
    pub(super) fn run_windows(&self, spec: &Group) -> Result<RunWindows, StepError> {
        let now = self.now();
        let mut at = now;
        let mut because: Option<String> = None;
        for _ in 0..OPENINGS {
            let mut moved = false;
            for name in spec.targets() {
                let Some(windows) = &self.target_named(name)?.windows else {
                    continue;
                };
                if let WindowVerdict::Closed {
                    because: why,
                    opens_at,
                } = windows.verdict(at)
                {
                    because.get_or_insert_with(|| {
                        format!("{name}'s deployment window is closed ({why})")
                    });
                    at = opens_at;
                    moved = true;
                }
            }
            if !moved {
                return Ok(match because {
                    None => RunWindows::Open,
                    Some(because) => RunWindows::Closed {
                        because,
                        opens_at: Some(at),
                    },
                });
            }
        }
        Ok(RunWindows::Closed {
            because: because.unwrap_or_default(),
            opens_at: None,
        })
    }

    /// Every gated target's image available upstream, or the run waits, or it ends.
    pub(super) async fn check_run_promotion(
        &self,
        read: Versioned<GroupRun>,
    ) -> Result<GateSays, StepError> {
        let run = read.value.clone();
        let spec = self.group(&run.group)?;
        let bypass = run.gates.soak_bypass.as_ref().map(|b| b.by.as_str());
        match self
            .run_promotion(spec, &run.id, &run.release, bypass)
            .await?
        {
            RunPromotion::Available(evidence) => {
                let lines: Vec<String> = evidence.iter().map(|e| e.describe()).collect();
                let now = self.now();
                if let Err(Stale(why)) = self
                    .move_run(read, |r| r.promoted(evidence.clone(), now))
                    .await?
                {
                    log_decision("unchanged", &why);
                }
                log_decision(
                    "promoted",
                    &format!("run {}: available upstream: {}", run.id, lines.join("; ")),
                );
                Ok(GateSays::Passed("promoted".into()))
            }
            RunPromotion::NotYet { why, until } => {
                self.hold_run(
                    read,
                    Gate::Upstream,
                    format!("waiting for upstream: {why}"),
                    until,
                )
                .await
            }
            RunPromotion::Refused(reason) => {
                log_warning("not-promoted", &format!("run {}: {reason}", run.id));
                if let Err(Stale(why)) = self.move_run(read, |r| r.not_promoted(&reason)).await? {
                    log_decision("unchanged", &why);
                }
                Ok(GateSays::Passed(format!("not promoted: {reason}")))
            }
        }
    }

    /// Every target's window open now, or the run waits for the first instant they are.
    pub(super) async fn check_run_windows(
        &self,
        read: Versioned<GroupRun>,
    ) -> Result<GateSays, StepError> {
        let spec = self.group(&read.value.group)?;
        let now = self.now();
        if let Some(taken) = read.value.window_overridden(now).cloned() {
            let id = read.value.id.clone();
            if let Err(Stale(why)) = self.move_run(read, |r| r.window_opened(now)).await? {
                log_decision("unchanged", &why);
            }
            log_decision(
                "window-overridden",
                &format!(
                    "run {id} starts inside its closed window, let through by {}: {}",
                    taken.by, taken.reason
                ),
            );
            return Ok(GateSays::Passed(format!(
                "window overridden by {}",
                taken.by
            )));
        }
        match self.run_windows(spec)? {
            RunWindows::Open => {
                if let Err(Stale(why)) = self.move_run(read, |r| r.window_opened(now)).await? {
                    log_decision("unchanged", &why);
                }
                Ok(GateSays::Passed("windows open".into()))
            }
            RunWindows::Closed {
                because,
                opens_at: Some(at),
            } => {
                let why = format!(
                    "waiting for the window: {because}; the run starts at {}",
                    at.format("%Y-%m-%d %H:%M UTC")
                );
                self.hold_run(read, Gate::Window, why, Some(at)).await
            }
            RunWindows::Closed {
                because,
                opens_at: None,
            } => {
                let why = format!("waiting for the window: {because}; the group's targets' windows are never open at the same time within {OPENINGS} openings: change one of them");
                self.hold_run(read, Gate::Window, why, None).await
            }
        }
    }

    /// The run waits for `gate`; the same wait again writes nothing. A wake-up is asked
    /// for `until` (the reconciler drives the run holding the line on each run anyway).
    async fn hold_run(
        &self,
        read: Versioned<GroupRun>,
        gate: Gate,
        why: String,
        until: Option<DateTime<Utc>>,
    ) -> Result<GateSays, StepError> {
        let id = read.value.id.clone();
        let wait = RunWait {
            gate,
            why: why.clone(),
            until,
        };
        if self.move_run(read, |r| r.held(wait.clone())).await?.is_ok() {
            log_decision(
                match gate {
                    Gate::Upstream => "waiting-for-upstream",
                    Gate::Window => "waiting-for-window",
                },
                &format!("run {id}: {why}"),
            );
            if let Some(until) = until {
                let reason = format!("run {id} looks at its gate again");
                Box::pin(self.wake_at(&format!("run {id}"), until, &reason)).await;
            }
        }
        Ok(GateSays::Held(why))
    }
}
