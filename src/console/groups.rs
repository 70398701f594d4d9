//! `slipway groups`: each release group's line — the run that holds it and where it
//! stands (its current step, a task's ARN and deadline, why it failed), and the releases
//! waiting behind it, in the order they came; with `--runs`, every run the ledger keeps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::group::{Group, GroupLine, GroupRun, RunApproval, RunState, StepRun, StepState};

#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    pub group: String,
    /// The group's steps in order, as the config names them.
    pub steps: Vec<String>,
    /// The run that holds the group's line (the only one that may act), if any.
    pub holder: Option<RunView>,
    /// Releases waiting for the line, oldest first: only the newest will run.
    pub waiting: Vec<RunView>,
    /// With `--runs`: the group's runs the ledger keeps, newest first (at most the limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<Vec<RunView>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub run_id: String,
    pub state: RunState,
    /// The digest-pinned image each target of the group takes.
    pub release: BTreeMap<String, String>,
    /// The step the run is at, or the one it failed at; `None` before the first and after
    /// the last.
    pub current: Option<CurrentStep>,
    pub steps: Vec<StepRun>,
    /// The run's one approval, once asked: when, until when, and who decided.
    pub approval: Option<RunApproval>,
    pub why: Option<String>,
    /// When the release first reached Slipway (`None` for runs recorded before it was kept).
    pub began_at: Option<DateTime<Utc>>,
    /// What holds the run before anything starts: a closed window, an upstream.
    pub waiting: Option<crate::model::group::RunWait>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CurrentStep {
    pub name: String,
    pub state: StepState,
    pub task_arn: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
}

/// The view of `group` from its line and the runs it names (`runs`, by id; a run the
/// ledger no longer has is left out).
pub fn group_status(
    group: &Group,
    line: Option<&GroupLine>,
    runs: &BTreeMap<String, GroupRun>,
) -> GroupStatus {
    let view = |id: &String| runs.get(id).map(run_view);
    GroupStatus {
        group: group.name.clone(),
        steps: group.steps.iter().map(|s| s.name().to_string()).collect(),
        holder: line.and_then(|l| l.holder.as_ref()).and_then(view),
        waiting: line
            .map(|l| l.waiting.iter().filter_map(view).collect())
            .unwrap_or_default(),
        runs: None,
    }
}

/// The run ids a group's view needs read: the holder, then the waiting ones.
pub fn runs_to_read(line: &GroupLine) -> Vec<String> {
    line.holder.iter().chain(&line.waiting).cloned().collect()
}

pub fn run_view(run: &GroupRun) -> RunView {
    let in_state = |state: StepState| run.steps.iter().find(|s| s.state == state);
    let failed = in_state(StepState::Failed);
    let current = match run.state {
        RunState::Running => run.current_index().and_then(|i| run.steps.get(i)),
        // The service going back now; the failure that started it is in `why`.
        RunState::RollingBack => in_state(StepState::RollingBack).or(failed),
        RunState::Failed | RunState::RolledBack => failed,
        _ => None,
    };
    RunView {
        run_id: run.id.clone(),
        state: run.state,
        release: run.release.clone(),
        current: current.map(|step| CurrentStep {
            name: step.name.clone(),
            state: step.state,
            task_arn: step.task_arn.clone(),
            deadline: step.deadline,
        }),
        steps: run.steps.clone(),
        approval: run.approval.clone(),
        why: run.why.clone(),
        began_at: super::group_why::began(run),
        waiting: run.gates.waiting.clone(),
    }
}
