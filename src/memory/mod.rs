//! In-memory adapters: the ports implemented over plain collections, beside the AWS ones
//! (`aws`), so that a pipeline's branches are tested in milliseconds. Public behind the
//! `test-util` feature for other crates' tests; moto stays for the integration tests,
//! which check the AWS adapters against an emulator of the real API.
//!
//! - [`MemoryStore`] — the ledger's object store, with S3's conditional writes.
//! - [`MemoryEcs`] — services, task-definition revisions and rollouts, counting calls,
//!   with failures that can be queued.
//! - [`MemoryRegistry`] and [`MemorySources`] — ECR's images; the source bucket's versions.
//! - [`MemoryAlarms`] — CloudWatch alarms and their state history.
//! - [`MemoryTasks`] — a release group's one-off tasks, as ECS documents RunTask's
//!   idempotency and a task's end (what moto lacks).
//! - [`MemoryWakeUps`] — EventBridge Scheduler's one-time schedules, one per name.
//! - [`RecordingNotifier`] — keeps what people would have been told.
//! - [`ecr_push`] — an "ECR Image Action" event in the shape of `events/ecr-push.json`.

mod alarms;
mod ecs;
mod hints;
mod notifier;
mod registry;
mod store;
mod tasks;
mod wake_ups;

pub use alarms::MemoryAlarms;
pub use ecs::MemoryEcs;
pub use hints::MemoryHints;
pub use notifier::RecordingNotifier;
pub use registry::{MemoryRegistry, MemorySources};
pub use store::MemoryStore;
pub use tasks::MemoryTasks;
pub use wake_ups::MemoryWakeUps;

/// One clock for every in-memory adapter's calls, so that a test can tell what came
/// before what across them (say, the ledger calls before UpdateService).
pub fn tick() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// The account and region the in-memory adapters live in.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// An "ECR Image Action" push of `repository:tag` (or untagged) with `digest`, in the
/// shape EventBridge delivers (the fixture `events/ecr-push.json`).
pub fn ecr_push(id: &str, repository: &str, tag: Option<&str>, digest: &str) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../events/ecr-push.json"))
            .expect("the fixture parses");
    event["id"] = id.into();
    event["resources"] = serde_json::json!([format!(
        "arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"
    )]);
    let detail = &mut event["detail"];
    detail["repository-name"] = repository.into();
    detail["image-digest"] = digest.into();
    match tag {
        Some(tag) => detail["image-tag"] = tag.into(),
        None => {
            detail
                .as_object_mut()
                .expect("an object")
                .remove("image-tag");
        }
    }
    event
}

/// ECS's "ECS Deployment State Change" for deployment `ecs_deployment_id` of `service` in
/// cluster `cluster` of `account`: `name` is COMPLETED, FAILED, … (the fixture
/// `events/ecs-deployment-completed.json`'s shape).
pub fn ecs_deployment_event(
    id: &str,
    account: &str,
    cluster: &str,
    service: &str,
    ecs_deployment_id: &str,
    name: &str,
) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": id,
        "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
        "account": account, "time": "2026-12-07T10:00:00Z", "region": REGION,
        "resources": [format!("arn:aws:ecs:{REGION}:{account}:service/{cluster}/{service}")],
        "detail": {"eventType": if name == "FAILED" { "ERROR" } else { "INFO" },
                   "eventName": format!("SERVICE_DEPLOYMENT_{name}"),
                   "deploymentId": ecs_deployment_id, "updatedAt": "2026-12-07T10:00:00Z",
                   "reason": format!("ECS deployment {ecs_deployment_id} {name}")}
    })
}

/// An S3 "Object Created" event for version `version_id` of `key` in `bucket`, in the
/// shape EventBridge delivers (the fixture `events/s3-release.json`).
pub fn s3_upload(
    id: &str,
    bucket: &str,
    key: &str,
    version_id: &str,
    sequencer: &str,
) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../events/s3-release.json"))
            .expect("the fixture parses");
    event["id"] = id.into();
    event["detail"]["bucket"]["name"] = bucket.into();
    let object = &mut event["detail"]["object"];
    object["key"] = key.into();
    object["version-id"] = version_id.into();
    object["sequencer"] = sequencer.into();
    object.as_object_mut().expect("an object").remove("size");
    event
}

/// A digest made of one repeated hex character: `digest('a')` is `sha256:aaaa…`.
pub fn digest(fill: char) -> String {
    format!("sha256:{}", fill.to_string().repeat(64))
}
