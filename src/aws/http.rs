//! The approval function's invocations: API Gateway HTTP API (payload format 2.0) and
//! function URL requests, answered by the axum router of `approval::web`, and the roll
//! jobs the function hands itself (`approval::later`), told apart by their payload.
//!
//! `lambda_http::run(router)` would serve the router alone; the roll jobs are not HTTP
//! events, so the invocation is dispatched here and an HTTP event is converted with
//! lambda_http's own request parser, then answered by the same router.

use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::http::Uri;
use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Map, Value};
use tower::ServiceExt;

use crate::ports::Adapters;
use crate::web::later::RollJob;
use crate::web::operator::VerifiedCaller;
use crate::web::{ApprovalApp, RequestSource};

/// The approval function: its state and its routes, built once per cold start.
pub struct ApprovalFunction<A: Adapters> {
    app: Arc<ApprovalApp<A>>,
    router: Router,
}

impl<A: Adapters> ApprovalFunction<A> {
    pub fn new(app: ApprovalApp<A>) -> Self {
        let app = Arc::new(app);
        let router = app.clone().router();
        ApprovalFunction { app, router }
    }

    /// The routes, to serve over HTTP (the browser test) or call directly.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves the approval function until Lambda stops it.
    pub async fn serve(self) -> Result<(), lambda_runtime::Error> {
        let function = &self;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
            function.invoke(event.payload).await
        }))
        .await
    }

    /// One invocation: a roll job (only the function's own role may invoke it directly;
    /// API Gateway and the function URL send only HTTP events), or an HTTP request.
    pub async fn invoke(&self, payload: Value) -> Result<Value, lambda_runtime::Error> {
        // A redrive of a dead-lettered job sends Lambda's invocation record around it.
        let (unwrapped, _) = crate::input::redrive::event_of(&payload);
        if let Some(job) = RollJob::from_payload(unwrapped) {
            // An error hands the job back to Lambda, which retries it (it is idempotent).
            self.app.roll_job(&job).await?;
            return Ok(json!({"rolled": job.slipway_roll.deployment_id}));
        }
        let request = lambda_http::request::from_str(&payload.to_string())
            .map_err(|err| format!("neither an HTTP API request nor a roll job: {err}"))?;
        let response = self.router.clone().oneshot(routable(request)).await?;
        http_api_response(response).await
    }
}

/// lambda_http's request, made into the router's: the path as the client sent it
/// (`rawPath`; lambda_http puts a named stage in front of it), the body as bytes (already
/// base64-decoded, so Slack's signature is checked over the bytes Slack sent), and the
/// caller's IP and user agent as a [`RequestSource`].
fn routable(request: Request) -> axum::http::Request<AxumBody> {
    let source = request_source(&request);
    let caller = verified_caller(&request);
    let raw_path = request.raw_http_path().to_string();
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{raw_path}?{query}"),
        None => raw_path,
    };
    if let Ok(uri) = path_and_query.parse::<Uri>() {
        parts.uri = uri;
    }
    if let Some(source) = source {
        parts.extensions.insert(RequestSource(source));
    }
    if let Some(caller) = caller {
        parts.extensions.insert(caller);
    }
    let body = match body {
        Body::Empty => AxumBody::empty(),
        Body::Text(text) => AxumBody::from(text),
        Body::Binary(bytes) => AxumBody::from(bytes),
    };
    axum::http::Request::from_parts(parts, body)
}

/// The payload format 2.0 response (API Gateway Developer Guide, "Create AWS Lambda proxy
/// integrations for HTTP APIs": `statusCode`, `headers`, `body`, `isBase64Encoded`), which
/// function URLs and `cargo lambda watch` read the same way.
async fn http_api_response(
    response: axum::response::Response,
) -> Result<Value, lambda_runtime::Error> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.to_string(),
                Value::String(value.to_str().ok()?.to_string()),
            ))
        })
        .collect();
    let (body, base64) = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => (text, false),
        Err(_) => {
            use base64::Engine;
            (
                base64::engine::general_purpose::STANDARD.encode(&bytes),
                true,
            )
        }
    };
    Ok(json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "multiValueHeaders": {},
        "body": body,
        "isBase64Encoded": base64,
        // Function URLs' response shape has it (Lambda Developer Guide, "Invoking Lambda
        // function URLs", response payload format); cargo lambda watch requires it.
        "cookies": [],
    }))
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

/// The IAM caller, on a route whose authorization is `AWS_IAM`: API Gateway verified the
/// SigV4 signature and put the identity in `requestContext.authorizer.iam` (`userArn`,
/// `accountId`, …; Lambda Developer Guide, "Invoking Lambda function URLs", shows the same
/// payload 2.0 block). A client cannot set the request context, and a route without IAM
/// authorization never carries it, so its presence is the proof.
fn verified_caller(request: &Request) -> Option<VerifiedCaller> {
    let RequestContext::ApiGatewayV2(context) = request.request_context_ref()? else {
        return None;
    };
    let iam = context.authorizer.as_ref()?.iam.as_ref()?;
    Some(VerifiedCaller {
        arn: iam.user_arn.clone().filter(|arn| arn.starts_with("arn:"))?,
        account: iam.account_id.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> axum::http::Request<AxumBody> {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        routable(
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
                let path = request.uri().path();
                assert!(
                    path.contains("/approvals/")
                        || path.ends_with("/slack/interactions")
                        || path.starts_with("/operator/"),
                    "{name}: {path}"
                );
                seen += 1;
            }
        }
        assert!(
            seen >= 3,
            "expected the function URL and HTTP API event files, found {seen}"
        );
    }

    /// An IAM-authorised route's event names the verified caller; the approval page's
    /// route (authorization NONE) has none, so the operator endpoint refuses it.
    #[test]
    fn the_verified_caller_comes_only_from_the_iam_authorizer() {
        let request = event("http-api-operator-rollback.json");
        assert_eq!(
            request.extensions().get::<VerifiedCaller>(),
            Some(&VerifiedCaller {
                arn: "arn:aws:sts::123456789012:assumed-role/release-managers/alice".into(),
                account: "123456789012".into(),
            })
        );
        assert_eq!(request.uri().path(), "/operator/rollback");
        let page = event("http-api-approval-get.json");
        assert!(page.extensions().get::<VerifiedCaller>().is_none());
    }

    #[test]
    fn an_http_api_request_on_the_default_stage_has_no_stage_in_its_path() {
        let request = event("http-api-approval-get.json");
        assert_eq!(
            (request.method().as_str(), request.uri().path()),
            ("GET", "/approvals/prod-web.img-4c2b1e8f6f3c")
        );
        let query = request.uri().query().unwrap_or_default();
        assert!(query.starts_with("t=v1.k1."), "{query}");
    }

    #[tokio::test]
    async fn a_base64_body_reaches_the_router_as_the_bytes_that_were_sent() {
        let request = event("function-url-slack-interaction.json");
        assert_eq!(request.method(), "POST");
        assert_eq!(
            request.headers().get("x-slack-request-timestamp").unwrap(),
            "1763900000"
        );
        let source = request.extensions().get::<RequestSource>().cloned();
        assert!(
            source.as_ref().is_some_and(|s| s.0.starts_with("3.90.")),
            "{source:?}"
        );
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(
            body.starts_with(b"payload=%7B"),
            "{:?}",
            String::from_utf8_lossy(&body)
        );
    }
}
