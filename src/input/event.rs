//! Incoming events, in the shapes AWS sends, turned into intents.
//!
//! Events arrive as raw JSON so that a malformed one is *our* decision to log and
//! acknowledge; left to the runtime, a parse failure becomes a Lambda error, and Lambda
//! retries it into a storm. Unknown fields are always accepted: AWS adds fields over time.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::model::ecs_event::{
    DeploymentChanged, DeploymentEventName, HookChanged, HookEventName, ServiceAction, ServiceRef,
};
pub use crate::model::image_ref::is_sha256_digest;
use crate::model::progressive::Stage;

/// An event we cannot act on, and why. Logged and acknowledged, never retried.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not an EventBridge event: {0}")]
    NotEventBridge(String),
    #[error("expected source `{expected}` / detail-type `{expected_type}`, got `{got_source}` / `{detail_type}`: this function is subscribed to the wrong rule")]
    UnexpectedKind {
        expected: &'static str,
        expected_type: &'static str,
        got_source: String,
        detail_type: String,
    },
    #[error("event {id}: the detail is not what this kind of event carries: {problem}")]
    BadDetail { id: String, problem: String },
    #[error("event {id}: `{field}` is missing from the envelope")]
    MissingEnvelopeField { id: String, field: &'static str },
    #[error("event {id}: image digest `{digest}` is not of the form sha256:<64 hex>")]
    BadDigest { id: String, digest: String },
    /// A field no event from AWS could carry (ECR refuses such a tag or repository name;
    /// EventBridge ids, accounts and regions have fixed shapes): a forged or garbled event.
    #[error("event {id}: {field} {value} is not {rule}, which every event from AWS is: refused")]
    BadField {
        id: String,
        field: &'static str,
        /// Escaped and shortened: invisible and right-to-left characters show as escapes.
        value: String,
        rule: &'static str,
    },
}

/// A field's value for an error message: escaped (`\u{202e}`, not an invisible
/// character that turns the log line around) and at most 80 characters of it.
fn shown(value: &str) -> String {
    let count = value.chars().count();
    let head: String = value.chars().take(80).collect();
    if count > 80 {
        format!("{:?}… ({count} characters)", head)
    } else {
        format!("{head:?}")
    }
}

/// The shapes of an ECR push event's fields, as AWS documents them.
mod shapes {
    /// EventBridge event ids: UUIDs; anything printable up to 128 is let through.
    pub fn event_id(id: &str) -> bool {
        (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
    }

    pub fn account(account: &str) -> bool {
        account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
    }

    /// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `eu-isoe-west-1`.
    pub fn region(region: &str) -> bool {
        let parts: Vec<&str> = region.split('-').collect();
        region.len() <= 32
            && parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty()
    }

    /// ECR repository names: 2-256 of `a-z 0-9 . _ - /`, starting with a letter or digit.
    pub fn repository(name: &str) -> bool {
        (2..=256).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
    }

    /// Image tags: 1-128 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`.
    pub fn tag(tag: &str) -> bool {
        (1..=128).contains(&tag.len())
            && !tag.starts_with(['.', '-'])
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    }
}

/// The `detail` of an "ECR Image Action" event.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct EcrImageAction {
    pub result: String,
    pub repository_name: String,
    pub image_digest: String,
    pub action_type: String,
    /// Absent for pushes by digest, such as the per-platform manifests of a multi-arch push.
    #[serde(default)]
    pub image_tag: Option<String>,
    #[serde(default)]
    pub manifest_media_type: Option<String>,
    #[serde(default)]
    pub artifact_media_type: Option<String>,
}

/// A tagged image successfully pushed: the only ECR event that can deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImagePushed {
    pub event_id: String,
    pub event_time: Option<DateTime<Utc>>,
    pub account: String,
    pub region: String,
    pub repository: String,
    pub tag: String,
    /// `sha256:<64 hex>`.
    pub digest: String,
}

/// What an event means for Slipway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent<T> {
    Deploy(T),
    /// A well-formed event that must not deploy; the reason goes in the log.
    Ignore {
        event_id: String,
        reason: String,
    },
}

pub type EcrIntent = Intent<ImagePushed>;

/// Opens an EventBridge envelope of the expected kind and reads its `detail` as `T`.
/// Returns the event id (or "(no id)") with the envelope.
pub fn open_envelope<T: serde::de::DeserializeOwned + Serialize>(
    raw: &Value,
    source: &'static str,
    detail_type: &'static str,
) -> Result<(String, EventBridgeEvent<T>), EventError> {
    let kind = match raw {
        Value::Object(_) => None,
        Value::Array(_) => Some("an array"),
        Value::String(_) => Some("a string"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("a boolean"),
        Value::Null => Some("null"),
    };
    if let Some(kind) = kind {
        return Err(EventError::NotEventBridge(format!(
            "expected a JSON object, got {kind}"
        )));
    }
    let envelope: EventBridgeEvent<Value> = serde_json::from_value(raw.clone())
        .map_err(|err| EventError::NotEventBridge(err.to_string()))?;
    let id = envelope.id.clone().unwrap_or_else(|| "(no id)".to_string());
    if envelope.source != source || envelope.detail_type != detail_type {
        return Err(EventError::UnexpectedKind {
            expected: source,
            expected_type: detail_type,
            got_source: envelope.source,
            detail_type: envelope.detail_type,
        });
    }
    let detail: T =
        serde_json::from_value(envelope.detail).map_err(|err| EventError::BadDetail {
            id: id.clone(),
            problem: err.to_string(),
        })?;
    let envelope = EventBridgeEvent {
        version: envelope.version,
        id: envelope.id,
        detail_type: envelope.detail_type,
        source: envelope.source,
        account: envelope.account,
        time: envelope.time,
        region: envelope.region,
        resources: envelope.resources,
        detail,
    };
    Ok((id, envelope))
}

const ECR_SOURCE: &str = "aws.ecr";
const ECR_DETAIL_TYPE: &str = "ECR Image Action";

/// Reads an EventBridge "ECR Image Action" event.
pub fn parse_ecr_event(raw: &Value) -> Result<EcrIntent, EventError> {
    let (id, envelope) = open_envelope::<EcrImageAction>(raw, ECR_SOURCE, ECR_DETAIL_TYPE)?;
    let detail = envelope.detail;
    if let Some(reason) = not_a_deploy(&detail) {
        return Ok(EcrIntent::Ignore {
            event_id: id,
            reason,
        });
    }
    check_push_fields(&id, &detail)?;
    let Some(tag) = detail.image_tag.filter(|t| !t.is_empty()) else {
        let reason = format!(
            "push of {} has no image-tag (a per-platform manifest of a multi-arch image, or a push by digest); the tagged index deploys instead",
            detail.image_digest
        );
        return Ok(EcrIntent::Ignore {
            event_id: id,
            reason,
        });
    };
    if !is_sha256_digest(&detail.image_digest) {
        return Err(EventError::BadDigest {
            id,
            digest: detail.image_digest,
        });
    }
    let (account, region) = envelope_place(&id, envelope.account, envelope.region)?;
    Ok(EcrIntent::Deploy(ImagePushed {
        event_id: id,
        event_time: envelope.time,
        account,
        region,
        repository: detail.repository_name,
        tag,
        digest: detail.image_digest,
    }))
}

/// Why an image action is not a push to deploy (a delete, a failed push), if it is not.
fn not_a_deploy(detail: &EcrImageAction) -> Option<String> {
    if detail.action_type != "PUSH" {
        return Some(format!(
            "action-type is {}, only PUSH deploys",
            detail.action_type
        ));
    }
    (detail.result != "SUCCESS")
        .then(|| format!("result is {}, only a SUCCESS push deploys", detail.result))
}

/// A field that is not what AWS sends, named with the rule it breaks.
fn bad_field(id: &str, field: &'static str, value: &str, rule: &'static str) -> EventError {
    EventError::BadField {
        id: if shapes::event_id(id) {
            id.to_string()
        } else {
            "(invalid id)".into()
        },
        field,
        value: shown(value),
        rule,
    }
}

/// The event id, repository and tag have the shapes AWS gives them.
fn check_push_fields(id: &str, detail: &EcrImageAction) -> Result<(), EventError> {
    if !shapes::event_id(id) {
        return Err(bad_field(
            id,
            "id",
            id,
            "an EventBridge event id (1-128 printable ASCII characters)",
        ));
    }
    if !shapes::repository(&detail.repository_name) {
        return Err(bad_field(
            id,
            "repository-name",
            &detail.repository_name,
            "an ECR repository name (2-256 of a-z 0-9 . _ - /)",
        ));
    }
    if let Some(tag) = detail.image_tag.as_deref().filter(|t| !t.is_empty()) {
        if !shapes::tag(tag) {
            return Err(bad_field(
                id,
                "image-tag",
                tag,
                "an image tag (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)",
            ));
        }
    }
    Ok(())
}

/// The account and region from the envelope, both required and well-formed.
fn envelope_place(
    id: &str,
    account: Option<String>,
    region: Option<String>,
) -> Result<(String, String), EventError> {
    let missing = |field| EventError::MissingEnvelopeField {
        id: id.to_string(),
        field,
    };
    let account = account
        .filter(|a| !a.is_empty())
        .ok_or_else(|| missing("account"))?;
    let region = region
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("region"))?;
    if !shapes::account(&account) {
        return Err(bad_field(
            id,
            "account",
            &account,
            "a 12-digit AWS account id",
        ));
    }
    if !shapes::region(&region) {
        return Err(bad_field(
            id,
            "region",
            &region,
            "an AWS region name such as us-east-1",
        ));
    }
    Ok((account, region))
}

/// What the deployment-events function receives from ECS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcsEvent {
    Deployment(DeploymentChanged),
    ServiceAction(ServiceAction),
    Hook(HookChanged),
}

const ECS_SOURCE: &str = "aws.ecs";
const ECS_DEPLOYMENT_TYPE: &str = "ECS Deployment State Change";
const ECS_SERVICE_ACTION_TYPE: &str = "ECS Service Action";
const ECS_HOOK_TYPE: &str = "ECS Hook State Change";

/// Documented by example only (Developer Guide, "Amazon ECS service deployment hook state
/// change events"); every field but the hook and its deployment is optional here.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct EcsHookDetail {
    event_name: String,
    hook_id: String,
    #[serde(default)]
    hook_type: Option<String>,
    #[serde(default)]
    lifecycle_stage: Option<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    service_arn: String,
    service_deployment_arn: String,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct EcsDeploymentDetail {
    event_name: String,
    deployment_id: String,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct EcsServiceActionDetail {
    event_type: String,
    event_name: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
}

/// Reads an "ECS Deployment State Change" or "ECS Service Action" event.
pub fn parse_ecs_event(raw: &Value) -> Result<Intent<EcsEvent>, EventError> {
    let detail_type = raw.get("detail-type").and_then(Value::as_str);
    if detail_type == Some(ECS_HOOK_TYPE) {
        return parse_hook_event(raw);
    }
    if detail_type == Some(ECS_SERVICE_ACTION_TYPE) {
        let (id, envelope) =
            open_envelope::<EcsServiceActionDetail>(raw, ECS_SOURCE, ECS_SERVICE_ACTION_TYPE)?;
        let service = service_of(&id, envelope.resources.as_deref().unwrap_or_default())?;
        let detail = envelope.detail;
        return Ok(Intent::Deploy(EcsEvent::ServiceAction(ServiceAction {
            event_id: id,
            service,
            event_type: detail.event_type,
            name: detail.event_name,
            reason: detail.reason,
            at: detail.created_at.or(envelope.time),
        })));
    }
    let (id, envelope) =
        open_envelope::<EcsDeploymentDetail>(raw, ECS_SOURCE, ECS_DEPLOYMENT_TYPE)?;
    let service = service_of(&id, envelope.resources.as_deref().unwrap_or_default())?;
    let detail = envelope.detail;
    let name = match detail.event_name.as_str() {
        "SERVICE_DEPLOYMENT_IN_PROGRESS" => DeploymentEventName::InProgress,
        "SERVICE_DEPLOYMENT_COMPLETED" => DeploymentEventName::Completed,
        "SERVICE_DEPLOYMENT_FAILED" => DeploymentEventName::Failed,
        other => {
            return Ok(Intent::Ignore {
                event_id: id,
                reason: format!("eventName {other} is not a deployment state Slipway knows"),
            })
        }
    };
    if detail.deployment_id.trim().is_empty() {
        return Err(EventError::BadDetail {
            id,
            problem: "deploymentId is empty".into(),
        });
    }
    Ok(Intent::Deploy(EcsEvent::Deployment(DeploymentChanged {
        event_id: id,
        service,
        name,
        ecs_deployment_id: detail.deployment_id,
        updated_at: detail.updated_at,
        reason: detail.reason.filter(|r| !r.is_empty()),
    })))
}

/// An "ECS Hook State Change" event: its service comes from `detail.serviceArn`
/// (`resources[0]` is the service deployment).
fn parse_hook_event(raw: &Value) -> Result<Intent<EcsEvent>, EventError> {
    let (id, envelope) = open_envelope::<EcsHookDetail>(raw, ECS_SOURCE, ECS_HOOK_TYPE)?;
    let detail = envelope.detail;
    let service = service_of(&id, std::slice::from_ref(&detail.service_arn))?;
    let Some(name) = HookEventName::from_ecs_name(&detail.event_name) else {
        return Ok(Intent::Ignore {
            event_id: id,
            reason: format!(
                "eventName {} is not a hook state Slipway knows",
                detail.event_name
            ),
        });
    };
    for (field, value) in [
        ("hookId", &detail.hook_id),
        ("serviceDeploymentArn", &detail.service_deployment_arn),
    ] {
        if value.trim().is_empty() {
            return Err(EventError::BadDetail {
                id,
                problem: format!("{field} is empty"),
            });
        }
    }
    Ok(Intent::Deploy(EcsEvent::Hook(HookChanged {
        event_id: id,
        service,
        service_deployment_arn: detail.service_deployment_arn,
        hook_id: detail.hook_id,
        hook_type: detail.hook_type.unwrap_or_default(),
        name,
        stage: detail
            .lifecycle_stage
            .as_deref()
            .and_then(Stage::from_ecs_name),
        expires_at: detail.expires_at,
        updated_at: detail.updated_at,
    })))
}

fn service_of(id: &str, resources: &[String]) -> Result<ServiceRef, EventError> {
    let arn = resources.first().ok_or(EventError::MissingEnvelopeField {
        id: id.to_string(),
        field: "resources[0] (the service ARN)",
    })?;
    ServiceRef::parse(arn).ok_or_else(|| EventError::BadDetail {
        id: id.to_string(),
        problem: format!(
            "resources[0] `{arn}` is not a service ARN of the form arn:aws:ecs:<region>:<account>:service/<cluster>/<service> (services with old-format ARNs must opt in to the long ARN format)"
        ),
    })
}

/// What an operator asks of Slipway, as an EventBridge event they put on the bus (or
/// replay locally): source `slipway.operator`, detail-type `Slipway Operator Request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRequest {
    #[serde(skip_deserializing)]
    pub event_id: String,
    pub action: OperatorAction,
    pub target: String,
    /// Who asks, for the ledger. Through the operator endpoint: the IAM caller's ARN, as
    /// API Gateway verified it. Through EventBridge: what the sender typed, recorded as
    /// "claimed by …" (the real PutEvents caller is only in CloudTrail).
    pub requested_by: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// A rollback's destination: a deployment of the target that succeeded (`None`: the
    /// last known good release).
    #[serde(default)]
    pub to: Option<String>,
    /// A freeze's end (`None`: until an operator unfreezes).
    #[serde(default)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorAction {
    /// Roll the target back to its last known good release.
    Rollback,
    /// Let automatic deploys to the target resume after a failure (or an operator) froze
    /// them.
    Unfreeze,
    /// Pause automatic deploys to the target (a release freeze, an incident).
    Freeze,
}

pub const OPERATOR_SOURCE: &str = "slipway.operator";
pub const OPERATOR_DETAIL_TYPE: &str = "Slipway Operator Request";

/// Reads an operator's request.
pub fn parse_operator_request(raw: &Value) -> Result<OperatorRequest, EventError> {
    let (id, envelope) =
        open_envelope::<OperatorRequest>(raw, OPERATOR_SOURCE, OPERATOR_DETAIL_TYPE)?;
    let mut request = envelope.detail;
    if request.requested_by.trim().is_empty() || request.target.trim().is_empty() {
        return Err(EventError::BadDetail {
            id,
            problem: "`target` and `requested_by` must not be empty".into(),
        });
    }
    request.event_id = id;
    request.requested_by = format!("claimed by {}", request.requested_by.trim());
    Ok(request)
}

/// Whether an event is an operator's request rather than one of ECS's.
pub fn is_operator_request(raw: &Value) -> bool {
    raw.get("source").and_then(Value::as_str) == Some(OPERATOR_SOURCE)
}

#[cfg(test)]
mod tests;
