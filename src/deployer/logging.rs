//! The span a target's decision runs in and the lines it logs (`telemetry` writes them as
//! JSON, with the span's fields).
use tracing::{field, info, info_span, warn, Span};

/// The span one target's decision runs in: every log line inside it carries the event,
/// the target, the image's digest and the deployment (JSON logs show them under `span`).
/// Empty values are left out; a field learnt later is recorded on the current span
/// ([`record_in_span`]).
pub(crate) fn decision_span(
    event_id: &str,
    target: &str,
    digest: &str,
    deployment_id: &str,
) -> Span {
    let span = info_span!(
        "decision",
        event_id = field::Empty,
        target,
        digest = field::Empty,
        deployment_id = field::Empty
    );
    for (name, value) in [
        ("event_id", event_id),
        ("digest", digest),
        ("deployment_id", deployment_id),
    ] {
        if !value.is_empty() {
            span.record(name, value);
        }
    }
    span
}

/// Records a field of the decision learnt after its span began (the digest a tag
/// resolved to, the deployment a fresh plan was claimed as).
pub(crate) fn record_in_span(name: &str, value: &str) {
    Span::current().record(name, value);
}

/// One decision, logged within its target's span.
pub(super) fn log_decision(decision: &str, message: &str) {
    info!(decision, "{message}");
}

pub(super) fn log_warning(decision: &str, message: &str) {
    warn!(decision, "{message}");
}
