//! What the decisions need from AWS, as traits over plain types.
//!
//! The `aws` module implements these with the SDK; tests implement them with the real SDK
//! against the local emulator, wrapped where they need to count calls.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::model::plan::{ImageChanges, TaskDefinitionSummary};
use crate::model::progressive::DeploymentSettings;
pub use crate::model::service::{EcsDeployment, ServiceState};
use crate::model::service_deployment::{HookAction, ServiceDeploymentState};

/// The adapters one deployer runs on, named once: `Deployer<A>` instead of a type
/// parameter per port. Any five implementations make one (`(EcsService, EcrRegistry,
/// S3Store, S3Sources, AwsNotifier)` on AWS, the in-memory ones in tests).
pub trait Adapters: Send + Sync + 'static {
    type Ecs: Ecs + 'static;
    type Registry: Registry + 'static;
    type Store: ObjectStore + 'static;
    type Sources: SourceBucket + 'static;
    type Notifier: Notifier + 'static;
}

impl<E, R, S, B, N> Adapters for (E, R, S, B, N)
where
    E: Ecs + 'static,
    R: Registry + 'static,
    S: ObjectStore + 'static,
    B: SourceBucket + 'static,
    N: Notifier + 'static,
{
    type Ecs = E;
    type Registry = R;
    type Store = S;
    type Sources = B;
    type Notifier = N;
}

/// A failed AWS call. `Transient` failures (throttling, 5xx, timeouts) have already been
/// retried by the SDK; the event is handed back to Lambda to retry later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub message: String,
    pub kind: AwsErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Worth retrying the whole event later.
    Transient,
    /// The thing asked for does not exist (a service, a task definition, an image).
    NotFound,
    /// Retrying will not help: permissions, validation, a misconfigured target.
    Permanent,
}

impl AwsError {
    pub fn is_transient(&self) -> bool {
        self.kind == AwsErrorKind::Transient
    }
}

/// One image in a repository, for the reconciler's look for a push it missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedImage {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: Option<DateTime<Utc>>,
}

/// A task definition as described: the summary for decisions, and the adapter's own full
/// copy, opaque here, from which a new revision is derived field for field.
#[derive(Debug)]
pub struct DescribedTaskDefinition<Full> {
    pub summary: TaskDefinitionSummary,
    pub full: Full,
}

/// A newly registered revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub arn: String,
    pub revision: i32,
}

/// The tag on every revision Slipway registers, naming the deployment it was registered
/// for (also useful to a person reading the family's revisions).
pub const REGISTERED_FOR_TAG: &str = "slipway:deployment";

pub trait Ecs: Send + Sync {
    type TaskDefinition: Send + Sync;

    fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<ServiceState, AwsError>> + Send;

    /// With its tags, which a new revision must carry over.
    fn describe_task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<DescribedTaskDefinition<Self::TaskDefinition>, AwsError>> + Send;

    /// Reads a task definition document in the RegisterTaskDefinition JSON shape (a
    /// `taskdef.json`), offline, into the same form `describe_task_definition` returns.
    fn parse_task_definition(
        &self,
        document: &serde_json::Value,
    ) -> impl Future<Output = Result<DescribedTaskDefinition<Self::TaskDefinition>, String>> + Send;

    /// Registers `base` again with only the given container images replaced, tagged as
    /// registered for `deployment_id` ([`REGISTERED_FOR_TAG`]). ECS has no idempotency
    /// token for this call: an attempt whose answer was lost (a timeout, a dropped
    /// connection) may have registered, so before trying again the adapter looks for the
    /// tagged revision ([`Ecs::find_registered`]) instead of registering a duplicate.
    fn register_with_images(
        &self,
        base: &Self::TaskDefinition,
        changes: &ImageChanges,
        deployment_id: &str,
    ) -> impl Future<Output = Result<Registered, AwsError>> + Send;

    /// The revision of `base`'s family registered for `deployment_id`, if one of the
    /// family's latest revisions is: what a retry after a crash between
    /// RegisterTaskDefinition and recording its ARN reuses.
    fn find_registered(
        &self,
        base: &Self::TaskDefinition,
        deployment_id: &str,
    ) -> impl Future<Output = Result<Option<Registered>, AwsError>> + Send;

    /// Rolls the service onto `task_definition`, with the target's deployment
    /// configuration when it has one (`None`: the service's own, today's rolling call).
    fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        settings: Option<&DeploymentSettings>,
    ) -> impl Future<Output = Result<Started, AwsError>> + Send;

    /// Answers a PAUSE hook (ContinueServiceDeployment): CONTINUE moves the deployment on,
    /// ROLLBACK rolls it back.
    fn continue_service_deployment(
        &self,
        service_deployment_arn: &str,
        hook_id: &str,
        action: HookAction,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// DescribeServiceDeployments for one deployment; `None` if ECS does not know it.
    fn describe_service_deployment(
        &self,
        service_deployment_arn: &str,
    ) -> impl Future<Output = Result<Option<ServiceDeploymentState>, AwsError>> + Send;
}

/// What an UpdateService started: the PRIMARY deployment's `ecs-svc/…` id, which ECS's
/// deployment events name, and the service deployment's ARN
/// (`service.currentServiceDeployment`), which its hook events name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub ecs_deployment_id: String,
    pub service_deployment_arn: Option<String>,
}

pub trait Registry: Send + Sync {
    /// The digest of `repository:tag` (or confirms `repository@digest` exists) in the
    /// account's registry; `None` if ECR has no such image.
    fn image_digest(
        &self,
        account: &str,
        repository: &str,
        reference: &crate::input::source::ImageReference,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// Every image in the repository (ECR's DescribeImages, all pages).
    fn list_images(
        &self,
        account: &str,
        repository: &str,
    ) -> impl Future<Output = Result<Vec<ListedImage>, AwsError>> + Send;

    /// The tags the image with this digest carries now; `None` if ECR does not know it.
    fn image_tags(
        &self,
        account: &str,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Option<Vec<String>>, AwsError>> + Send;

    /// When ECR first received the image with this digest; `None` if ECR does not know it.
    fn image_pushed_at(
        &self,
        account: &str,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, AwsError>> + Send;
}

/// A stored object and the ETag that guards the next write to it.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub etag: String,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionalWrite {
    Written {
        etag: String,
    },
    /// Someone else wrote first (HTTP 412 or 409): re-read and decide again.
    Conflict,
}

/// Durable storage with compare-and-set, as S3 offers with conditional writes.
pub trait ObjectStore: Send + Sync {
    fn get(&self, key: &str)
        -> impl Future<Output = Result<Option<StoredObject>, AwsError>> + Send;

    /// Writes only if no object exists at `key` (`If-None-Match: *`).
    fn create(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<ConditionalWrite, AwsError>> + Send;

    /// Writes only if the object still has `etag` (`If-Match`).
    fn replace(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> impl Future<Output = Result<ConditionalWrite, AwsError>> + Send;
}

/// Listing the keys under a prefix: only the operator's reads need it (a deployment's
/// history, its audit entries); the pipelines never list.
pub trait ObjectList: Send + Sync {
    /// Every key under `prefix`, in S3's (UTF-8 binary) order, all pages.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// What reading one version of a source object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceObject {
    Found {
        body: Vec<u8>,
    },
    /// The object or that version of it no longer exists.
    Missing,
    /// Larger than the limit: the body was not read.
    TooLarge {
        size: i64,
    },
}

/// The bucket operators and CI upload manifests to.
pub trait SourceBucket: Send + Sync {
    /// Reads exactly `version_id` of `key`, refusing (before reading the body) anything
    /// larger than `max_bytes`.
    fn read_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        max_bytes: i64,
    ) -> impl Future<Output = Result<SourceObject, AwsError>> + Send;
}

/// A failed notification (SNS publish, a Slack API call).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{channel} failed: {message}")]
pub struct NotifyError {
    pub channel: &'static str,
    pub message: String,
    /// Worth retrying the event later (throttling, 5xx, network).
    pub transient: bool,
}

/// Where people are told things: SNS for email, Slack for chat. Either may be switched
/// off (no topic, no Slack token); then its calls do nothing.
pub trait Notifier: Send + Sync {
    /// Publishes to the approvals topic.
    fn publish(
        &self,
        subject: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;

    /// Posts to `channel`; returns where the message lives, or `None` if Slack is off.
    fn post_slack(
        &self,
        channel: &str,
        payload: &crate::notify::SlackPayload,
    ) -> impl Future<Output = Result<Option<crate::model::deployment::SlackMessage>, NotifyError>> + Send;

    /// Replaces a posted message (`chat.update`).
    fn update_slack(
        &self,
        message: &crate::model::deployment::SlackMessage,
        payload: &crate::notify::SlackPayload,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;

    /// Replaces the message a button was pressed on, through the interaction's
    /// `response_url`.
    fn respond_slack(
        &self,
        response_url: &str,
        payload: &crate::notify::SlackPayload,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// Tells nobody: for deployments without approvals, and for tests of other things.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Notifier for Silent {
    async fn publish(&self, _: &str, _: &str) -> Result<(), NotifyError> {
        Ok(())
    }
    async fn post_slack(
        &self,
        _: &str,
        _: &crate::notify::SlackPayload,
    ) -> Result<Option<crate::model::deployment::SlackMessage>, NotifyError> {
        Ok(None)
    }
    async fn update_slack(
        &self,
        _: &crate::model::deployment::SlackMessage,
        _: &crate::notify::SlackPayload,
    ) -> Result<(), NotifyError> {
        Ok(())
    }
    async fn respond_slack(
        &self,
        _: &str,
        _: &crate::notify::SlackPayload,
    ) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// The test probe's one GET (Slipway's Lambda lifecycle hook): what the URL answered,
/// or why it did not. Redirects are answers, not followed.
pub trait Prober: Send + Sync {
    fn get(&self, url: &str) -> impl Future<Output = crate::model::test_probe::Observation> + Send;
}

/// CloudWatch's record of an alarm, for promotion soaks: its state now and its state
/// changes since `since` (`None`: no such alarm). A trait object, since only the deployer
/// of a target with a promotion block needs it.
pub trait AlarmHistory: Send + Sync {
    fn timeline<'a>(
        &'a self,
        alarm: &'a str,
        since: DateTime<Utc>,
    ) -> futures::future::BoxFuture<
        'a,
        Result<Option<crate::model::promotion::AlarmTimeline>, AwsError>,
    >;
}

/// A release group's one-off task, as RunTask is asked for it: the target's new revision,
/// run the way the target's service runs its tasks (its subnets, security groups, launch
/// type or capacity providers: the adapter copies them from the service), with `command`
/// in place of `container`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffTask {
    pub cluster: String,
    /// The service whose network and capacity settings the task copies.
    pub like_service: String,
    pub task_definition: String,
    pub container: String,
    pub command: Vec<String>,
    /// RunTask's idempotency token: the same for every attempt at one step.
    pub client_token: String,
    pub started_by: String,
}

/// What DescribeTasks says of a one-off task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    /// Not stopped yet (PROVISIONING … DEPROVISIONING).
    Running,
    Stopped(crate::model::group::TaskStopped),
    /// ECS no longer knows the task: "stopped tasks appear in the returned results for at
    /// least one hour" (DescribeTasks), and not for ever.
    Forgotten,
}

/// One-time wake-ups of the reconciler (EventBridge Scheduler). A trait object: only a
/// deployer given a schedule group has it; without one the reconciler's own schedule
/// looks at every wait within its period.
pub trait WakeUps: Send + Sync {
    /// Schedules `wake_up` once: one already scheduled under its name is kept (`Ok`).
    fn schedule<'a>(
        &'a self,
        wake_up: &'a crate::model::wake_up::WakeUp,
    ) -> futures::future::BoxFuture<'a, Result<(), AwsError>>;
}

/// Where Slipway publishes its promotion hints (EventBridge's PutEvents on the promotion
/// bus). A trait object: only a deployer whose config has promotion gates publishes.
pub trait Hints: Send + Sync {
    fn publish<'a>(
        &'a self,
        hint: &'a crate::input::hint::UpstreamSucceeded,
    ) -> futures::future::BoxFuture<'a, Result<(), AwsError>>;
}

/// One-off tasks for release groups: RunTask, StopTask and DescribeTasks. A trait object,
/// since only a deployer whose config has groups needs it.
pub trait TaskRunner: Send + Sync {
    /// RunTask; the task's ARN. The same `client_token` again starts nothing new.
    fn run_task<'a>(
        &'a self,
        task: &'a OneOffTask,
    ) -> futures::future::BoxFuture<'a, Result<String, AwsError>>;

    fn stop_task<'a>(
        &'a self,
        cluster: &'a str,
        task_arn: &'a str,
        reason: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), AwsError>>;

    fn describe_task<'a>(
        &'a self,
        cluster: &'a str,
        task_arn: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<TaskStatus, AwsError>>;
}
