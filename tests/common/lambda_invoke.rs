//! Lambda's Invoke API, played for `slipway dlq redrive`: the emulator stores functions
//! but does not run them. `POST /2015-03-31/functions/{name}/invocations` with
//! `X-Amz-Invocation-Type: Event` is answered 202 once the event is accepted (Lambda API
//! Reference, "Invoke": "For asynchronous invocation, … the API response includes only a
//! status code" — 202). Each accepted event is handed to the test over a channel, which
//! plays the function (with Lambda's retries and dead-letter queue) and says whether the
//! invoke is accepted; a refused one is answered 500 `ServiceException`, as Lambda answers
//! an internal failure.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// One asynchronous invoke: the function's name, the payload, and where to say whether
/// Lambda accepted it.
pub struct Invoked {
    pub function: String,
    pub payload: Value,
    pub accept: oneshot::Sender<bool>,
}

pub struct LambdaInvokeApi {
    pub endpoint: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LambdaInvokeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl LambdaInvokeApi {
    pub async fn start() -> (LambdaInvokeApi, mpsc::UnboundedReceiver<Invoked>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let app = axum::Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(sender);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            super::serve::serve(listener, app).await;
        });
        (LambdaInvokeApi { endpoint, server }, receiver)
    }
}

async fn invoke(
    State(sender): State<mpsc::UnboundedSender<Invoked>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let asynchronous = headers
        .get("x-amz-invocation-type")
        .is_some_and(|v| v == "Event");
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "the payload is not JSON",
        );
    };
    if !asynchronous {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            "this stand-in plays asynchronous invokes only",
        );
    }
    // The function's name as the ARN's last part (`…:function:image-push`).
    let function = name.rsplit(':').next().unwrap_or(&name).to_string();
    let (accept, accepted) = oneshot::channel();
    if sender
        .send(Invoked {
            function,
            payload,
            accept,
        })
        .is_err()
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "the test stopped listening",
        );
    }
    match accepted.await {
        Ok(true) => StatusCode::ACCEPTED.into_response(),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "Lambda could not queue the event",
        ),
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> axum::response::Response {
    (
        status,
        [
            ("x-amzn-errortype", kind.to_string()),
            ("content-type", "application/json".to_string()),
        ],
        serde_json::json!({ "Type": "Service", "message": message }).to_string(),
    )
        .into_response()
}
