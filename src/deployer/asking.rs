//! Asking for approval. A target has at most one open request: asking for a newer one
//! first closes the one before it (superseded, or expired if its time ran out), edits its
//! Slack message to say so, and records that in the audit trail — so nobody can approve a
//! stale image after a newer one was pushed.
//!
//! Order of steps, chosen so that a failure anywhere leaves a state a retry completes:
//! fix the request's expiry in the still-`planned` record → become the target's open
//! request → send SNS and Slack → record `awaiting-approval` with the Slack message.
//! A retry after a failed send sends again (at-least-once, like every AWS notification).

use chrono::{DateTime, Utc};
use tracing::warn;

use super::{log_decision, Deployer, StepError, TargetOutcome, HEAD_ATTEMPTS};
use crate::input::config::Target;
use crate::ledger::{Change, Updated, Versioned};
use crate::model::deployment::{Action, Actor, ApprovalRequest, Deployment, State};
use crate::model::target::AwaitingPointer;
use crate::notify;
use crate::ports::{Adapters, Notifier};

impl<A: Adapters> Deployer<A> {
    pub(super) async fn request_approval(
        &self,
        target: &Target,
        mut current: Versioned<Deployment>,
    ) -> Result<TargetOutcome, StepError> {
        let Some(links) = &self.links else {
            return Err(StepError::Rejected(format!(
                "target `{}` needs approval, but Slipway has no signing key for approval links: set SLIPWAY_SIGNING_KEY_SECRET",
                target.name
            )));
        };
        // Paused inside the rollout: ECS rolls back by itself at the pause's expiry, so
        // that is when the request expires.
        let paused = current
            .value
            .progress
            .as_ref()
            .and_then(|p| p.pause.clone());
        if current.value.approval.is_none() {
            let now = Utc::now();
            let mut next = current.value.clone();
            next.approval = Some(ApprovalRequest {
                // One more than the steps decided before (ask_each_step), else 0.
                step: current
                    .value
                    .progress
                    .as_ref()
                    .map_or(0, |p| p.earlier_approvals.len() as u32),
                requested_at: now,
                expires_at: paused
                    .as_ref()
                    .and_then(|p| p.expires_at)
                    .unwrap_or(now + target.approval.expires_after),
                decision: None,
                slack: None,
                notified_at: None,
                deliveries: Vec::new(),
            });
            current = self.ledger.save(&current, next).await?;
        }
        self.become_open_request(target, &current.value).await?;

        let request = current.value.approval.clone().expect("set above");
        let link = links.link(&current.value, request.expires_at);
        let (subject, body) = notify::approval_email(&current.value, &link, request.expires_at);
        let payload = target.approval.slack_channel.as_ref().map(|channel| {
            (
                channel.as_str(),
                notify::approval_slack(&current.value, &link, request.expires_at),
            )
        });
        let told = self
            .tell(
                &current.value.id,
                (&subject, &body),
                payload
                    .as_ref()
                    .map(|(channel, payload)| (*channel, payload)),
            )
            .await?;

        let mut next = current.value.clone();
        let note = match &paused {
            Some(pause) => format!(
                "ECS paused the rollout at {} (hook {}): asked the approvers; {}",
                pause.stage.ecs_name(),
                pause.hook_id,
                pause.stage.situation()
            ),
            None => "target policy is `approval`: asked the approvers; the service was not rolled"
                .to_string(),
        };
        next.advance(State::AwaitingApproval, note, Utc::now())?;
        next.approval = Some(ApprovalRequest {
            slack: told.slack,
            notified_at: Some(Utc::now()),
            deliveries: told.deliveries,
            ..request
        });
        next.lease = None;
        self.ledger.save(&current, next).await?;
        log_decision(
            "awaiting-approval",
            &format!(
                "asked the approvers (expires {}); {}",
                request.expires_at,
                if paused.is_some() {
                    "ECS holds the rollout at its pause"
                } else {
                    "the service was not rolled"
                }
            ),
        );
        Ok(TargetOutcome::AwaitingApproval {
            from_task_definition: current.value.from_task_definition.clone(),
            changes: current.value.changes.clone(),
        })
    }

    /// Makes `ours` the target's open request, closing the one it replaces.
    pub(super) async fn become_open_request(
        &self,
        target: &Target,
        ours: &Deployment,
    ) -> Result<(), StepError> {
        let mine = AwaitingPointer {
            deployment_id: ours.id.clone(),
            key: ours.key.clone(),
            updated_at: Utc::now(),
        };
        let pointer = self.ledger.awaiting(&target.name).await?;
        let decide = |pointer: Option<Versioned<AwaitingPointer>>| {
            let mine = mine.clone();
            async move {
                if let Some(open) = &pointer {
                    if open.value.deployment_id == ours.id {
                        return Ok(Change::Leave(()));
                    }
                    self.close_open_request(&target.name, &open.value.key, &ours.id)
                        .await?;
                }
                Ok::<_, StepError>(Change::Write(mine))
            }
        };
        let record = crate::ledger::Record::Awaiting {
            target: &target.name,
        };
        self.ledger
            .update(record, pointer, HEAD_ATTEMPTS, decide)
            .await?;
        Ok(())
    }

    /// Closes the request at `key` if it still waits: superseded by `newer`, or expired if
    /// its time ran out first. A decision taken meanwhile stands.
    async fn close_open_request(
        &self,
        target: &str,
        key: &str,
        newer: &str,
    ) -> Result<(), StepError> {
        let read = self.ledger.deployment(target, key).await?;
        let close = |open: Option<Versioned<Deployment>>| {
            let change = match open {
                Some(open) if open.value.state == State::AwaitingApproval => {
                    let now = Utc::now();
                    let (state, outcome) = match expired_at(&open.value, now) {
                        Some(at) => (
                            State::Expired,
                            format!(
                                "Expired: nobody decided before {}",
                                at.format("%Y-%m-%d %H:%M UTC")
                            ),
                        ),
                        None => (
                            State::Superseded,
                            format!(
                                "Superseded by {newer}: this request can no longer be approved"
                            ),
                        ),
                    };
                    let mut next = open.value;
                    match next.advance(state, outcome, now) {
                        Ok(()) => Ok(Change::Write(next)),
                        Err(err) => Err(StepError::from(err)),
                    }
                }
                _ => Ok(Change::Leave(())),
            };
            std::future::ready(change)
        };
        let record = crate::ledger::Record::Deployment { target, key };
        let Updated::Written(saved) = self
            .ledger
            .update(record, read, HEAD_ATTEMPTS, close)
            .await?
        else {
            return Ok(());
        };
        let action = match saved.value.state {
            State::Expired => Action::Expire,
            _ => Action::Supersede,
        };
        // The move just written is the record's last history entry.
        let (outcome, at) = saved
            .value
            .history
            .last()
            .map_or((String::new(), Utc::now()), |h| (h.note.clone(), h.at));
        let entry = saved.value.attempt(action, &Actor::slipway(), &outcome, at);
        self.ledger.append_audit(target, key, &entry).await?;
        self.edit_request_message(&saved.value, &outcome).await;
        log_decision(
            "closed-older-request",
            &format!("{}: {outcome}", saved.value.id),
        );
        Ok(())
    }

    /// Edits the Slack message that asked for `deployment`'s approval (if any) to say how
    /// the request ended. Best effort: the ledger is the record; a failed edit is logged.
    pub async fn edit_request_message(&self, deployment: &Deployment, outcome: &str) {
        let Some(message) = deployment.approval.as_ref().and_then(|a| a.slack.as_ref()) else {
            return;
        };
        let payload = notify::closed_slack(deployment, outcome);
        if let Err(err) = self.notifier.update_slack(message, &payload).await {
            warn!(
                deployment_id = deployment.id,
                "could not edit the Slack approval message: {err}"
            );
        }
    }
}

fn expired_at(deployment: &Deployment, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    deployment
        .approval
        .as_ref()
        .map(|request| request.expires_at)
        .filter(|at| now >= *at)
}
