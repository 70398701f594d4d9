//! The approval function's invocations: HTTP API (payload format 2.0) requests converted
//! between lambda_http and the plain types `approval::web` decides on, and the roll jobs
//! the function hands itself (`approval::later`), told apart by their payload.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Map, Value};

use crate::approval::later::RollJob;
use crate::approval::web::{ApprovalApp, WebRequest, WebResponse};
use crate::ports::{Ecs, Notifier, ObjectStore, Registry, SourceBucket};

/// Serves the approval function until Lambda stops it.
pub async fn serve<E, R, S, B, N>(
    app: &ApprovalApp<'_, E, R, S, B, N>,
) -> Result<(), lambda_runtime::Error>
where
    E: Ecs,
    R: Registry,
    S: ObjectStore,
    B: SourceBucket,
    N: Notifier,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        invocation(app, event.payload).await
    }))
    .await
}

/// One invocation: a roll job (only the function's own role may invoke it directly;
/// API Gateway sends only HTTP events), or an HTTP request.
pub async fn invocation<E, R, S, B, N>(
    app: &ApprovalApp<'_, E, R, S, B, N>,
    payload: Value,
) -> Result<Value, lambda_runtime::Error>
where
    E: Ecs,
    R: Registry,
    S: ObjectStore,
    B: SourceBucket,
    N: Notifier,
{
    // A redrive of a dead-lettered job sends Lambda's invocation record around it.
    let (unwrapped, _) = crate::redrive::event_of(&payload);
    if let Some(job) = RollJob::from_payload(unwrapped) {
        // An error hands the job back to Lambda, which retries it (it is idempotent).
        app.roll_job(&job).await?;
        return Ok(json!({"rolled": job.slipway_roll.deployment_id}));
    }
    let request = lambda_http::request::from_str(&payload.to_string())
        .map_err(|err| format!("neither an HTTP API request nor a roll job: {err}"))?;
    Ok(http_api_response(app.handle(&web_request(request)).await))
}

/// The function URL's request in plain form. lambda_http has already decoded a base64
/// body (`isBase64Encoded`), so Slack's signature is checked over the bytes Slack sent.
pub fn web_request(request: Request) -> WebRequest {
    let query = request.uri().query().unwrap_or_default().to_string();
    let path = request.raw_http_path().to_string();
    let source = request_source(&request);
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    let method = request.method().as_str().to_string();
    let body = match request.into_body() {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
    };
    WebRequest {
        method,
        path,
        query,
        headers,
        body,
        source,
    }
}

/// The payload format 2.0 response (API Gateway Developer Guide, "Create AWS Lambda proxy
/// integrations for HTTP APIs": `statusCode`, `headers`, `body`, `isBase64Encoded`), which
/// function URLs and `cargo lambda watch` read the same way.
pub fn http_api_response(answer: WebResponse) -> Value {
    let headers: Map<String, Value> = answer
        .headers
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    json!({
        "statusCode": answer.status,
        "headers": headers,
        "multiValueHeaders": {},
        "body": answer.body,
        "isBase64Encoded": false,
        // Function URLs' response shape has it (Lambda Developer Guide, "Invoking Lambda
        // function URLs", response payload format); cargo lambda watch requires it.
        "cookies": [],
    })
}

/// The caller's IP and user agent. Function URLs deliver the API Gateway HTTP API (v2)
/// payload.
fn request_source(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => Some(format!(
            "{} ({})",
            context.http.source_ip.as_deref().unwrap_or("?"),
            context.http.user_agent.as_deref().unwrap_or("?")
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> WebRequest {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        web_request(
            lambda_http::request::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}")),
        )
    }

    /// API Gateway's HTTP API (on AWS) and cargo lambda's function URL (locally) both send
    /// payload format 2.0 (API Gateway Developer Guide, "Create AWS Lambda proxy
    /// integrations for HTTP APIs"; Lambda Developer Guide, "Invoking Lambda function URLs").
    #[test]
    fn every_function_url_and_http_api_event_file_parses() {
        let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            if name.starts_with("function-url-") || name.starts_with("http-api-") {
                let request = event(&name);
                assert!(
                    request.path.contains("/approvals/")
                        || request.path.ends_with("/slack/interactions"),
                    "{name}: {}",
                    request.path
                );
                seen += 1;
            }
        }
        assert!(
            seen >= 3,
            "expected the function URL and HTTP API event files, found {seen}"
        );
    }

    #[test]
    fn an_http_api_request_on_the_default_stage_has_no_stage_in_its_path() {
        let request = event("http-api-approval-get.json");
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/approvals/prod-web.img-4c2b1e8f6f3c")
        );
        assert!(request.query.starts_with("t=v1.k1."), "{}", request.query);
    }

    #[test]
    fn a_base64_body_reaches_the_handler_as_the_bytes_that_were_sent() {
        let request = event("function-url-slack-interaction.json");
        assert_eq!(request.method, "POST");
        assert!(
            request.body.starts_with(b"payload=%7B"),
            "{:?}",
            String::from_utf8_lossy(&request.body)
        );
        assert_eq!(
            request.header("x-slack-request-timestamp"),
            Some("1763900000")
        );
        assert!(
            request
                .source
                .as_deref()
                .unwrap_or_default()
                .starts_with("3.90."),
            "{:?}",
            request.source
        );
    }
}
