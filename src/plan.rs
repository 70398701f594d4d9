//! Planning a deployment: which containers get which image, and what else would differ.
//!
//! The adapter hands us a summary of the running task definition; we decide the image
//! changes. Carrying every other field over is the adapter's job (it copies the described
//! definition wholesale and swaps images), so a field this code has never heard of is
//! still carried over.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{RepositoryRef, Target};

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

/// Decides the image changes for `target` when `digest` of its repository was pushed.
pub fn derive(
    target: &Target,
    running: &TaskDefinitionSummary,
    digest: &str,
) -> Result<Derivation, PlanError> {
    let image = target.repository.image_uri(digest);
    let wanted: Vec<(&str, &str)> = target
        .containers
        .iter()
        .map(|container| (container.as_str(), image.as_str()))
        .collect();
    derive_images(&target.name, running, &wanted)
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
    let (name, digest) = image.split_once('@')?;
    let expected = format!("{}/{}", repository.registry(), repository.name);
    (name == expected).then_some(digest)
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
    use crate::config::{Policy, TagRule};

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
        let derivation = derive(&target(&["app"]), &running, "sha256:abc").unwrap();
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
            derive(&target(&["app", "migrate"]), &running, "sha256:abc").unwrap()
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
            derive(&target(&["app"]), &running, "sha256:abc").unwrap(),
            Derivation::AlreadyRunning { image: NEW.into() }
        );
    }

    #[test]
    fn a_container_missing_from_the_task_definition_is_a_clear_error() {
        let err = derive(&target(&["api"]), &running(&[("app", OLD)]), "sha256:abc").unwrap_err();
        assert!(
            err.to_string().contains("`api` is not in task definition"),
            "{err}"
        );
        assert!(err.to_string().contains("it has: app"), "{err}");
    }

    #[test]
    fn pinned_digests_are_read_only_from_the_same_repository() {
        let repo = target(&["app"]).repository;
        assert_eq!(pinned_digest(NEW, &repo), Some("sha256:abc"));
        assert_eq!(pinned_digest(OLD, &repo), None);
        assert_eq!(
            pinned_digest(
                "999999999999.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc",
                &repo
            ),
            None
        );
    }
}
