//! Release groups: a run is created once per release and then driven — each pass reads
//! the run, does what [`GroupRun::next`] asks (register, RunTask, UpdateService through a
//! deployment of the target, StopTask at a deadline), and records what it saw in one
//! conditional write. Whatever delivers a pass (the release's event again, a task's
//! STOPPED event, ECS's deployment events, the reconciler) finds the run where the last
//! one left it; a pass that loses a write re-reads and goes on, and every action is safe
//! to repeat (`model::group::next` says why).

use std::collections::BTreeMap;

use crate::input::task_event::TaskStoppedEvent;
use crate::ledger::{LedgerError, Versioned};
use crate::model::group::{run_id, Group, GroupRun, Next, PushedRelease, RunState, Stale};
use crate::ports::{Adapters, AwsError, AwsErrorKind, OneOffTask, TaskRunner, TaskStatus};

use super::group_gates::GateSays;
use super::group_line::LineSays;
use super::*;

/// How many actions one pass takes at most: every step's, its registration and its
/// rollback, with room for lost writes. A pass that runs out leaves the rest to the next.
const PASS_ACTIONS: usize = 64;

/// What a pass over a run did, and where the run stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupRunReport {
    pub group: String,
    pub run_id: String,
    pub state: RunState,
    /// The calls this pass made, in order ("RunTask migrate", "UpdateService worker", …).
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl<A: Adapters> Deployer<A> {
    /// A release of `group` (`release`: the digest-pinned image of each of its targets):
    /// its run is created once — the same release again is the same run — and driven.
    pub async fn start_group_run(
        &self,
        group: &str,
        release: BTreeMap<String, String>,
        invocation: &Invocation,
    ) -> Result<GroupRunReport, StepError> {
        Box::pin(self.start_group_run_from(group, release, None, invocation)).await
    }

    /// [`Self::start_group_run`] for a release an upload named (`source`: its object and
    /// sequencer, which orders it against other uploads of the same key).
    pub async fn start_group_run_from(
        &self,
        group: &str,
        release: BTreeMap<String, String>,
        source: Option<crate::model::group::ReleaseSource>,
        invocation: &Invocation,
    ) -> Result<GroupRunReport, StepError> {
        Box::pin(self.start_run(group, release, source, None, invocation)).await
    }

    /// [`Self::start_group_run`] for a release a push named (`pushed`: its tag, version and
    /// push time, which order it against other pushes of the group).
    pub async fn start_group_run_pushed(
        &self,
        group: &str,
        release: BTreeMap<String, String>,
        pushed: PushedRelease,
        invocation: &Invocation,
    ) -> Result<GroupRunReport, StepError> {
        Box::pin(self.start_run(group, release, None, Some(pushed), invocation)).await
    }

    async fn start_run(
        &self,
        group: &str,
        release: BTreeMap<String, String>,
        source: Option<crate::model::group::ReleaseSource>,
        pushed: Option<PushedRelease>,
        invocation: &Invocation,
    ) -> Result<GroupRunReport, StepError> {
        let spec = self.group(group)?;
        for target in spec.targets() {
            if !release.contains_key(target) {
                return Err(StepError::Rejected(format!(
                    "the release of group {group} names no image for {target}: name one per target"
                )));
            }
        }
        let id = run_id(group, &release);
        let needs_approval = spec.targets().iter().any(|t| {
            self.config
                .targets
                .iter()
                .any(|c| c.name == *t && c.policy == crate::input::config::Policy::Approval)
        });
        // Queued: it acts once it holds the group's line (one run of a group at a time).
        let mut run = GroupRun::begin(&id, spec, release, needs_approval);
        run.source = source;
        run.pushed = pushed;
        run.began_at = Some(self.now());
        if self.is_dry_run() {
            return self
                .plan_group_run(spec, &id, &run.release, run.arrival())
                .await;
        }
        // What the targets' configs promise, kept with the run: a config changed mid-run
        // does not change what this run waits for.
        let gated = |has: fn(&crate::input::config::Target) -> bool| {
            spec.targets()
                .iter()
                .any(|t| self.config.target(t).is_some_and(has))
        };
        run.gates.promotion = gated(|t| t.promotion.is_some());
        run.gates.windows = gated(|t| t.windows.is_some());
        match self.ledger.set_group_run(None, run).await {
            Ok(_) => log_decision("group-run", &format!("run {id} of group {group} created")),
            // The release again: the run exists; drive it where it stands.
            Err(LedgerError::Conflict { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        Box::pin(self.drive_group_run(group, &id, invocation)).await
    }

    /// An "ECS Task State Change" event, for the deployment-events function: a STOPPED
    /// task a run started moves the run on; anything else is acknowledged and ignored.
    pub async fn handle_task_event(
        &self,
        raw: &serde_json::Value,
        invocation: &Invocation,
    ) -> Result<Report, DeployError> {
        let event = match self.triage(raw, crate::input::task_event::parse_task_event(raw)) {
            Ok(event) => event,
            Err(report) => return Ok(report),
        };
        let outcome = match self.handle_task_stopped(&event, invocation).await {
            Ok(Some(run)) => EventOutcome::GroupRun { run: Box::new(run) },
            Ok(None) => EventOutcome::Ignored {
                reason: format!(
                    "task {} belongs to no run of this Slipway",
                    event.task.task_arn
                ),
            },
            Err(err) if err.is_transient() => {
                log_warning("retry", &format!("the event will be retried: {err}"));
                return Err(DeployError {
                    event_id: event.event_id.clone(),
                    failed: 1,
                    first: err.to_string(),
                });
            }
            Err(err) => {
                log_warning("failed", &format!("not retrying: {err}"));
                EventOutcome::Refused {
                    error: err.to_string(),
                }
            }
        };
        Ok(self.report(raw, outcome))
    }

    /// "ECS Task State Change" for a task a run started: recorded on its step (found by
    /// the task's ARN or its startedBy), then the run goes on.
    pub async fn handle_task_stopped(
        &self,
        event: &TaskStoppedEvent,
        invocation: &Invocation,
    ) -> Result<Option<GroupRunReport>, StepError> {
        let home = &self.config.home;
        if event.account.as_deref() != Some(home.account.as_str())
            || event.region.as_deref() != Some(home.region.as_str())
        {
            log_warning(
                "foreign-task-event",
                &format!(
                    "event {} about task {} comes from account {:?} region {:?}, not this one: ignored",
                    event.event_id, event.task.task_arn, event.account, event.region
                ),
            );
            return Ok(None);
        }
        let Some((group, id)) = event.task.started_by.as_deref().and_then(run_of) else {
            return Ok(None);
        };
        let Some(read) = self.ledger.group_run(&group, &id).await? else {
            log_warning(
                "unknown-run",
                &format!(
                    "task {} names run {id}, which the ledger does not hold: ignored",
                    event.task.task_arn
                ),
            );
            return Ok(None);
        };
        // The task ran in the cluster of one of the group's targets, or it is not ours.
        let cluster = event.cluster_arn.rsplit_once(":cluster/").map(|(_, c)| c);
        let in_group_cluster = self.group(&group).is_ok_and(|spec| {
            spec.steps
                .iter()
                .filter_map(|step| self.target_named(step.target()).ok())
                .any(|target| Some(target.cluster.as_str()) == cluster)
        });
        if !in_group_cluster {
            log_warning(
                "foreign-task-event",
                &format!(
                    "task {} ran in {}, no cluster of group {group}: ignored",
                    event.task.task_arn, event.cluster_arn
                ),
            );
            return Ok(None);
        }
        let now = self.now();
        let recorded = self
            .move_run(read, |run| run.task_stopped(&event.task, now))
            .await?;
        if let Err(Stale(why)) = recorded {
            log_decision(
                "unchanged",
                &format!("task event {}: {why}", event.event_id),
            );
        }
        Box::pin(self.drive_group_run(&group, &id, invocation))
            .await
            .map(Some)
    }

    /// One pass over the run: act on what it needs, until it waits or ends.
    pub async fn drive_group_run(
        &self,
        group: &str,
        id: &str,
        invocation: &Invocation,
    ) -> Result<GroupRunReport, StepError> {
        let mut actions = Vec::new();
        for _ in 0..PASS_ACTIONS {
            let read = self.ledger.group_run(group, id).await?.ok_or_else(|| {
                StepError::Rejected(format!("run {id} of group {group} is not in the ledger"))
            })?;
            if self.is_dry_run() {
                let mut seen = report(group, id, Some(read), actions);
                seen.why = Some("dry run: the run is where its record says; nothing done".into());
                return Ok(seen);
            }
            if read.value.state == RunState::Queued {
                match Box::pin(self.ask_line(&read.value)).await? {
                    LineSays::Moved => continue,
                    LineSays::Waits { behind } => {
                        let mut waits = report(group, id, Some(read), actions);
                        waits.why = Some(format!(
                            "waits for run {behind} of the group to end (one run at a time)"
                        ));
                        return Ok(waits);
                    }
                }
            }
            let read = self.observe_service_step(read).await?;
            let next = read.value.next(self.now());
            // The group's one approval: asked, or expired, before any step.
            let approval = match next {
                Next::AskApproval => Some(Box::pin(self.ask_run_approval(read.clone())).await?),
                Next::ExpireApproval => {
                    Some(Box::pin(self.expire_run_approval(read.clone())).await?)
                }
                _ => None,
            };
            if let Some(done) = approval {
                actions.push(done);
                continue;
            }
            // Promotion, then windows: judged before anything starts.
            let gate = match next {
                Next::CheckPromotion => {
                    Some(Box::pin(self.check_run_promotion(read.clone())).await?)
                }
                Next::CheckWindows => Some(Box::pin(self.check_run_windows(read.clone())).await?),
                _ => None,
            };
            match gate {
                Some(GateSays::Passed(done)) => {
                    actions.push(done);
                    continue;
                }
                Some(GateSays::Held(why)) => {
                    actions.push(why.clone());
                    let mut held =
                        report(group, id, self.ledger.group_run(group, id).await?, actions);
                    held.why = Some(why);
                    return Ok(held);
                }
                None => {}
            }
            let index = match &next {
                Next::Done => {
                    let ended = report(group, id, Some(read), Vec::new());
                    Box::pin(self.hand_over_line(group, id, invocation, &mut actions)).await?;
                    return Ok(GroupRunReport { actions, ..ended });
                }
                Next::AwaitLine | Next::AwaitDecision { .. } | Next::Wait { .. } => {
                    return Ok(report(group, id, Some(read), actions))
                }
                Next::AskApproval
                | Next::ExpireApproval
                | Next::CheckPromotion
                | Next::CheckWindows => continue,
                Next::Register { .. } => read.value.current_index().unwrap_or_default(),
                Next::RunTask { step, .. }
                | Next::TimeOut { step, .. }
                | Next::RollService { step }
                | Next::RollBack { step, .. } => *step,
            };
            // Boxed: a step's action holds the whole roll (claim, register, UpdateService).
            let done = match Box::pin(self.act(read.clone(), &next, invocation)).await {
                Ok(done) => done,
                Err(err) if err.is_transient() => return Err(err),
                // A call that cannot succeed fails its step (and the run stops or rolls
                // back), rather than failing every delivery from now on.
                Err(err) => {
                    let why = err.to_string();
                    log_warning("group-step", &format!("run {id}, step {index}: {why}"));
                    let now = self.now();
                    if let Err(Stale(stale)) = self
                        .move_run(read, |run| run.step_failed(index, &why, now))
                        .await?
                    {
                        log_decision("unchanged", &stale);
                    }
                    format!("failed: {why}")
                }
            };
            actions.push(done);
        }
        Ok(report(
            group,
            id,
            self.ledger.group_run(group, id).await?,
            actions,
        ))
    }

    /// Does what `next` asks; what it did, in a few words.
    async fn act(
        &self,
        read: Versioned<GroupRun>,
        next: &Next,
        invocation: &Invocation,
    ) -> Result<String, StepError> {
        // Each action boxed: inline, every action's future would share this one's frame,
        // and a pass (a roll inside a run inside an event) outgrows a 2 MiB stack in a
        // debug build — the test threads' and Lambda's tokio workers' size.
        match next {
            Next::Register { target } => Box::pin(self.register_for_run(read, target)).await,
            Next::RunTask {
                step,
                client_token,
                started_by,
            } => Box::pin(self.run_task_step(read, *step, client_token, started_by)).await,
            Next::TimeOut { step, task_arn } => {
                Box::pin(self.time_out_step(read, *step, task_arn)).await
            }
            Next::RollService { step } => {
                Box::pin(self.roll_service_step(read, *step, None, invocation)).await
            }
            Next::RollBack { step, to } => {
                Box::pin(self.roll_service_step(read, *step, Some(to.clone()), invocation)).await
            }
            Next::AwaitLine
            | Next::CheckPromotion
            | Next::CheckWindows
            | Next::AskApproval
            | Next::AwaitDecision { .. }
            | Next::ExpireApproval
            | Next::Wait { .. }
            | Next::Done => Ok(String::new()),
        }
    }

    pub(super) fn group(&self, name: &str) -> Result<&Group, StepError> {
        self.config
            .groups
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| StepError::Rejected(format!("no group named {name} in the config")))
    }

    pub(super) fn task_runner(&self) -> Result<&dyn TaskRunner, StepError> {
        self.tasks.as_deref().ok_or_else(|| {
            StepError::Aws(AwsError {
                operation: "RunTask",
                message: "this function was started without ECS's task calls, and the config has release groups: a wiring bug, report it".into(),
                kind: AwsErrorKind::Permanent,
            })
        })
    }

    /// Applies `change` to the run as read and writes it; on a lost write, re-reads and
    /// applies it again. `Err(Stale)`: the run as it stands has moved past the change.
    pub(super) async fn move_run(
        &self,
        mut read: Versioned<GroupRun>,
        change: impl Fn(&mut GroupRun) -> Result<(), Stale>,
    ) -> Result<Result<Versioned<GroupRun>, Stale>, StepError> {
        for _ in 0..PASS_ACTIONS {
            let mut next = read.value.clone();
            if let Err(stale) = change(&mut next) {
                return Ok(Err(stale));
            }
            match self.ledger.set_group_run(Some(&read), next).await {
                Ok(written) => return Ok(Ok(written)),
                Err(LedgerError::Conflict { .. }) => {
                    let (group, id) = (read.value.group.clone(), read.value.id.clone());
                    read = self.ledger.group_run(&group, &id).await?.ok_or_else(|| {
                        StepError::Rejected(format!("run {id} vanished from the ledger"))
                    })?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(LedgerError::Conflict {
            key: crate::ledger::group_run_path(&read.value.group, &read.value.id),
        }
        .into())
    }

    /// RunTask for the step (the same token on every attempt: one task), then its record.
    async fn run_task_step(
        &self,
        read: Versioned<GroupRun>,
        index: usize,
        client_token: &str,
        started_by: &str,
    ) -> Result<String, StepError> {
        let step = &read.value.steps[index];
        let target = self.target_named(&step.target)?;
        let crate::model::group::StepKind::Task {
            container,
            command,
            timeout_seconds,
        } = &step.kind
        else {
            return Err(StepError::Rejected(format!(
                "step {} is not a task",
                step.name
            )));
        };
        let task = OneOffTask {
            cluster: target.cluster.clone(),
            like_service: target.service.clone(),
            task_definition: read.value.revisions[&step.target].clone(),
            container: container.clone(),
            command: command.clone(),
            client_token: client_token.to_string(),
            started_by: started_by.to_string(),
        };
        let arn = self.task_runner()?.run_task(&task).await?;
        let name = step.name.clone();
        log_decision("run-task", &format!("step {name}: task {arn} started"));
        let now = self.now();
        let run = read.value.id.clone();
        let timeout = chrono::Duration::seconds(*timeout_seconds);
        match self
            .move_run(read, |run| run.task_started(index, &arn, now))
            .await?
        {
            Err(Stale(why)) => log_decision("unchanged", &format!("step {name}: {why}")),
            // Its deadline is kept even if no event comes (`time_out_step`).
            Ok(_) => {
                let reason = format!("step {name} of run {run} reaches its deadline");
                // Boxed, as every nested step of a pass: a pass runs deep on a 2 MiB stack.
                Box::pin(self.wake_at(&format!("task {run} {name}"), now + timeout, &reason)).await
            }
        }
        Ok(format!("RunTask {name}"))
    }

    /// The deadline passed: StopTask first (stopping a stopped task changes nothing), then
    /// the step's failure — so a crash between the two leaves a task that is stopped.
    async fn time_out_step(
        &self,
        read: Versioned<GroupRun>,
        index: usize,
        task_arn: &str,
    ) -> Result<String, StepError> {
        let step = &read.value.steps[index];
        let target = self.target_named(&step.target)?;
        let name = step.name.clone();
        let reason = format!(
            "slipway: {name} of run {} outlived its timeout",
            read.value.id
        );
        let runner = self.task_runner()?;
        let now = self.now();
        // The task may have ended and its event been lost: ECS still says how (for about
        // an hour after it stopped), and that is the step's result, not a timeout.
        let (moved, did) = match runner.describe_task(&target.cluster, task_arn).await? {
            TaskStatus::Stopped(stopped) => (
                self.move_run(read, |run| run.task_stopped(&stopped, now))
                    .await?,
                "DescribeTasks",
            ),
            TaskStatus::Forgotten => {
                let why = "ECS no longer knows the task (its STOPPED event was lost more than an hour ago): its result is unknown";
                (
                    self.move_run(read, |run| run.step_failed(index, why, now))
                        .await?,
                    "DescribeTasks",
                )
            }
            TaskStatus::Running => {
                runner.stop_task(&target.cluster, task_arn, &reason).await?;
                (
                    self.move_run(read, |run| run.timed_out(index, now)).await?,
                    "StopTask",
                )
            }
        };
        if let Err(Stale(why)) = moved {
            log_decision("unchanged", &format!("step {name}: {why}"));
        }
        Ok(format!("{did} {name}"))
    }

    pub(super) fn target_named(
        &self,
        name: &str,
    ) -> Result<&crate::input::config::Target, StepError> {
        self.config
            .targets
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| StepError::Rejected(format!("target {name} is no longer in the config")))
    }
}

/// The run a task's `startedBy` names: `slipway/<run id>/<step>`, the run id being
/// `<group>-<hash>`.
fn run_of(started_by: &str) -> Option<(String, String)> {
    let rest = started_by.strip_prefix(crate::input::task_event::STARTED_BY_SLIPWAY)?;
    let (id, _step) = rest.rsplit_once('/')?;
    let (group, _hash) = id.rsplit_once('-')?;
    Some((group.to_string(), id.to_string()))
}

fn report(
    group: &str,
    id: &str,
    read: Option<Versioned<GroupRun>>,
    actions: Vec<String>,
) -> GroupRunReport {
    let (state, why) = read.map(|r| (r.value.state, r.value.why)).unwrap_or((
        RunState::Failed,
        Some("the run is not in the ledger".into()),
    ));
    GroupRunReport {
        group: group.to_string(),
        run_id: id.to_string(),
        state,
        actions,
        why,
    }
}
