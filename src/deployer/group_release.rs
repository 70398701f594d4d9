//! A push as a release group's release. When every target of a group takes the pushed
//! image — its repository, a tag its rule matches — the push is the group's release: the
//! same digest for each target, as when one image serves web, the worker and the
//! migration. A push that only some of a group's targets take starts nothing (the others
//! would run an image nobody released for them) and says so; those targets never deploy
//! it on their own either (`Config::rolled_by_group`).

use std::collections::BTreeMap;

use tracing::info;

use crate::input::event::ImagePushed;
use crate::model::group::{run_id, PushedRelease, RunState};
use crate::ports::Adapters;

use super::groups::GroupRunReport;
use super::push::target_wants;
use super::*;

impl<A: Adapters> Deployer<A> {
    /// The runs the push starts or drives, one per group whose targets all take it. `Err`:
    /// the first error worth a retry (the push goes back to Lambda).
    pub(super) async fn release_groups(
        &self,
        push: &ImagePushed,
        invocation: &Invocation,
    ) -> Result<Vec<GroupRunReport>, String> {
        let mut reports = Vec::new();
        let mut pushed_at = None;
        for group in &self.config.groups {
            let Some(release) = self.release_of(group, push) else {
                continue;
            };
            let id = run_id(&group.name, &release);
            // When ECR received the digest: read once, only for a push that releases a group.
            let pushed_at = match pushed_at {
                Some(at) => at,
                None => {
                    let read = self
                        .registry
                        .image_pushed_at(&push.account, &push.repository, &push.digest)
                        .await;
                    let at = match read {
                        Ok(at) => at,
                        Err(err) if err.is_transient() => {
                            return Err(format!("group {}: {err}", group.name))
                        }
                        // Retrying will not help: the release goes on, ordered by its
                        // version alone (a tag with none is not ordered against others).
                        Err(err) => {
                            log_warning(
                                "group-run",
                                &format!("group {}: when ECR received {} is unknown ({err}): the push is not ordered by its push time", group.name, push.digest),
                            );
                            None
                        }
                    };
                    *pushed_at.insert(at)
                }
            };
            let pushed = self.pushed_release(group, &push.tag, pushed_at);
            let started = self.start_group_run_pushed(&group.name, release, pushed, invocation);
            match Box::pin(started).await {
                Ok(report) => reports.push(report),
                Err(err) if err.is_transient() => {
                    return Err(format!("group {}: {err}", group.name))
                }
                // Only a ledger Slipway cannot use gets here (the release is built from the
                // config): the run may be fine, it was not started by this push.
                Err(err) => {
                    log_warning(
                        "group-run",
                        &format!(
                            "group {}: run {id} not started, not retrying: {err}",
                            group.name
                        ),
                    );
                    reports.push(GroupRunReport {
                        group: group.name.clone(),
                        run_id: id,
                        state: RunState::Failed,
                        actions: Vec::new(),
                        why: Some(format!("not started by this push: {err}")),
                    });
                }
            }
        }
        Ok(reports)
    }

    /// What orders a push of `tag` (ECR received its digest at `pushed_at`) against the
    /// group's other pushes: the version the tag names for a target ordering by semver.
    pub(super) fn pushed_release(
        &self,
        group: &crate::model::group::Group,
        tag: &str,
        pushed_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> PushedRelease {
        PushedRelease {
            tag: tag.to_string(),
            version: group
                .targets()
                .iter()
                .filter_map(|name| self.config.target(name))
                .find_map(|target| target.tags.version(tag))
                .map(|v| v.to_string()),
            pushed_at,
        }
    }

    /// The release the push makes of `group`: each target's image at the pushed digest,
    /// when every target takes the push; `None` (and why, in the log) otherwise.
    fn release_of(
        &self,
        group: &crate::model::group::Group,
        push: &ImagePushed,
    ) -> Option<BTreeMap<String, String>> {
        let mut release = BTreeMap::new();
        let mut others = Vec::new();
        for name in group.targets() {
            match self.config.target(name) {
                Some(target) if target_wants(target, push) => {
                    release.insert(name.to_string(), target.repository.image_uri(&push.digest));
                }
                _ => others.push(name),
            }
        }
        if release.is_empty() {
            return None;
        }
        if !others.is_empty() {
            info!(
                event_id = push.event_id,
                group = group.name,
                decision = "ignored",
                "{}:{} is an image for {} of release group {}, which also rolls {}: a push starts a group's run only when every target of the group takes it (the same repository, a tag each one's rule matches)",
                push.repository,
                push.tag,
                release.keys().cloned().collect::<Vec<_>>().join(", "),
                group.name,
                others.join(", ")
            );
            return None;
        }
        Some(release)
    }
}
