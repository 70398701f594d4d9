//! The reconciler's look for a push a release group never heard of. EventBridge delivers
//! ECR's events at least once, not always: a group whose targets all take one repository
//! — so that a push can release it — has that repository read on each schedule, and the
//! newest image every target of the group takes is handed to the push pipeline as its
//! push when no run of it exists and the group's line took nothing newer. The pipeline
//! then treats it as any push: the line orders it, the gates and the approval hold it.
//! A group released by uploads (its targets take different repositories) is not looked
//! for: an upload's event is S3's, and its object is the release.

use std::collections::BTreeMap;

use chrono::Utc;
use tracing::info;

use crate::input::config::{TagRule, Target};
use crate::model::group::{run_id, Group};
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
        if self.ledger.group_run(&group.name, &id).await?.is_some() {
            return Ok(None);
        }
        let ours = self.pushed_release(group, tag, image.pushed_at);
        let line = self.ledger.group_line(&group.name).await?;
        let newest = line.and_then(|l| l.value.newest_push);
        // Only what is newer than the last push the line took: an older image in ECR is
        // one the line refused, or one a newer release made moot.
        if newest.is_some_and(|n| n.push.older_than(&ours).is_none()) {
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
