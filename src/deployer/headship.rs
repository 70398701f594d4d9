//! A push's claim: in one conditional write of the target's document, the deployment is
//! created (only one delivery of a push can), becomes the target's head (unless a newer
//! image got there first), and — for an automatic target — marks UpdateService as
//! coming, so that ECS's events for an id nobody knows yet are retried meanwhile. An
//! older push still on its way to ECS is waited for, so the newer image reaches ECS last.
use chrono::Utc;

use crate::input::config::{Policy, Target};
use crate::ledger::{Change, Home, TargetRead, TargetRecord, TargetUpdate, Versioned};
use crate::model::deployment::{Deployment, State};
use crate::model::ordering::is_newer;
use crate::model::plan::describe_changes;
use crate::model::rollout::Starting;
use crate::model::target::Head;
use crate::ports::Adapters;

use super::*;

/// What the document says about a push's claim, when it does not take it.
enum Refusal {
    /// This push's deployment exists (a duplicate, or a retry while the lease is held).
    Exists(Deployment),
    /// It finished and lives in its own object.
    Finished,
    /// A newer image is the head; the deployment an earlier attempt left planned, if any.
    Newer {
        head: String,
        left: Option<Deployment>,
    },
    /// An older push has not reached ECS yet.
    HeldBack(String),
}

impl<A: Adapters> Deployer<A> {
    /// Claims `record` and the head `ours` in the target's document (as `read`, re-read on
    /// a conflict). Stops on a duplicate; a newer head supersedes the push.
    pub(super) async fn claim_as_head(
        &self,
        target: &Target,
        read: TargetRead,
        record: Deployment,
        ours: Head,
        invocation: &Invocation,
    ) -> Result<Step<Versioned<Deployment>>, StepError> {
        let give_up_at = invocation.deadline - chrono::Duration::seconds(5);
        let starts_at_once = target.policy == Policy::Auto;
        let own = match self.take_over_own(&read, &record, invocation).await? {
            Some(Step::Stop(duplicate)) => return Ok(Step::Stop(duplicate)),
            Some(Step::Go(taken)) => Some(taken),
            None => None,
        };
        let mut base = Some(read);
        loop {
            let claim = Claiming {
                record: &record,
                ours: &ours,
                invocation,
                starts_at_once,
                in_document: own.is_none(),
            };
            let updated = self
                .ledger
                .update_target(&target.name, base.take(), CLAIM_ATTEMPTS, |read| {
                    Ok::<_, StepError>(claim.decide(read))
                })
                .await?;
            let refusal = match updated {
                TargetUpdate::Written(written) => {
                    return Ok(Step::Go(match own {
                        Some(taken) => taken,
                        None => claimed(&record, *written),
                    }))
                }
                TargetUpdate::Left(refusal) => refusal,
            };
            match refusal {
                Refusal::Exists(existing) => return Ok(Step::Stop(duplicate(&existing))),
                Refusal::Finished => return self.finished_duplicate(&record).await,
                Refusal::Newer { head, .. } if own.is_some() => {
                    let taken = own.expect("checked");
                    return self.supersede(taken, head).await.map(Step::Stop);
                }
                Refusal::Newer { head, left } => {
                    return self
                        .supersede_push(record, left, head)
                        .await
                        .map(Step::Stop)
                }
                Refusal::HeldBack(older) => {
                    if Utc::now() > give_up_at {
                        return Err(StepError::Busy(format!(
                            "{older} is still on its way to ECS; retrying later"
                        )));
                    }
                    log_decision(
                        "waiting",
                        &format!("an older image ({older}) is being rolled: waiting for it to reach ECS first"),
                    );
                    tokio::time::sleep(HEAD_POLL).await;
                    base = Some(self.ledger.target(&target.name).await?);
                }
            }
        }
    }

    /// A deployment of the layout before the target's document stays in its own object:
    /// an attempt of the earlier version that died left it planned, and this one takes it
    /// over there (only one can: compare-and-set), or it is a duplicate.
    async fn take_over_own(
        &self,
        read: &TargetRead,
        record: &Deployment,
        invocation: &Invocation,
    ) -> Result<Option<Step<Versioned<Deployment>>>, StepError> {
        if !read.record.legacy || read.record.live.contains_key(&record.key) {
            return Ok(None);
        }
        let Some(existing) = self.ledger.deployment(&record.target, &record.key).await? else {
            return Ok(None);
        };
        if existing.home != Home::Object {
            return Ok(None);
        }
        self.take_over_or_stop(existing, invocation).await.map(Some)
    }

    /// The push's deployment finished earlier: the delivery is a duplicate of it.
    async fn finished_duplicate(
        &self,
        record: &Deployment,
    ) -> Result<Step<Versioned<Deployment>>, StepError> {
        match self.ledger.deployment(&record.target, &record.key).await? {
            Some(existing) => Ok(Step::Stop(duplicate(&existing.value))),
            // Not retried: only a hand-edited bucket gets here.
            None => Err(StepError::Ledger(crate::ledger::LedgerError::Corrupt {
                key: crate::ledger::deployment_path(&record.target, &record.key),
                problem: "the target's document names this deployment, but it has no record".into(),
            })),
        }
    }

    /// A newer image was accepted meanwhile: the push is recorded superseded (closing the
    /// deployment an earlier attempt of it left planned, if there is one), and not rolled.
    async fn supersede_push(
        &self,
        record: Deployment,
        left: Option<Deployment>,
        newer: String,
    ) -> Result<TargetOutcome, StepError> {
        let mut next = left.clone().unwrap_or(record);
        next.advance(
            State::Superseded,
            format!("superseded by {newer}"),
            Utc::now(),
        )?;
        next.lease = None;
        match left {
            Some(left) => {
                let read = self.ledger.target(&next.target).await?;
                self.ledger
                    .save(&Versioned::in_target(left, &read), next)
                    .await?;
            }
            None => {
                if let crate::ledger::Claim::Exists(existing) =
                    self.ledger.record_finished(next).await?
                {
                    return Ok(duplicate(&existing.value));
                }
            }
        }
        log_decision(
            "superseded",
            &format!("a newer version was accepted meanwhile ({newer}): not rolling"),
        );
        Ok(TargetOutcome::Superseded { by: newer })
    }

    /// Best effort: once this deployment has stopped short of rolling, newer ones need not
    /// wait for it. If this fails, the head's lease simply runs out. The starting marker
    /// is left to run out at the deadline: an error may have come after UpdateService was
    /// sent, and ECS's events for that rollout must still wait for its record.
    pub(super) async fn settle_head(&self, target: &Target, deployment_id: &str) {
        let _ = self
            .ledger
            .update_target(&target.name, None, 2, |read| {
                let mut next = read.record.clone();
                let settled = next
                    .head
                    .as_mut()
                    .is_some_and(|head| head.settle(deployment_id, Utc::now()));
                Ok::<_, crate::ledger::LedgerError>(if settled {
                    Change::Write(next)
                } else {
                    Change::Leave(())
                })
            })
            .await;
    }
}

/// How often a claim re-reads the target's document when other writes got in first
/// (every pipeline writes it: ECS's events, uploads, operators).
const CLAIM_ATTEMPTS: usize = HEAD_ATTEMPTS * 2;

/// One push's claim, decided on the target's document as read.
struct Claiming<'a> {
    record: &'a Deployment,
    ours: &'a Head,
    invocation: &'a Invocation,
    /// An automatic target: UpdateService follows at once, and the claim marks it coming.
    starts_at_once: bool,
    /// The deployment goes into the document (`false`: it stays in an object of the
    /// earlier layout, taken over there, and the claim takes only the head).
    in_document: bool,
}

impl Claiming<'_> {
    /// Write the claim, or why not.
    fn decide(&self, read: &TargetRead) -> Change<TargetRecord, Refusal> {
        let (document, record, ours) = (&read.record, self.record, self.ours);
        let mut deployment = record.clone();
        let mut left = None;
        if !self.in_document {
            // Taken over in its own object already.
        } else if let Some(existing) = document.live.get(&record.key) {
            if existing.state != State::Planned
                || existing.is_held_by_other(&self.invocation.request_id, Utc::now())
            {
                return Change::Leave(Refusal::Exists(existing.clone()));
            }
            // An earlier attempt left it planned and its lease ran out: this one takes over.
            deployment = existing.clone();
            deployment.take_over(&self.invocation.request_id, self.invocation.deadline);
            left = Some(existing.clone());
        } else if document.has_finished(&record.key)
            || document
                .head
                .as_ref()
                .is_some_and(|head| head.deployment_id == ours.deployment_id)
        {
            return Change::Leave(Refusal::Finished);
        }
        if let Some(head) = &document.head {
            if head.deployment_id != ours.deployment_id {
                if is_newer(head, ours) {
                    return Change::Leave(Refusal::Newer {
                        head: head.deployment_id.clone(),
                        left,
                    });
                }
                if head.holds_back_others(Utc::now()) {
                    return Change::Leave(Refusal::HeldBack(head.deployment_id.clone()));
                }
            }
        }
        Change::Write(self.claimed_document(document, deployment))
    }

    /// The document with this push as the head, its deployment in it (unless it stays in
    /// its own object), and UpdateService marked as coming (automatic targets).
    fn claimed_document(&self, document: &TargetRecord, deployment: Deployment) -> TargetRecord {
        let mut next = document.clone();
        if self.starts_at_once {
            let rollouts = next.rollouts.get_or_insert_with(Default::default);
            rollouts.starting = Some(Starting {
                deployment_id: deployment.id.clone(),
                key: deployment.key.clone(),
                until: self.invocation.deadline,
            });
            rollouts.updated_at = Some(Utc::now());
        }
        next.head = Some(self.ours.clone());
        if self.in_document {
            next.live.insert(deployment.key.clone(), deployment);
        }
        next
    }
}

/// The deployment as the claim wrote it, logged.
fn claimed(record: &Deployment, written: TargetRead) -> Versioned<Deployment> {
    let deployment = written.record.live[&record.key].clone();
    if deployment.takeovers > record.takeovers {
        log_decision(
            "resumed",
            "resuming a deployment an earlier attempt left planned",
        );
    } else {
        let planned = describe_changes(&record.changes).join("; ");
        log_decision("claimed", &format!("planned: {planned}"));
    }
    Versioned::in_target(deployment, &written)
}
