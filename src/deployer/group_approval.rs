//! A release group's one approval: asked once the run holds the group's line, decided on
//! the approval page (or by `slipway approve` from an approver of every target that asks
//! for approval), expired when nobody decides in time. The request is fixed in the run's
//! record before anyone is told, so a retry tells again with the same expiry; the
//! decision is one conditional write, so two approvers clicking at once start one run.

use chrono::{Duration, Utc};
use serde::Serialize;

use super::decisions::step_error;
use super::groups::GroupRunReport;
use super::*;
use crate::input::config::{Policy, Target};
use crate::ledger::Versioned;
use crate::model::deployment::{Actor, Verdict};
use crate::model::group::{Group, GroupRun, Stale};
use crate::ports::{Adapters, Notifier};

/// How long a group's request stays open when none of its targets says (never: a group
/// asks only because one of its targets has policy `approval`, which has an expiry).
const DEFAULT_EXPIRY: Duration = Duration::hours(24);

/// What became of a decision on a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum GroupDecision {
    /// Taken: the run started (approved) or ended (rejected); where it stands now.
    Decided {
        verdict: Verdict,
        run: GroupRunReport,
    },
    /// Not taken: decided already, expired, superseded. Nothing changed.
    Refused { reason: String },
}

impl<A: Adapters> Deployer<A> {
    /// The targets of `group` whose policy is `approval`: whose approvers the run asks,
    /// and whose settings (expiry, Slack channel, IAM approvers) it follows.
    pub fn approval_targets(&self, group: &Group) -> Vec<&Target> {
        group
            .targets()
            .into_iter()
            .filter_map(|name| self.config.target(name))
            .filter(|target| target.policy == Policy::Approval)
            .collect()
    }

    /// Fixes the run's request (once) and tells its approvers by SNS and Slack.
    pub(super) async fn ask_run_approval(
        &self,
        read: Versioned<GroupRun>,
    ) -> Result<String, StepError> {
        let spec = self.group(&read.value.group)?;
        let Some(links) = &self.links else {
            return Err(StepError::Rejected(format!(
                "group {} needs approval, but Slipway has no signing key for approval links: set SLIPWAY_SIGNING_KEY_SECRET",
                spec.name
            )));
        };
        let approvers = self.approval_targets(spec);
        // The shortest expiry of the targets asking: none of them waits longer than it
        // would for a release of its own.
        let expires_after = approvers
            .iter()
            .map(|t| t.approval.expires_after)
            .min()
            .unwrap_or(DEFAULT_EXPIRY);
        let now = self.now();
        let read = match read.value.approval {
            Some(_) => read,
            None => match self
                .move_run(read, |run| run.ask(now, now + expires_after))
                .await?
            {
                Ok(written) => written,
                Err(Stale(why)) => {
                    log_decision("unchanged", &why);
                    return Ok(String::new());
                }
            },
        };
        let run = &read.value;
        let expires_at = run.approval.as_ref().map_or(now, |a| a.expires_at);
        let link = links.run_link(run, expires_at);
        let steps = crate::notify::group_step_lines(run, |target| {
            self.config.target(target).map_or(target.to_string(), |t| {
                format!("{}/{}", t.cluster, t.service)
            })
        });
        let (subject, body) = crate::notify::group_approval_email(run, &steps, &link);
        let slack = approvers
            .iter()
            .find_map(|t| t.approval.slack_channel.as_deref())
            .map(|channel| {
                (
                    channel,
                    crate::notify::group_approval_slack(run, &steps, &link),
                )
            });
        let told = self
            .tell(
                &run.id,
                (&subject, &body),
                slack.as_ref().map(|(channel, payload)| (*channel, payload)),
            )
            .await?;
        let at = Utc::now();
        let id = run.id.clone();
        if let Err(Stale(why)) = self
            .move_run(read, |run| {
                run.told(at, told.slack.clone(), told.deliveries.clone())
            })
            .await?
        {
            log_decision("unchanged", &why);
        }
        log_decision(
            "awaiting-approval",
            &format!("run {id}: asked the approvers (expires {expires_at}); no step started"),
        );
        Ok("asked the approvers".into())
    }

    /// Nobody decided in time: the run ends, and its Slack request says so.
    pub(super) async fn expire_run_approval(
        &self,
        read: Versioned<GroupRun>,
    ) -> Result<String, StepError> {
        let now = self.now();
        match self.move_run(read, |run| run.expire(now)).await? {
            Ok(saved) => {
                let why = saved.value.why.clone().unwrap_or_default();
                log_decision("expired", &format!("run {}: {why}", saved.value.id));
                self.edit_run_message(&saved.value).await;
                Ok("expired".into())
            }
            Err(Stale(why)) => {
                log_decision("unchanged", &why);
                Ok(String::new())
            }
        }
    }

    /// Keeps `actor`'s attempt at `action` on `run` in the run's audit trail (taken, or
    /// why not). Best effort: what was taken is in the run's record either way.
    pub async fn audit_run(
        &self,
        run: &GroupRun,
        action: crate::model::deployment::Action,
        actor: &Actor,
        outcome: String,
    ) {
        let entry = run.attempt(action, actor, outcome, Utc::now());
        if let Err(err) = self
            .ledger
            .append_group_audit(&run.group, &run.id, &entry)
            .await
        {
            tracing::warn!(
                run_id = run.id,
                "could not audit an attempt on the run: {err}"
            );
        }
    }

    /// The run behind an approval link or `slipway approve`: `<group>-<hash>`.
    pub async fn group_run_by_id(&self, id: &str) -> Result<Versioned<GroupRun>, DecisionError> {
        let unknown = || DecisionError::UnknownDeployment(id.to_string());
        let (group, _) = id.rsplit_once('-').ok_or_else(unknown)?;
        if self.group(group).is_err() {
            return Err(unknown());
        }
        self.ledger
            .group_run(group, id)
            .await
            .map_err(|err| step_error(id, err))?
            .ok_or_else(unknown)
    }

    /// Takes `actor`'s decision on run `id` (the caller authenticated it), once; an
    /// approval then drives the run (its first steps start now), a rejection hands the
    /// group's line over.
    pub async fn decide_group_run(
        &self,
        id: &str,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<GroupDecision, DecisionError> {
        let read = self.group_run_by_id(id).await?;
        let group = read.value.group.clone();
        let before = read.value.clone();
        let now = self.now();
        let moved = self
            .move_run(read, |run| run.decided(verdict, actor, reason.clone(), now))
            .await
            .map_err(|err| step_error(id, err))?;
        let saved = match moved {
            Ok(saved) => saved,
            Err(Stale(why)) => {
                tracing::info!(
                    run_id = id,
                    actor = actor.id,
                    decision = "refused",
                    "decision on run {id} refused: {why}"
                );
                let outcome = format!("refused: {why}");
                self.audit_run(&before, verdict.into(), actor, outcome)
                    .await;
                return Ok(GroupDecision::Refused { reason: why });
            }
        };
        let taken = match &reason {
            Some(reason) => format!("taken: {reason}"),
            None => "taken".to_string(),
        };
        self.audit_run(&saved.value, verdict.into(), actor, taken)
            .await;
        log_decision(
            crate::model::group::approval::verdict_word(verdict),
            &format!("run {id} by {} via {:?}", actor.id, actor.channel),
        );
        self.edit_run_message(&saved.value).await;
        let invocation = Invocation {
            request_id: format!("decision-{id}"),
            deadline: Utc::now() + Duration::seconds(25),
        };
        let run = Box::pin(self.drive_group_run(&group, id, &invocation))
            .await
            .map_err(|err| step_error(id, err))?;
        Ok(GroupDecision::Decided { verdict, run })
    }

    /// Edits the Slack message that asked for the run's approval to say how it ended.
    /// Best effort: the run's record is what counts.
    pub(super) async fn edit_run_message(&self, run: &GroupRun) {
        let Some(message) = run.approval.as_ref().and_then(|a| a.slack.as_ref()) else {
            return;
        };
        let payload = crate::notify::group_closed_slack(run);
        if let Err(err) = self.notifier.update_slack(message, &payload).await {
            log_warning(
                "notify-failed",
                &format!("could not edit run {}'s Slack request: {err}", run.id),
            );
        }
    }
}
