//! A function's real binary under a stand-in of Lambda's Runtime API, for the tests that
//! must kill the process itself (reliability scenario 4): it serves the process one event,
//! with Lambda's environment, and reports how the invocation ended — or kills it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How one invocation of the process ended.
#[derive(Debug)]
pub enum Ended {
    /// `/response`: the function returned this.
    Response(Value),
    /// `/error` or `/init/error`: the function (or its start) failed.
    Error(String),
    /// Killed (SIGKILL) by the test before it answered.
    Killed,
}

struct Api {
    event: Mutex<Option<(String, Value, i64)>>,
    ended: mpsc::UnboundedSender<Ended>,
}

/// The debug build of a function (`cargo build --bins`, which `make test` runs first).
pub fn function_binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/debug/{name}"));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first (make test and make reliability do)",
        path.display()
    );
    path
}

/// One process of `binary` serving one event.
pub struct Invocation {
    child: Child,
    ended: mpsc::UnboundedReceiver<Ended>,
    server: tokio::task::JoinHandle<()>,
}

impl Invocation {
    /// Starts `binary` with Lambda's environment plus `env`, and hands it `event` when it
    /// asks for one, with a deadline `timeout` from now.
    pub async fn start(
        binary: &std::path::Path,
        env: &[(&str, String)],
        request_id: &str,
        event: Value,
        timeout: Duration,
    ) -> Invocation {
        let deadline_ms = chrono::Utc::now().timestamp_millis() + timeout.as_millis() as i64;
        let (ended, receiver) = mpsc::unbounded_channel();
        let api = Arc::new(Api {
            event: Mutex::new(Some((request_id.to_string(), event, deadline_ms))),
            ended,
        });
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            super::serve::serve(listener, app).await;
        });
        let name = binary.file_name().unwrap().to_string_lossy().to_string();
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/02/[$LATEST]test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        Invocation {
            child,
            ended: receiver,
            server,
        }
    }

    /// Waits for the function's answer.
    pub async fn wait(&mut self) -> Ended {
        self.ended.recv().await.unwrap_or(Ended::Killed)
    }

    /// SIGKILL, as Lambda does to a sandbox at its timeout or on a crash.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }
}

impl Drop for Invocation {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(api): State<Arc<Api>>) -> (HeaderMap, String) {
    let served = api.event.lock().unwrap().take();
    let Some((request_id, event, deadline_ms)) = served else {
        // One event per process: a second poll waits, like a frozen sandbox.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).unwrap();
    headers.insert("lambda-runtime-aws-request-id", header(&request_id));
    headers.insert(
        "lambda-runtime-deadline-ms",
        header(&deadline_ms.to_string()),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header("arn:aws:lambda:us-east-1:123456789012:function:slipway-test"),
    );
    headers.insert("lambda-runtime-trace-id", header("Root=1-00000000-test"));
    (headers, event.to_string())
}

async fn response(
    State(api): State<Arc<Api>>,
    Path(_id): Path<String>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = api.ended.send(Ended::Response(value));
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Arc<Api>>, Path(_id): Path<String>, body: String) -> StatusCode {
    let _ = api.ended.send(Ended::Error(body));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<Api>>, body: String) -> StatusCode {
    let _ = api.ended.send(Ended::Error(format!("init: {body}")));
    StatusCode::ACCEPTED
}
