//! A task definition as the SDK has it, and a new revision of it: the full form a
//! revision is registered from (with its tags), the plain summary the decisions read,
//! and the RegisterTaskDefinition request that replaces only the changed images. Used
//! by the ECS adapter (`aws::ecs`) and the offline `taskdef.json` parser (`aws::taskdef`).

use std::collections::BTreeMap;

use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::types::{Tag, TaskDefinition};

use crate::model::plan::{ContainerSummary, ImageChanges, TaskDefinitionSummary};
use crate::ports::REGISTERED_FOR_TAG;

/// A described task definition with its tags: everything a new revision carries over.
#[derive(Debug, Clone)]
pub struct FullTaskDefinition {
    pub definition: TaskDefinition,
    pub tags: Vec<Tag>,
}

/// The RegisterTaskDefinition request for a new revision of `base` with only the given
/// images replaced. Every writable field is copied; the read-only ones that Describe
/// returns and Register refuses (ARN, revision, status, requiresAttributes,
/// compatibilities, registeredAt/By, deregisteredAt, deleteRequestedAt) have no setter
/// and are left behind.
#[allow(deprecated)]
pub fn registration(
    client: &aws_sdk_ecs::Client,
    base: &FullTaskDefinition,
    changes: &ImageChanges,
    deployment_id: &str,
) -> RegisterTaskDefinitionFluentBuilder {
    let td = base.definition.clone();
    let containers = td.container_definitions.map(|containers| {
        containers
            .into_iter()
            .map(|mut container| {
                if let Some(change) = changes
                    .iter()
                    .find(|c| Some(c.container.as_str()) == container.name.as_deref())
                {
                    container.image = Some(change.to.clone());
                }
                container
            })
            .collect()
    });
    let tags = revision_tags(&base.tags, deployment_id);
    client
        .register_task_definition()
        .set_family(td.family)
        .set_task_role_arn(td.task_role_arn)
        .set_execution_role_arn(td.execution_role_arn)
        .set_network_mode(td.network_mode)
        .set_container_definitions(containers)
        .set_volumes(td.volumes)
        .set_placement_constraints(td.placement_constraints)
        .set_requires_compatibilities(td.requires_compatibilities)
        .set_cpu(td.cpu)
        .set_memory(td.memory)
        .set_tags(Some(tags))
        .set_pid_mode(td.pid_mode)
        .set_ipc_mode(td.ipc_mode)
        .set_proxy_configuration(td.proxy_configuration)
        // Deprecated by AWS, but a definition that still has them must keep them.
        .set_inference_accelerators(td.inference_accelerators)
        .set_ephemeral_storage(td.ephemeral_storage)
        .set_runtime_platform(td.runtime_platform)
        .set_enable_fault_injection(td.enable_fault_injection)
}

/// A deployment id as a tag value: ECS allows letters, digits, spaces and `+-=._:/@`, up
/// to 256 characters.
pub(super) fn registered_for(deployment_id: &str) -> String {
    deployment_id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " +-=._:/@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

pub fn summarize(full: &FullTaskDefinition) -> TaskDefinitionSummary {
    let td = &full.definition;
    TaskDefinitionSummary {
        arn: td.task_definition_arn().unwrap_or_default().to_string(),
        family: td.family().unwrap_or_default().to_string(),
        revision: td.revision(),
        containers: td
            .container_definitions()
            .iter()
            .map(|c| ContainerSummary {
                name: c.name().unwrap_or_default().to_string(),
                image: c.image().unwrap_or_default().to_string(),
                environment_names: c
                    .environment()
                    .iter()
                    .filter_map(|kv| kv.name().map(str::to_string))
                    .collect(),
                secret_names: c.secrets().iter().map(|s| s.name().to_string()).collect(),
            })
            .collect(),
        cpu: td.cpu().map(str::to_string),
        memory: td.memory().map(str::to_string),
        task_role_arn: td.task_role_arn().map(str::to_string),
        execution_role_arn: td.execution_role_arn().map(str::to_string),
        tags: full
            .tags
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

/// ECS allows 50 tags on a resource, and keys (or values) starting with `aws:` in any
/// case are AWS's own: a request that sets one is refused, and they do not count against
/// the 50 (ECS API Reference, Tag).
const MAX_TAGS: usize = 50;

/// The base's tags, with the deployment this revision is registered for instead of the one
/// the base was, and without AWS's reserved `aws:` tags (DescribeTaskDefinition may return
/// them; RegisterTaskDefinition refuses them). Should the base already carry 50 tags of
/// its own, they are kept as they are and the revision goes without `slipway:deployment`:
/// the team's tags matter more than Slipway's bookmark (without it a retry after a crash
/// cannot find the revision and registers one more).
fn revision_tags(base: &[Tag], deployment_id: &str) -> Vec<Tag> {
    let reserved = |text: Option<&str>| {
        text.is_some_and(|t| t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")))
    };
    let mut tags: Vec<Tag> = base
        .iter()
        .filter(|tag| tag.key() != Some(REGISTERED_FOR_TAG))
        .filter(|tag| !reserved(tag.key()) && !reserved(tag.value()))
        .cloned()
        .collect();
    if tags.len() < MAX_TAGS {
        tags.push(
            Tag::builder()
                .key(REGISTERED_FOR_TAG)
                .value(registered_for(deployment_id))
                .build(),
        );
    } else {
        tracing::warn!(
            deployment_id,
            "the task definition carries {} tags of its own, ECS's limit: the revision is registered without {REGISTERED_FOR_TAG}",
            tags.len()
        );
    }
    tags
}

#[cfg(test)]
#[allow(deprecated)] // InferenceAccelerator: deprecated by AWS, still carried over
mod tests {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, CpuArchitecture, EphemeralStorage,
        InferenceAccelerator, IpcMode, KeyValuePair, NetworkMode, OsFamily, PidMode,
        ProxyConfiguration, RuntimePlatform, TaskDefinitionPlacementConstraint,
        TaskDefinitionPlacementConstraintType, TaskDefinitionStatus, Volume,
    };
    use aws_smithy_types::DateTime;

    use super::*;
    use crate::model::plan::ImageChange;

    fn offline_client() -> aws_sdk_ecs::Client {
        let config = aws_sdk_ecs::Config::builder()
            .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
            .region(aws_sdk_ecs::config::Region::new("us-east-1"))
            .build();
        aws_sdk_ecs::Client::from_conf(config)
    }

    /// A task definition as Describe returns it, every field set, read-only ones included.
    #[allow(deprecated)]
    fn described() -> FullTaskDefinition {
        let container = |name: &str, image: &str| {
            ContainerDefinition::builder()
                .name(name)
                .image(image)
                .environment(KeyValuePair::builder().name("PORT").value("3000").build())
                .build()
        };
        let definition = TaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:us-east-1:123456789012:task-definition/web:7")
            .family("web")
            .revision(7)
            .status(TaskDefinitionStatus::Active)
            .requires_attributes(
                aws_sdk_ecs::types::Attribute::builder()
                    .name("ecs.capability.secrets")
                    .build()
                    .unwrap(),
            )
            .compatibilities(Compatibility::Ec2)
            .compatibilities(Compatibility::Fargate)
            .registered_at(DateTime::from_secs(1_700_000_000))
            .deregistered_at(DateTime::from_secs(1_700_000_001))
            .delete_requested_at(DateTime::from_secs(1_700_000_002))
            .registered_by("arn:aws:iam::123456789012:user/ci")
            .task_role_arn("arn:aws:iam::123456789012:role/web-task")
            .execution_role_arn("arn:aws:iam::123456789012:role/web-execution")
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(container("app", "app:v1"))
            .container_definitions(container("envoy", "envoy:v1"))
            .volumes(Volume::builder().name("data").build())
            .placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.instance-type =~ t3.*")
                    .build(),
            )
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("512")
            .memory("1024")
            .pid_mode(PidMode::Task)
            .ipc_mode(IpcMode::None)
            .proxy_configuration(
                ProxyConfiguration::builder()
                    .container_name("envoy")
                    .build()
                    .unwrap(),
            )
            .inference_accelerators(
                InferenceAccelerator::builder()
                    .device_name("a")
                    .device_type("eia2.medium")
                    .build()
                    .unwrap(),
            )
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .enable_fault_injection(false)
            .build();
        FullTaskDefinition {
            definition,
            tags: vec![Tag::builder().key("Project").value("slipway").build()],
        }
    }

    #[test]
    #[allow(deprecated)]
    fn a_new_revision_carries_every_writable_field_and_replaces_only_the_matched_image() {
        let base = described();
        let changes = vec![ImageChange {
            container: "app".into(),
            from: "app:v1".into(),
            to: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:abc".into(),
        }];
        let request = registration(&offline_client(), &base, &changes, "web.img-abc");
        let input = request.as_input();

        // Every writable field of the described definition is set on the request.
        let carried = [
            ("family", input.get_family().is_some()),
            ("task_role_arn", input.get_task_role_arn().is_some()),
            (
                "execution_role_arn",
                input.get_execution_role_arn().is_some(),
            ),
            ("network_mode", input.get_network_mode().is_some()),
            (
                "container_definitions",
                input.get_container_definitions().is_some(),
            ),
            ("volumes", input.get_volumes().is_some()),
            (
                "placement_constraints",
                input.get_placement_constraints().is_some(),
            ),
            (
                "requires_compatibilities",
                input.get_requires_compatibilities().is_some(),
            ),
            ("cpu", input.get_cpu().is_some()),
            ("memory", input.get_memory().is_some()),
            ("tags", input.get_tags().is_some()),
            ("pid_mode", input.get_pid_mode().is_some()),
            ("ipc_mode", input.get_ipc_mode().is_some()),
            (
                "proxy_configuration",
                input.get_proxy_configuration().is_some(),
            ),
            (
                "inference_accelerators",
                input.get_inference_accelerators().is_some(),
            ),
            ("ephemeral_storage", input.get_ephemeral_storage().is_some()),
            ("runtime_platform", input.get_runtime_platform().is_some()),
            (
                "enable_fault_injection",
                input.get_enable_fault_injection().is_some(),
            ),
        ];
        let missing: Vec<_> = carried
            .iter()
            .filter(|(_, set)| !set)
            .map(|(name, _)| name)
            .collect();
        assert!(missing.is_empty(), "not carried over: {missing:?}");

        let td = &base.definition;
        assert_eq!(input.get_family().as_deref(), td.family());
        assert_eq!(input.get_cpu().as_deref(), td.cpu());
        assert_eq!(input.get_memory().as_deref(), td.memory());
        assert_eq!(input.get_task_role_arn().as_deref(), td.task_role_arn());
        assert_eq!(
            input.get_execution_role_arn().as_deref(),
            td.execution_role_arn()
        );
        let mut tags = base.tags.clone();
        tags.push(
            Tag::builder()
                .key(REGISTERED_FOR_TAG)
                .value("web.img-abc")
                .build(),
        );
        assert_eq!(input.get_tags().as_deref(), Some(tags.as_slice()));
        let containers = input.get_container_definitions().as_ref().unwrap();
        assert_eq!(containers[0].image(), Some(changes[0].to.as_str()));
        assert_eq!(
            containers[0].environment(),
            td.container_definitions()[0].environment()
        );
        assert_eq!(
            containers[1],
            td.container_definitions()[1],
            "other containers are untouched"
        );
    }

    #[test]
    fn read_only_fields_are_left_behind() {
        // RegisterTaskDefinition refuses these; the request type has no place for them,
        // and nothing of their values leaks into another field.
        let request = registration(&offline_client(), &described(), &vec![], "web.img-abc");
        let debug = format!("{:?}", request.as_input());
        for read_only in [
            "task_definition_arn",
            "revision",
            "status",
            "requires_attributes",
            " compatibilities:",
            "registered_at",
            "registered_by",
            "deregistered_at",
            "delete_requested_at",
        ] {
            assert!(
                !debug.contains(read_only),
                "{read_only} must not be sent: {debug}"
            );
        }
        assert!(!debug.contains("arn:aws:iam::123456789012:user/ci"));
        assert!(!debug.contains("ecs.capability.secrets"));
    }

    #[test]
    fn aws_reserved_tags_are_dropped_and_fifty_of_the_teams_own_are_kept_whole() {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let tags = revision_tags(
            &[
                tag("aws:cloudformation:stack-name", "x"),
                tag("AWS:Owner", "y"),
                tag("team", "aws:sso"),
                tag("Project", "shop"),
            ],
            "web.img-1",
        );
        let keys: Vec<_> = tags.iter().filter_map(|t| t.key()).collect();
        assert_eq!(keys, ["Project", REGISTERED_FOR_TAG]);

        let fifty: Vec<Tag> = (0..50).map(|n| tag(&format!("k{n}"), "v")).collect();
        let tags = revision_tags(&fifty, "web.img-1");
        assert_eq!(tags, fifty, "the team's 50 tags are carried over untouched");
        let tags = revision_tags(&fifty[..49], "web.img-1");
        assert_eq!(tags.len(), 50);
        assert_eq!(tags[49].key(), Some(REGISTERED_FOR_TAG));
    }

    #[test]
    fn the_revision_names_its_deployment_instead_of_the_bases() {
        let mut base = described();
        base.tags = vec![Tag::builder()
            .key(REGISTERED_FOR_TAG)
            .value("web.img-old")
            .build()];
        let request = registration(&offline_client(), &base, &vec![], "web/src#1 é✓");
        let tags = request.as_input().get_tags().clone().unwrap();
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].key(), Some(REGISTERED_FOR_TAG));
        assert_eq!(
            tags[0].value(),
            Some("web/src_1 é_"),
            "only ECS's characters"
        );
    }
}
