//! What the reconciler finds that an event should have told: a rollout whose ending ECS
//! reports in DescribeServices but whose event never arrived, and the newest image a
//! target's rule accepts that the ledger never saw pushed.
//!
//! ECS delivers its deployment events at least once, ECR its image events on a best
//! effort basis (Amazon EventBridge User Guide, "Amazon EventBridge events from AWS
//! services": events are delivered on a best effort basis, some services durably), and
//! an unmatched or dead-lettered event leaves a deployment `rolling`. So the reconciler
//! writes the event AWS would have sent — the same documented shape, a stable id — and
//! hands it to the same pipeline. That pipeline is idempotent: racing the real event, or
//! an earlier reconciler run, is a duplicate.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::input::config::Target;
use crate::model::service_deployment::{Ended, ServiceDeploymentState};
use crate::model::target::Head;
use crate::ports::{EcsDeployment, ListedImage, ServiceState};

/// Whether `raw` is an EventBridge schedule's event (`source: aws.events`, `detail-type:
/// Scheduled Event`; EventBridge User Guide, "Creating a rule that runs on a schedule").
/// The reconciler runs for any payload (an operator may invoke it by hand); this only
/// says which it was.
pub fn is_schedule(raw: &Value) -> bool {
    raw.get("source").and_then(Value::as_str) == Some("aws.events")
        && raw.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// The newest image the target's rule accepts, and the tag that makes it so: by version
/// for a semver rule (a re-tag of an old build counts as its version), else by push time.
pub fn newest_release<'a>(
    target: &Target,
    images: &'a [ListedImage],
) -> Option<(&'a ListedImage, &'a str)> {
    images
        .iter()
        .flat_map(|image| {
            image
                .tags
                .iter()
                .filter(|tag| target.tags.matches(tag))
                .map(move |tag| (image, tag.as_str()))
        })
        .max_by(|(a, a_tag), (b, b_tag)| {
            let version = (target.tags.version(a_tag), target.tags.version(b_tag));
            version
                .0
                .cmp(&version.1)
                .then(a.pushed_at.cmp(&b.pushed_at))
        })
}

/// Whether `newest` is an image the ledger has not taken yet: not the head, and not older
/// than it (the push pipeline would refuse it as `older` anyway; not asking saves a run).
pub fn is_missed(target: &Target, newest: (&ListedImage, &str), head: Option<&Head>) -> bool {
    let (image, tag) = newest;
    let Some(head) = head else {
        return true;
    };
    if head.digest == image.digest {
        return false;
    }
    let ours = target.tags.version(tag);
    let theirs = head
        .version
        .as_deref()
        .and_then(|v| semver::Version::parse(v).ok());
    match (ours, theirs) {
        (Some(ours), Some(theirs)) if ours != theirs => ours > theirs,
        _ => match (image.pushed_at, head.pushed_at) {
            (Some(ours), Some(theirs)) => ours > theirs,
            _ => true,
        },
    }
}

/// The "ECR Image Action" event ECR sends for a successful push (Amazon ECR User Guide,
/// "Amazon ECR events and EventBridge"; `events/ecr-push.json`), for `image` with `tag`.
pub fn push_event(target: &Target, image: &ListedImage, tag: &str, now: DateTime<Utc>) -> Value {
    let repo = &target.repository;
    json!({
        "version": "0",
        "id": format!("reconcile-push-{}", image.digest.trim_start_matches("sha256:")),
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": repo.account,
        "time": image.pushed_at.unwrap_or(now).to_rfc3339(),
        "region": repo.region,
        "resources": [format!("arn:aws:ecr:{}:{}:repository/{}", repo.region, repo.account, repo.name)],
        "detail": {
            "result": "SUCCESS",
            "repository-name": repo.name,
            "image-digest": image.digest,
            "action-type": "PUSH",
            "image-tag": tag,
        }
    })
}

/// The ECS deployment `ecs_deployment_id` as DescribeServices lists it, if it has ended.
pub fn ended<'a>(service: &'a ServiceState, ecs_deployment_id: &str) -> Option<&'a EcsDeployment> {
    service
        .deployments
        .iter()
        .find(|d| d.id == ecs_deployment_id)
        .filter(|d| matches!(d.rollout_state.as_deref(), Some("COMPLETED" | "FAILED")))
}

/// The "ECS Deployment State Change" event ECS sends when a deployment ends (Amazon ECS
/// Developer Guide, "Amazon ECS service deployment state change events";
/// `events/ecs-deployment-completed.json`, `…-failed.json`).
pub fn deployment_event(
    service: &ServiceState,
    deployment: &EcsDeployment,
    now: DateTime<Utc>,
) -> Value {
    let completed = deployment.rollout_state.as_deref() == Some("COMPLETED");
    let (event_type, event_name) = if completed {
        ("INFO", "SERVICE_DEPLOYMENT_COMPLETED")
    } else {
        ("ERROR", "SERVICE_DEPLOYMENT_FAILED")
    };
    // arn:aws:ecs:<region>:<account>:service/<cluster>/<service>
    let mut arn = service.arn.split(':');
    let (region, account) = (
        arn.nth(3).unwrap_or_default(),
        arn.next().unwrap_or_default(),
    );
    let updated_at = deployment.updated_at.unwrap_or(now).to_rfc3339();
    let reason = deployment.rollout_state_reason.clone().unwrap_or_else(|| {
        format!(
            "ECS deployment {} {}.",
            deployment.id,
            if completed { "completed" } else { "failed" }
        )
    });
    json!({
        "version": "0",
        "id": format!("reconcile-{}-{event_name}", deployment.id.replace('/', "-")),
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": account,
        "time": updated_at,
        "region": region,
        "resources": [service.arn],
        "detail": {
            "eventType": event_type,
            "eventName": event_name,
            "deploymentId": deployment.id,
            "updatedAt": updated_at,
            "reason": reason,
        }
    })
}

/// For a progressive rollout, whose end ECS tells in its service deployment (and whose
/// "ECS Deployment State Change" events AWS documents only for rolling deployments): the
/// event that says how it ended, once DescribeServiceDeployments reports it — COMPLETED
/// for SUCCESSFUL (after the bake time), FAILED naming the alarms that fired or the
/// rollback's reason otherwise. `None` while it is under way.
pub fn service_deployment_event(
    service: &ServiceState,
    ecs_deployment_id: &str,
    described: &ServiceDeploymentState,
    now: DateTime<Utc>,
) -> Option<Value> {
    let (rollout_state, reason) = match described.ended()? {
        Ended::Succeeded => (
            "COMPLETED",
            format!("ECS service deployment {} is SUCCESSFUL.", described.arn),
        ),
        Ended::RolledBack { reason } | Ended::RollbackFailed { reason } => (
            "FAILED",
            format!(
                "ECS service deployment {} ended {}: {reason}",
                described.arn, described.status
            ),
        ),
    };
    let ended = EcsDeployment {
        id: ecs_deployment_id.to_string(),
        status: "PRIMARY".into(),
        task_definition: String::new(),
        rollout_state: Some(rollout_state.into()),
        rollout_state_reason: Some(reason),
        updated_at: described.finished_at,
    };
    Some(deployment_event(service, &ended, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::config::TagRule;
    use crate::model::plan::tests::target;

    fn image(digest: &str, tags: &[&str], minute: u32) -> ListedImage {
        ListedImage {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: Some(format!("2026-11-23T10:{minute:02}:00Z").parse().unwrap()),
        }
    }

    #[test]
    fn the_newest_release_is_the_highest_version_whatever_its_push_time() {
        let mut web = target(&["app"]);
        web.tags = TagRule::Semver(">=1.0, <2".parse().unwrap());
        let images = [
            image("sha256:a", &["v1.4.0"], 30),
            image("sha256:b", &["v1.10.0"], 10), // re-tagged: an old build
            image("sha256:c", &["v2.0.0"], 50),  // outside the rule
            image("sha256:d", &[], 55),
        ];
        let (newest, tag) = newest_release(&web, &images).unwrap();
        assert_eq!((newest.digest.as_str(), tag), ("sha256:b", "v1.10.0"));
    }

    #[test]
    fn an_image_is_missed_only_if_newer_than_the_head() {
        let mut web = target(&["app"]);
        web.tags = TagRule::Semver(">=1.0".parse().unwrap());
        let newest = image("sha256:b", &["v1.5.0"], 10);
        let head = |digest: &str, version: &str| Head {
            deployment_id: "web.x".into(),
            digest: digest.into(),
            pushed_at: Some("2026-11-23T10:20:00Z".parse().unwrap()),
            version: Some(version.into()),
            settled: true,
            lease_until: None,
            updated_at: Utc::now(),
        };
        assert!(is_missed(&web, (&newest, "v1.5.0"), None));
        assert!(is_missed(
            &web,
            (&newest, "v1.5.0"),
            Some(&head("sha256:a", "1.4.0"))
        ));
        assert!(!is_missed(
            &web,
            (&newest, "v1.5.0"),
            Some(&head("sha256:b", "1.5.0"))
        ));
        assert!(!is_missed(
            &web,
            (&newest, "v1.5.0"),
            Some(&head("sha256:c", "1.6.0"))
        ));
    }

    #[test]
    fn the_events_written_parse_as_the_events_aws_sends() {
        let web = target(&["app"]);
        let digest = format!("sha256:{}", "4a6b".repeat(16));
        let pushed = push_event(&web, &image(&digest, &["v1"], 4), "v1", Utc::now());
        assert!(
            crate::input::event::parse_ecr_event(&pushed).is_ok(),
            "{pushed}"
        );
        let service = ServiceState {
            arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
            status: "ACTIVE".into(),
            task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2".into(),
            primary_deployment: Some("ecs-svc/1".into()),
            controller: "ECS".into(),
            strategy: None,
            circuit_breaker: Some(true),
            deployments: vec![EcsDeployment {
                id: "ecs-svc/1".into(),
                status: "PRIMARY".into(),
                rollout_state: Some("COMPLETED".into()),
                ..EcsDeployment::default()
            }],
        };
        let finished = ended(&service, "ecs-svc/1").unwrap();
        let event = deployment_event(&service, finished, Utc::now());
        assert!(
            crate::input::event::parse_ecs_event(&event).is_ok(),
            "{event}"
        );
        assert_eq!(event["account"], "123456789012");
        assert_eq!(event["detail"]["eventName"], "SERVICE_DEPLOYMENT_COMPLETED");
        assert!(ended(&service, "ecs-svc/2").is_none());
    }
}
