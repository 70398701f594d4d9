//! The HTTP contract. `/health` is what the ALB target group and the container health check
//! call; `/version` is how a person (and the demo) sees which release is live.

use crate::build_info::{BuildInfo, BUILD};
use crate::instance::Instance;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `/delay/{seconds}` stays well inside the drain window, so it cannot hold a stopping task
/// past ECS's stop timeout by itself.
pub const MAX_DELAY_SECONDS: u64 = 10;

pub fn router(instance: Instance) -> Router {
    Router::new()
        .route("/", get(hello))
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/delay/{seconds}", get(delayed_hello))
        .fallback(not_found)
        .layer(middleware::from_fn(access_log))
        .with_state(Arc::new(instance))
}

async fn hello() -> &'static str {
    "Hello World!"
}

async fn health(State(instance): State<Arc<Instance>>) -> &'static str {
    tracing::info!(instance_id = %instance.id, version = BUILD.version, "health check");
    "true"
}

async fn version() -> Json<BuildInfo> {
    Json(BUILD)
}

/// Answers like `/` after a pause: a slow request, for watching a rollout drain connections
/// (and for the test that stops the server mid-request).
async fn delayed_hello(Path(seconds): Path<u64>) -> Response {
    if seconds > MAX_DELAY_SECONDS {
        return (
            StatusCode::BAD_REQUEST,
            format!("delay at most {MAX_DELAY_SECONDS} seconds, not {seconds}\n"),
        )
            .into_response();
    }
    tracing::info!(seconds, "delaying the response");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    hello().await.into_response()
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found: try /, /health or /version\n",
    )
}

/// One line per request; `/health` has its own line (with the instance id) instead, so the
/// ALB's checks every few seconds do not double the log.
async fn access_log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    if path != "/health" {
        tracing::info!(
            %method,
            path,
            status = response.status().as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "request"
        );
    }
    response
}
