//! The image-push pipeline: "ECR Image Action" → matched targets → plan → the freeze and
//! ordering checks → the shared roll steps (`roll`). Each matched target is deployed
//! concurrently and independently; reads come first and write nothing, so a duplicate, a
//! replay of an older image or a dry run changes nothing in AWS.
use chrono::{DateTime, Utc};
use semver::Version;
use serde_json::Value;
use tracing::{info, Instrument};

use crate::input::config::{Policy, Target};
use crate::input::event::{parse_ecr_event, ImagePushed};
use crate::ledger::{image_key, TargetRead, Versioned};
use crate::model::deployment::{Deployment, Lease, State, Trigger};
use crate::model::ordering::older_than_running;
use crate::model::plan::{self, pinned_digest, Derivation};
use crate::model::target::Head;
use crate::ports::{Adapters, Registry, ServiceState};

use super::*;
use crate::model::plan::{ImageChanges, TaskDefinitionSummary};
use crate::model::rollout::FreezeCheck;
use crate::ports::DescribedTaskDefinition;

impl<A: Adapters> Deployer<A> {
    /// Handles one "ECR Image Action" event exactly as EventBridge delivers it.
    pub async fn handle_ecr_event(
        &self,
        raw: &Value,
        invocation: &Invocation,
    ) -> Result<Report, DeployError> {
        let raw = redriven(raw);
        let push = match self.triage(raw, parse_ecr_event(raw)) {
            Ok(push) => push,
            Err(report) => return Ok(report),
        };
        let matched: Vec<&Target> = self
            .config
            .targets
            .iter()
            .filter(|target| target_wants(target, &push))
            // A group's targets move with their group's run (`release_groups`).
            .filter(|target| self.config.rolled_by_group(&target.name).is_none())
            .collect();
        // Boxed: a group's run is a whole pass of its own, too big for a caller's stack.
        let groups = match Box::pin(self.release_groups(&push, invocation)).await {
            Ok(groups) => groups,
            Err(first) => {
                return Err(DeployError {
                    event_id: push.event_id.clone(),
                    failed: 1,
                    first,
                })
            }
        };
        if matched.is_empty() && groups.is_empty() {
            info!(
                event_id = push.event_id,
                digest = push.digest,
                decision = "no-target",
                "no target wants {}:{} from account {} in {}",
                push.repository,
                push.tag,
                push.account,
                push.region
            );
        }
        let results = futures::future::join_all(
            matched
                .iter()
                .map(|target| self.deploy_target(target, &push, invocation)),
        )
        .await;

        let mut targets = Vec::with_capacity(results.len());
        let mut transient = Vec::new();
        for (target, result) in matched.iter().zip(results) {
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(err) if err.is_transient() => {
                    transient.push(format!("{}: {err}", target.name));
                    continue;
                }
                Err(err) => permanent_outcome(err),
            };
            targets.push(TargetReport {
                target: target.name.clone(),
                deployment_id: deployment_id(target, &push),
                image: target.repository.image_uri(&push.digest),
                outcome,
            });
        }
        if let Some(first) = transient.first() {
            return Err(DeployError {
                event_id: push.event_id.clone(),
                failed: transient.len(),
                first: first.clone(),
            });
        }
        Ok(self.report(raw, EventOutcome::Targets { targets, groups }))
    }

    pub(super) async fn deploy_target(
        &self,
        target: &Target,
        push: &ImagePushed,
        invocation: &Invocation,
    ) -> Result<TargetOutcome, StepError> {
        let id = deployment_id(target, push);
        let span = decision_span(&push.event_id, &target.name, &push.digest, &id);
        async {
            let result = self.plan_and_roll(target, push, invocation).await;
            self.conclude(result, &target.name, &image_key(&push.digest), invocation)
                .await
        }
        .instrument(span)
        .await
    }

    /// One target's push: the plan against what runs, the reads the checks need, the
    /// ordering rule and the freeze, then the shared roll (claim → head → register once →
    /// UpdateService → record → settle).
    pub(super) async fn plan_and_roll(
        &self,
        target: &Target,
        push: &ImagePushed,
        invocation: &Invocation,
    ) -> Result<TargetOutcome, StepError> {
        let (service, running, warnings) = self.running_definition(target).await?;
        let changes = match self
            .plan_push(target, push, &service, &running, invocation)
            .await?
        {
            Step::Go(changes) => changes,
            Step::Stop(outcome) => return Ok(outcome),
        };
        let version = target.tags.version(&push.tag);
        let reads = self.read_for_push(target, push, &changes).await?;
        if let Step::Stop(outcome) = self
            .check_push(target, push, version.as_ref(), &reads, invocation)
            .await?
        {
            return Ok(outcome);
        }
        if self.is_dry_run() {
            let planned = running.summary.with_images(&changes);
            let mut warnings = warnings;
            warnings.extend(self.window_warning(target));
            let trigger = push_trigger(push, reads.pushed_at);
            warnings.extend(self.promotion_warning(target, &changes, &trigger).await?);
            let outcome = dry_run_plan(target, &running.summary, &planned, &warnings);
            let plan = serde_json::to_string(&outcome).unwrap_or_default();
            log_decision(
                "dry-run",
                &format!("dry run, nothing written; the plan: {plan}"),
            );
            return Ok(outcome);
        }
        let record = push_record(
            target,
            push,
            &service,
            &running.summary,
            &changes,
            reads.pushed_at,
            invocation,
        );
        let ours = Head {
            deployment_id: record.id.clone(),
            digest: push.digest.clone(),
            pushed_at: reads.pushed_at,
            version: version.as_ref().map(Version::to_string),
            settled: false,
            lease_until: Some(invocation.deadline),
            updated_at: Utc::now(),
        };
        let current = match self
            .claim_as_head(target, reads.document, record, ours, invocation)
            .await?
        {
            Step::Go(current) => current,
            Step::Stop(outcome) => return Ok(outcome),
        };
        let deployment_id = current.value.id.clone();
        let outcome = Box::pin(self.roll(target, current, &running.full, changes)).await;
        // Rolling settled the head with the record of the rollout.
        if !matches!(outcome, Ok(TargetOutcome::Rolling { .. })) {
            self.settle_head(target, &deployment_id).await;
        }
        outcome
    }

    /// The image changes the push makes; stops if the service runs the image already (and
    /// completes an interrupted attempt that got it there).
    async fn plan_push(
        &self,
        target: &Target,
        push: &ImagePushed,
        service: &ServiceState,
        running: &DescribedTaskDefinition<<A::Ecs as Ecs>::TaskDefinition>,
        invocation: &Invocation,
    ) -> Result<Step<ImageChanges>, StepError> {
        let image = target.repository.image_uri(&push.digest);
        match plan::derive(&target.name, &target.containers, &image, &running.summary)? {
            Derivation::Change(changes) => Ok(Step::Go(changes)),
            Derivation::AlreadyRunning { image } => {
                if let Some(finished) = self
                    .finish_interrupted(target, push, service, running, invocation)
                    .await?
                {
                    return Ok(Step::Stop(finished));
                }
                log_decision(
                    "already-running",
                    &format!(
                        "{}/{} already runs {image} ({}): nothing to register",
                        target.cluster, target.service, service.task_definition
                    ),
                );
                Ok(Step::Stop(TargetOutcome::AlreadyRunning {
                    task_definition: service.task_definition.clone(),
                }))
            }
        }
    }

    /// Everything the checks need, read at once: when ECR received the pushed and the
    /// running image, and the target's document — its head, and (auto targets only: a
    /// person approves the others) its rollouts for the freeze. The claim writes on this
    /// read.
    async fn read_for_push(
        &self,
        target: &Target,
        push: &ImagePushed,
        changes: &ImageChanges,
    ) -> Result<PushReads, StepError> {
        let wants_freeze_check = target.policy == Policy::Auto;
        let running_digest = changes
            .iter()
            .find_map(|c| pinned_digest(&c.from, &target.repository))
            .map(str::to_string);
        let (pushed_at, running_pushed_at, document) = futures::try_join!(
            async {
                Ok::<_, StepError>(
                    self.registry
                        .image_pushed_at(&push.account, &push.repository, &push.digest)
                        .await?,
                )
            },
            async {
                let Some(digest) = &running_digest else {
                    return Ok::<_, StepError>(None);
                };
                let repository = &target.repository;
                Ok(self
                    .registry
                    .image_pushed_at(&repository.account, &repository.name, digest)
                    .await?)
            },
            async { Ok::<_, StepError>(self.ledger.target(&target.name).await?) },
        )?;
        let head = document.record.head.clone();
        let rollouts = wants_freeze_check.then(|| {
            document
                .record
                .rollouts
                .clone()
                .map(|rollouts| Versioned::in_target(rollouts, &document))
        });
        Ok(PushReads {
            document,
            pushed_at,
            running: running_digest.map(|digest| (digest, running_pushed_at)),
            head,
            rollouts,
        })
    }

    /// The image must still be in ECR, must not be older than what runs or was last
    /// accepted, and the freeze must not hold it back.
    async fn check_push(
        &self,
        target: &Target,
        push: &ImagePushed,
        version: Option<&Version>,
        reads: &PushReads,
        invocation: &Invocation,
    ) -> Result<Step<()>, StepError> {
        if reads.pushed_at.is_none() {
            // A replayed or very late event for an image deleted since: ECS could never
            // pull it, so rolling onto it would only take the service down.
            return Err(StepError::Rejected(format!(
                "{}@{} is not in ECR (deleted since the push?): not deploying an image that cannot be pulled",
                push.repository, push.digest
            )));
        }
        let running = reads
            .running
            .as_ref()
            .map(|(digest, at)| (digest.as_str(), *at));
        if let Some(reason) =
            older_than_running(reads.pushed_at, version, running, reads.head.as_ref())
        {
            log_decision("older", &format!("not rolling back: {reason}"));
            self.retire_earlier_attempt(target, push, &reason, invocation)
                .await?;
            return Ok(Step::Stop(TargetOutcome::Older { reason }));
        }
        let Some(read) = reads.rollouts.clone() else {
            return Ok(Step::Go(()));
        };
        self.check_freeze(target, read, &push.digest, version, reads.pushed_at)
            .await
    }

    /// The service runs this push's image already. If it does because an earlier attempt
    /// of this deployment called UpdateService and stopped before recording it (killed,
    /// timed out), the record is completed now — ECS's deployment id taken from the
    /// service's PRIMARY deployment — so that ECS's events find it and nothing stays
    /// half-written. A head that attempt left unsettled is settled.
    pub(super) async fn finish_interrupted(
        &self,
        target: &Target,
        push: &ImagePushed,
        service: &ServiceState,
        running: &DescribedTaskDefinition<<A::Ecs as Ecs>::TaskDefinition>,
        invocation: &Invocation,
    ) -> Result<Option<TargetOutcome>, StepError> {
        // Finishing an earlier attempt writes: a plan leaves that to the real push.
        if self.is_dry_run() {
            return Ok(None);
        }
        let Some(existing) = self
            .ledger
            .deployment(&target.name, &image_key(&push.digest))
            .await?
        else {
            return Ok(None);
        };
        let record = &existing.value;
        if record.state != State::Planned {
            if record.state == State::Rolling {
                self.settle_head(target, &record.id).await;
            }
            return Ok(None);
        }
        if !self.rolled_by(record, service, running).await? {
            return Ok(None);
        }
        if record.is_held_by_other(&invocation.request_id, Utc::now()) {
            return Ok(Some(duplicate(record)));
        }
        let Some(ecs_deployment_id) = service.primary_deployment.clone() else {
            return Ok(None);
        };
        log_decision(
            "resumed",
            "an earlier attempt rolled the service and stopped before recording it: recording it now",
        );
        let (from_task_definition, changes) =
            (record.from_task_definition.clone(), record.changes.clone());
        let ecs_deployment_id = self
            .record_rollout(
                target,
                existing,
                &service.task_definition,
                ecs_deployment_id,
                None,
            )
            .await?;
        Ok(Some(TargetOutcome::Rolling {
            from_task_definition,
            to_task_definition: service.task_definition.clone(),
            ecs_deployment_id,
            changes,
        }))
    }

    /// A deployment of this push that an earlier attempt claimed and left planned (it
    /// failed or was killed before rolling) is closed as superseded once the push turns
    /// out older than what runs: otherwise it would stay planned for good.
    pub(super) async fn retire_earlier_attempt(
        &self,
        target: &Target,
        push: &ImagePushed,
        reason: &str,
        invocation: &Invocation,
    ) -> Result<(), StepError> {
        if self.is_dry_run() {
            return Ok(());
        }
        let Some(existing) = self
            .ledger
            .deployment(&target.name, &image_key(&push.digest))
            .await?
        else {
            return Ok(());
        };
        if existing.value.state != State::Planned
            || existing
                .value
                .is_held_by_other(&invocation.request_id, Utc::now())
        {
            return Ok(());
        }
        let mut next = existing.value.clone();
        next.advance(State::Superseded, format!("older: {reason}"), Utc::now())?;
        next.lease = None;
        self.ledger.save(&existing, next).await?;
        log_decision(
            "superseded",
            "closed the deployment an earlier attempt left planned",
        );
        Ok(())
    }

    /// Whether the service runs the revision registered for this planned deployment: the
    /// one it recorded, or the one tagged with its id (a push records nothing between
    /// RegisterTaskDefinition and UpdateService).
    async fn rolled_by(
        &self,
        record: &Deployment,
        service: &ServiceState,
        running: &DescribedTaskDefinition<<A::Ecs as Ecs>::TaskDefinition>,
    ) -> Result<bool, StepError> {
        if let Some(recorded) = &record.to_task_definition {
            return Ok(*recorded == service.task_definition);
        }
        let tagged = self.ecs.find_registered(&running.full, &record.id).await?;
        Ok(tagged.is_some_and(|found| found.arn == service.task_definition))
    }

    /// The freeze rule for one automatic push (policy `auto`), given the target's rollouts
    /// as read: stops a push the freeze holds back; a push newer than the failed release
    /// lifts the freeze.
    pub(super) async fn check_freeze(
        &self,
        target: &Target,
        rollouts: super::RolloutsRead,
        digest: &str,
        version: Option<&semver::Version>,
        pushed_at: Option<chrono::DateTime<Utc>>,
    ) -> Result<Step<()>, StepError> {
        let Some(read) = &rollouts else {
            return Ok(Step::Go(()));
        };
        match read
            .value
            .check_push(target.freeze_rule(), digest, version, pushed_at)
        {
            FreezeCheck::Open => Ok(Step::Go(())),
            FreezeCheck::Frozen(reason) => {
                log_decision("frozen", &format!("not deploying: {reason}"));
                Ok(Step::Stop(TargetOutcome::Frozen { reason }))
            }
            FreezeCheck::Thaws(why) => {
                if !self.is_dry_run() {
                    // Only the failure's freeze that this push is newer than: an operator's
                    // hold, or a later failure's freeze, recorded meanwhile stays.
                    let failed = read
                        .value
                        .freeze
                        .as_ref()
                        .map(|f| f.deployment_id.clone())
                        .unwrap_or_default();
                    let why = why.clone();
                    self.change_rollouts(&target.name, Some(rollouts), move |r| {
                        r.thaw(&failed, why.clone(), Utc::now())
                    })
                    .await?;
                }
                log_decision("thawed", &format!("the freeze ends: {why}"));
                Ok(Step::Go(()))
            }
        }
    }
}

/// What a push's checks read, at once.
struct PushReads {
    /// When ECR received the pushed image (`None`: ECR no longer has it).
    pushed_at: Option<DateTime<Utc>>,
    /// The digest the service runs, if pinned, and when ECR received it.
    running: Option<(String, Option<DateTime<Utc>>)>,
    head: Option<Head>,
    /// The target's document, which the claim writes on.
    document: TargetRead,
    /// The target's rollouts, read for auto targets only.
    rollouts: Option<RolloutsRead>,
}

/// What made a push's deployment: the real run and its dry run judge the same.
fn push_trigger(push: &ImagePushed, pushed_at: Option<DateTime<Utc>>) -> Trigger {
    Trigger::EcrPush {
        event_id: push.event_id.clone(),
        repository: push.repository.clone(),
        tag: push.tag.clone(),
        digest: push.digest.clone(),
        pushed_at,
    }
}

/// The deployment a push claims: the planned change of the running definition, leased
/// to this invocation.
fn push_record(
    target: &Target,
    push: &ImagePushed,
    service: &ServiceState,
    running: &TaskDefinitionSummary,
    changes: &ImageChanges,
    pushed_at: Option<DateTime<Utc>>,
    invocation: &Invocation,
) -> Deployment {
    let trigger = push_trigger(push, pushed_at);
    Deployment {
        image: target.repository.image_uri(&push.digest),
        version: target
            .tags
            .version(&push.tag)
            .as_ref()
            .map(Version::to_string),
        diff: plan::summary_diff(running, &running.with_images(changes)),
        changes: changes.clone(),
        from_task_definition: service.task_definition.clone(),
        lease: Some(Lease {
            holder: invocation.request_id.clone(),
            until: invocation.deadline,
        }),
        ..Deployment::new(
            &target.name,
            &target.cluster,
            &target.service,
            image_key(&push.digest),
            trigger,
        )
    }
}

/// A push deploys to a target only from the target's own repository — same account,
/// region and name — and with a tag its rule accepts.
pub fn target_wants(target: &Target, push: &ImagePushed) -> bool {
    let repo = &target.repository;
    repo.account == push.account
        && repo.region == push.region
        && repo.name == push.repository
        && target.tags.matches(&push.tag)
}

pub fn deployment_id(target: &Target, push: &ImagePushed) -> String {
    Deployment::id_for(&target.name, &image_key(&push.digest))
}

pub(super) fn dry_run_plan(
    target: &Target,
    running: &plan::TaskDefinitionSummary,
    planned: &plan::TaskDefinitionSummary,
    warnings: &[String],
) -> TargetOutcome {
    let mut diff = plan::summary_diff(running, planned);
    diff.push("every other field: unchanged".to_string());
    let mut calls = vec![format!(
        "s3:PutObject ledger targets/{}/target.json (If-Match) to claim the deployment and the head",
        target.name
    )];
    match target.policy {
        Policy::Approval => {
            calls.push("s3:PutObject ledger (If-Match) -> awaiting-approval; no ECS call".into())
        }
        Policy::Auto => {
            calls.push(format!(
                "ecs:RegisterTaskDefinition family {} (revision {} + 1) with tags carried over",
                running.family, running.revision
            ));
            calls.push(format!(
                "ecs:UpdateService cluster {} service {} taskDefinition {}:<new revision>",
                target.cluster, target.service, running.family
            ));
            calls.push(format!(
                "s3:PutObject ledger targets/{}/target.json (If-Match) -> rolling, with the ECS deployment id",
                target.name
            ));
        }
    }
    TargetOutcome::DryRun {
        from_task_definition: running.arn.clone(),
        diff,
        calls,
        warnings: warnings.to_vec(),
    }
}
