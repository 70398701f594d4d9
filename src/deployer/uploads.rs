//! The source-upload pipeline: an S3 "Object Created" event under `deploy/<target>/` →
//! exactly the object version it names → a validated manifest → images resolved to
//! digests → the same ledger, policies, dry run and rollout as image pushes.
//!
//! Bad input (invalid JSON, unknown container, wrong family, missing image, oversized or
//! deleted object) is recorded in the ledger as `failed` with the reason, logged, and
//! acknowledged: nothing is registered or rolled, and Lambda does not retry it.

use std::cmp::Ordering;

use chrono::Utc;
use serde_json::Value;
use tracing::{info, warn, Instrument};

use super::{
    decision_span, dry_run_plan, duplicate, log_decision, log_warning, record_in_span, DeployError,
    Deployer, EventOutcome, Invocation, Report, Step, StepError, TargetOutcome, TargetReport,
    HEAD_ATTEMPTS,
};
use crate::input::config::Target;
use crate::input::source::{
    compare_sequencers, is_placeholder, parse_manifest, parse_source_event, ImageRef,
    ImageReference, Manifest, SourceUploaded, MAX_MANIFEST_BYTES,
};
use crate::ledger::{source_key, Versioned};
use crate::ledger::{Change, Updated};
use crate::model::deployment::{Deployment, State, Trigger};
use crate::model::plan::{derive_images, Derivation, ImageChange, TaskDefinitionSummary};
use crate::model::target::SourceHead;
use crate::ports::{Adapters, Ecs, Registry, SourceBucket, SourceObject};

/// What an upload asks for, checked against what the service runs.
struct UploadPlan<T> {
    from_task_definition: String,
    /// The definition the new revision is derived from: the running one for image
    /// manifests, the uploaded one for `taskdef.json`.
    base: T,
    changes: Vec<ImageChange>,
    whole_task_definition: bool,
    running: TaskDefinitionSummary,
    /// What the new revision will be, for the diff a dry run (or an approver) sees.
    planned: TaskDefinitionSummary,
    /// What a person should know about the service before it rolls ([`crate::model::rollable`]).
    warnings: Vec<String>,
}

impl<A: Adapters> Deployer<A> {
    /// Handles one "Object Created" event exactly as EventBridge delivers it.
    pub async fn handle_source_event(
        &self,
        raw: &Value,
        invocation: &Invocation,
    ) -> Result<Report, DeployError> {
        let raw = super::redriven(raw);
        let upload = match self.triage(raw, parse_source_event(raw)) {
            Ok(upload) => upload,
            Err(report) => return Ok(report),
        };
        if let Some(expected) = self.source_bucket.as_ref().filter(|b| **b != upload.bucket) {
            let error = format!(
                "bucket `{}` is not Slipway's source bucket `{expected}`: check the EventBridge rule",
                upload.bucket
            );
            warn!(event_id = upload.event_id, decision = "refused", "{error}");
            return Ok(self.report(raw, EventOutcome::Refused { error }));
        }
        if upload.kind == crate::input::source::ManifestKind::Release {
            return Box::pin(self.handle_release_upload(raw, &upload, invocation)).await;
        }
        let Some(target) = self.config.target(&upload.target) else {
            let reason = format!(
                "no target is named `{}` (key `{}`)",
                upload.target, upload.key
            );
            info!(event_id = upload.event_id, decision = "ignored", "{reason}");
            return Ok(self.report(raw, EventOutcome::Ignored { reason }));
        };
        if let Some(group) = self.config.rolled_by_group(&target.name) {
            let reason = format!(
                "{} is rolled by release group {group}, with its migration first: an upload does not deploy it on its own",
                target.name
            );
            info!(event_id = upload.event_id, decision = "ignored", "{reason}");
            return Ok(self.report(raw, EventOutcome::Ignored { reason }));
        }
        let key = source_key(&upload.bucket, &upload.key, &upload.version_id);
        let id = Deployment::id_for(&target.name, &key);
        let span = decision_span(&upload.event_id, &target.name, "", &id);
        let concluded = async {
            let result = self.deploy_upload(target, &upload, &key, invocation).await;
            self.conclude(result, &target.name, &key, invocation).await
        }
        .instrument(span)
        .await;
        let outcome = match concluded {
            Ok(outcome) => outcome,
            Err(err) if err.is_transient() => {
                return Err(DeployError {
                    event_id: upload.event_id.clone(),
                    failed: 1,
                    first: format!("{}: {err}", target.name),
                })
            }
            Err(err) => super::permanent_outcome(err),
        };
        Ok(self.report(
            raw,
            EventOutcome::Targets {
                targets: vec![TargetReport {
                    target: target.name.clone(),
                    deployment_id: id,
                    image: format!(
                        "s3://{}/{}?versionId={}",
                        upload.bucket, upload.key, upload.version_id
                    ),
                    outcome,
                }],
                groups: Vec::new(),
            },
        ))
    }

    async fn deploy_upload(
        &self,
        target: &Target,
        upload: &SourceUploaded,
        key: &str,
        invocation: &Invocation,
    ) -> Result<TargetOutcome, StepError> {
        let head = match self.check_upload(target, upload, key, invocation).await? {
            Step::Go(head) => head,
            Step::Stop(outcome) => return Ok(outcome),
        };
        let plan = match self.plan_upload(target, upload).await {
            Ok(plan) => plan,
            Err(StepError::Rejected(problem)) => {
                return self.reject(target, upload, key, problem).await;
            }
            Err(err) => return Err(err),
        };
        // From here on, the log lines carry the digest the upload deploys.
        let digest = plan
            .changes
            .iter()
            .find(|c| c.from != c.to)
            .or(plan.changes.first());
        let digest = digest.map_or(String::new(), |c| super::image_digest(&c.to).to_string());
        record_in_span("digest", &digest);
        if plan.changes.iter().all(|c| c.from == c.to) && !plan.whole_task_definition {
            log_decision(
                "already-running",
                &format!(
                    "{}/{} already runs what {} asks for: nothing to register",
                    target.cluster, target.service, upload.key
                ),
            );
            return Ok(TargetOutcome::AlreadyRunning {
                task_definition: plan.from_task_definition,
            });
        }
        if self.is_dry_run() {
            let mut outcome = upload_dry_run(target, upload, &plan);
            if let TargetOutcome::DryRun { warnings, .. } = &mut outcome {
                warnings.extend(self.window_warning(target));
                let trigger = self.blank_record(target, upload, key).trigger;
                warnings.extend(
                    self.promotion_warning(target, &plan.changes, &trigger)
                        .await?,
                );
            }
            return Ok(outcome);
        }
        let record = self.record(target, upload, key, &plan, invocation);
        let current = match self.claim(record, invocation).await? {
            Step::Go(current) => current,
            Step::Stop(duplicate) => return Ok(duplicate),
        };
        if let Some(newer) = self
            .become_source_head(target, head, upload, &current.value.id)
            .await?
        {
            return self.supersede(current, newer).await;
        }
        self.roll(target, current, &plan.base, plan.changes).await
    }

    /// A version delivered again finds its record (a duplicate, unless it can be
    /// resumed); an older version than the key's newest accepted one stops. Goes on with
    /// the key's source head as read.
    async fn check_upload(
        &self,
        target: &Target,
        upload: &SourceUploaded,
        key: &str,
        invocation: &Invocation,
    ) -> Result<Step<Option<Versioned<SourceHead>>>, StepError> {
        if let Some(existing) = self.ledger.deployment(&target.name, key).await? {
            let resumable = existing.value.state == State::Planned
                && !existing
                    .value
                    .is_held_by_other(&invocation.request_id, Utc::now());
            if !resumable {
                return Ok(Step::Stop(duplicate(&existing.value)));
            }
        }
        let head = self.ledger.source_head(&target.name, &upload.key).await?;
        if let Some(newer) = head
            .as_ref()
            .map(|h| &h.value)
            .filter(|h| compare_sequencers(&h.sequencer, &upload.sequencer) == Ordering::Greater)
        {
            let reason = format!(
                "version {} of {} is older (sequencer {}) than version {} already accepted (sequencer {})",
                upload.version_id, upload.key, upload.sequencer, newer.version_id, newer.sequencer
            );
            log_decision("older", &format!("not deploying: {reason}"));
            return Ok(Step::Stop(TargetOutcome::Older { reason }));
        }
        Ok(Step::Go(head))
    }

    /// Reads the object version, validates the manifest and resolves its images.
    /// `StepError::Rejected` means bad input; anything else is an AWS failure.
    async fn plan_upload(
        &self,
        target: &Target,
        upload: &SourceUploaded,
    ) -> Result<UploadPlan<<A::Ecs as Ecs>::TaskDefinition>, StepError> {
        let rejected = |problem: String| StepError::Rejected(problem);
        let body = self.read_upload(upload).await?;
        let manifest =
            parse_manifest(upload.kind, &body).map_err(|err| rejected(err.to_string()))?;
        let (service, running, warnings) = self.running_definition(target).await?;
        let mut plan = self
            .manifest_plan(target, manifest, service, running)
            .await?;
        plan.warnings = warnings;
        Ok(plan)
    }

    /// Exactly the object version the event names, within [`MAX_MANIFEST_BYTES`].
    /// `StepError::Rejected`: too large, or deleted before it could be read.
    pub(super) async fn read_upload(&self, upload: &SourceUploaded) -> Result<Vec<u8>, StepError> {
        let rejected = |problem: String| StepError::Rejected(problem);
        if let Some(size) = upload.size.filter(|size| *size > MAX_MANIFEST_BYTES) {
            return Err(rejected(too_large(size)));
        }
        match self
            .sources
            .read_version(
                &upload.bucket,
                &upload.key,
                &upload.version_id,
                MAX_MANIFEST_BYTES,
            )
            .await?
        {
            SourceObject::Found { body } => Ok(body),
            SourceObject::Missing => Err(rejected(format!(
                "version {} of s3://{}/{} was deleted before it could be read",
                upload.version_id, upload.bucket, upload.key
            ))),
            SourceObject::TooLarge { size } => Err(rejected(too_large(size))),
        }
    }

    /// The plan for a manifest that has been read and parsed.
    async fn manifest_plan(
        &self,
        target: &Target,
        manifest: Manifest,
        service: crate::ports::ServiceState,
        running: crate::ports::DescribedTaskDefinition<<A::Ecs as Ecs>::TaskDefinition>,
    ) -> Result<UploadPlan<<A::Ecs as Ecs>::TaskDefinition>, StepError> {
        let rejected = |problem: String| StepError::Rejected(problem);
        match manifest {
            Manifest::Images(images) => {
                let mut wanted = Vec::with_capacity(images.len());
                for entry in &images {
                    wanted.push((entry.container.as_str(), self.resolve(&entry.image).await?));
                }
                self.image_plan(target, service.task_definition, running, &wanted)
            }
            Manifest::Image(uri) => {
                let image = self.resolve(&uri).await?;
                let wanted: Vec<(&str, String)> = target
                    .containers
                    .iter()
                    .map(|c| (c.as_str(), image.clone()))
                    .collect();
                self.image_plan(target, service.task_definition, running, &wanted)
            }
            Manifest::TaskDefinition(document) => {
                let family = document
                    .get("family")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if family != running.summary.family {
                    return Err(rejected(format!(
                        "taskdef.json is for family `{family}`, but target `{}` runs family `{}`",
                        target.name, running.summary.family
                    )));
                }
                let parsed = self
                    .ecs
                    .parse_task_definition(&document)
                    .await
                    .map_err(|problem| rejected(format!("taskdef.json: {problem}")))?;
                let mut changes = Vec::new();
                for container in &parsed.summary.containers {
                    let current = running
                        .summary
                        .containers
                        .iter()
                        .find(|c| c.name == container.name)
                        .map(|c| c.image.clone());
                    let image = if is_placeholder(&container.image) {
                        current.clone().ok_or_else(|| rejected(format!(
                            "taskdef.json: container `{}` has the placeholder {} but the running task definition has no container of that name to fill it from",
                            container.name, container.image
                        )))?
                    } else if current.as_deref() == Some(container.image.as_str())
                        && !is_ecr_image(&container.image)
                    {
                        // A public image the service already runs (a sidecar by tag):
                        // carried over as the image-push path carries it over.
                        container.image.clone()
                    } else {
                        self.resolve(&container.image).await?
                    };
                    changes.push(ImageChange {
                        container: container.name.clone(),
                        from: current.unwrap_or_else(|| "(new container)".to_string()),
                        to: image,
                    });
                }
                Ok(UploadPlan {
                    from_task_definition: service.task_definition,
                    base: parsed.full,
                    planned: parsed.summary.with_images(&changes),
                    running: running.summary,
                    changes,
                    whole_task_definition: true,
                    warnings: Vec::new(),
                })
            }
        }
    }

    fn image_plan(
        &self,
        target: &Target,
        from_task_definition: String,
        running: crate::ports::DescribedTaskDefinition<<A::Ecs as Ecs>::TaskDefinition>,
        wanted: &[(&str, String)],
    ) -> Result<UploadPlan<<A::Ecs as Ecs>::TaskDefinition>, StepError> {
        let wanted: Vec<(&str, &str)> = wanted.iter().map(|(c, i)| (*c, i.as_str())).collect();
        let changes = match derive_images(&target.name, &running.summary, &wanted)
            .map_err(|err| StepError::Rejected(err.to_string()))?
        {
            Derivation::Change(changes) => changes,
            Derivation::AlreadyRunning { .. } => Vec::new(),
        };
        Ok(UploadPlan {
            from_task_definition,
            base: running.full,
            planned: running.summary.with_images(&changes),
            running: running.summary,
            changes,
            whole_task_definition: false,
            warnings: Vec::new(),
        })
    }

    /// An image as the manifest gives it → an immutable reference. Tags are resolved to
    /// digests through ECR; an image that ECR does not have is bad input.
    pub(super) async fn resolve(&self, uri: &str) -> Result<String, StepError> {
        let image = ImageRef::parse(uri).map_err(StepError::Rejected)?;
        match (image.ecr_registry(), &image.reference) {
            (Some((account, region)), reference) => {
                if region != self.config.home.region {
                    return Err(StepError::Rejected(format!(
                        "image `{uri}` is in ECR in {region}, but Slipway runs in {}: replicate the repository to {} or give the image by digest from there",
                        self.config.home.region, self.config.home.region
                    )));
                }
                let digest = self
                    .registry
                    .image_digest(&account, &image.repository, reference)
                    .await?
                    .ok_or_else(|| StepError::Rejected(format!("image `{uri}` does not exist in ECR")))?;
                if let ImageReference::Tag(tag) = reference {
                    log_decision("resolved", &format!("{}:{tag} is {digest}", image.repository));
                }
                Ok(image.pinned(&digest))
            }
            (None, ImageReference::Digest(_)) => Ok(uri.to_string()),
            (None, ImageReference::Tag(_)) => Err(StepError::Rejected(format!(
                "image `{uri}` is not in this account's ECR and is given by tag: give it by digest (…@sha256:…) so that what runs is immutable"
            ))),
        }
    }

    fn record(
        &self,
        target: &Target,
        upload: &SourceUploaded,
        key: &str,
        plan: &UploadPlan<<A::Ecs as Ecs>::TaskDefinition>,
        invocation: &Invocation,
    ) -> Deployment {
        let mut record = self.blank_record(target, upload, key);
        record.image = plan
            .changes
            .iter()
            .map(|c| c.to.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        record.changes = plan.changes.clone();
        record.diff = crate::model::plan::summary_diff(&plan.running, &plan.planned);
        record.from_task_definition = plan.from_task_definition.clone();
        record.lease = Some(crate::model::deployment::Lease {
            holder: invocation.request_id.clone(),
            until: invocation.deadline,
        });
        record
    }

    fn blank_record(&self, target: &Target, upload: &SourceUploaded, key: &str) -> Deployment {
        let trigger = Trigger::SourceUpload {
            event_id: upload.event_id.clone(),
            bucket: upload.bucket.clone(),
            key: upload.key.clone(),
            version_id: upload.version_id.clone(),
            sequencer: upload.sequencer.clone(),
            manifest: upload.kind,
            requester: upload.requester.clone(),
        };
        Deployment::new(&target.name, &target.cluster, &target.service, key, trigger)
    }

    /// Bad input: recorded as failed (once), logged, acknowledged. Nothing reaches ECS.
    async fn reject(
        &self,
        target: &Target,
        upload: &SourceUploaded,
        key: &str,
        problem: String,
    ) -> Result<TargetOutcome, StepError> {
        log_warning(
            "rejected",
            &format!(
                "{}: {problem}; nothing registered, not retrying",
                upload.key
            ),
        );
        if !self.is_dry_run() {
            let mut record = self.blank_record(target, upload, key);
            record.error = Some(problem.clone());
            record.advance(State::Failed, format!("rejected: {problem}"), Utc::now())?;
            // A duplicate of a rejected upload finds the record there already: fine.
            let _ = self.ledger.claim(record).await?;
        }
        Ok(TargetOutcome::Failed { error: problem })
    }

    /// Makes this upload the newest accepted version of its key, unless a newer version
    /// got there first; then returns that version's deployment id.
    async fn become_source_head(
        &self,
        target: &Target,
        head: Option<Versioned<SourceHead>>,
        upload: &SourceUploaded,
        deployment_id: &str,
    ) -> Result<Option<String>, StepError> {
        let ours = SourceHead {
            deployment_id: deployment_id.to_string(),
            key: upload.key.clone(),
            version_id: upload.version_id.clone(),
            sequencer: upload.sequencer.clone(),
            updated_at: Utc::now(),
        };
        let decide = |current: Option<Versioned<SourceHead>>| {
            let change = match current {
                Some(current) if current.value.deployment_id == ours.deployment_id => {
                    Change::Leave(None)
                }
                Some(current)
                    if compare_sequencers(&current.value.sequencer, &ours.sequencer)
                        == Ordering::Greater =>
                {
                    Change::Leave(Some(current.value.deployment_id))
                }
                _ => Change::Write(ours.clone()),
            };
            std::future::ready(Ok::<_, StepError>(change))
        };
        let record = crate::ledger::Record::Source {
            target: &target.name,
            key: &upload.key,
        };
        match self
            .ledger
            .update(record, head, HEAD_ATTEMPTS, decide)
            .await?
        {
            Updated::Written(_) => Ok(None),
            Updated::Left(newer) => Ok(newer),
        }
    }
}

/// The dry run of an upload: the plan, and whether the whole task definition is replaced.
fn upload_dry_run<T>(
    target: &Target,
    upload: &SourceUploaded,
    plan: &UploadPlan<T>,
) -> TargetOutcome {
    let mut outcome = dry_run_plan(target, &plan.running, &plan.planned, &plan.warnings);
    if let (true, TargetOutcome::DryRun { diff, .. }) = (plan.whole_task_definition, &mut outcome) {
        diff.insert(
            0,
            format!(
                "the whole task definition is replaced by {} (version {})",
                upload.key, upload.version_id
            ),
        );
    }
    let printed = serde_json::to_string(&outcome).unwrap_or_default();
    log_decision(
        "dry-run",
        &format!("dry run, nothing written; the plan: {printed}"),
    );
    outcome
}

fn is_ecr_image(uri: &str) -> bool {
    ImageRef::parse(uri).is_ok_and(|image| image.ecr_registry().is_some())
}

fn too_large(size: i64) -> String {
    format!(
        "the object is {size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit for manifests: it was not read"
    )
}
