//! How the operator endpoint answers: JSON, never cached, with a status that says whether
//! trying again helps.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::deployer::DecisionError;

pub(super) fn decision_status(err: &DecisionError) -> StatusCode {
    match err {
        DecisionError::UnknownDeployment(_) => StatusCode::NOT_FOUND,
        err if err.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(super) fn failed(message: &str, status: StatusCode) -> Response {
    let advice = match status {
        StatusCode::SERVICE_UNAVAILABLE => " (try again in a minute)",
        StatusCode::INTERNAL_SERVER_ERROR => {
            " (trying again will not help; ask the team that runs Slipway)"
        }
        _ => "",
    };
    let result = if status == StatusCode::CONFLICT {
        "refused"
    } else {
        "failed"
    };
    answer(
        status,
        json!({"result": result, "message": format!("{message}{advice}")}),
    )
}

pub(super) fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [("cache-control", "no-store")], Json(body)).into_response()
}
