//! Planning a deployment: which containers get which image, and what else would differ.
//!
//! The adapter hands us a summary of the running task definition; we decide the image
//! changes. Carrying every other field over is the adapter's job (it copies the described
//! definition wholesale and swaps images), so a field this code has never heard of is
//! still carried over.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::image_ref::RepositoryRef;

/// What the decisions need to know about a task definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskDefinitionSummary {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    pub containers: Vec<ContainerSummary>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSummary {
    pub name: String,
    pub image: String,
    /// Names only: values may be sensitive and are never shown or logged.
    pub environment_names: Vec<String>,
    pub secret_names: Vec<String>,
}

/// One container's image change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageChange {
    pub container: String,
    pub from: String,
    pub to: String,
}

/// The images a new revision should run, by container name.
pub type ImageChanges = Vec<ImageChange>;

/// What to do about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Derivation {
    /// Register a new revision with these images and roll the service onto it.
    Change(ImageChanges),
    /// Every matched container already runs this exact image: register nothing.
    AlreadyRunning { image: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("target `{target}`: container `{container}` is not in task definition {task_definition} (it has: {available}); fix the target's `containers` or the manifest")]
    MissingContainer {
        target: String,
        container: String,
        task_definition: String,
        available: String,
    },
}

/// Decides the image changes for `target` when each of its `containers` should run
/// `image` (the pushed digest of its repository).
pub fn derive(
    target: &str,
    containers: &[String],
    image: &str,
    running: &TaskDefinitionSummary,
) -> Result<Derivation, PlanError> {
    let wanted: Vec<(&str, &str)> = containers
        .iter()
        .map(|container| (container.as_str(), image))
        .collect();
    derive_images(target, running, &wanted)
}

/// Decides the image changes that give each named container its wanted image.
pub fn derive_images(
    target: &str,
    running: &TaskDefinitionSummary,
    wanted: &[(&str, &str)],
) -> Result<Derivation, PlanError> {
    let mut changes = Vec::new();
    for (wanted_container, image) in wanted {
        let container = running
            .containers
            .iter()
            .find(|c| c.name == *wanted_container)
            .ok_or_else(|| PlanError::MissingContainer {
                target: target.to_string(),
                container: wanted_container.to_string(),
                task_definition: running.arn.clone(),
                available: running
                    .containers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if container.image != *image {
            changes.push(ImageChange {
                container: container.name.clone(),
                from: container.image.clone(),
                to: image.to_string(),
            });
        }
    }
    match (changes.is_empty(), wanted.first()) {
        (true, Some((_, image))) => Ok(Derivation::AlreadyRunning {
            image: image.to_string(),
        }),
        _ => Ok(Derivation::Change(changes)),
    }
}

/// The digest a container image is pinned to, if it is `repository@sha256:…` of this
/// repository. A tag, or another repository, says nothing about push order.
pub fn pinned_digest<'a>(image: &'a str, repository: &RepositoryRef) -> Option<&'a str> {
    let parts = crate::model::image_ref::split(image);
    let expected = format!("{}/{}", repository.registry(), repository.name);
    parts.digest.filter(|_| parts.name == expected)
}

impl TaskDefinitionSummary {
    /// This summary with the given images swapped in: what a derived revision will run.
    pub fn with_images(&self, changes: &[ImageChange]) -> TaskDefinitionSummary {
        let mut planned = self.clone();
        for container in &mut planned.containers {
            if let Some(change) = changes.iter().find(|c| c.container == container.name) {
                container.image = change.to.clone();
            }
        }
        planned
    }
}

/// Every difference a person should see before a service rolls from `running` to
/// `planned`: images, containers added or removed, environment and secret *names* added
/// or removed (values are never shown), cpu, memory, roles and tags.
pub fn summary_diff(
    running: &TaskDefinitionSummary,
    planned: &TaskDefinitionSummary,
) -> Vec<String> {
    let mut diff = Vec::new();
    let mut field = |name: &str, from: &Option<String>, to: &Option<String>| {
        if from != to {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
            diff.push(format!("{name}: {} -> {}", show(from), show(to)));
        }
    };
    field("cpu", &running.cpu, &planned.cpu);
    field("memory", &running.memory, &planned.memory);
    field("task role", &running.task_role_arn, &planned.task_role_arn);
    field(
        "execution role",
        &running.execution_role_arn,
        &planned.execution_role_arn,
    );
    for container in &planned.containers {
        let Some(before) = running.containers.iter().find(|c| c.name == container.name) else {
            diff.push(format!(
                "container {}: added, image {}",
                container.name, container.image
            ));
            continue;
        };
        if before.image != container.image {
            diff.push(format!(
                "container {}: image {} -> {}",
                container.name, before.image, container.image
            ));
        }
        for (what, old, new) in [
            (
                "environment",
                &before.environment_names,
                &container.environment_names,
            ),
            ("secret", &before.secret_names, &container.secret_names),
        ] {
            for added in new.iter().filter(|n| !old.contains(n)) {
                diff.push(format!(
                    "container {}: {what} {added} added",
                    container.name
                ));
            }
            for removed in old.iter().filter(|n| !new.contains(n)) {
                diff.push(format!(
                    "container {}: {what} {removed} removed",
                    container.name
                ));
            }
        }
    }
    for gone in running
        .containers
        .iter()
        .filter(|c| !planned.containers.iter().any(|p| p.name == c.name))
    {
        diff.push(format!("container {}: removed", gone.name));
    }
    if running.tags != planned.tags {
        diff.push(format!(
            "tags: {} -> {}",
            running.tags.keys().cloned().collect::<Vec<_>>().join(", "),
            planned.tags.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    diff
}

/// A human-readable, value-free account of a derivation, for logs and dry runs.
pub fn describe_changes(changes: &[ImageChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match c.from == c.to {
            true => format!("container {}: image {} (unchanged)", c.container, c.to),
            false => format!("container {}: image {} -> {}", c.container, c.from, c.to),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::input::config::{Policy, TagRule, Target};

    /// [`derive`] for a configured target and a pushed digest, as the push pipeline calls it.
    fn derive_for(
        target: &Target,
        running: &TaskDefinitionSummary,
        digest: &str,
    ) -> Result<Derivation, PlanError> {
        let image = target.repository.image_uri(digest);
        derive(&target.name, &target.containers, &image, running)
    }

    pub fn target(containers: &[&str]) -> Target {
        Target {
            name: "web".into(),
            cluster: "prod".into(),
            service: "web".into(),
            containers: containers.iter().map(|c| c.to_string()).collect(),
            repository: RepositoryRef {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                name: "app".into(),
            },
            tags: TagRule::Exact("v1".into()),
            policy: Policy::Auto,
            approval: Default::default(),
            outcome_slack_channel: None,
            freeze: Default::default(),
            task_family: None,
            rollout: Default::default(),
            windows: None,
            promotion: None,
        }
    }

    pub fn running(images: &[(&str, &str)]) -> TaskDefinitionSummary {
        TaskDefinitionSummary {
            arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7".into(),
            family: "web".into(),
            revision: 7,
            containers: images
                .iter()
                .map(|(name, image)| ContainerSummary {
                    name: name.to_string(),
                    image: image.to_string(),
                    environment_names: vec![],
                    secret_names: vec![],
                })
                .collect(),
            cpu: Some("256".into()),
            memory: Some("512".into()),
            task_role_arn: None,
            execution_role_arn: None,
            tags: BTreeMap::new(),
        }
    }

    const OLD: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1.4.1";
    const NEW: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc";

    #[test]
    fn only_the_matched_container_changes() {
        let running = running(&[("app", OLD), ("envoy", "public.ecr.aws/envoy:v1")]);
        let derivation = derive_for(&target(&["app"]), &running, "sha256:abc").unwrap();
        assert_eq!(
            derivation,
            Derivation::Change(vec![ImageChange {
                container: "app".into(),
                from: OLD.into(),
                to: NEW.into()
            }])
        );
    }

    #[test]
    fn several_containers_can_share_the_image() {
        let running = running(&[("app", OLD), ("migrate", OLD), ("envoy", "envoy:v1")]);
        let Derivation::Change(changes) =
            derive_for(&target(&["app", "migrate"]), &running, "sha256:abc").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            changes
                .iter()
                .map(|c| c.container.as_str())
                .collect::<Vec<_>>(),
            ["app", "migrate"]
        );
    }

    #[test]
    fn a_digest_already_running_changes_nothing() {
        let running = running(&[("app", NEW)]);
        assert_eq!(
            derive_for(&target(&["app"]), &running, "sha256:abc").unwrap(),
            Derivation::AlreadyRunning { image: NEW.into() }
        );
    }

    #[test]
    fn a_container_missing_from_the_task_definition_is_a_clear_error() {
        let err =
            derive_for(&target(&["api"]), &running(&[("app", OLD)]), "sha256:abc").unwrap_err();
        assert!(
            err.to_string().contains("`api` is not in task definition"),
            "{err}"
        );
        assert!(err.to_string().contains("it has: app"), "{err}");
    }

    #[test]
    fn the_diff_names_every_difference_but_never_a_value() {
        let mut running = running(&[("app", OLD), ("envoy", "envoy:v1")]);
        running.containers[0].environment_names = vec!["PORT".into(), "OLD_FLAG".into()];
        running.containers[0].secret_names = vec!["DATABASE_URL".into()];
        let mut planned = running.with_images(&[ImageChange {
            container: "app".into(),
            from: OLD.into(),
            to: NEW.into(),
        }]);
        planned.memory = Some("1024".into());
        planned.containers[0].environment_names = vec!["PORT".into(), "CHECKOUT_V2".into()];
        planned.containers.pop();
        planned.containers.push(ContainerSummary {
            name: "worker".into(),
            image: NEW.into(),
            environment_names: vec![],
            secret_names: vec![],
        });
        planned.tags.insert("Team".into(), "payments".into());

        let diff = summary_diff(&running, &planned);

        assert_eq!(
            diff,
            [
                "memory: 512 -> 1024".to_string(),
                format!("container app: image {OLD} -> {NEW}"),
                "container app: environment CHECKOUT_V2 added".to_string(),
                "container app: environment OLD_FLAG removed".to_string(),
                format!("container worker: added, image {NEW}"),
                "container envoy: removed".to_string(),
                "tags:  -> Team".to_string(),
            ]
        );
        assert!(summary_diff(&running, &running).is_empty());
    }

    #[test]
    fn pinned_digests_are_read_only_from_the_same_repository() {
        let repo = target(&["app"]).repository;
        assert_eq!(pinned_digest(NEW, &repo), Some("sha256:abc"));
        assert_eq!(pinned_digest(OLD, &repo), None);
        // A tag beside the digest does not make it another repository.
        let tagged = NEW.replacen("/app@", "/app:v1@", 1);
        assert_eq!(pinned_digest(&tagged, &repo), Some("sha256:abc"));
        assert_eq!(
            pinned_digest(
                "999999999999.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc",
                &repo
            ),
            None
        );
    }
}
