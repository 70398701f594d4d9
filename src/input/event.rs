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
    DeploymentChanged, DeploymentEventName, ServiceAction, ServiceRef,
};
pub use crate::model::image_ref::is_sha256_digest;

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
}

const ECS_SOURCE: &str = "aws.ecs";
const ECS_DEPLOYMENT_TYPE: &str = "ECS Deployment State Change";
const ECS_SERVICE_ACTION_TYPE: &str = "ECS Service Action";

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
    /// Who asks, for the ledger (the PutEvents caller is in CloudTrail too).
    pub requested_by: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorAction {
    /// Roll the target back to its last known good release.
    Rollback,
    /// Let automatic deploys to the target resume after a failure froze them.
    Unfreeze,
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
    Ok(request)
}

/// Whether an event is an operator's request rather than one of ECS's.
pub fn is_operator_request(raw: &Value) -> bool {
    raw.get("source").and_then(Value::as_str) == Some(OPERATOR_SOURCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(file: &str) -> Value {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn a_tagged_successful_push_deploys() {
        let EcrIntent::Deploy(push) = parse_ecr_event(&event("ecr-push.json")).unwrap() else {
            panic!("a tagged push must deploy");
        };
        assert_eq!(push.repository, "app");
        assert_eq!(push.tag, "v1.4.2");
        assert_eq!(push.account, "123456789012");
        assert!(is_sha256_digest(&push.digest));
    }

    #[test]
    fn an_untagged_platform_manifest_is_ignored_with_a_reason() {
        let intent = parse_ecr_event(&event("ecr-push-untagged-platform-manifest.json")).unwrap();
        assert!(
            matches!(intent, EcrIntent::Ignore { ref reason, .. } if reason.contains("no image-tag")),
            "{intent:?}"
        );
    }

    #[test]
    fn deletes_and_failures_are_ignored() {
        for (file, why) in [
            ("ecr-delete.json", "DELETE"),
            ("ecr-push-failure.json", "FAILURE"),
        ] {
            let intent = parse_ecr_event(&event(file)).unwrap();
            assert!(
                matches!(intent, EcrIntent::Ignore { ref reason, .. } if reason.contains(why)),
                "{file}: {intent:?}"
            );
        }
    }

    #[test]
    fn a_malformed_event_is_an_error_naming_the_problem() {
        let err = parse_ecr_event(&event("malformed-ecr-push.json")).unwrap_err();
        assert!(err.to_string().contains("repository-name"), "{err}");
    }

    #[test]
    fn unknown_fields_are_accepted() {
        let mut raw = event("ecr-push.json");
        raw["detail"]["a-field-added-next-year"] = Value::from(true);
        raw["another"] = Value::from(1);
        assert!(matches!(
            parse_ecr_event(&raw).unwrap(),
            EcrIntent::Deploy(_)
        ));
    }

    #[test]
    fn events_of_another_kind_are_refused() {
        let mut raw = event("ecr-push.json");
        raw["source"] = Value::from("aws.s3");
        assert!(matches!(
            parse_ecr_event(&raw),
            Err(EventError::UnexpectedKind { .. })
        ));
        assert!(matches!(
            parse_ecr_event(&Value::from("hello")),
            Err(EventError::NotEventBridge(_))
        ));
    }

    #[test]
    fn digests_must_be_sha256() {
        let mut raw = event("ecr-push.json");
        raw["detail"]["image-digest"] = Value::from("sha256:../../etc");
        assert!(matches!(
            parse_ecr_event(&raw),
            Err(EventError::BadDigest { .. })
        ));
    }

    #[test]
    fn ecs_deployment_events_name_their_service_deployment_and_rollback() {
        let Intent::Deploy(EcsEvent::Deployment(done)) =
            parse_ecs_event(&event("ecs-deployment-completed.json")).unwrap()
        else {
            panic!("a deployment event")
        };
        assert_eq!(
            (done.service.cluster.as_str(), done.service.service.as_str()),
            ("demo", "web")
        );
        assert_eq!(done.name, DeploymentEventName::Completed);
        assert_eq!(done.ecs_deployment_id, "ecs-svc/4728390175623849101");
        assert_eq!(done.rolling_back_to(), None);

        let Intent::Deploy(EcsEvent::Deployment(rollback)) =
            parse_ecs_event(&event("ecs-deployment-rollback-in-progress.json")).unwrap()
        else {
            panic!("a deployment event")
        };
        assert_eq!(rollback.name, DeploymentEventName::InProgress);
        assert_eq!(
            rollback.rolling_back_to(),
            Some("ecs-svc/3617289064512738990")
        );
        let Intent::Deploy(EcsEvent::ServiceAction(action)) =
            parse_ecs_event(&event("ecs-service-action-task-start-impaired.json")).unwrap()
        else {
            panic!("a service action")
        };
        assert!(action.is_problem());
        assert_eq!(action.service.service, "web");
    }

    #[test]
    fn ecs_events_without_a_service_arn_are_refused_and_unknown_names_ignored() {
        let mut raw = event("ecs-deployment-completed.json");
        raw["resources"] = serde_json::json!(["arn:aws:ecs:us-east-1:123456789012:service/web"]);
        let err = parse_ecs_event(&raw).unwrap_err();
        assert!(
            err.to_string().contains("service/<cluster>/<service>"),
            "{err}"
        );
        raw["resources"] = serde_json::json!([]);
        assert!(parse_ecs_event(&raw).is_err());
        let mut raw = event("ecs-deployment-completed.json");
        raw["detail"]["eventName"] = Value::from("SERVICE_DEPLOYMENT_PAUSED");
        assert!(matches!(parse_ecs_event(&raw), Ok(Intent::Ignore { .. })));
    }

    #[test]
    fn operator_requests_need_a_target_and_a_person() {
        let request = parse_operator_request(&event("operator-rollback.json")).unwrap();
        assert_eq!(request.action, OperatorAction::Rollback);
        assert_eq!(request.target, "web");
        let mut raw = event("operator-unfreeze.json");
        raw["detail"]["requested_by"] = Value::from(" ");
        assert!(parse_operator_request(&raw).is_err());
        raw["detail"]["action"] = Value::from("deploy-anything");
        assert!(parse_operator_request(&raw).is_err());
    }

    #[test]
    fn field_shapes_accept_what_aws_sends_and_nothing_else() {
        for region in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "eu-isoe-west-1",
        ] {
            assert!(shapes::region(region), "{region}");
        }
        for region in ["us-east", "US-EAST-1", "us-east-1\n", "us--1", "east-1"] {
            assert!(!shapes::region(region), "{region:?}");
        }
        for tag in ["v1.2.3", "latest", "_build", "1.0.0-rc.1", &"a".repeat(128)] {
            assert!(shapes::tag(tag), "{tag}");
        }
        for tag in ["", ".hidden", "-x", "v1/2", "v1\u{200b}", &"a".repeat(129)] {
            assert!(!shapes::tag(tag), "{tag:?}");
        }
        for name in ["app", "team/app", "a.b_c-d"] {
            assert!(shapes::repository(name), "{name}");
        }
        for name in ["a", "App", "/app", "my app"] {
            assert!(!shapes::repository(name), "{name:?}");
        }
        assert!(shapes::account("123456789012"));
        assert!(!shapes::account("1234567890123") && !shapes::account("12345678901a"));
        assert_eq!(
            shown("v1\u{202e}2"),
            "\"v1\\u{202e}2\"",
            "invisible characters are escaped"
        );
        assert!(shown(&"x".repeat(500)).ends_with("(500 characters)"));
    }

    /// Every file in `events/invalid/<function>/` is turned away by that function's parser
    /// (reliability scenario 5 sends each through the function against the emulator).
    #[test]
    fn every_invalid_event_is_turned_away_by_its_parser() {
        let root = format!("{}/events/invalid", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for function in ["image-push", "source-upload", "deployment-events"] {
            for entry in std::fs::read_dir(format!("{root}/{function}")).unwrap() {
                let path = entry.unwrap().path();
                let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|err| panic!("{}: not JSON: {err}", path.display()));
                let deploys = match function {
                    "image-push" => matches!(parse_ecr_event(&raw), Ok(Intent::Deploy(_))),
                    "source-upload" => matches!(
                        crate::input::source::parse_source_event(&raw),
                        Ok(crate::input::source::SourceIntent::Deploy(_))
                    ),
                    _ => matches!(parse_ecs_event(&raw), Ok(Intent::Deploy(_))),
                };
                assert!(!deploys, "{} was accepted", path.display());
                seen += 1;
            }
        }
        assert!(
            seen >= 30,
            "expected at least 30 invalid events, found {seen}"
        );
    }

    /// Every file in `events/` must parse as an EventBridge envelope and, for ECR files,
    /// give the intent its name promises.
    #[test]
    fn every_event_file_parses() {
        let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            seen += 1;
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|err| panic!("{}: not JSON: {err}", path.display()));
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            match name.as_str() {
                n if n.starts_with("malformed-ecr") => {
                    assert!(parse_ecr_event(&raw).is_err(), "{n} must be refused")
                }
                n if n.starts_with("ecr-") => assert!(parse_ecr_event(&raw).is_ok(), "{n}"),
                n if n.starts_with("s3-") => {
                    let parsed = crate::input::source::parse_source_event(&raw);
                    assert!(
                        matches!(parsed, Ok(crate::input::source::SourceIntent::Deploy(_))),
                        "{n}: {parsed:?}"
                    )
                }
                n if n.starts_with("ecs-") => {
                    let parsed = parse_ecs_event(&raw);
                    assert!(matches!(parsed, Ok(Intent::Deploy(_))), "{n}: {parsed:?}")
                }
                n if n.starts_with("operator-") => {
                    let parsed = parse_operator_request(&raw);
                    assert!(parsed.is_ok(), "{n}: {parsed:?}")
                }
                // The reconciler's schedule (EventBridge's "Scheduled Event").
                n if n.starts_with("scheduled-") => {
                    assert!(crate::reconcile::is_schedule(&raw), "{n}")
                }
                // HTTP requests to the approval function: `aws::http`'s test parses them
                // with lambda_http, as the function does.
                n if n.starts_with("function-url-") || n.starts_with("http-api-") => {}
                // Lambda's on-failure record: `redrive`'s test takes the event out of it.
                n if n.starts_with("lambda-on-failure-") => {
                    let (event, redriven) = crate::input::redrive::event_of(&raw);
                    assert!(redriven.is_some() && parse_ecr_event(event).is_ok(), "{n}")
                }
                n => {
                    panic!("{n}: no test knows this event file; add it to every_event_file_parses")
                }
            }
        }
        assert!(seen >= 5, "expected the ECR event files, found {seen}");
    }
}
