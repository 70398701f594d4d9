//! The deployment pipelines: event → intent → matched targets → plan → ledger → actions.
//!
//! This file holds the image-push pipeline and the steps every pipeline shares (claim,
//! supersede, roll, conclude); `uploads` holds the source-upload pipeline.
//!
//! Each matched target is deployed concurrently and independently. Reads come first and
//! write nothing; the ledger claim is the first write, so a duplicate, a replay of an older
//! image, a dry run or a bad event never changes anything in AWS.

use chrono::{DateTime, Utc};
use semver::Version;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::approval::ApprovalLinks;
use crate::input::config::{Config, Policy, Target};
use crate::input::event::{parse_ecr_event, EventError, ImagePushed, Intent};
use crate::ledger::{image_key, Claim, Ledger, LedgerError, Versioned};
use crate::model::deployment::{Deployment, Lease, State, Trigger};
use crate::model::plan::{
    self, describe_changes, pinned_digest, Derivation, ImageChange, ImageChanges, PlanError,
};
use crate::model::rollout::{RolloutKind, Rollouts, StartedRollout, Starting};
use crate::model::target::Head;
use crate::ports::{
    AwsError, DescribedTaskDefinition, Ecs, Notifier, NotifyError, ObjectStore, Registry,
    ServiceState, Silent, SourceBucket,
};

/// A target's rollouts record as read from the ledger (`None`: not written yet).
type RolloutsRead = Option<Versioned<Rollouts>>;

mod asking;
mod decisions;
mod operator;
mod outcomes;
mod reconcile;
mod telling;
mod uploads;

pub use decisions::{DecisionError, DecisionOutcome, RollWhen};
pub use reconcile::{ReconcileReport, Reconciled};

/// The Lambda invocation handling an event: its request id holds the ledger lease until
/// its deadline, after which a retry may take over.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: DateTime<Utc>,
}

/// The invocation failed in a way worth retrying (throttling, 5xx): Lambda retries the
/// event, and the ledger makes the retry pick up where this attempt stopped.
#[derive(Debug, thiserror::Error)]
#[error("event {event_id}: {failed} target(s) hit a transient AWS error, so the event goes back to Lambda for a retry: {first}")]
pub struct DeployError {
    pub event_id: String,
    pub failed: usize,
    pub first: String,
}

/// What happened to one event; the function's response and the dry run's output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub event_id: Option<String>,
    pub dry_run: bool,
    #[serde(flatten)]
    pub outcome: EventOutcome,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum EventOutcome {
    /// Not an event to act on (bad shape, wrong kind): acknowledged so Lambda won't retry.
    Refused { error: String },
    /// A well-formed event that must not deploy (delete, failure, untagged manifest).
    Ignored { reason: String },
    /// A deployable push; one entry per matched target (none if nothing matched).
    Targets { targets: Vec<TargetReport> },
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: String,
    pub deployment_id: String,
    pub image: String,
    #[serde(flatten)]
    pub outcome: TargetOutcome,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum TargetOutcome {
    Rolling {
        from_task_definition: String,
        to_task_definition: String,
        ecs_deployment_id: String,
        changes: Vec<ImageChange>,
    },
    AwaitingApproval {
        from_task_definition: String,
        changes: Vec<ImageChange>,
    },
    AlreadyRunning {
        task_definition: String,
    },
    Older {
        reason: String,
    },
    /// A failure froze automatic deploys to the target; nothing was written.
    Frozen {
        reason: String,
    },
    /// An ECS event moved the deployment.
    Moved {
        from: State,
        to: State,
        note: String,
    },
    /// An ECS event or operator request that changes nothing (a duplicate, a late event).
    Unchanged {
        state: Option<State>,
        reason: String,
    },
    /// An operator lifted the freeze of the target.
    Unfrozen {
        failed_deployment: String,
    },
    Duplicate {
        state: State,
        reason: String,
    },
    Superseded {
        by: String,
    },
    DryRun {
        from_task_definition: String,
        diff: Vec<String>,
        calls: Vec<String>,
        /// What a person should know before it rolls (no circuit breaker, say).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The service cannot be rolled by Slipway (its deployment controller or strategy):
    /// nothing was registered or written.
    Unsupported {
        deployment_controller: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        strategy: Option<String>,
        error: String,
    },
    /// A permanent problem (missing service or container, permissions): logged, not
    /// retried, nothing written.
    Failed {
        error: String,
    },
}

/// Why one target's deployment stopped early.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Transition(#[from] crate::model::deployment::TransitionError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// Bad input in a source upload; recorded, logged, never retried.
    #[error("{0}")]
    Rejected(String),
    /// A service Slipway cannot roll; found before anything is written.
    #[error(transparent)]
    Unrollable(#[from] crate::model::rollable::Unrollable),
}

/// What a target is told when its deployment stopped for good.
fn permanent_outcome(err: StepError) -> TargetOutcome {
    match err {
        StepError::Unrollable(refused) => TargetOutcome::Unsupported {
            deployment_controller: refused.controller,
            strategy: refused.strategy,
            error: refused.reason,
        },
        err => TargetOutcome::Failed {
            error: err.to_string(),
        },
    }
}

impl StepError {
    /// Worth trying again later (throttling, a timeout, a concurrent write).
    pub fn is_transient(&self) -> bool {
        match self {
            StepError::Aws(err) | StepError::Ledger(LedgerError::Store(err)) => err.is_transient(),
            // Someone moved our record while we held the lease: decide again on retry.
            StepError::Ledger(LedgerError::Conflict { .. }) => true,
            StepError::Notify(err) => err.transient,
            _ => false,
        }
    }
}

/// The fields every log line of a target's decision carries.
#[derive(Clone, Copy)]
struct LogContext<'a> {
    event_id: &'a str,
    target: &'a str,
    digest: &'a str,
    deployment_id: &'a str,
}

impl LogContext<'_> {
    fn decided(&self, decision: &str, message: &str) {
        info!(
            event_id = self.event_id,
            target = self.target,
            digest = self.digest,
            deployment_id = self.deployment_id,
            decision,
            "{message}"
        );
    }

    fn warned(&self, decision: &str, message: &str) {
        warn!(
            event_id = self.event_id,
            target = self.target,
            digest = self.digest,
            deployment_id = self.deployment_id,
            decision,
            "{message}"
        );
    }
}

pub struct Deployer<E, R, S, B, N = Silent> {
    config: Config,
    ecs: E,
    registry: R,
    ledger: Ledger<S>,
    sources: B,
    notifier: N,
    /// Signs approval links; required when any target's policy is `approval`.
    links: Option<ApprovalLinks>,
    /// The only bucket source uploads are read from, when set.
    source_bucket: Option<String>,
    dry_run: bool,
}

/// How many times a push retries moving the head when other pushes move it concurrently.
const HEAD_ATTEMPTS: usize = 5;
/// How often a push waiting for an older one to reach ECS looks again.
const HEAD_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl<E: Ecs, R: Registry, S: ObjectStore, B: SourceBucket> Deployer<E, R, S, B> {
    pub fn new(config: Config, ecs: E, registry: R, store: S, sources: B, dry_run: bool) -> Self {
        Deployer {
            config,
            ecs,
            registry,
            ledger: Ledger::new(store),
            sources,
            notifier: Silent,
            links: None,
            source_bucket: None,
            dry_run,
        }
    }
}

impl<E: Ecs, R: Registry, S: ObjectStore, B: SourceBucket, N: Notifier> Deployer<E, R, S, B, N> {
    /// Ask approvers through `notifier`, with links signed by `links` (required for
    /// targets whose policy is `approval`).
    pub fn with_approvals<M: Notifier>(
        self,
        links: Option<ApprovalLinks>,
        notifier: M,
    ) -> Deployer<E, R, S, B, M> {
        Deployer {
            config: self.config,
            ecs: self.ecs,
            registry: self.registry,
            ledger: self.ledger,
            sources: self.sources,
            notifier,
            links,
            source_bucket: self.source_bucket,
            dry_run: self.dry_run,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// The approval links, when approvals are configured.
    pub fn links(&self) -> Option<&ApprovalLinks> {
        self.links.as_ref()
    }

    /// Accept source uploads only from this bucket.
    pub fn with_source_bucket(mut self, bucket: Option<String>) -> Self {
        self.source_bucket = bucket;
        self
    }

    pub fn ledger(&self) -> &Ledger<S> {
        &self.ledger
    }

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
            .collect();
        if matched.is_empty() {
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
        Ok(self.report(raw, EventOutcome::Targets { targets }))
    }

    /// Refused and ignored events end here: logged, and acknowledged so Lambda does not
    /// retry them.
    fn triage<T>(&self, raw: &Value, parsed: Result<Intent<T>, EventError>) -> Result<T, Report> {
        match parsed {
            Err(err) => Err(self.refused(raw, err)),
            Ok(Intent::Ignore { event_id, reason }) => {
                info!(event_id, decision = "ignored", "{reason}");
                Err(self.report(raw, EventOutcome::Ignored { reason }))
            }
            Ok(Intent::Deploy(intent)) => Ok(intent),
        }
    }

    fn refused(&self, raw: &Value, err: EventError) -> Report {
        warn!(event_id = event_id(raw).as_deref().unwrap_or("(no id)"), decision = "refused",
              error = %err, "event refused and acknowledged (no retry, nothing written)");
        self.report(
            raw,
            EventOutcome::Refused {
                error: err.to_string(),
            },
        )
    }

    fn report(&self, raw: &Value, outcome: EventOutcome) -> Report {
        Report {
            event_id: event_id(raw),
            dry_run: self.dry_run,
            outcome,
        }
    }

    async fn deploy_target(
        &self,
        target: &Target,
        push: &ImagePushed,
        invocation: &Invocation,
    ) -> Result<TargetOutcome, StepError> {
        let id = deployment_id(target, push);
        let log = LogContext {
            event_id: &push.event_id,
            target: &target.name,
            digest: &push.digest,
            deployment_id: &id,
        };
        let result = self.plan_and_roll(target, push, invocation, &log).await;
        self.conclude(result, &image_key(&push.digest), invocation, &log)
            .await
    }

    async fn plan_and_roll(
        &self,
        target: &Target,
        push: &ImagePushed,
        invocation: &Invocation,
        log: &LogContext<'_>,
    ) -> Result<TargetOutcome, StepError> {
        let (service, running, warnings) = self.running_definition(target).await?;
        let changes = match plan::derive(
            &target.name,
            &target.containers,
            &target.repository.image_uri(&push.digest),
            &running.summary,
        )? {
            Derivation::AlreadyRunning { image } => {
                if let Some(finished) = self
                    .finish_interrupted(target, push, &service, invocation, log)
                    .await?
                {
                    return Ok(finished);
                }
                log.decided(
                    "already-running",
                    &format!(
                        "{}/{} already runs {image} ({}): nothing to register",
                        target.cluster, target.service, service.task_definition
                    ),
                );
                return Ok(TargetOutcome::AlreadyRunning {
                    task_definition: service.task_definition,
                });
            }
            Derivation::Change(changes) => changes,
        };
        let version = target.tags.version(&push.tag);
        // Everything the decisions below need, read at once: only auto targets check the
        // freeze (a person approves the others), and their rollouts read is reused to mark
        // the rollout starting.
        let wants_freeze_check = target.policy == Policy::Auto;
        let running_digest = changes
            .iter()
            .find_map(|c| pinned_digest(&c.from, &target.repository));
        let (pushed_at, running_pushed_at, head, rollouts) = futures::try_join!(
            async {
                Ok::<_, StepError>(
                    self.registry
                        .image_pushed_at(&push.account, &push.repository, &push.digest)
                        .await?,
                )
            },
            async {
                let Some(digest) = running_digest else {
                    return Ok::<_, StepError>(None);
                };
                let repository = &target.repository;
                Ok(self
                    .registry
                    .image_pushed_at(&repository.account, &repository.name, digest)
                    .await?)
            },
            async { Ok::<_, StepError>(self.ledger.head(&target.name).await?) },
            async {
                if wants_freeze_check {
                    Ok::<_, StepError>(Some(self.ledger.rollouts(&target.name).await?))
                } else {
                    Ok(None)
                }
            },
        )?;
        if pushed_at.is_none() {
            // A replayed or very late event for an image deleted since: ECS could never
            // pull it, so rolling onto it would only take the service down.
            return Err(StepError::Rejected(format!(
                "{}@{} is not in ECR (deleted since the push?): not deploying an image that cannot be pulled",
                push.repository, push.digest
            )));
        }
        let running_image = running_digest.map(|digest| (digest, running_pushed_at));
        if let Some(reason) =
            older_than_running(pushed_at, version.as_ref(), running_image, head.as_ref())
        {
            log.decided("older", &format!("not rolling back: {reason}"));
            self.retire_earlier_attempt(target, push, &reason, invocation, log)
                .await?;
            return Ok(TargetOutcome::Older { reason });
        }
        let known_rollouts = match rollouts {
            Some(read) => match self
                .check_freeze(target, read, &push.digest, version.as_ref(), pushed_at, log)
                .await?
            {
                Ok(latest) => Some(latest),
                Err(frozen) => return Ok(frozen),
            },
            None => None,
        };
        if self.dry_run {
            let planned = running.summary.with_images(&changes);
            let outcome = dry_run_plan(target, &running.summary, &planned, &warnings);
            let plan = serde_json::to_string(&outcome).unwrap_or_default();
            log.decided(
                "dry-run",
                &format!("dry run, nothing written; the plan: {plan}"),
            );
            return Ok(outcome);
        }

        let record = Deployment {
            id: log.deployment_id.to_string(),
            target: target.name.clone(),
            key: image_key(&push.digest),
            cluster: target.cluster.clone(),
            service: target.service.clone(),
            state: State::Planned,
            trigger: Trigger::EcrPush {
                event_id: push.event_id.clone(),
                repository: push.repository.clone(),
                tag: push.tag.clone(),
                digest: push.digest.clone(),
                pushed_at,
            },
            image: target.repository.image_uri(&push.digest),
            version: version.as_ref().map(Version::to_string),
            diff: plan::summary_diff(&running.summary, &running.summary.with_images(&changes)),
            changes: changes.clone(),
            from_task_definition: service.task_definition.clone(),
            to_task_definition: None,
            ecs_deployment_id: None,
            lease: Some(Lease {
                holder: invocation.request_id.clone(),
                until: invocation.deadline,
            }),
            error: None,
            approval: None,
            ended_at: None,
            rolled_back_to: None,
            outcome_notified: None,
            takeovers: 0,
            history: vec![],
        };
        let current = match self.claim(record, invocation, log).await? {
            Ok(current) => current,
            Err(duplicate) => return Ok(duplicate),
        };
        let ours = Head {
            deployment_id: current.value.id.clone(),
            digest: push.digest.clone(),
            pushed_at,
            version: version.as_ref().map(Version::to_string),
            settled: false,
            lease_until: Some(invocation.deadline),
            updated_at: Utc::now(),
        };
        let our_head = match self
            .become_head(target, head, &ours, invocation, log)
            .await?
        {
            Ok(our_head) => our_head,
            Err(newer) => return self.supersede(current, newer, log).await,
        };
        let outcome = self
            .roll(target, current, &running.full, changes, known_rollouts, log)
            .await;
        self.settle_head(target, our_head).await;
        outcome
    }

    /// The service runs this push's image already. If it does because an earlier attempt
    /// of this deployment called UpdateService and stopped before recording it (killed,
    /// timed out), the record is completed now — ECS's deployment id taken from the
    /// service's PRIMARY deployment — so that ECS's events find it and nothing stays
    /// half-written. A head that attempt left unsettled is settled.
    async fn finish_interrupted(
        &self,
        target: &Target,
        push: &ImagePushed,
        service: &ServiceState,
        invocation: &Invocation,
        log: &LogContext<'_>,
    ) -> Result<Option<TargetOutcome>, StepError> {
        let Some(existing) = self
            .ledger
            .deployment(&target.name, &image_key(&push.digest))
            .await?
        else {
            return Ok(None);
        };
        let record = &existing.value;
        let rolled_by_it = record.state == State::Planned
            && record.to_task_definition.as_deref() == Some(service.task_definition.as_str());
        if !rolled_by_it {
            if record.state == State::Rolling {
                self.settle_own_head(target, &record.id).await;
            }
            return Ok(None);
        }
        if record.is_held_by_other(&invocation.request_id, Utc::now()) {
            return Ok(Some(duplicate(record, log)));
        }
        let Some(ecs_deployment_id) = service.primary_deployment.clone() else {
            return Ok(None);
        };
        log.decided(
            "resumed",
            "an earlier attempt rolled the service and stopped before recording it: recording it now",
        );
        let (from_task_definition, changes) =
            (record.from_task_definition.clone(), record.changes.clone());
        let deployment_id = record.id.clone();
        let ecs_deployment_id = self
            .record_rollout(
                target,
                existing,
                None,
                &service.task_definition,
                ecs_deployment_id,
                log,
            )
            .await?;
        self.settle_own_head(target, &deployment_id).await;
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
    async fn retire_earlier_attempt(
        &self,
        target: &Target,
        push: &ImagePushed,
        reason: &str,
        invocation: &Invocation,
        log: &LogContext<'_>,
    ) -> Result<(), StepError> {
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
        log.decided(
            "superseded",
            "closed the deployment an earlier attempt left planned",
        );
        Ok(())
    }

    /// Best effort: settles the target's head if it is still this deployment's.
    async fn settle_own_head(&self, target: &Target, deployment_id: &str) {
        if let Ok(Some(head)) = self.ledger.head(&target.name).await {
            if head.value.deployment_id == deployment_id && !head.value.settled {
                self.settle_head(target, head).await;
            }
        }
    }

    /// The service as it runs now, the task definition it runs, and the warnings about it;
    /// a service Slipway cannot roll is refused here, before anything is written.
    async fn running_definition(
        &self,
        target: &Target,
    ) -> Result<
        (
            ServiceState,
            DescribedTaskDefinition<E::TaskDefinition>,
            Vec<String>,
        ),
        StepError,
    > {
        let (service, warnings) = self.rollable_service(target).await?;
        let running = self
            .ecs
            .describe_task_definition(&service.task_definition)
            .await?;
        Ok((service, running, warnings))
    }

    /// DescribeServices, refusing a service Slipway cannot roll; with the warnings about it
    /// (logged here, once per rollout decision).
    async fn rollable_service(
        &self,
        target: &Target,
    ) -> Result<(ServiceState, Vec<String>), StepError> {
        let service = self
            .ecs
            .describe_service(&target.cluster, &target.service)
            .await?;
        let warnings = crate::model::rollable::check(&service, &target.cluster, &target.service)?;
        crate::model::rollable::check_family(&service, target.task_family.as_deref())?;
        for warning in &warnings {
            warn!(target = target.name, decision = "warning", "{warning}");
        }
        Ok((service, warnings))
    }

    /// Creates the deployment's record, which only one invocation can do. Another
    /// invocation's record is a duplicate — unless an earlier attempt left it planned and
    /// its lease ran out, in which case this invocation takes over.
    async fn claim(
        &self,
        record: Deployment,
        invocation: &Invocation,
        log: &LogContext<'_>,
    ) -> Result<Result<Versioned<Deployment>, TargetOutcome>, StepError> {
        let planned = describe_changes(&record.changes).join("; ");
        match self.ledger.claim(record).await? {
            Claim::Claimed(current) => {
                log.decided("claimed", &format!("planned: {planned}"));
                Ok(Ok(current))
            }
            Claim::Exists(existing)
                if existing.value.state == State::Planned
                    && !existing
                        .value
                        .is_held_by_other(&invocation.request_id, Utc::now()) =>
            {
                let mut next = existing.value.clone();
                next.take_over(&invocation.request_id, invocation.deadline);
                let taken = self.ledger.save(&existing, next).await?;
                log.decided(
                    "resumed",
                    "resuming a deployment an earlier attempt left planned",
                );
                Ok(Ok(taken))
            }
            Claim::Exists(existing) => Ok(Err(duplicate(&existing.value, log))),
        }
    }

    async fn supersede(
        &self,
        current: Versioned<Deployment>,
        newer: String,
        log: &LogContext<'_>,
    ) -> Result<TargetOutcome, StepError> {
        let mut next = current.value.clone();
        next.advance(
            State::Superseded,
            format!("superseded by {newer}"),
            Utc::now(),
        )?;
        next.lease = None;
        self.ledger.save(&current, next).await?;
        log.decided(
            "superseded",
            &format!("a newer version was accepted meanwhile ({newer}): not rolling"),
        );
        Ok(TargetOutcome::Superseded { by: newer })
    }

    /// The claimed deployment's last steps: wait for approval, or register the new
    /// revision (once: a retry reuses it) and roll the service onto it.
    /// `known_rollouts` is the target's rollouts as this invocation last read them, if it
    /// did (it saves a read; a stale one costs a conflict and a re-read).
    async fn roll(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        base: &E::TaskDefinition,
        changes: Vec<ImageChange>,
        known_rollouts: Option<RolloutsRead>,
        log: &LogContext<'_>,
    ) -> Result<TargetOutcome, StepError> {
        let from_task_definition = current.value.from_task_definition.clone();
        if target.policy == Policy::Approval && current.value.state != State::Approved {
            return self.request_approval(target, current, log).await;
        }
        let to_task_definition = match current.value.to_task_definition.clone() {
            Some(arn) => arn,
            None => {
                self.register_once(&current.value, base, &changes, log)
                    .await?
            }
        };
        let ecs_deployment_id = self
            .start_rollout(target, current, &to_task_definition, known_rollouts, log)
            .await?;
        Ok(TargetOutcome::Rolling {
            from_task_definition,
            to_task_definition,
            ecs_deployment_id,
            changes,
        })
    }

    /// The new revision for `deployment`: registered now, or — if an attempt that was taken
    /// over may have registered it and died before recording it (start_rollout records it
    /// before UpdateService) — the one it registered, found by its tag.
    async fn register_once(
        &self,
        deployment: &Deployment,
        base: &E::TaskDefinition,
        changes: &ImageChanges,
        log: &LogContext<'_>,
    ) -> Result<String, StepError> {
        if deployment.takeovers > 0 {
            if let Some(earlier) = self.ecs.find_registered(base, &deployment.id).await? {
                log.decided(
                    "registered",
                    &format!(
                        "reusing {} (revision {}), registered for this deployment by an earlier attempt",
                        earlier.arn, earlier.revision
                    ),
                );
                return Ok(earlier.arn);
            }
        }
        let registered = self
            .ecs
            .register_with_images(base, changes, &deployment.id)
            .await?;
        log.decided(
            "registered",
            &format!(
                "registered {} (revision {}) from {}",
                registered.arn, registered.revision, deployment.from_task_definition
            ),
        );
        Ok(registered.arn)
    }

    /// UpdateService onto `to_task_definition`, and the record of it: the target's
    /// rollouts learn the ECS deployment id (so that ECS's events find this deployment)
    /// before the deployment moves to `rolling`. While UpdateService is in flight the
    /// rollouts say so, and an ECS event for an id nobody knows yet is retried rather
    /// than taken for someone else's deployment. A revision registered just now is
    /// recorded in the deployment (with that marker, at once) before UpdateService, so
    /// that a retry reuses it instead of registering another.
    async fn start_rollout(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        to_task_definition: &str,
        known_rollouts: Option<RolloutsRead>,
        log: &LogContext<'_>,
    ) -> Result<String, StepError> {
        let (deployment_id, key) = (current.value.id.clone(), current.value.key.clone());
        let until = current
            .value
            .lease
            .as_ref()
            .map_or_else(|| Utc::now() + chrono::Duration::seconds(60), |l| l.until);
        let mark_starting = self.change_rollouts(&target.name, known_rollouts, |rollouts| {
            rollouts.starting = Some(Starting {
                deployment_id: deployment_id.clone(),
                key: key.clone(),
                until,
            });
            true
        });
        let (current, rollouts) =
            if current.value.to_task_definition.as_deref() == Some(to_task_definition) {
                (current, mark_starting.await?)
            } else {
                let mut next = current.value.clone();
                next.to_task_definition = Some(to_task_definition.to_string());
                let record = async { Ok::<_, StepError>(self.ledger.save(&current, next).await?) };
                futures::try_join!(record, mark_starting)?
            };
        let ecs_deployment_id = self
            .ecs
            .update_service(&target.cluster, &target.service, to_task_definition)
            .await?;
        self.record_rollout(
            target,
            current,
            Some(rollouts),
            to_task_definition,
            ecs_deployment_id,
            log,
        )
        .await
    }

    /// What follows UpdateService: the target's rollouts learn the ECS deployment id (and
    /// lose the starting marker), then the deployment moves to `rolling`.
    async fn record_rollout(
        &self,
        target: &Target,
        current: Versioned<Deployment>,
        known_rollouts: Option<RolloutsRead>,
        to_task_definition: &str,
        ecs_deployment_id: String,
        log: &LogContext<'_>,
    ) -> Result<String, StepError> {
        let (deployment_id, key) = (current.value.id.clone(), current.value.key.clone());
        let now = Utc::now();
        self.change_rollouts(&target.name, known_rollouts, |rollouts| {
            rollouts.remember(StartedRollout {
                ecs_deployment_id: ecs_deployment_id.clone(),
                deployment_id: deployment_id.clone(),
                key: key.clone(),
                kind: RolloutKind::Slipway,
                at: now,
            });
            if rollouts.starting.as_ref().is_some_and(|s| s.key == key) {
                rollouts.starting = None;
            }
            true
        })
        .await?;
        let mut next = current.value.clone();
        next.ecs_deployment_id = Some(ecs_deployment_id.clone());
        next.advance(
            State::Rolling,
            format!("UpdateService started ECS deployment {ecs_deployment_id}"),
            now,
        )?;
        next.lease = None;
        next.error = None;
        self.ledger.save(&current, next).await?;
        log.decided(
            "rolling",
            &format!(
                "rolling {}/{} onto {to_task_definition} (ECS deployment {ecs_deployment_id})",
                target.cluster, target.service
            ),
        );
        Ok(ecs_deployment_id)
    }

    /// Changes the target's rollouts record by compare-and-set, re-reading on conflict.
    /// `change` returns whether it changed anything (nothing is written if not).
    async fn update_rollouts(
        &self,
        target: &str,
        change: impl FnMut(&mut Rollouts) -> bool,
    ) -> Result<Rollouts, StepError> {
        let latest = self.change_rollouts(target, None, change).await?;
        Ok(latest.map(|r| r.value).unwrap_or_default())
    }

    /// [`Self::update_rollouts`] starting from a read this invocation already holds, if
    /// any (a GET saved; a stale read costs a conflict and a re-read). Returns the record
    /// as it now stands, for the next change to start from.
    async fn change_rollouts(
        &self,
        target: &str,
        known: Option<RolloutsRead>,
        mut change: impl FnMut(&mut Rollouts) -> bool,
    ) -> Result<RolloutsRead, StepError> {
        let mut read = match known {
            Some(read) => read,
            None => self.ledger.rollouts(target).await?,
        };
        let mut attempts = 0;
        loop {
            let mut next = read.as_ref().map(|r| r.value.clone()).unwrap_or_default();
            if !change(&mut next) {
                return Ok(read);
            }
            next.updated_at = Some(Utc::now());
            match self.ledger.set_rollouts(target, read.as_ref(), next).await {
                Ok(written) => return Ok(Some(written)),
                Err(LedgerError::Conflict { .. }) if attempts < HEAD_ATTEMPTS * 2 => {
                    attempts += 1;
                    read = self.ledger.rollouts(target).await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Makes this deployment the target's head (and returns the head as written), unless
    /// a newer one got there first (then returns the newer deployment's id). If an older
    /// deployment is still on its way to UpdateService, waits for it, so that the newer
    /// image always reaches ECS last.
    async fn become_head(
        &self,
        target: &Target,
        mut head: Option<Versioned<Head>>,
        ours: &Head,
        invocation: &Invocation,
        log: &LogContext<'_>,
    ) -> Result<Result<Versioned<Head>, String>, StepError> {
        let give_up_at = invocation.deadline - chrono::Duration::seconds(5);
        let mut conflicts = 0;
        loop {
            if let Some(read) = &head {
                let current = &read.value;
                if current.deployment_id == ours.deployment_id {
                    return Ok(Ok(read.clone()));
                }
                if is_newer(current, ours) {
                    return Ok(Err(current.deployment_id.clone()));
                }
                if current.holds_back_others(Utc::now()) {
                    if Utc::now() > give_up_at {
                        return Err(StepError::Aws(AwsError {
                            operation: "ledger head",
                            message: format!(
                                "{} is still rolling; retrying later",
                                current.deployment_id
                            ),
                            kind: crate::ports::AwsErrorKind::Transient,
                        }));
                    }
                    log.decided(
                        "waiting",
                        &format!(
                        "an older image ({}) is being rolled: waiting for it to reach ECS first",
                        current.deployment_id),
                    );
                    tokio::time::sleep(HEAD_POLL).await;
                    head = self.ledger.head(&target.name).await?;
                    continue;
                }
            }
            match self
                .ledger
                .set_head(&target.name, head.as_ref(), ours.clone())
                .await
            {
                Ok(written) => return Ok(Ok(written)),
                Err(LedgerError::Conflict { .. }) if conflicts < HEAD_ATTEMPTS => {
                    conflicts += 1;
                    head = self.ledger.head(&target.name).await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Best effort: once this deployment has rolled (or stopped), newer ones need not
    /// wait for it. Starts from the head as this invocation wrote it; if someone wrote
    /// since, re-reads once. If this fails, the head's lease simply runs out.
    async fn settle_head(&self, target: &Target, ours: Versioned<Head>) {
        let mut read = ours;
        for _ in 0..2 {
            if read.value.settled {
                return;
            }
            let settled = Head {
                settled: true,
                updated_at: Utc::now(),
                ..read.value.clone()
            };
            let deployment_id = read.value.deployment_id.clone();
            match self
                .ledger
                .set_head(&target.name, Some(&read), settled)
                .await
            {
                Err(LedgerError::Conflict { .. }) => match self.ledger.head(&target.name).await {
                    Ok(Some(now)) if now.value.deployment_id == deployment_id => read = now,
                    _ => return,
                },
                _ => return,
            }
        }
    }

    /// Best effort: after a transient failure, let Lambda's retry take over at once rather
    /// than wait for the lease to run out, and record why this attempt stopped (what a
    /// person sees if every retry fails and the event ends in the dead-letter queue). If
    /// this fails too, the lease simply expires.
    async fn release_lease(
        &self,
        target: &str,
        key: &str,
        invocation: &Invocation,
        error: &StepError,
    ) {
        let Ok(Some(current)) = self.ledger.deployment(target, key).await else {
            return;
        };
        if current.value.lease.as_ref().map(|l| &l.holder) == Some(&invocation.request_id) {
            let mut next = current.value.clone();
            next.lease = None;
            next.error = Some(format!(
                "attempt {} stopped on a transient error, Lambda retries the event: {error}",
                invocation.request_id
            ));
            let _ = self.ledger.save(&current, next).await;
        }
    }

    /// Logs the outcome of one target; a transient error releases the lease for the retry.
    async fn conclude(
        &self,
        result: Result<TargetOutcome, StepError>,
        key: &str,
        invocation: &Invocation,
        log: &LogContext<'_>,
    ) -> Result<TargetOutcome, StepError> {
        match &result {
            Err(err) if err.is_transient() => {
                log.warned(
                    "retry",
                    &format!("transient AWS error, the event will be retried: {err}"),
                );
                // Best effort, and never at the cost of the error reaching Lambda in time:
                // when AWS is down this write would wait out its own timeouts.
                let budget = (invocation.deadline - Utc::now() - chrono::Duration::seconds(1))
                    .to_std()
                    .unwrap_or_default()
                    .min(RELEASE_BUDGET);
                let release = self.release_lease(log.target, key, invocation, err);
                if tokio::time::timeout(budget, release).await.is_err() {
                    log.warned(
                        "retry",
                        "could not release the lease in time; it runs out at the deadline",
                    );
                }
            }
            Err(err) => log.warned("failed", &format!("cannot deploy, not retrying: {err}")),
            Ok(_) => {}
        }
        result
    }
}

/// How long a failed attempt may spend releasing its lease (and recording its error).
const RELEASE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// The ordering rule (README, "Which image wins"): a push is older, and never rolls the
/// service back, if
/// 1. the target orders by semver and Slipway last accepted a version for it: the tag's
///    version decides alone — below it is older, above it is newer whenever its image was
///    built. CI promotes by re-tagging a digest it built earlier, and ECR keeps the image's
///    first `imagePushedAt` on a re-tag (ECR User Guide, "Retagging an image"), so push
///    time says nothing about a version. Only the same version (or none accepted yet)
///    goes on to rule 2;
/// 2. ECR received its digest (`imagePushedAt`) before the digest the service runs now
///    (`running`: that digest and when ECR received it), or before the digest Slipway
///    last accepted for the target.
fn older_than_running(
    pushed_at: Option<DateTime<Utc>>,
    version: Option<&Version>,
    running: Option<(&str, Option<DateTime<Utc>>)>,
    head: Option<&Versioned<Head>>,
) -> Option<String> {
    let head = head.map(|h| &h.value);
    if let (Some(ours), Some(theirs)) = (
        version,
        head.and_then(|h| h.version.as_deref())
            .and_then(|v| Version::parse(v).ok()),
    ) {
        if *ours < theirs {
            return Some(format!(
                "version {ours} is below {theirs}, which Slipway last accepted for this target"
            ));
        }
        if *ours > theirs {
            return None;
        }
    }
    let ours = pushed_at?;
    if let Some((running_digest, Some(theirs))) = running {
        if ours < theirs {
            return Some(format!(
                "pushed at {ours}, before {running_digest} which the service runs (pushed at {theirs})"
            ));
        }
    }
    if let Some((head, theirs)) = head.and_then(|h| h.pushed_at.map(|at| (h, at))) {
        if ours < theirs {
            return Some(format!(
                "pushed at {ours}, before {} which Slipway last accepted (pushed at {theirs})",
                head.digest
            ));
        }
    }
    None
}

fn duplicate(existing: &Deployment, log: &LogContext<'_>) -> TargetOutcome {
    let reason = match &existing.lease {
        Some(lease) if existing.state == State::Planned => format!(
            "duplicate delivery: request {} is deploying this until {}",
            lease.holder, lease.until
        ),
        _ => format!(
            "duplicate delivery: already handled for this target (state {})",
            existing.state
        ),
    };
    log.decided("duplicate", &reason);
    TargetOutcome::Duplicate {
        state: existing.state,
        reason,
    }
}

/// Whether `head` was accepted for a newer image than `candidate`.
fn is_newer(head: &Head, candidate: &Head) -> bool {
    let parse = |v: &Option<String>| v.as_deref().and_then(|v| Version::parse(v).ok());
    if let (Some(theirs), Some(ours)) = (parse(&head.version), parse(&candidate.version)) {
        if theirs != ours {
            return theirs > ours;
        }
    }
    matches!((head.pushed_at, candidate.pushed_at), (Some(theirs), Some(ours)) if theirs > ours)
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

/// The event itself when `raw` is Lambda's on-failure record of it (an operator redrove
/// the dead-letter queue by invoking the function with the message body).
fn redriven(raw: &Value) -> &Value {
    let (event, redriven) = crate::input::redrive::event_of(raw);
    if let Some(redriven) = redriven {
        info!(
            event_id = event_id(event).as_deref().unwrap_or("(no id)"),
            decision = "redriven",
            "redriven from the dead-letter queue: Lambda gave up on it ({}) after {} attempt(s), request {}",
            redriven.condition,
            redriven.attempts,
            redriven.request_id
        );
    }
    event
}

fn event_id(raw: &Value) -> Option<String> {
    raw.get("id").and_then(Value::as_str).map(str::to_string)
}

fn image_digest(image: &str) -> &str {
    crate::model::image_ref::digest_of(image).unwrap_or(image)
}

pub fn deployment_id(target: &Target, push: &ImagePushed) -> String {
    format!("{}.{}", target.name, image_key(&push.digest))
}

fn dry_run_plan(
    target: &Target,
    running: &plan::TaskDefinitionSummary,
    planned: &plan::TaskDefinitionSummary,
    warnings: &[String],
) -> TargetOutcome {
    let mut diff = plan::summary_diff(running, planned);
    diff.push("every other field: unchanged".to_string());
    let mut calls = vec![format!(
        "s3:PutObject ledger targets/{}/deployments/... (If-None-Match: *) to claim the deployment",
        target.name
    )];
    match target.policy {
        Policy::Approval => {
            calls.push("s3:PutObject ledger (If-Match) -> awaiting-approval; no ECS call".into())
        }
        Policy::Auto => {
            calls.push(format!(
                "s3:PutObject ledger targets/{}/head.json (conditional)",
                target.name
            ));
            calls.push(format!(
                "ecs:RegisterTaskDefinition family {} (revision {} + 1) with tags carried over",
                running.family, running.revision
            ));
            calls.push(format!(
                "ecs:UpdateService cluster {} service {} taskDefinition {}:<new revision>",
                target.cluster, target.service, running.family
            ));
            calls.push(
                "s3:PutObject ledger (If-Match) -> rolling, with the ECS deployment id".into(),
            );
        }
    }
    TargetOutcome::DryRun {
        from_task_definition: running.arn.clone(),
        diff,
        calls,
        warnings: warnings.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second).unwrap())
    }

    fn head(version: Option<&str>, pushed_at: Option<DateTime<Utc>>) -> Versioned<Head> {
        Versioned {
            value: Head {
                deployment_id: "web/img-aaa".into(),
                digest: "sha256:aaa".into(),
                pushed_at,
                version: version.map(str::to_string),
                settled: true,
                lease_until: None,
                updated_at: Utc::now(),
            },
            etag: "\"1\"".into(),
        }
    }

    #[test]
    fn a_lower_version_than_the_last_accepted_is_older_whenever_it_was_pushed() {
        let last = head(Some("1.4.2"), at(0));
        let ours = Version::parse("1.4.1").unwrap();
        let reason = older_than_running(at(30), Some(&ours), None, Some(&last)).unwrap();
        assert!(reason.contains("1.4.1 is below 1.4.2"), "{reason}");
    }

    #[test]
    fn a_higher_version_re_tagged_from_an_image_built_earlier_is_not_older() {
        // CI promotes by re-tagging: v1.5.0 names a digest ECR received before the running
        // v1.4.2's, and ECR keeps that first push time.
        let last = head(Some("1.4.2"), at(20));
        let running = Some(("sha256:bbb", at(20)));
        let ours = Version::parse("1.5.0").unwrap();
        assert_eq!(
            older_than_running(at(5), Some(&ours), running, Some(&last)),
            None
        );
        // The same version again still goes by push time.
        let same = Version::parse("1.4.2").unwrap();
        let reason = older_than_running(at(5), Some(&same), running, Some(&last)).unwrap();
        assert!(reason.contains("pushed at"), "{reason}");
    }

    #[test]
    fn an_image_pushed_before_the_running_one_or_the_last_accepted_one_is_older() {
        let running = Some(("sha256:bbb", at(20)));
        let reason = older_than_running(at(10), None, running, None).unwrap();
        assert!(reason.contains("which the service runs"), "{reason}");

        let reason = older_than_running(at(10), None, None, Some(&head(None, at(20)))).unwrap();
        assert!(reason.contains("which Slipway last accepted"), "{reason}");
    }

    #[test]
    fn a_newer_image_or_one_whose_push_time_is_unknown_is_not_older() {
        let running = Some(("sha256:bbb", at(10)));
        let last = head(Some("1.4.1"), at(10));
        let ours = Version::parse("1.4.2").unwrap();
        assert_eq!(
            older_than_running(at(20), Some(&ours), running, Some(&last)),
            None
        );
        // The running image is no longer in ECR: only the head can make it older.
        assert_eq!(
            older_than_running(at(20), None, Some(("sha256:bbb", None)), None),
            None
        );
        assert_eq!(older_than_running(None, None, running, Some(&last)), None);
    }
}
