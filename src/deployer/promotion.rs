//! Promotion in the pipelines (`model::promotion` holds the rules). A release of a target
//! with a `promotion` block goes on only once its digest is available upstream: the
//! gate reads each upstream's ledger record of the digest (the record is the evidence,
//! never an event that claims success) and the alarms' history over the soak.
//! - available: the evidence is kept on the deployment, and shown to approvers;
//! - not yet (rolling upstream, or soaking): it waits as `waiting-for-upstream`, and the
//!   reconciler looks again on each run (a soak's end is noticed within one run);
//! - never (failed, rolled back, replaced during the soak, an alarm, never deployed
//!   upstream): it ends `failed`, "not promoted", and nothing reaches ECS.

use chrono::{DateTime, Utc};

use super::{log_decision, log_warning, Deployer, Step, StepError, TargetOutcome};
use crate::input::config::{RemoteUpstream, Target};
use crate::ledger::{image_key, Ledger, Versioned};
use crate::model::deployment::{Deployment, PromotionCheck, State, Trigger};
use crate::model::plan::ImageChange;
use crate::model::promotion::{gated_digests, upstream_run, Promotion, Upstream, Verdict};
use crate::ports::{Adapters, Registry};

impl<A: Adapters> Deployer<A> {
    /// The gate in front of a claimed release: goes on with the evidence recorded, or
    /// stops (waiting, or refused). Rollbacks, releases that passed it already and those
    /// past the point where it applies (claimed before the target had the gate) pass.
    pub(super) async fn promotion_gate(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
    ) -> Result<Step<Versioned<Deployment>>, StepError> {
        let Some(promotion) = &target.promotion else {
            return Ok(Step::Go(current));
        };
        let gated = matches!(
            current.value.trigger,
            Trigger::EcrPush { .. } | Trigger::SourceUpload { .. }
        ) && matches!(
            current.value.state,
            State::Planned | State::WaitingForUpstream
        );
        if !gated
            || current
                .value
                .promotion
                .as_ref()
                .is_some_and(PromotionCheck::passed)
        {
            return Ok(Step::Go(current));
        }
        // Every image the release changes, derived as the dry run derives it: a release
        // that changes no image has nothing to prove upstream.
        let digests = gated_digests(&current.value.changes);
        if digests.is_empty() {
            return Ok(Step::Go(current));
        }
        let bypass = current
            .value
            .promotion
            .as_ref()
            .and_then(|c| c.soak_bypass.clone());
        // Boxed: the verdict reads every upstream (its ledger, its registry, the alarms),
        // and inline its frame joins the pipeline's own, which outgrew a debug build's 2 MiB
        // test-thread stack once remote upstreams joined it (`slipway bypass-soak` through
        // the approval function).
        let verdict = Box::pin(self.promotion_verdict(
            target,
            promotion,
            &digests,
            &current.value.trigger,
            bypass.as_ref().map(|b| b.by.as_str()),
        ))
        .await?;
        match verdict {
            Verdict::Available(evidence) => {
                let lines: Vec<String> = evidence.iter().map(|e| e.describe()).collect();
                let mut next = current.value.clone();
                next.promotion = Some(PromotionCheck {
                    checked_at: self.now(),
                    evidence,
                    waiting: None,
                    look_again_at: None,
                    soak_bypass: bypass,
                });
                let saved = self.ledger.save(&current, next).await?;
                log_decision(
                    "promoted",
                    &format!("available upstream: {}", lines.join("; ")),
                );
                Ok(Step::Go(saved))
            }
            Verdict::NotYet { why, at } => self
                .wait_for_upstream(target, current, why, at)
                .await
                .map(Step::Stop),
            Verdict::Refused(reason) => {
                self.refuse_promotion(current, reason).await.map(Step::Stop)
            }
        }
    }

    /// What upstream says now of a release that changes the images to `digests`: each
    /// must be available.
    pub(super) async fn promotion_verdict(
        &self,
        gated: &Target,
        promotion: &Promotion,
        digests: &[String],
        trigger: &Trigger,
        bypass_soak: Option<&str>,
    ) -> Result<Verdict, StepError> {
        let mut verdicts = Vec::with_capacity(digests.len());
        for digest in digests {
            let verdict =
                Box::pin(self.digest_verdict(gated, promotion, digest, trigger, bypass_soak))
                    .await?;
            verdicts.push((digest.clone(), verdict));
        }
        Ok(Verdict::every(verdicts))
    }

    /// What upstream says of `digest` now, from each upstream's ledger record and the
    /// alarms' history since the earliest soak began.
    async fn digest_verdict(
        &self,
        gated: &Target,
        promotion: &Promotion,
        digest: &str,
        trigger: &Trigger,
        bypass_soak: Option<&str>,
    ) -> Result<Verdict, StepError> {
        let now = self.now();
        let key = image_key(digest);
        let mut upstreams = Vec::with_capacity(promotion.from.len());
        for name in &promotion.from {
            upstreams.push(Box::pin(self.upstream(gated, name, digest, &key, trigger)).await?);
        }
        let since = upstreams
            .iter()
            .filter_map(|u| match u {
                Upstream::Run(run) => promotion.soak_interval(run, now).map(|(start, _)| start),
                Upstream::Never { .. } | Upstream::Expected { .. } => None,
            })
            .min();
        let alarms = match since {
            Some(since) if !promotion.alarms_ok.is_empty() => {
                self.alarm_timelines(&promotion.alarms_ok, since).await?
            }
            _ => vec![],
        };
        let verdicts = upstreams
            .iter()
            .map(|upstream| promotion.judge(upstream, &alarms, now, bypass_soak))
            .collect();
        Ok(promotion.combine(verdicts))
    }

    /// Where upstream `name` stands with `digest`: its ledger record (this Slipway's, or
    /// for one of `upstreams` the other Slipway's, read-only), or whether it is still on
    /// its way there.
    async fn upstream(
        &self,
        gated: &Target,
        name: &str,
        digest: &str,
        key: &str,
        trigger: &Trigger,
    ) -> Result<Upstream, StepError> {
        let remote = self.config.upstream(name);
        let (ledger, target) = self.upstream_ledger(name)?;
        let (deployment, rollouts) =
            futures::try_join!(ledger.deployment(target, key), ledger.rollouts(target))?;
        let Some(found) = deployment else {
            let expected = match (remote, self.config.target(name)) {
                (Some(remote), _) => self.replicated_for(remote, gated, digest).await?,
                (None, Some(upstream)) => self.on_its_way(upstream, digest, trigger).await?,
                (None, None) => false,
            };
            let target = name.to_string();
            return Ok(if expected {
                Upstream::Expected { target }
            } else {
                Upstream::Never { target }
            });
        };
        let mut run = upstream_run(&found.value, rollouts.as_ref().map(|r| &r.value));
        // The evidence names the upstream as this config does (`dev-web`, not dev's `web`).
        run.target = name.to_string();
        Ok(Upstream::Run(run))
    }

    /// The ledger that keeps upstream `name`'s records, and its name there: this
    /// Slipway's, or for one of `upstreams` the other Slipway's (read-only).
    pub(super) fn upstream_ledger<'a>(
        &'a self,
        name: &'a str,
    ) -> Result<(&'a Ledger<A::Store>, &'a str), StepError> {
        let Some(remote) = self.config.upstream(name) else {
            return Ok((&self.ledger, name));
        };
        let ledger = self.remote_ledgers.get(name).ok_or_else(|| {
            StepError::Rejected(format!(
                "upstream {name} (target {} of account {}) has no ledger to read: the function was started without bucket {}, a wiring bug, report it",
                remote.target, remote.account, remote.ledger_bucket
            ))
        })?;
        Ok((ledger, remote.target.as_str()))
    }

    async fn alarm_timelines(
        &self,
        names: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, Option<crate::model::promotion::AlarmTimeline>)>, StepError> {
        let Some(alarms) = &self.alarms else {
            return Err(StepError::Rejected(
                "`promotion.alarms_ok` needs CloudWatch's alarm history, and this function was started without it: a wiring bug, report it".into(),
            ));
        };
        let mut timelines = Vec::with_capacity(names.len());
        for name in names {
            timelines.push((name.clone(), alarms.timeline(name, since).await?));
        }
        Ok(timelines)
    }

    /// `current` waits for upstream; the release that waited before it is superseded. A
    /// look that finds the same reason writes nothing.
    async fn wait_for_upstream(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        why: String,
        at: Option<DateTime<Utc>>,
    ) -> Result<TargetOutcome, StepError> {
        let outcome = TargetOutcome::WaitingForUpstream {
            why: why.clone(),
            look_again_at: at,
        };
        let unchanged = current.value.state == State::WaitingForUpstream
            && current
                .value
                .promotion
                .as_ref()
                .is_some_and(|c| c.waiting.as_deref() == Some(&why) && c.look_again_at == at);
        if unchanged {
            return Ok(outcome);
        }
        let now = self.now();
        let mut next = current.value.clone();
        if current.value.state != State::WaitingForUpstream {
            next.advance(State::WaitingForUpstream, why.clone(), now)?;
        }
        next.promotion = Some(PromotionCheck {
            checked_at: now,
            evidence: vec![],
            waiting: Some(why.clone()),
            look_again_at: at,
            soak_bypass: current
                .value
                .promotion
                .as_ref()
                .and_then(|c| c.soak_bypass.clone()),
        });
        next.lease = None;
        let saved = self.ledger.save(&current, next).await?;
        if let Some(by) = self.become_waiting(target, &saved.value).await? {
            return Ok(TargetOutcome::Superseded { by });
        }
        log_decision("waiting-for-upstream", &why);
        if let Some(at) = at {
            // One wake-up per target and minute: whichever release waits then is judged.
            let subject = format!("upstream {}", target.name);
            let reason = format!("{} looks upstream again (a soak ends)", target.name);
            Box::pin(self.wake_at(&subject, at, &reason)).await;
        }
        Ok(outcome)
    }

    /// The digest will never be available: the release ends `failed`, saying why. Logged
    /// as a decision of its own, the audit trail of every refused promotion.
    async fn refuse_promotion(
        &self,
        current: Versioned<Deployment>,
        reason: String,
    ) -> Result<TargetOutcome, StepError> {
        let mut next = current.value.clone();
        let note = format!("not promoted: {reason}");
        next.advance(State::Failed, note.clone(), self.now())?;
        next.error = Some(note);
        next.lease = None;
        self.ledger.save(&current, next).await?;
        log_warning("not-promoted", &reason);
        Ok(TargetOutcome::NotPromoted { reason })
    }

    /// For a dry run: what the gate would do now with a release of `changes` made by
    /// `trigger` (the same digests and the same trigger as the real run would judge).
    pub(super) async fn promotion_warning(
        &self,
        target: &Target,
        changes: &[ImageChange],
        trigger: &Trigger,
    ) -> Result<Option<String>, StepError> {
        let Some(promotion) = &target.promotion else {
            return Ok(None);
        };
        let digests = gated_digests(changes);
        if digests.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            match Box::pin(self.promotion_verdict(target, promotion, &digests, trigger, None))
                .await?
            {
                Verdict::Available(evidence) => format!(
                    "promotion: available upstream — {}",
                    evidence
                        .iter()
                        .map(|e| e.describe())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Verdict::NotYet { why, .. } => format!("promotion: it would wait, {why}"),
                Verdict::Refused(reason) => format!("promotion: it would be refused, {reason}"),
            },
        ))
    }
}

/// How long after its push a digest may still be on its way to an upstream that takes it.
const UPSTREAM_GRACE: chrono::Duration = chrono::Duration::hours(1);

impl<A: Adapters> Deployer<A> {
    /// Whether `digest`, not recorded on `upstream` yet, is on its way there: the upstream
    /// takes the very push this release came from, or its repository holds the digest
    /// under a tag its rule accepts — two tags pushed at once are two events, in no
    /// order, and the upstream's may simply not have been handled yet. A digest no tag
    /// of which the upstream takes (an image built separately for prod) never will be.
    async fn on_its_way(
        &self,
        upstream: &Target,
        digest: &str,
        trigger: &Trigger,
    ) -> Result<bool, StepError> {
        if takes_same_push(upstream, trigger) {
            return self.lately_pushed(&upstream.repository, digest).await;
        }
        self.tagged_lately(&upstream.repository, digest, &upstream.tags)
            .await
    }

    /// Whether `digest`, not recorded on another Slipway's target yet, is on its way
    /// there: its build reached this registry by ECR replication (the same digest, with
    /// the tags it was pushed under there: Amazon ECR User Guide, "Private image
    /// replication in Amazon ECR") under a tag that target deploys, within the hour — the
    /// upstream's own deploy of it may not have ended yet. Read from `gated`'s repository
    /// here, so no grant on the other account's registry is needed.
    async fn replicated_for(
        &self,
        remote: &RemoteUpstream,
        gated: &Target,
        digest: &str,
    ) -> Result<bool, StepError> {
        self.tagged_lately(&gated.repository, digest, &remote.tags)
            .await
    }

    /// `repository` holds `digest` under a tag `takes` accepts, pushed within the hour.
    async fn tagged_lately(
        &self,
        repository: &crate::input::config::RepositoryRef,
        digest: &str,
        takes: &crate::input::config::TagRule,
    ) -> Result<bool, StepError> {
        let tagged = self
            .registry
            .image_tags(&repository.account, &repository.name, digest)
            .await?
            .is_some_and(|tags| tags.iter().any(|tag| takes.matches(tag)));
        if !tagged {
            return Ok(false);
        }
        self.lately_pushed(repository, digest).await
    }

    /// Not for ever: an upstream that was to deploy a digest has done so, or refused it,
    /// well within the hour (its event, retried, or the reconciler's look for a missed
    /// push every few minutes). After that, no record means it never ran there (it
    /// already ran the digest without Slipway, it is frozen, its event went to the dead
    /// letters).
    async fn lately_pushed(
        &self,
        repository: &crate::input::config::RepositoryRef,
        digest: &str,
    ) -> Result<bool, StepError> {
        let pushed_at = self
            .registry
            .image_pushed_at(&repository.account, &repository.name, digest)
            .await?;
        Ok(pushed_at.is_none_or(|at| self.now() - at < UPSTREAM_GRACE))
    }
}

/// Whether `upstream` wants the push that made `trigger` (same repository, tag rule).
fn takes_same_push(upstream: &Target, trigger: &Trigger) -> bool {
    match trigger {
        Trigger::EcrPush {
            repository, tag, ..
        } => upstream.repository.name == *repository && upstream.tags.matches(tag),
        _ => false,
    }
}
