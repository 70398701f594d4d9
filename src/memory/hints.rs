//! The promotion bus, in memory: the hints published, in order, and a refusal to queue.

use std::sync::Mutex;

use futures::future::BoxFuture;

use crate::input::hint::UpstreamSucceeded;
use crate::ports::{AwsError, AwsErrorKind, Hints};

#[derive(Default)]
pub struct MemoryHints {
    published: Mutex<Vec<UpstreamSucceeded>>,
    refuse_next: Mutex<bool>,
}

impl MemoryHints {
    pub fn published(&self) -> Vec<UpstreamSucceeded> {
        self.published.lock().unwrap().clone()
    }

    /// The next PutEvents is refused (AccessDenied, say).
    pub fn refuse_next(&self) {
        *self.refuse_next.lock().unwrap() = true;
    }
}

impl Hints for MemoryHints {
    fn publish<'a>(&'a self, hint: &'a UpstreamSucceeded) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            if std::mem::take(&mut *self.refuse_next.lock().unwrap()) {
                return Err(AwsError {
                    operation: "PutEvents",
                    message: "AccessDeniedException (HTTP 400)".into(),
                    kind: AwsErrorKind::Permanent,
                });
            }
            self.published.lock().unwrap().push(hint.clone());
            Ok(())
        })
    }
}
