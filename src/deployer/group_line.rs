//! The group's line in the pipeline: a run acts only while it holds it
//! ([`crate::model::group::line`] has the rules). A queued run asks the line on every pass
//! (the release again, the reconciler); a run that ends hands the line over and drives the
//! run that takes it, so a newer release starts the moment the one before it is done.
//!
//! Each change is one conditional write of `groups/<group>/line.json`, re-read and
//! re-decided on a lost write; the runs' own records follow the line (admitted, or
//! superseded), and a crash between the two is mended by whichever pass comes next.

use crate::ledger::{LedgerError, Versioned};
use crate::model::group::{Admission, GroupLine, GroupRun, RunState, Stale};
use crate::ports::Adapters;

use super::*;

/// How often a line's write re-reads and decides again after losing to another write.
const LINE_ATTEMPTS: usize = 16;

/// What the line says to a queued run.
pub(super) enum LineSays {
    /// Its record moved (admitted, or superseded): read it again and go on.
    Moved,
    /// Another run is under way: this one waits behind it.
    Waits { behind: String },
}

impl<A: Adapters> Deployer<A> {
    /// A queued run asks the group's line: it takes it (and starts), waits behind the run
    /// under way, or finds that a newer release took its place.
    pub(super) async fn ask_line(&self, run: &GroupRun) -> Result<LineSays, StepError> {
        let (group, id) = (run.group.as_str(), run.id.as_str());
        for _ in 0..LINE_ATTEMPTS {
            let read = self.ledger.group_line(group).await?;
            let mut line = read.as_ref().map(|r| r.value.clone()).unwrap_or_default();
            if line.passed_over(id) {
                let by = line.holder.clone().unwrap_or_default();
                self.supersede_run(group, id, &by).await?;
                return Ok(LineSays::Moved);
            }
            let holder = match line.holder.as_deref() {
                Some(holder) if holder != id => self
                    .ledger
                    .group_run(group, holder)
                    .await?
                    .map(|r| r.value.state),
                _ => None,
            };
            let before = line.clone();
            match line.admit(id, run.arrival(), holder) {
                Admission::Older { why } => {
                    let why = format!("superseded: {why}");
                    let read = self.ledger.group_run(group, id).await?;
                    if let Some(read) = read.filter(|r| !r.value.state.is_terminal()) {
                        match Box::pin(self.move_run(read, |r| r.outdated(why.clone()))).await? {
                            Ok(_) => log_decision("older", &format!("run {id}: {why}")),
                            Err(Stale(stale)) => log_decision("unchanged", &stale),
                        }
                    }
                    return Ok(LineSays::Moved);
                }
                // Its own record first: should its approval win the race, it is under way
                // and the next attempt waits behind it.
                Admission::SupersedeHolder { holder } => {
                    self.supersede_run(group, &holder, id).await?;
                }
                Admission::Waits { behind } => {
                    if line == before || self.write_line(group, read.as_ref(), line).await? {
                        log_decision(
                            "group-line",
                            &format!("run {id} waits behind run {behind} of group {group}"),
                        );
                        return Ok(LineSays::Waits { behind });
                    }
                }
                Admission::Handed { holder, superseded } => {
                    if self.write_line(group, read.as_ref(), line).await? {
                        log_decision(
                            "group-line",
                            &format!("run {holder} holds the line of group {group}"),
                        );
                        self.settle_line(group, &holder, &superseded).await?;
                        if holder == id {
                            let run = self.ledger.group_run(group, id).await?;
                            if let Some(read) = run.filter(|r| r.value.state == RunState::Queued) {
                                if let Err(Stale(why)) =
                                    self.move_run(read, GroupRun::admitted).await?
                                {
                                    log_decision("unchanged", &why);
                                }
                            }
                        }
                        // Not this run: it was passed over, and its pass hands on to the
                        // holder when it finds itself superseded.
                        return Ok(LineSays::Moved);
                    }
                }
            }
        }
        Err(LedgerError::Conflict {
            key: crate::ledger::group_line_path(group),
        }
        .into())
    }

    /// `ended` is over: the newest run waiting behind it takes the line and is driven; the
    /// older ones are superseded. Also mends what a crash left: a holder not admitted yet,
    /// runs the line passed over whose records do not say so.
    pub(super) async fn hand_over_line(
        &self,
        group: &str,
        ended: &str,
        invocation: &Invocation,
        actions: &mut Vec<String>,
    ) -> Result<(), StepError> {
        let mut line = GroupLine::default();
        for attempt in 0..=LINE_ATTEMPTS {
            if attempt == LINE_ATTEMPTS {
                return Err(LedgerError::Conflict {
                    key: crate::ledger::group_line_path(group),
                }
                .into());
            }
            let Some(read) = self.ledger.group_line(group).await? else {
                return Ok(());
            };
            line = read.value.clone();
            let Some((holder, _)) = line.hand_over(ended) else {
                break;
            };
            if self.write_line(group, Some(&read), line.clone()).await? {
                let next = holder.as_deref().unwrap_or("none waits");
                log_decision(
                    "group-line",
                    &format!("run {ended} of group {group} ended: next {next}"),
                );
                break;
            }
        }
        let passed = line.passed_over.clone();
        let Some(holder) = line.holder.clone() else {
            return self.settle_line(group, "", &passed).await;
        };
        self.settle_line(group, &holder, &passed).await?;
        let queued = self.ledger.group_run(group, &holder).await?;
        if queued.is_some_and(|r| r.value.state == RunState::Queued) {
            // Its own pass admits it (the line names it) and starts it. Boxed: a whole
            // pass of its own.
            actions.push(format!("started run {holder}"));
            Box::pin(self.drive_group_run(group, &holder, invocation)).await?;
        }
        Ok(())
    }

    /// The passed-over runs' records follow the line (superseded by `holder`), and then
    /// the line forgets them.
    async fn settle_line(
        &self,
        group: &str,
        holder: &str,
        superseded: &[String],
    ) -> Result<(), StepError> {
        if superseded.is_empty() {
            return Ok(());
        }
        for run in superseded {
            self.supersede_run(group, run, holder).await?;
        }
        // Best effort: a line that still remembers a superseded run only costs a read.
        if let Some(read) = self.ledger.group_line(group).await? {
            let mut line = read.value.clone();
            let mut forgot = false;
            for run in superseded {
                forgot |= line.forget_passed_over(run);
            }
            if forgot {
                self.write_line(group, Some(&read), line).await?;
            }
        }
        Ok(())
    }

    /// Moves `run` to superseded, by `by`; a run that started meanwhile stays as it is.
    async fn supersede_run(&self, group: &str, run: &str, by: &str) -> Result<(), StepError> {
        let Some(read) = self.ledger.group_run(group, run).await? else {
            return Ok(());
        };
        if read.value.state.is_terminal() {
            return Ok(());
        }
        match self.move_run(read, |r| r.superseded(by)).await? {
            Ok(saved) => {
                log_decision(
                    "superseded",
                    &format!("run {run} of group {group}: superseded by run {by}"),
                );
                // A run awaiting its approval asked in Slack: the request says it is over.
                self.edit_run_message(&saved.value).await;
            }
            Err(Stale(why)) => log_decision("unchanged", &why),
        }
        Ok(())
    }

    /// The line if it is still as read; `false` when another write came first.
    async fn write_line(
        &self,
        group: &str,
        read: Option<&Versioned<GroupLine>>,
        line: GroupLine,
    ) -> Result<bool, StepError> {
        match self.ledger.set_group_line(group, read, line).await {
            Ok(_) => Ok(true),
            Err(LedgerError::Conflict { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }
}
