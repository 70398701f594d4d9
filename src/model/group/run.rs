//! One run of a release group, as the ledger keeps it: the run's state, each step's, and
//! the only moves an observation may make. A duplicate, late or foreign observation moves
//! nothing and says why ([`Stale`]), so an event delivered twice, a wake-up that fires
//! after the event it waited for, and a crash between a call and its record are harmless.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::arrival::{Arrival, PushedRelease, ReleaseSource};
use super::gates::RunGates;
use super::spec::{Group, OnFailure, Step};
use super::task_exit::{TaskStopped, TaskVerdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Waiting for the group's line: another run of the group is under way
    /// ([`super::line`]).
    Queued,
    /// One approval for the whole group, before any step starts.
    AwaitingApproval,
    Running,
    /// A step failed under `rollback-completed`: the services it already rolled are going
    /// back, the last one first.
    RollingBack,
    Succeeded,
    Failed,
    /// A step failed and every service the run had rolled is back where it was.
    RolledBack,
    Rejected,
    Expired,
    /// A newer release of the group came while this one still awaited approval.
    Superseded,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_value(self).ok();
        f.write_str(text.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

impl RunState {
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            RunState::Queued
                | RunState::AwaitingApproval
                | RunState::Running
                | RunState::RollingBack
        )
    }

    /// Anything not listed is refused: a run never moves backwards. Only a run that
    /// started nothing (queued, or awaiting approval) can be superseded; one that started
    /// finishes (a newer release waits behind it).
    pub fn can_move_to(self, next: RunState) -> bool {
        use RunState::*;
        matches!(
            (self, next),
            (Queued, AwaitingApproval | Running | Superseded)
                | (AwaitingApproval, Running | Rejected | Expired | Superseded)
                | (Running, Succeeded | Failed | RollingBack)
                | (RollingBack, RolledBack | Failed)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Pending,
    /// RunTask or UpdateService returned; the result is awaited.
    Started,
    Succeeded,
    Failed,
    /// A service being put back (`rollback-completed`).
    RollingBack,
    RolledBack,
    RollbackFailed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum StepKind {
    Task {
        container: String,
        command: Vec<String>,
        timeout_seconds: i64,
    },
    Service,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRun {
    pub name: String,
    pub target: String,
    #[serde(flatten)]
    pub kind: StepKind,
    pub state: StepState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// A task's: when it started plus its timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// A service's task definition before the step: what a rollback puts back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_task_definition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl StepRun {
    fn is_service(&self) -> bool {
        self.kind == StepKind::Service
    }
}

/// Why an observation moved nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRun {
    /// Unique per run: the idempotency tokens of its one-off tasks derive from it.
    pub id: String,
    pub group: String,
    /// Taken from the config when the run began: a config changed mid-run does not change
    /// what this run does on a failure.
    pub on_failure: OnFailure,
    pub state: RunState,
    /// Whether the run awaits an approval once it holds the group's line.
    #[serde(default)]
    pub needs_approval: bool,
    /// The run's one approval, once asked (`model::group::approval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<super::request::RunApproval>,
    /// The image each target of the group takes, digest-pinned.
    pub release: BTreeMap<String, String>,
    /// Each target's new task-definition revision, once registered (registered once).
    #[serde(default)]
    pub revisions: BTreeMap<String, String>,
    pub steps: Vec<StepRun>,
    /// Why the run failed: the first failure, then what rolling back met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The upload that named the release (a `release.json` version), which orders it
    /// against other uploads of the same key; `None` for a push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ReleaseSource>,
    /// When the release first reached Slipway (orders a group's runs for operators;
    /// `None` in records written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub began_at: Option<DateTime<Utc>>,
    /// The push that named the release: its tag, version and push time, which order it
    /// against other pushes of the group; `None` for an upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed: Option<PushedRelease>,
    /// Promotion and windows, judged before anything starts (`model::group::gating`).
    #[serde(default, skip_serializing_if = "RunGates::is_none")]
    pub gates: RunGates,
}

impl GroupRun {
    /// How its release arrived, which orders it against the group's other releases.
    pub fn arrival(&self) -> Option<Arrival<'_>> {
        match (&self.source, &self.pushed) {
            (Some(source), _) => Some(Arrival::Upload(source)),
            (None, Some(pushed)) => Some(Arrival::Push(pushed)),
            (None, None) => None,
        }
    }

    /// A new run of `group` taking `release`, queued for the group's line; once it holds
    /// the line it awaits approval first when asked to.
    pub fn begin(
        id: &str,
        group: &Group,
        release: BTreeMap<String, String>,
        needs_approval: bool,
    ) -> GroupRun {
        let steps = group.steps.iter().map(step_run).collect();
        GroupRun {
            id: id.to_string(),
            group: group.name.clone(),
            on_failure: group.on_failure,
            state: RunState::Queued,
            needs_approval,
            approval: None,
            release,
            revisions: BTreeMap::new(),
            steps,
            why: None,
            source: None,
            pushed: None,
            began_at: None,
            gates: RunGates::default(),
        }
    }

    /// The run holds the group's line: it starts (or awaits its approval first).
    pub fn admitted(&mut self) -> Result<(), Stale> {
        if self.state != RunState::Queued {
            return Err(Stale(format!(
                "run {} is {}, not queued",
                self.id, self.state
            )));
        }
        self.state = if self.needs_approval {
            RunState::AwaitingApproval
        } else {
            RunState::Running
        };
        Ok(())
    }

    /// A newer release of the group took this run's place before it started anything.
    pub fn superseded(&mut self, by: &str) -> Result<(), Stale> {
        if !self.state.can_move_to(RunState::Superseded) {
            return Err(Stale(format!(
                "run {} is {}: a run that started finishes",
                self.id, self.state
            )));
        }
        self.state = RunState::Superseded;
        self.why = Some(format!(
            "superseded by run {by}, a newer release of the group"
        ));
        Ok(())
    }

    /// A newer upload of the same release key took the line first: this older one never
    /// runs (S3 events may arrive out of order; its sequencer says which is newer).
    pub fn outdated(&mut self, why: String) -> Result<(), Stale> {
        if !self.state.can_move_to(RunState::Superseded) {
            return Err(Stale(format!("run {} is {}", self.id, self.state)));
        }
        self.state = RunState::Superseded;
        self.why = Some(why);
        Ok(())
    }

    /// A person's decision, or the approval's expiry, or a newer release.
    pub fn decide(&mut self, to: RunState) -> Result<(), Stale> {
        if self.state != RunState::AwaitingApproval || !self.state.can_move_to(to) {
            return Err(Stale(format!(
                "run {} is {:?}, not awaiting approval",
                self.id, self.state
            )));
        }
        self.state = to;
        Ok(())
    }

    pub fn registered(&mut self, target: &str, task_definition: &str) -> Result<(), Stale> {
        if let Some(known) = self.revisions.get(target) {
            return Err(Stale(format!("{target}'s revision is already {known}")));
        }
        self.revisions
            .insert(target.to_string(), task_definition.to_string());
        Ok(())
    }

    /// RunTask returned `task_arn` for step `index`.
    pub fn task_started(
        &mut self,
        index: usize,
        task_arn: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Stale> {
        let step = self.current(index, StepState::Pending)?;
        let StepKind::Task {
            timeout_seconds, ..
        } = step.kind
        else {
            return Err(Stale(format!("step {} is not a task", step.name)));
        };
        step.state = StepState::Started;
        step.started_at = Some(at);
        step.deadline = Some(at + Duration::seconds(timeout_seconds));
        step.task_arn = Some(task_arn.to_string());
        Ok(())
    }

    /// ECS reported a task of this run stopped. Found by its ARN, or — when the event
    /// came before RunTask's answer was recorded — by the `startedBy` the step gave it.
    pub fn task_stopped(&mut self, stopped: &TaskStopped, at: DateTime<Utc>) -> Result<(), Stale> {
        let index = self
            .steps
            .iter()
            .position(|s| s.task_arn.as_deref() == Some(&stopped.task_arn))
            .or_else(|| {
                // Only a step that has no task yet: one with a task knows its ARN.
                let by = stopped.started_by.as_deref()?;
                (0..self.steps.len()).find(|i| {
                    self.steps[*i].task_arn.is_none() && super::ids::started_by(&self.id, *i) == by
                })
            })
            .ok_or_else(|| {
                Stale(format!(
                    "task {} is not one of run {}",
                    stopped.task_arn, self.id
                ))
            })?;
        let state = self.steps[index].state;
        if !matches!(state, StepState::Pending | StepState::Started)
            || self.state != RunState::Running
        {
            return Err(Stale(format!(
                "step {} is already {:?}",
                self.steps[index].name, state
            )));
        }
        let step = &mut self.steps[index];
        let StepKind::Task { container, .. } = &step.kind else {
            return Err(Stale(format!("step {} is not a task", step.name)));
        };
        let verdict = stopped.verdict(container);
        step.task_arn = Some(stopped.task_arn.clone());
        step.started_at.get_or_insert(at);
        step.ended_at = Some(stopped.stopped_at.unwrap_or(at));
        match verdict {
            TaskVerdict::Succeeded => step.state = StepState::Succeeded,
            TaskVerdict::Failed(why) => {
                step.state = StepState::Failed;
                step.why = Some(why);
            }
        }
        self.settle();
        Ok(())
    }

    /// The wake-up at a task's deadline: a task still running then has failed (the
    /// pipeline stops it). Early or for a step that already ended: nothing.
    pub fn timed_out(&mut self, index: usize, now: DateTime<Utc>) -> Result<(), Stale> {
        let step = self.current(index, StepState::Started)?;
        let (Some(deadline), Some(started)) = (step.deadline, step.started_at) else {
            return Err(Stale(format!("step {} has no deadline", step.name)));
        };
        if now < deadline {
            return Err(Stale(format!(
                "step {}'s deadline is {deadline}, not yet",
                step.name
            )));
        }
        let limit = humanize(deadline - started);
        step.state = StepState::Failed;
        step.ended_at = Some(now);
        step.why = Some(format!("did not exit within {limit}: stopped"));
        self.settle();
        Ok(())
    }

    /// The current step's call failed for good (a RunTask ECS refused, a revision that
    /// cannot be registered, a service no longer there): the step fails with why, and the
    /// run stops or rolls back as for any failure — never left waiting for a retry that
    /// cannot succeed. While rolling back, the service's rollback failed.
    pub fn step_failed(
        &mut self,
        index: usize,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Stale> {
        if self.state == RunState::RollingBack {
            let step = self.step_in(index, StepState::Succeeded)?;
            step.state = StepState::RollbackFailed;
            let line = format!("rolling {} back failed: {why}", step.name);
            self.why = Some(match self.why.take() {
                Some(first) => format!("{first}; {line}"),
                None => line,
            });
            self.settle();
            return Ok(());
        }
        if self.state != RunState::Running || self.current_index() != Some(index) {
            return Err(Stale(format!(
                "step {index} of run {} is not the current one",
                self.id
            )));
        }
        let step = &mut self.steps[index];
        if !matches!(step.state, StepState::Pending | StepState::Started) {
            return Err(Stale(format!(
                "step {} is already {:?}",
                step.name, step.state
            )));
        }
        step.state = StepState::Failed;
        step.ended_at = Some(now);
        step.why = Some(why.to_string());
        self.settle();
        Ok(())
    }

    /// UpdateService returned for step `index`; `previous` is what the service ran.
    pub fn service_started(
        &mut self,
        index: usize,
        previous: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Stale> {
        let step = self.current(index, StepState::Pending)?;
        if !step.is_service() {
            return Err(Stale(format!("step {} is not a service", step.name)));
        }
        step.state = StepState::Started;
        step.started_at = Some(at);
        step.previous_task_definition = Some(previous.to_string());
        Ok(())
    }

    /// ECS reported the step's rollout: COMPLETED (`Ok`) or FAILED / rolled back.
    pub fn service_ended(
        &mut self,
        index: usize,
        outcome: Result<(), String>,
        at: DateTime<Utc>,
    ) -> Result<(), Stale> {
        let step = self.current(index, StepState::Started)?;
        if !step.is_service() {
            return Err(Stale(format!("step {} is not a service", step.name)));
        }
        step.ended_at = Some(at);
        match outcome {
            Ok(()) => step.state = StepState::Succeeded,
            Err(why) => {
                step.state = StepState::Failed;
                step.why = Some(why);
            }
        }
        self.settle();
        Ok(())
    }

    /// UpdateService back to the previous revision returned for step `index`.
    pub fn rollback_started(&mut self, index: usize) -> Result<(), Stale> {
        if self.state != RunState::RollingBack {
            return Err(Stale(format!("run {} is not rolling back", self.id)));
        }
        let step = self.step_in(index, StepState::Succeeded)?;
        step.state = StepState::RollingBack;
        Ok(())
    }

    pub fn rollback_ended(
        &mut self,
        index: usize,
        outcome: Result<(), String>,
    ) -> Result<(), Stale> {
        if self.state != RunState::RollingBack {
            return Err(Stale(format!("run {} is not rolling back", self.id)));
        }
        let step = self.step_in(index, StepState::RollingBack)?;
        match outcome {
            Ok(()) => step.state = StepState::RolledBack,
            Err(why) => {
                step.state = StepState::RollbackFailed;
                let line = format!("rolling {} back failed: {why}", step.name);
                self.why = Some(match self.why.take() {
                    Some(first) => format!("{first}; {line}"),
                    None => line,
                });
            }
        }
        self.settle();
        Ok(())
    }

    /// The step that runs now: the first one that has not succeeded.
    pub fn current_index(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.state != StepState::Succeeded)
    }

    /// Step `index` if it is the current one, in `state`, and the run is running.
    fn current(&mut self, index: usize, state: StepState) -> Result<&mut StepRun, Stale> {
        if self.state != RunState::Running {
            return Err(Stale(format!("run {} is {:?}", self.id, self.state)));
        }
        if self.current_index() != Some(index) {
            return Err(Stale(format!(
                "step {index} of run {} is not the current one",
                self.id
            )));
        }
        self.step_in(index, state)
    }

    fn step_in(&mut self, index: usize, state: StepState) -> Result<&mut StepRun, Stale> {
        let step = self
            .steps
            .get_mut(index)
            .ok_or_else(|| Stale(format!("no step {index}")))?;
        if step.state != state {
            return Err(Stale(format!(
                "step {} is {:?}, not {state:?}",
                step.name, step.state
            )));
        }
        Ok(step)
    }

    /// The run's state from its steps', after a step moved.
    fn settle(&mut self) {
        match self.state {
            RunState::Running => {
                if let Some(failed) = self.steps.iter().find(|s| s.state == StepState::Failed) {
                    let why = format!(
                        "{} failed: {}",
                        failed.name,
                        failed.why.as_deref().unwrap_or("no reason given")
                    );
                    self.why.get_or_insert(why);
                    let rolled = self
                        .steps
                        .iter()
                        .any(|s| s.is_service() && s.state == StepState::Succeeded);
                    self.state = if self.on_failure == OnFailure::RollbackCompleted && rolled {
                        RunState::RollingBack
                    } else {
                        RunState::Failed
                    };
                } else if self.current_index().is_none() {
                    self.state = RunState::Succeeded;
                }
            }
            // Every service that rolled goes back, even after one of them could not: the
            // run ends rolled back only if all did.
            RunState::RollingBack => {
                let left = self.steps.iter().any(|s| {
                    s.is_service()
                        && matches!(s.state, StepState::Succeeded | StepState::RollingBack)
                });
                if !left {
                    let failed = self
                        .steps
                        .iter()
                        .any(|s| s.state == StepState::RollbackFailed);
                    self.state = if failed {
                        RunState::Failed
                    } else {
                        RunState::RolledBack
                    };
                }
            }
            _ => {}
        }
    }
}

fn step_run(step: &Step) -> StepRun {
    let kind = match step {
        Step::Task {
            container,
            command,
            timeout,
            ..
        } => StepKind::Task {
            container: container.clone(),
            command: command.clone(),
            timeout_seconds: timeout.num_seconds(),
        },
        Step::Service { .. } => StepKind::Service,
    };
    StepRun {
        name: step.name().to_string(),
        target: step.target().to_string(),
        kind,
        state: StepState::Pending,
        started_at: None,
        deadline: None,
        task_arn: None,
        previous_task_definition: None,
        ended_at: None,
        why: None,
    }
}

/// `15m`, `1h30m`: how a timeout reads in a reason.
fn humanize(d: Duration) -> String {
    let (h, m, s) = (d.num_hours(), d.num_minutes() % 60, d.num_seconds() % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}
