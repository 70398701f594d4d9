//! The tables of release groups: `slipway groups` (each group's line and, with `--runs`,
//! its runs newest first) and `slipway why RUN` (one run, step by step). Pure, like
//! [`super::tables`], whose helpers they use.

use chrono::{DateTime, Utc};

use super::output::Output;
use super::tables::{maybe_when, table, trimmed, when};
use crate::console::group_why::{RunWhy, StepWhy};
use crate::console::groups::{GroupStatus, RunView};
use crate::console::release::short_digest;
use crate::model::group::{RunState, StepState};

pub fn groups(statuses: &[GroupStatus], out: &Output, now: DateTime<Utc>) -> String {
    if statuses.is_empty() {
        return "no release groups in the config".to_string();
    }
    let blocks: Vec<String> = statuses.iter().map(|g| group_block(g, out, now)).collect();
    blocks.join("\n\n")
}

fn group_block(status: &GroupStatus, out: &Output, now: DateTime<Utc>) -> String {
    let title = format!("group {}: {}", status.group, status.steps.join(" → "));
    let runs: Vec<(&str, &RunView)> = status
        .holder
        .iter()
        .map(|run| ("holds", run))
        .chain(status.waiting.iter().map(|run| ("waits", run)))
        .collect();
    let listed = status
        .runs
        .as_ref()
        .map(|listed| format!("\n\n{}", runs_table(listed, out, now)))
        .unwrap_or_default();
    if runs.is_empty() {
        return format!("{title}\nno release yet{listed}");
    }
    let mut t = table(Some(&["LINE", "RUN", "STATE", "STEP", "RELEASE"]));
    let mut whys = Vec::new();
    for (place, run) in runs {
        t.add_row(vec![
            place.to_string(),
            run.run_id.clone(),
            run_state(run, out),
            run_step(run, now),
            release_cell(run),
        ]);
        if let Some(why) = &run.why {
            whys.push(format!("{}: {why}", run.run_id));
        }
    }
    let mut text = format!("{title}\n{}", trimmed(&t));
    for why in whys {
        text.push_str(&format!("\n  why {why}"));
    }
    text.push_str(&listed);
    text
}

/// `migrate: started, task …/3, deadline 2026-12-01 12:15:00Z (in 15m)`.
fn run_step(run: &RunView, now: DateTime<Utc>) -> String {
    if let Some(wait) = run.waiting.as_ref().filter(|_| !run.state.is_terminal()) {
        let gate = match wait.gate {
            crate::model::group::Gate::Window => "window",
            crate::model::group::Gate::Upstream => "upstream",
        };
        return match wait.until {
            Some(until) => format!("waiting for the {gate}, looks again {}", when(until, now)),
            None => format!("waiting for the {gate}"),
        };
    }
    let asked = run
        .approval
        .as_ref()
        .filter(|_| run.state == RunState::AwaitingApproval);
    if let Some(asked) = asked {
        return format!("approval: asked, expires {}", when(asked.expires_at, now));
    }
    let Some(step) = &run.current else {
        return "-".to_string();
    };
    let state = serde_json::to_value(step.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut text = format!("{}: {state}", step.name);
    if let Some(arn) = &step.task_arn {
        let task = arn.rsplit('/').next().unwrap_or(arn);
        text.push_str(&format!(", task {task}"));
    }
    if let Some(deadline) = step.deadline.filter(|_| step.state == StepState::Started) {
        text.push_str(&format!(", deadline {}", when(deadline, now)));
    }
    text
}

pub fn run_why(why: &RunWhy, out: &Output, now: DateTime<Utc>) -> String {
    let state = why.state.to_string();
    let state = if matches!(why.state, RunState::Failed | RunState::RolledBack) {
        out.alert(&state)
    } else {
        state
    };
    let mut facts = table(None);
    facts.add_row(vec![
        "run".to_string(),
        format!("{} (group {})", why.run_id, why.group),
    ]);
    facts.add_row(vec!["state".to_string(), state]);
    facts.add_row(vec!["began".to_string(), maybe_when(why.began_at, now)]);
    for (target, image) in &why.release {
        facts.add_row(vec![format!("release {target}"), image.clone()]);
    }
    if let Some(approval) = &why.approval {
        let decided = approval.decision.as_ref().map(|d| {
            format!(
                ", {} by {} ({}) at {}",
                d.verdict.past_tense(),
                d.actor,
                format!("{:?}", d.channel).to_lowercase(),
                when(d.at, now)
            )
        });
        facts.add_row(vec![
            "approval".to_string(),
            format!(
                "asked {}, expires {}{}",
                when(approval.requested_at, now),
                when(approval.expires_at, now),
                decided.unwrap_or_default()
            ),
        ]);
    }
    for evidence in &why.evidence {
        facts.add_row(vec!["promotion".to_string(), evidence.describe()]);
    }
    if let Some(bypass) = &why.soak_bypass {
        facts.add_row(vec![
            "soak bypassed".to_string(),
            format!(
                "by {} at {}: {}",
                bypass.by,
                when(bypass.at, now),
                bypass.reason
            ),
        ]);
    }
    if let Some(taken) = &why.window_override {
        facts.add_row(vec![
            "window overridden".to_string(),
            format!(
                "by {} at {}: {}",
                taken.by,
                when(taken.at, now),
                taken.reason
            ),
        ]);
    }
    let mut steps = table(Some(&["#", "STEP", "KIND", "TARGET", "STATE", "DETAIL"]));
    for (index, step) in why.steps.iter().enumerate() {
        steps.add_row(vec![
            (index + 1).to_string(),
            step.name.clone(),
            step.kind.to_string(),
            step.target.clone(),
            step_state(step.state, out),
            step_detail(step, now),
        ]);
    }
    format!(
        "{}\n\nwhy: {}\n\n{}\n\nAUDIT\n{}",
        trimmed(&facts),
        why.explanation,
        trimmed(&steps),
        super::tables::audit(&why.audit, now)
    )
}

fn step_state(state: StepState, out: &Output) -> String {
    let text = serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    if matches!(state, StepState::Failed | StepState::RollbackFailed) {
        out.alert(&text)
    } else {
        text
    }
}

/// What a step did: its task or deployment, when it ran, why it failed.
fn step_detail(step: &StepWhy, now: DateTime<Utc>) -> String {
    let mut parts = Vec::new();
    if let Some(arn) = &step.task_arn {
        parts.push(format!("task {}", arn.rsplit('/').next().unwrap_or(arn)));
    }
    if let Some(id) = &step.deployment_id {
        parts.push(format!("deployment {id}"));
    }
    if let Some(started) = step.started_at {
        parts.push(format!("started {}", when(started, now)));
    }
    match (step.ended_at, step.deadline) {
        (Some(ended), _) => parts.push(format!("ended {}", when(ended, now))),
        (None, Some(deadline)) if step.state == StepState::Started => {
            parts.push(format!("deadline {}", when(deadline, now)))
        }
        _ => {}
    }
    if let Some(why) = &step.why {
        parts.push(why.clone());
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(", ")
    }
}

/// `slipway groups --runs`: the group's runs, newest first, below its line.
pub fn runs_table(runs: &[RunView], out: &Output, now: DateTime<Utc>) -> String {
    if runs.is_empty() {
        return "runs: none yet".to_string();
    }
    let mut t = table(Some(&["RUN", "BEGAN", "STATE", "STEP", "RELEASE"]));
    for run in runs {
        t.add_row(vec![
            run.run_id.clone(),
            maybe_when(run.began_at, now),
            run_state(run, out),
            run_step(run, now),
            release_cell(run),
        ]);
    }
    format!(
        "runs (newest first; `slipway why RUN` explains one):\n{}",
        trimmed(&t)
    )
}

/// The run's state, alerted when it failed.
fn run_state(run: &RunView, out: &Output) -> String {
    let state = run.state.to_string();
    if matches!(run.state, RunState::Failed | RunState::RolledBack) {
        out.alert(&state)
    } else {
        state
    }
}

/// `web @sha256:0101…, worker @sha256:0202…`.
fn release_cell(run: &RunView) -> String {
    run.release
        .iter()
        .map(|(target, image)| format!("{target} @{}", short_digest(image)))
        .collect::<Vec<_>>()
        .join(", ")
}
