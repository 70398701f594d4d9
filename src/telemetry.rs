//! Structured JSON logs, one object per line, as CloudWatch Logs Insights likes them.
//!
//! A decision's log lines run inside its span (`deployer`'s `decision_span`): each line
//! carries the span's fields under `span` — the event id, the target, the digest and the
//! deployment id — so that `filter span.deployment_id = "…"` finds everything about one
//! deployment without every call site repeating them.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing::subscriber::set_global_default(subscriber(std::io::stdout, filter))
        .expect("telemetry is initialised once, first thing in main");
}

/// The subscriber `init` installs, writing to `writer`.
fn subscriber<W>(writer: W, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_decision_logged_in_its_span_carries_the_event_target_digest_and_deployment() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = subscriber(move || writer.clone(), EnvFilter::new("info"));
        tracing::subscriber::with_default(subscriber, || {
            let span = crate::deployer::decision_span("e-1", "web", "sha256:ab", "");
            let _entered = span.enter();
            crate::deployer::record_in_span("deployment_id", "web.img-ab");
            tracing::info!(decision = "rolling", "rolling out");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["decision"], "rolling", "{line}");
        assert_eq!(line["message"], "rolling out", "{line}");
        let span = &line["span"];
        assert_eq!(
            (
                &span["event_id"],
                &span["target"],
                &span["digest"],
                &span["deployment_id"]
            ),
            (
                &serde_json::json!("e-1"),
                &serde_json::json!("web"),
                &serde_json::json!("sha256:ab"),
                &serde_json::json!("web.img-ab")
            ),
            "{line}"
        );
    }
}
