//! A release group's dry run (`SLIPWAY_DRY_RUN`, `slipway plan`): the run a release would
//! be, whether it would start or wait for the group's line, and the calls it would make
//! in order — read from the ledger, with nothing written and nothing asked of ECS.

use std::collections::BTreeMap;

use crate::model::group::{Admission, Arrival, Group, RunState, Step};
use crate::ports::Adapters;

use super::groups::GroupRunReport;
use super::*;

impl<A: Adapters> Deployer<A> {
    /// What `release` of `spec` (run `id`) would do.
    pub(super) async fn plan_group_run(
        &self,
        spec: &Group,
        id: &str,
        release: &BTreeMap<String, String>,
        arrival: Option<Arrival<'_>>,
    ) -> Result<GroupRunReport, StepError> {
        let report = |state, actions, why: String| GroupRunReport {
            group: spec.name.clone(),
            run_id: id.to_string(),
            state,
            actions,
            why: Some(format!("dry run, nothing written: {why}")),
        };
        if let Some(run) = self.ledger.group_run(&spec.name, id).await? {
            let state = run.value.state;
            return Ok(report(
                state,
                Vec::new(),
                format!("this release is run {id} already ({state})"),
            ));
        }
        let line = self.ledger.group_line(&spec.name).await?.map(|l| l.value);
        // An upload or push older than one the line took never runs (on a copy: the dry
        // run writes nothing).
        if let Admission::Older { why } = line.clone().unwrap_or_default().admit(id, arrival, None)
        {
            return Ok(report(
                RunState::Superseded,
                Vec::new(),
                format!("run {id} would be superseded at once, nothing started: {why}"),
            ));
        }
        let holder = line.and_then(|line| line.holder);
        let start = match holder {
            None => "it would start at once".to_string(),
            Some(holder) => match self.ledger.group_run(&spec.name, &holder).await? {
                Some(run) if run.value.state == RunState::AwaitingApproval => {
                    format!("it would supersede run {holder}, which awaits its approval, and start")
                }
                Some(run) if run.value.state.is_terminal() => {
                    format!(
                        "run {holder} has ended ({}): it would start",
                        run.value.state
                    )
                }
                Some(run) => format!(
                    "it would wait behind run {holder} ({}), which holds the group's line",
                    run.value.state
                ),
                None => format!("run {holder} holds the group's line: it would wait behind it"),
            },
        };
        let gates = self.planned_gates(spec, id, release).await?;
        Ok(report(
            RunState::Queued,
            planned_calls(spec, release),
            format!(
                "run {id} of group {} would be created; {start}{gates}",
                spec.name
            ),
        ))
    }

    /// What the run's gates would say now: promotion (before the approval), windows.
    async fn planned_gates(
        &self,
        spec: &Group,
        id: &str,
        release: &BTreeMap<String, String>,
    ) -> Result<String, StepError> {
        use super::group_gates::{RunPromotion, RunWindows};
        let mut said = String::new();
        let gated = |has: fn(&crate::input::config::Target) -> bool| {
            spec.targets()
                .iter()
                .any(|t| self.config.target(t).is_some_and(has))
        };
        if gated(|t| t.promotion.is_some()) {
            said.push_str(&match self.run_promotion(spec, id, release, None).await? {
                RunPromotion::Available(evidence) => format!(
                    "; promotion: available upstream — {}",
                    evidence
                        .iter()
                        .map(|e| e.describe())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                RunPromotion::NotYet { why, .. } => format!("; promotion: it would wait, {why}"),
                RunPromotion::Refused(reason) => {
                    format!("; promotion: it would end not promoted, nothing started: {reason}")
                }
            });
        }
        if gated(|t| t.windows.is_some()) {
            said.push_str(&match self.run_windows(spec)? {
                RunWindows::Open => "; the deployment windows are open".to_string(),
                RunWindows::Closed { because, opens_at } => format!(
                    "; {because}: it would not start before {}",
                    opens_at
                        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "the windows are open together".into())
                ),
            });
        }
        Ok(said)
    }
}

/// The calls a run makes when every step succeeds, in order.
fn planned_calls(spec: &Group, release: &BTreeMap<String, String>) -> Vec<String> {
    let registrations = release
        .iter()
        .map(|(target, image)| format!("RegisterTaskDefinition {target} with {image}"));
    let steps = spec.steps.iter().map(|step| match step {
        Step::Task {
            name,
            target,
            container,
            command,
            timeout,
        } => format!(
            "RunTask {name}: {target}'s new revision, {container} running {command:?}, to exit 0 within {}m",
            timeout.num_minutes()
        ),
        Step::Service { target } => format!("UpdateService {target} to its new revision"),
    });
    registrations.chain(steps).collect()
}
