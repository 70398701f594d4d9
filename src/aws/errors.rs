//! Sorting SDK errors into what the decisions care about: retry later, not found, or
//! permanent. The SDK's standard retry has already run when we get here.

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::{AwsError, AwsErrorKind};

const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServerException",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
];

pub fn classify<E>(
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
    not_found_codes: &[&str],
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_string);
    // AWS's own words when it answered (code and message); the whole chain otherwise
    // (a timeout, a connection error), which is what explains those.
    let message = match (err.code(), err.message(), status) {
        (Some(code), Some(text), Some(status)) => format!("{code} (HTTP {status}): {text}"),
        (Some(code), None, Some(status)) => format!("{code} (HTTP {status})"),
        _ => DisplayErrorContext(&err).to_string(),
    };
    let kind = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            AwsErrorKind::Transient
        }
        _ if code
            .as_deref()
            .is_some_and(|c| not_found_codes.contains(&c)) =>
        {
            AwsErrorKind::NotFound
        }
        _ if status.is_some_and(|s| s >= 500 || s == 429) => AwsErrorKind::Transient,
        _ if code
            .as_deref()
            .is_some_and(|c| TRANSIENT_CODES.contains(&c)) =>
        {
            AwsErrorKind::Transient
        }
        // ECS refuses concurrent registrations in one family this way; it passes.
        _ if message.contains("Too many concurrent attempts") => AwsErrorKind::Transient,
        _ => AwsErrorKind::Permanent,
    };
    AwsError {
        operation,
        message,
        kind,
    }
}
