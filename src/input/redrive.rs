//! What a dead-letter queue holds, made into the event again.
//!
//! One queue per event-driven function receives two shapes (README, "Dead letters"):
//! - EventBridge's target dead-letter queue: the event as it is, when EventBridge could
//!   not invoke the function (Amazon EventBridge User Guide, "Using dead-letter queues to
//!   process undelivered events");
//! - Lambda's on-failure destination: an invocation record whose `requestPayload` is the
//!   event, when every attempt failed (Lambda Developer Guide, "Capturing records of Lambda
//!   asynchronous invocations": `version`, `timestamp`, `requestContext {requestId,
//!   functionArn, condition, approximateInvokeCount}`, `requestPayload`,
//!   `responseContext`, `responsePayload`).
//!
//! SQS's own redrive cannot move either back (their source is not an SQS queue), so an
//! operator re-invokes the function with the message body; the functions accept both
//! shapes and handle the event inside.

use serde_json::Value;

/// Why an invocation record was written, as Lambda says it (`RetriesExhausted`,
/// `EventAgeExceeded`, …), and how many times the event had been tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redriven {
    pub condition: String,
    pub attempts: u64,
    pub request_id: String,
}

/// The event inside `raw` if it is an on-failure invocation record, else `raw` itself.
pub fn event_of(raw: &Value) -> (&Value, Option<Redriven>) {
    let (Some(payload), Some(context)) = (raw.get("requestPayload"), raw.get("requestContext"))
    else {
        return (raw, None);
    };
    if raw.get("detail-type").is_some() || !context.is_object() {
        return (raw, None);
    }
    let text = |name: &str| {
        context
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let redriven = Redriven {
        condition: text("condition"),
        attempts: context
            .get("approximateInvokeCount")
            .and_then(Value::as_u64)
            .unwrap_or_default(),
        request_id: text("requestId"),
    };
    (payload, Some(redriven))
}

/// Lambda's on-failure record for `event` (what the reliability rig writes to its queue).
pub fn invocation_record(event: &Value, function_arn: &str, error: &str, attempts: u64) -> Value {
    serde_json::json!({
        "version": "1.0",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "requestContext": {
            "requestId": format!("failed-{}", event["id"].as_str().unwrap_or("event")),
            "functionArn": format!("{function_arn}:$LATEST"),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": error, "errorType": "DeployError"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_is_taken_out_of_an_on_failure_record_and_a_raw_event_is_left_alone() {
        let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
        let record: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/lambda-on-failure-record.json")).unwrap(),
        )
        .unwrap();
        let (event, redriven) = event_of(&record);
        assert_eq!(event["detail-type"], "ECR Image Action");
        let redriven = redriven.unwrap();
        assert_eq!(
            (redriven.condition.as_str(), redriven.attempts),
            ("RetriesExhausted", 3)
        );

        let raw: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/ecr-push.json")).unwrap())
                .unwrap();
        let (same, none) = event_of(&raw);
        assert_eq!(same, &raw);
        assert!(none.is_none());
    }

    #[test]
    fn a_record_made_here_is_read_back_as_its_event() {
        let event = serde_json::json!({"id": "e-1", "detail-type": "ECR Image Action"});
        let record = invocation_record(&event, "arn:aws:lambda:us-east-1:1:function:f", "boom", 3);
        let (inside, redriven) = event_of(&record);
        assert_eq!(inside, &event);
        assert_eq!(redriven.unwrap().attempts, 3);
    }
}
