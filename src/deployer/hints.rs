//! Promotion hints: when a deployment of a target others promote from succeeds, Slipway
//! says so on its promotion bus; the hint comes back to deployment-events, which makes
//! each stage downstream look again at once — the same look the reconciler takes on its
//! schedule (`windows::release_waiting`), deciding from the upstream's ledger record,
//! never from the hint. A hint lost costs at most the reconciler's period; a hint that
//! lies (its record says `failed`, or names a deployment that never was) promotes nothing,
//! because nothing in it is believed; a hint from another account is refused and logged,
//! unless it comes from an upstream Slipway's account about its target (`upstreams`): the
//! stages promoting from that one look again, reading that Slipway's ledger.

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use crate::input::hint::{parse_hint, HintEvent, UpstreamSucceeded};
use crate::ledger::Versioned;
use crate::model::deployment::{Deployment, State};
use crate::ports::Adapters;

use super::*;

/// One stage's look after a hint.
#[derive(Debug, Clone, Serialize)]
pub struct LookedAgain {
    pub target: String,
    /// What its newest waiting release did; `None`: nothing moved (none waits, or it still
    /// waits — for the soak, the alarms, or because upstream did not succeed after all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<TargetOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl<A: Adapters> Deployer<A> {
    /// Publishes the hint for `deployment`, which just succeeded, if any target promotes
    /// from its target. Best effort: the reconciler looks within its period anyway.
    pub(super) async fn hint_success(&self, deployment: &Deployment) {
        let Some(hints) = self.hints.as_deref() else {
            return;
        };
        if deployment.state != State::Succeeded
            || self.is_dry_run()
            || !self.config.is_promoted_from(&deployment.target)
        {
            return;
        }
        let hint = UpstreamSucceeded {
            target: deployment.target.clone(),
            deployment_id: deployment.id.clone(),
            image: deployment.image.clone(),
            succeeded_at: deployment.history.last().map_or_else(Utc::now, |h| h.at),
        };
        match hints.publish(&hint).await {
            Ok(()) => log_decision(
                "hint",
                &format!(
                    "{} succeeded: the stages promoting from {} were told to look again",
                    deployment.id, deployment.target
                ),
            ),
            Err(err) => log_warning(
                "hint-failed",
                &format!(
                    "{} succeeded, but the promotion hint was not published ({err}): the stages look again on the reconciler's schedule",
                    deployment.id
                ),
            ),
        }
    }

    /// A "Slipway Upstream Succeeded" event, for deployment-events.
    pub async fn handle_hint(
        &self,
        raw: &Value,
        invocation: &Invocation,
    ) -> Result<Report, DeployError> {
        let event = match self.triage(raw, parse_hint(raw)) {
            Ok(event) => event,
            Err(report) => return Ok(report),
        };
        let Some(upstream) = self.hint_upstream(&event) else {
            let home = &self.config.home;
            let reason = format!(
                "hint {} about {} comes from account {:?} region {:?}, neither Slipway's own ({} {}) nor an upstream's of this region (`upstreams`, for that target): forged or misrouted, refused; nothing was looked at",
                event.event_id, event.hint.deployment_id, event.account, event.region, home.account, home.region
            );
            log_warning("hint-refused", &reason);
            return Ok(self.report(raw, EventOutcome::Ignored { reason }));
        };
        let looked_again = self
            .look_again_downstream(&event, &upstream, invocation)
            .await;
        Ok(self.report(
            raw,
            EventOutcome::Hint {
                upstream,
                looked_again,
            },
        ))
    }

    /// The upstream a hint is about, as `promotion.from` names it: a target of this
    /// Slipway when the hint comes from its own account, one of `upstreams` when it comes
    /// from that upstream's account and names its target. EventBridge sets `account` to
    /// the publisher's (a bus-to-bus delivery keeps it), so it cannot be forged by the
    /// publisher; other regions are not read.
    fn hint_upstream(&self, event: &HintEvent) -> Option<String> {
        let home = &self.config.home;
        if event.region.as_deref() != Some(home.region.as_str()) {
            return None;
        }
        let account = event.account.as_deref()?;
        if account == home.account {
            return Some(event.hint.target.clone());
        }
        self.config
            .upstreams
            .iter()
            .find(|u| u.account == account && u.target == event.hint.target)
            .map(|u| u.name.clone())
    }

    async fn look_again_downstream(
        &self,
        event: &HintEvent,
        upstream: &str,
        invocation: &Invocation,
    ) -> Vec<LookedAgain> {
        // What the upstream's record says, for the log only: the look below reads it again
        // as evidence. A hint its record does not bear out is worth an audit line.
        if let Some(says) = self.hint_contradicted(upstream, &event.hint).await {
            log_warning(
                "hint-contradicted",
                &format!(
                    "hint {} claims {} succeeded, but {says}: each stage decides from the record",
                    event.event_id, event.hint.deployment_id
                ),
            );
        }
        let mut looked = Vec::new();
        for target in self.config.downstream_of(upstream) {
            let (outcome, problem) = match self.release_waiting(target, invocation).await {
                Ok(outcome) => (outcome, None),
                Err(err) => (None, Some(err.to_string())),
            };
            looked.push(LookedAgain {
                target: target.name.clone(),
                outcome,
                problem,
            });
        }
        looked
    }

    /// Why the upstream's record does not bear the hint out, if it does not.
    async fn hint_contradicted(&self, upstream: &str, hint: &UpstreamSucceeded) -> Option<String> {
        let key = hint
            .deployment_id
            .strip_prefix(&format!("{}.", hint.target))?;
        let (ledger, target) = self.upstream_ledger(upstream).ok()?;
        let record: Option<Versioned<Deployment>> = ledger.deployment(target, key).await.ok()?;
        match record {
            None => Some("the ledger has no such deployment".into()),
            Some(r) if r.value.state != State::Succeeded => {
                Some(format!("its ledger record says {}", r.value.state))
            }
            Some(r) if r.value.image != hint.image => Some(format!(
                "its ledger record rolled {}, not {}",
                r.value.image, hint.image
            )),
            Some(_) => None,
        }
    }
}
