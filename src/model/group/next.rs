//! What a run needs done now. The pipeline does it, then records the observation it
//! made (`GroupRun::task_started`, …) in one conditional write; a crash between the two
//! leaves the same `Next`, and doing it again is harmless: RunTask takes the same
//! idempotency token (ECS answers with the task it already started), a registration is
//! found again by its tag, and a service step is a deployment of the target claimed once:
//! an attempt that takes over one left planned finds the service on the step's revision
//! already (an UpdateService whose record was lost) and records it instead of rolling
//! again (`deployer::group_steps`).
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html>

use chrono::{DateTime, Utc};

use super::ids::{client_token, started_by};
use super::run::{GroupRun, RunState, StepKind, StepState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Another run of the group holds its line: nothing to do until it ends.
    AwaitLine,
    /// Judge whether every gated target's image is available upstream (before the
    /// approval is asked: the approvers see the evidence).
    CheckPromotion,
    /// Judge whether every target's deployment window is open (before the first step).
    CheckWindows,
    /// Ask the approvers (the group's one approval): fix the request, tell them.
    AskApproval,
    /// A person decides first; the request expires at `until`.
    AwaitDecision { until: DateTime<Utc> },
    /// Nobody decided in time: the run ends, nothing started.
    ExpireApproval,
    /// Register `target`'s new revision (the image the release gives it).
    Register { target: String },
    /// RunTask of the step's target's new revision with the step's command.
    RunTask {
        step: usize,
        client_token: String,
        started_by: String,
    },
    /// UpdateService of the step's target to its new revision.
    RollService { step: usize },
    /// The task outlived its timeout: StopTask it, then record the step failed.
    TimeOut { step: usize, task_arn: String },
    /// UpdateService of the step's target back to what it ran before.
    RollBack { step: usize, to: String },
    /// An event is awaited (a task's exit, a rollout's end); a task's deadline is the
    /// latest moment to look again.
    Wait { until: Option<DateTime<Utc>> },
    /// The run ended.
    Done,
}

impl GroupRun {
    pub fn next(&self, now: DateTime<Utc>) -> Next {
        match self.state {
            RunState::Queued => Next::AwaitLine,
            RunState::AwaitingApproval | RunState::Running if self.promotion_pending() => {
                Next::CheckPromotion
            }
            RunState::Running if self.windows_pending() => Next::CheckWindows,
            RunState::AwaitingApproval => match &self.approval {
                _ if self.approval_expired(now) => Next::ExpireApproval,
                Some(request) if request.notified_at.is_some() => Next::AwaitDecision {
                    until: request.expires_at,
                },
                _ => Next::AskApproval,
            },
            RunState::Running => self.next_step(now),
            RunState::RollingBack => self.next_rollback(),
            _ => Next::Done,
        }
    }

    fn next_step(&self, now: DateTime<Utc>) -> Next {
        let Some(index) = self.current_index() else {
            return Next::Done;
        };
        let step = &self.steps[index];
        match (step.state, &step.kind) {
            (StepState::Pending, _) if !self.revisions.contains_key(&step.target) => {
                Next::Register {
                    target: step.target.clone(),
                }
            }
            (StepState::Pending, StepKind::Task { .. }) => Next::RunTask {
                step: index,
                client_token: client_token(&self.id, index),
                started_by: started_by(&self.id, index),
            },
            (StepState::Pending, StepKind::Service) => Next::RollService { step: index },
            (StepState::Started, StepKind::Task { .. }) => match (step.deadline, &step.task_arn) {
                (Some(deadline), Some(task_arn)) if now >= deadline => Next::TimeOut {
                    step: index,
                    task_arn: task_arn.clone(),
                },
                (deadline, _) => Next::Wait { until: deadline },
            },
            _ => Next::Wait { until: None },
        }
    }

    /// The last service that rolled goes back first; one at a time.
    fn next_rollback(&self) -> Next {
        if self.steps.iter().any(|s| s.state == StepState::RollingBack) {
            return Next::Wait { until: None };
        }
        let last = self
            .steps
            .iter()
            .enumerate()
            .rev()
            .find(|(_, s)| s.kind == StepKind::Service && s.state == StepState::Succeeded);
        match last {
            Some((index, step)) => match &step.previous_task_definition {
                Some(to) => Next::RollBack {
                    step: index,
                    to: to.clone(),
                },
                None => Next::Done,
            },
            None => Next::Done,
        }
    }
}
