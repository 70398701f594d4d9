//! `slipway why RUN`: where one run of a release group stands and why — what it waits for
//! (the line, its approval, a task's exit, a service's rollout), or how it ended — with a
//! line per step. Read from the run's record and the group's line; nothing is written.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::deployment::{AuditEntry, SoakBypass, WindowOverride};
use crate::model::group::{
    GroupLine, GroupRun, RunApproval, RunState, RunWait, StepKind, StepRun, StepState,
};
use crate::model::promotion::Evidence;

/// One run, explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunWhy {
    pub run_id: String,
    pub group: String,
    pub state: RunState,
    /// Whether the run ended (nothing more will happen to it).
    pub ended: bool,
    /// What the run is waiting for, or how it ended, in a sentence.
    pub explanation: String,
    pub began_at: Option<DateTime<Utc>>,
    /// The digest-pinned image each target of the group takes.
    pub release: BTreeMap<String, String>,
    pub approval: Option<RunApproval>,
    /// What holds the run before anything starts (a closed window, an upstream).
    pub waiting: Option<RunWait>,
    /// What made the gated images available upstream, once they were.
    pub evidence: Vec<Evidence>,
    /// An approver let the run through its closed windows: who, why, when.
    pub window_override: Option<WindowOverride>,
    /// An approver bypassed the promotion soak: who, why, when.
    pub soak_bypass: Option<SoakBypass>,
    pub steps: Vec<StepWhy>,
    /// Every attempt to decide the run or open its gates, taken or refused, oldest first
    /// (the caller reads them: [`explain`] leaves it empty).
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepWhy {
    pub name: String,
    pub target: String,
    /// `task` or `service`.
    pub kind: &'static str,
    pub state: StepState,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// A task's deadline (started plus its timeout).
    pub deadline: Option<DateTime<Utc>>,
    pub task_arn: Option<String>,
    /// A service step's deployment (`slipway show` takes it), once the step started.
    pub deployment_id: Option<String>,
    pub why: Option<String>,
}

pub fn explain(run: &GroupRun, line: Option<&GroupLine>, now: DateTime<Utc>) -> RunWhy {
    RunWhy {
        run_id: run.id.clone(),
        group: run.group.clone(),
        state: run.state,
        ended: run.state.is_terminal(),
        explanation: explanation(run, line, now),
        began_at: run.began_at,
        release: run.release.clone(),
        approval: run.approval.clone(),
        waiting: run.gates.waiting.clone(),
        evidence: run.gates.evidence.clone(),
        window_override: run.gates.window_override.clone(),
        soak_bypass: run.gates.soak_bypass.clone(),
        steps: run
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| step_why(run, index, step))
            .collect(),
        audit: Vec::new(),
    }
}

fn step_why(run: &GroupRun, index: usize, step: &StepRun) -> StepWhy {
    let is_task = matches!(step.kind, StepKind::Task { .. });
    StepWhy {
        name: step.name.clone(),
        target: step.target.clone(),
        kind: if is_task { "task" } else { "service" },
        state: step.state,
        started_at: step.started_at,
        ended_at: step.ended_at,
        deadline: step.deadline,
        task_arn: step.task_arn.clone(),
        // The deployer's key for a service step (deployer::group_steps): the same record
        // `slipway status` and `history` show for the target.
        deployment_id: (!is_task && step.state != StepState::Pending)
            .then(|| format!("{}.grp-{}-{index}", step.target, run.id)),
        why: step.why.clone(),
    }
}

fn explanation(run: &GroupRun, line: Option<&GroupLine>, now: DateTime<Utc>) -> String {
    let failure = run.why.as_deref().unwrap_or("no reason recorded");
    if let Some(wait) = run
        .gates
        .waiting
        .as_ref()
        .filter(|_| !run.state.is_terminal())
    {
        return format!(
            "{} (nothing started; the reconciler looks again on each run{})",
            wait.why,
            wait.until
                .map(|at| format!(", and at {}", stamp(at)))
                .unwrap_or_default()
        );
    }
    match run.state {
        RunState::Queued => queued(run, line),
        RunState::AwaitingApproval => awaiting_approval(run, now),
        RunState::Running => running(run, now),
        RunState::RollingBack => format!(
            "a step failed ({failure}); the services the run rolled are going back to what they ran before, the last one first"
        ),
        RunState::Succeeded => format!(
            "every step succeeded{}",
            last_end(run).map(|at| format!(", the last at {}", stamp(at))).unwrap_or_default()
        ),
        // The run's `why` names the failed step ("migrate failed: …").
        RunState::Failed => format!("failed: {failure}; no later step started"),
        RunState::RolledBack => format!(
            "rolled back: {failure}; every service the run had rolled went back"
        ),
        RunState::Rejected => match run.approval.as_ref().and_then(|a| a.decision.as_ref()) {
            Some(decision) => format!(
                "rejected by {} at {}{}: nothing started",
                decision.actor,
                stamp(decision.at),
                decision.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
            None => "rejected: nothing started".to_string(),
        },
        RunState::Expired => format!(
            "nobody decided before the request expired{}: nothing started",
            run.approval
                .as_ref()
                .map(|a| format!(" at {}", stamp(a.expires_at)))
                .unwrap_or_default()
        ),
        RunState::Superseded => format!(
            "superseded before it started anything: {}",
            run.why.as_deref().unwrap_or("a newer release of the group came")
        ),
    }
}

fn queued(run: &GroupRun, line: Option<&GroupLine>) -> String {
    let holder = line.and_then(|l| l.holder.as_deref());
    let newest = line.and_then(|l| l.waiting.last()).map(String::as_str);
    let mut text = match holder {
        Some(holder) if holder != run.id => format!(
            "queued behind run {holder}, which holds the group's line: it starts when that run ends"
        ),
        _ => "queued, and the group's line is free: the next delivery of the release, or the reconciler's next run, starts it".to_string(),
    };
    if let Some(newest) = newest.filter(|newest| *newest != run.id) {
        text.push_str(&format!(
            "; a newer release waits too (run {newest}): only the newest waiting release runs, so this one will be superseded"
        ));
    }
    text
}

fn awaiting_approval(run: &GroupRun, now: DateTime<Utc>) -> String {
    match &run.approval {
        Some(asked) if asked.expires_at <= now => format!(
            "awaiting its approval, which expired at {}: the reconciler's next run ends it",
            stamp(asked.expires_at)
        ),
        Some(asked) => format!(
            "awaiting its one approval, asked at {}, until {}: `slipway approve {}` or the link in the request",
            stamp(asked.requested_at),
            stamp(asked.expires_at),
            run.id
        ),
        None => "awaiting its approval, not asked yet (the asking failed or was cut short): the next delivery of the release, or the reconciler's next run, asks".to_string(),
    }
}

fn running(run: &GroupRun, now: DateTime<Utc>) -> String {
    let Some(index) = run.current_index() else {
        return "running: every step has ended; the run's end is being recorded".to_string();
    };
    let step = &run.steps[index];
    let place = format!("step {} of {} ({})", index + 1, run.steps.len(), step.name);
    match (&step.kind, step.state) {
        (_, StepState::Pending) => format!(
            "at {place}, not started yet: the next delivery, event or reconciler run starts it"
        ),
        (StepKind::Task { container, .. }, _) => {
            let task = step.task_arn.as_deref().unwrap_or("(its ARN not recorded yet)");
            match step.deadline {
                Some(deadline) if deadline <= now => format!(
                    "at {place}: task {task} passed its deadline {}: the reconciler's next run asks ECS and stops it if it still runs",
                    stamp(deadline)
                ),
                Some(deadline) => format!(
                    "at {place}: task {task} runs on {}; the run goes on when container {container} exits 0 (ECS's task event), and fails at {} if it has not",
                    step.target,
                    stamp(deadline)
                ),
                None => format!("at {place}: task {task} on {}", step.target),
            }
        }
        (StepKind::Service, _) => format!(
            "at {place}: service {} rolls (deployment {}.grp-{}-{index}); ECS's deployment event ends the step",
            step.target, step.target, run.id
        ),
    }
}

fn last_end(run: &GroupRun) -> Option<DateTime<Utc>> {
    run.steps.iter().filter_map(|s| s.ended_at).max()
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// When a run began, for ordering a group's runs: its recorded start, else the first time
/// its record shows (runs written before `began_at` was kept).
pub fn began(run: &GroupRun) -> Option<DateTime<Utc>> {
    run.began_at.or_else(|| {
        let asked = run.approval.as_ref().map(|a| a.requested_at);
        run.steps
            .iter()
            .filter_map(|s| s.started_at)
            .chain(asked)
            .min()
    })
}
