//! `slipway dlq list`: what each function's dead-letter queue holds, in its two shapes —
//! EventBridge's undelivered event as it is, or Lambda's on-failure invocation record with
//! the event under `requestPayload` and the function's error under `responsePayload`
//! (Lambda Developer Guide, "Capturing records of Lambda asynchronous invocations").

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::input::redrive::event_of;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub function: String,
    pub message_id: String,
    pub sent_at: Option<DateTime<Utc>>,
    /// `eventbridge` (the raw event) or `lambda` (an invocation record).
    pub shape: &'static str,
    pub event_id: Option<String>,
    pub detail_type: Option<String>,
    /// What the event was about: `app:v1.4.2`, `s3://bucket/key`, a service.
    pub subject: String,
    /// An ECR push's image digest (what `slipway why` looks for).
    pub digest: Option<String>,
    /// Lambda's condition (`RetriesExhausted`, `EventAgeExceeded`) and the function's
    /// error, for an invocation record; EventBridge's own error attributes otherwise.
    pub error: Option<String>,
    pub attempts: Option<u64>,
}

/// One message's redrive (`slipway dlq redrive`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Redriven {
    #[serde(flatten)]
    pub letter: DeadLetter,
    /// `redriven`, `would-redrive` (with --dry-run), or `failed: …` (the message stays).
    pub result: String,
}

/// One message as SQS returned it.
pub struct Message<'a> {
    pub function: &'a str,
    pub message_id: &'a str,
    pub body: &'a str,
    pub sent_at: Option<DateTime<Utc>>,
    /// EventBridge's `ERROR_CODE` and `ERROR_MESSAGE` message attributes (EventBridge
    /// User Guide, "Using dead-letter queues to process undelivered events").
    pub error_attributes: Option<String>,
}

pub fn read(message: &Message) -> DeadLetter {
    let raw: Value = serde_json::from_str(message.body).unwrap_or(Value::Null);
    let (event, redriven) = event_of(&raw);
    let text =
        |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    let error = match &redriven {
        Some(record) => {
            let response = raw.get("responsePayload");
            let message = response
                .and_then(|r| text(r, "errorMessage"))
                .or_else(|| response.filter(|r| !r.is_null()).map(Value::to_string));
            Some(match message {
                Some(message) => format!("{}: {message}", record.condition),
                None => record.condition.clone(),
            })
        }
        None if raw.is_null() => Some("the message is not JSON".to_string()),
        None => message.error_attributes.clone(),
    };
    DeadLetter {
        function: message.function.to_string(),
        message_id: message.message_id.to_string(),
        sent_at: message.sent_at,
        shape: if redriven.is_some() {
            "lambda"
        } else {
            "eventbridge"
        },
        event_id: text(event, "id"),
        detail_type: text(event, "detail-type"),
        subject: subject(event),
        digest: event
            .pointer("/detail/image-digest")
            .and_then(Value::as_str)
            .map(str::to_string),
        error,
        attempts: redriven.map(|r| r.attempts),
    }
}

fn subject(event: &Value) -> String {
    let detail = event.get("detail").unwrap_or(&Value::Null);
    let at = |pointer: &str| detail.pointer(pointer).and_then(Value::as_str);
    if let Some(repository) = at("/repository-name") {
        return match at("/image-tag") {
            Some(tag) => format!("{repository}:{tag}"),
            None => format!("{repository}@{}", at("/image-digest").unwrap_or("?")),
        };
    }
    if let (Some(bucket), Some(key)) = (at("/bucket/name"), at("/object/key")) {
        return format!("s3://{bucket}/{key}");
    }
    if let Some(target) = at("/target") {
        return format!("{} {target}", at("/action").unwrap_or("request"));
    }
    event
        .pointer("/resources/0")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::redrive::invocation_record;

    fn push() -> Value {
        serde_json::json!({
            "id": "e-1", "detail-type": "ECR Image Action", "source": "aws.ecr",
            "detail": {"repository-name": "app", "image-tag": "v1.4.2", "image-digest": "sha256:ab"}
        })
    }

    #[test]
    fn both_shapes_name_the_event_and_an_invocation_record_its_error() {
        let raw = push().to_string();
        let letter = read(&Message {
            function: "image-push",
            message_id: "m1",
            body: &raw,
            sent_at: None,
            error_attributes: Some("ERROR_CODE=ResourceNotFound".into()),
        });
        assert_eq!(
            (letter.shape, letter.subject.as_str()),
            ("eventbridge", "app:v1.4.2")
        );
        assert_eq!(letter.error.as_deref(), Some("ERROR_CODE=ResourceNotFound"));

        let record = invocation_record(
            &push(),
            "arn:aws:lambda:us-east-1:1:function:f",
            "UpdateService failed: AccessDenied",
            3,
        )
        .to_string();
        let letter = read(&Message {
            function: "image-push",
            message_id: "m2",
            body: &record,
            sent_at: None,
            error_attributes: None,
        });
        assert_eq!(letter.shape, "lambda");
        assert_eq!(letter.event_id.as_deref(), Some("e-1"));
        assert_eq!(letter.attempts, Some(3));
        assert!(
            letter.error.as_deref().unwrap().contains("AccessDenied"),
            "{letter:?}"
        );
    }
}
