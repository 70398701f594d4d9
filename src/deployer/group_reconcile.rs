//! The reconciler's look at release groups: the run holding each group's line is driven
//! on every schedule, so a run moves on without an event — a task's deadline passes, a
//! STOPPED event that never came is found with DescribeTasks while ECS still knows the
//! task (about an hour after it stopped), a run that ended without handing its line over
//! (a crash) hands it over. Only the holder can be under way, so this is one read per
//! group when nothing runs — and, for a group a push can release, the repository's images
//! (`group_missed_push`).

use crate::model::group::{GroupRun, RunState, Stale, StepKind, StepState};
use crate::ports::{Adapters, TaskStatus};

use super::groups::GroupRunReport;
use super::*;

impl<A: Adapters> Deployer<A> {
    /// Each group's line holder, driven; a problem with one group does not stop the others.
    pub(super) async fn reconcile_groups(
        &self,
        invocation: &Invocation,
    ) -> (Vec<GroupRunReport>, Vec<String>) {
        let (mut reports, mut problems) = (Vec::new(), Vec::new());
        for group in &self.config.groups {
            match Box::pin(self.release_missed_group_push(group, invocation)).await {
                Ok(Some(report)) => reports.push(report),
                Ok(None) => {}
                Err(err) => problems.push(format!(
                    "group {}: looking for a missed push: {err}",
                    group.name
                )),
            }
            match self.reconcile_group(&group.name, invocation).await {
                // The run the missed push started may hold the line: reported once.
                Ok(Some(report)) if !reports.iter().any(|r| r.run_id == report.run_id) => {
                    reports.push(report)
                }
                Ok(_) => {}
                Err(err) => problems.push(format!("group {}: {err}", group.name)),
            }
        }
        (reports, problems)
    }

    async fn reconcile_group(
        &self,
        group: &str,
        invocation: &Invocation,
    ) -> Result<Option<GroupRunReport>, StepError> {
        let Some(line) = self.ledger.group_line(group).await? else {
            return Ok(None);
        };
        let Some(holder) = line.value.holder else {
            return Ok(None);
        };
        if let Some(read) = self.ledger.group_run(group, &holder).await? {
            self.look_for_a_lost_task_event(read).await?;
        }
        Box::pin(self.drive_group_run(group, &holder, invocation))
            .await
            .map(Some)
    }

    /// A task step still waiting for its STOPPED event: ECS is asked whether the task
    /// stopped (the event may have been lost), and a stopped task's result is recorded as
    /// the event would have recorded it. A task ECS no longer knows is left to its
    /// deadline, which decides.
    async fn look_for_a_lost_task_event(
        &self,
        read: crate::ledger::Versioned<GroupRun>,
    ) -> Result<(), StepError> {
        let run = &read.value;
        if run.state != RunState::Running {
            return Ok(());
        }
        let waiting = run.steps.iter().find(|s| {
            matches!(s.kind, StepKind::Task { .. })
                && s.state == StepState::Started
                && s.task_arn.is_some()
        });
        let Some(step) = waiting else {
            return Ok(());
        };
        let target = self.target_named(&step.target)?;
        let task_arn = step.task_arn.clone().unwrap_or_default();
        let status = self
            .task_runner()?
            .describe_task(&target.cluster, &task_arn)
            .await?;
        if let TaskStatus::Stopped(stopped) = status {
            log_decision(
                "reconciled",
                &format!(
                    "task {task_arn} of run {} stopped and no event told of it: recording it",
                    run.id
                ),
            );
            let now = self.now();
            if let Err(Stale(why)) = self
                .move_run(read, |r| r.task_stopped(&stopped, now))
                .await?
            {
                log_decision("unchanged", &why);
            }
        }
        Ok(())
    }
}
