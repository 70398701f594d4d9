//! A release group's release from the source bucket: `deploy/<group>/release.json` names
//! one image per target of the group (`input::release`), for a group whose targets take
//! different repositories — no single push can release it. Exactly the object version the
//! event names is read, each image is resolved as a target's upload resolves it (a tag to
//! its digest through ECR, at upload), and the release starts the group's run like a push
//! would: the same release again is the same run, and a newer one waits for the line. S3
//! may deliver two uploads' events out of order: the run carries its upload's sequencer,
//! and the line refuses an upload older than one it took already
//! ([`crate::model::group::line`]).
//!
//! Bad input (not JSON, a target left out or one the group does not roll, an image ECR
//! does not have) is refused and logged, and writes nothing: there is no run to record it
//! in, and Lambda does not retry it.

use std::collections::BTreeMap;

use serde_json::Value;
use tracing::{info, warn};

use crate::input::release::parse_release;
use crate::input::source::SourceUploaded;
use crate::model::group::{Group, ReleaseSource};
use crate::ports::Adapters;

use super::*;

impl<A: Adapters> Deployer<A> {
    /// One `release.json` upload, after the event was read and its bucket checked.
    pub(super) async fn handle_release_upload(
        &self,
        raw: &Value,
        upload: &SourceUploaded,
        invocation: &Invocation,
    ) -> Result<Report, DeployError> {
        let Some(spec) = self.config.groups.iter().find(|g| g.name == upload.target) else {
            let reason = format!(
                "no release group is named `{}` (key `{}`)",
                upload.target, upload.key
            );
            info!(event_id = upload.event_id, decision = "ignored", "{reason}");
            return Ok(self.report(raw, EventOutcome::Ignored { reason }));
        };
        let object = format!(
            "s3://{}/{}?versionId={}",
            upload.bucket, upload.key, upload.version_id
        );
        let started = match self.release_of_upload(spec, upload).await {
            Ok(release) => {
                info!(
                    event_id = upload.event_id,
                    group = spec.name,
                    decision = "release",
                    "{object} releases {}",
                    describe(&release)
                );
                let source = ReleaseSource {
                    key: format!("s3://{}/{}", upload.bucket, upload.key),
                    version_id: upload.version_id.clone(),
                    sequencer: upload.sequencer.clone(),
                };
                Box::pin(self.start_group_run_from(&spec.name, release, Some(source), invocation))
                    .await
            }
            Err(err) => Err(err),
        };
        match started {
            Ok(run) => Ok(self.report(
                raw,
                EventOutcome::Targets {
                    targets: Vec::new(),
                    groups: vec![run],
                },
            )),
            Err(err) if err.is_transient() => Err(DeployError {
                event_id: upload.event_id.clone(),
                failed: 1,
                first: format!("group {}: {err}", spec.name),
            }),
            Err(err) => {
                let error = format!("{object}: not a release of group {}: {err}", spec.name);
                warn!(
                    event_id = upload.event_id,
                    group = spec.name,
                    decision = "refused",
                    "{error} (nothing written, not retried)"
                );
                Ok(self.report(raw, EventOutcome::Refused { error }))
            }
        }
    }

    /// The release the uploaded version names: each target's image, pinned to a digest.
    /// `StepError::Rejected`: bad input.
    async fn release_of_upload(
        &self,
        spec: &Group,
        upload: &SourceUploaded,
    ) -> Result<BTreeMap<String, String>, StepError> {
        let body = self.read_upload(upload).await?;
        let images =
            parse_release(spec, &body).map_err(|err| StepError::Rejected(err.to_string()))?;
        let mut release = BTreeMap::new();
        for (target, image) in images {
            let pinned = self.resolve(&image).await.map_err(|err| match err {
                StepError::Rejected(problem) => StepError::Rejected(format!("{target}: {problem}")),
                other => other,
            })?;
            release.insert(target, pinned);
        }
        Ok(release)
    }
}

fn describe(release: &BTreeMap<String, String>) -> String {
    release
        .iter()
        .map(|(target, image)| format!("{target} = {image}"))
        .collect::<Vec<_>>()
        .join(", ")
}
