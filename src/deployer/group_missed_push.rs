//! The reconciler's look for a push a release group never heard of. ECR sends its events
//! on a best-effort basis: a group whose targets all take one repository — so that a push
//! can release it — and whose line took a push before has that repository read on each
//! schedule, and the newest image every target of the group takes is handed to the push
//! pipeline as its push when no run of it exists and it is newer than the last push the
//! line took. The pipeline then treats it as any push: the line orders it, the gates and
//! the approval hold it. Not looked for: a group whose line took no push yet (its newest
//! image is most likely what its services run already), and a group released by uploads
//! (a push cannot be ordered against an upload).

use std::collections::BTreeMap;

use chrono::Utc;
use tracing::info;

use crate::input::config::{TagRule, Target};
use crate::model::group::{run_id, Group, RunState};
use crate::ports::{Adapters, ListedImage};
use crate::reconcile::{newest_release, push_event};

use super::groups::GroupRunReport;
use super::*;

impl<A: Adapters> Deployer<A> {
    /// The run a missed push of `group` started (`None`: nothing was missed, or no push
    /// can release the group).
    pub(super) async fn release_missed_group_push(
        &self,
        group: &Group,
        invocation: &Invocation,
    ) -> Result<Option<GroupRunReport>, StepError> {
        let targets: Vec<&Target> = group
            .targets()
            .into_iter()
            .filter_map(|name| self.config.target(name))
            .collect();
        let Some(first) = targets.first().copied() else {
            return Ok(None);
        };
        if targets.iter().any(|t| t.repository != first.repository) {
            return Ok(None);
        }
        // What the line took: with no push yet — a group just configured over services
        // that already run — the newest image in ECR is most likely what runs now, and
        // releasing it would run its migration again; with uploads, a push cannot be
        // ordered against them. Neither is looked for.
        let Some(line) = self.ledger.group_line(&group.name).await? else {
            return Ok(None);
        };
        let line = line.value;
        let Some(newest) = line
            .newest_push
            .as_ref()
            .filter(|_| line.sources.is_empty())
        else {
            return Ok(None);
        };
        let repo = &first.repository;
        let images = self.registry.list_images(&repo.account, &repo.name).await?;
        let taken = taken_by_every_target(images, &targets);
        // Newest by a target that orders by semver, if one does: the version decides.
        let ordering = targets
            .iter()
            .copied()
            .find(|t| matches!(t.tags, TagRule::Semver(_)))
            .unwrap_or(first);
        let Some((image, tag)) = newest_release(ordering, &taken) else {
            return Ok(None);
        };
        let release: BTreeMap<String, String> = targets
            .iter()
            .map(|t| (t.name.clone(), t.repository.image_uri(&image.digest)))
            .collect();
        let id = run_id(&group.name, &release);
        if let Some(run) = self.ledger.group_run(&group.name, &id).await? {
            // Created by an earlier look that died before the line took it: nothing else
            // would ever drive it.
            if run.value.state == RunState::Queued && !line.has_place(&id) {
                let driven = Box::pin(self.drive_group_run(&group.name, &id, invocation)).await?;
                return Ok(Some(driven));
            }
            return Ok(None);
        }
        // Only what is newer than the last push the line took: an older image in ECR is
        // one the line refused, or one a newer release made moot.
        let ours = self.pushed_release(group, tag, image.pushed_at);
        if newest.push.older_than(&ours).is_none() {
            return Ok(None);
        }
        info!(
            group = group.name,
            digest = image.digest,
            decision = "reconciled",
            "{}:{tag} is the newest release of group {} in ECR and no push event for it was handled: releasing it as that push",
            repo.name,
            group.name
        );
        let event = push_event(first, image, tag, Utc::now());
        let report = self
            .handle_ecr_event(&event, invocation)
            .await
            .map_err(|err| StepError::Rejected(err.to_string()))?;
        Ok(match report.outcome {
            EventOutcome::Targets { groups, .. } => {
                groups.into_iter().find(|g| g.group == group.name)
            }
            _ => None,
        })
    }
}

/// The images with only the tags every one of `targets` takes (a tag one of them refuses
/// cannot release the group); images left with none are dropped.
fn taken_by_every_target(images: Vec<ListedImage>, targets: &[&Target]) -> Vec<ListedImage> {
    images
        .into_iter()
        .map(|mut image| {
            image
                .tags
                .retain(|tag| targets.iter().all(|t| t.tags.matches(tag)));
            image
        })
        .filter(|image| !image.tags.is_empty())
        .collect()
}
