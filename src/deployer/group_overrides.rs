//! An approver's override of a release group run's closed windows (`slipway
//! override-window <run> --reason …`) and bypass of its promotion soak (`slipway
//! bypass-soak <run> --reason …`): what a single release's override and bypass are
//! (`window_override`, `soak_bypass`), for the run as a whole. Who may is the operator
//! endpoint's check (an approver of every target of the group that asks for approval);
//! what is taken is kept on the run's gates, where `slipway why <run>` and the approval
//! request show it. Either is taken only from a run its gate holds, and then the run is
//! driven at once: an override starts its first step, a bypass asks its approval — the
//! soak is the only thing bypassed, never a failure upstream nor the approval.

use chrono::{Duration, Utc};
use serde::Serialize;

use super::decisions::step_error;
use super::groups::GroupRunReport;
use super::{log_decision, DecisionError, Deployer, Invocation};
use crate::model::deployment::{Action, Actor, SoakBypass, WindowOverride};
use crate::model::group::{GroupRun, Stale};
use crate::ports::Adapters;

/// What an override or a bypass of a run did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum RunGateOutcome {
    /// Taken, and the run went past the gate: where it stands now (an override: its
    /// first step started; a bypass: its approval asked).
    Released { run: GroupRunReport },
    /// Taken, but the run did not go past the gate now: why (the reconciler's next run
    /// looks again; an override lasts an hour, a bypass as long as the run).
    NotReleased { why: String, run: GroupRunReport },
    /// Not taken: nothing changed.
    Refused { reason: String },
}

/// Which gate an approver lets the run through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunGateAction {
    OverrideWindow,
    BypassSoak,
}

impl RunGateAction {
    /// The audit trail's name for it.
    pub fn audited(self) -> Action {
        match self {
            RunGateAction::OverrideWindow => Action::OverrideWindow,
            RunGateAction::BypassSoak => Action::BypassSoak,
        }
    }

    fn word(self) -> &'static str {
        match self {
            RunGateAction::OverrideWindow => "window-overridden",
            RunGateAction::BypassSoak => "soak-bypassed",
        }
    }

    /// Whether `run` went past this gate.
    fn passed(self, run: &GroupRun) -> bool {
        match self {
            RunGateAction::OverrideWindow => run.gates.window_open_at.is_some(),
            RunGateAction::BypassSoak => run.gates.promoted_at.is_some(),
        }
    }
}

impl<A: Adapters> Deployer<A> {
    /// `actor` (the caller checked who may) lets run `id` through `action`'s gate, saying
    /// why; then drives the run.
    pub async fn open_run_gate(
        &self,
        id: &str,
        action: RunGateAction,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<RunGateOutcome, DecisionError> {
        let read = self.group_run_by_id(id).await?;
        let before_run = read.value.clone();
        let before = &before_run;
        let refuse = |why: String| async move {
            tracing::info!(run_id = id, actor = actor.id, decision = "refused", "{why}");
            let outcome = format!("refused: {why}");
            self.audit_run(before, action.audited(), actor, outcome)
                .await;
            Ok(RunGateOutcome::Refused { reason: why })
        };
        let Some(reason) = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
        else {
            return refuse(format!(
                "{} needs a reason (--reason): it is kept with the run",
                match action {
                    RunGateAction::OverrideWindow => "an override",
                    RunGateAction::BypassSoak => "a bypass",
                }
            ))
            .await;
        };
        let group = read.value.group.clone();
        let at = self.now();
        let (by, why) = (actor.id.clone(), reason.clone());
        let moved = self
            .move_run(read, |run| match action {
                RunGateAction::OverrideWindow => run.override_window(WindowOverride {
                    by: by.clone(),
                    reason: why.clone(),
                    at,
                }),
                RunGateAction::BypassSoak => run.bypass_soak(SoakBypass {
                    by: by.clone(),
                    reason: why.clone(),
                    at,
                }),
            })
            .await
            .map_err(|err| step_error(id, err))?;
        let saved = match moved {
            Ok(saved) => saved,
            Err(Stale(why)) => return refuse(why).await,
        };
        let taken = format!("taken: {reason}");
        self.audit_run(&saved.value, action.audited(), actor, taken)
            .await;
        log_decision(
            action.word(),
            &format!("run {id} by {} via {:?}: {reason}", actor.id, actor.channel),
        );
        let invocation = Invocation {
            request_id: format!("{}-{id}", action.word()),
            deadline: Utc::now() + Duration::seconds(25),
        };
        let run = Box::pin(self.drive_group_run(&group, id, &invocation))
            .await
            .map_err(|err| step_error(id, err))?;
        let after = self.group_run_by_id(id).await?.value;
        if action.passed(&after) {
            return Ok(RunGateOutcome::Released { run });
        }
        let why = after
            .gates
            .waiting
            .as_ref()
            .map(|w| w.why.clone())
            .or_else(|| run.why.clone())
            .unwrap_or_else(|| format!("it is {}", after.state));
        log_decision(action.word(), &format!("run {id} did not go on now: {why}"));
        Ok(RunGateOutcome::NotReleased { why, run })
    }
}
