//! EventBridge Scheduler's one-time schedules, as the deployer asks for them: one per
//! name (CreateSchedule of a name that exists is a `ConflictException`, which the port
//! reads as "already scheduled"), and a refusal that can be queued.

use std::sync::Mutex;

use futures::future::BoxFuture;

use crate::model::wake_up::WakeUp;
use crate::ports::{AwsError, AwsErrorKind, WakeUps};

#[derive(Default)]
pub struct MemoryWakeUps {
    scheduled: Mutex<Vec<WakeUp>>,
    /// How many CreateSchedule calls were made, duplicates included.
    calls: Mutex<usize>,
    refuse_next: Mutex<bool>,
}

impl MemoryWakeUps {
    /// The schedules that exist, in the order they were created.
    pub fn scheduled(&self) -> Vec<WakeUp> {
        self.scheduled.lock().unwrap().clone()
    }

    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }

    /// The next CreateSchedule is refused (AccessDenied, say).
    pub fn refuse_next(&self) {
        *self.refuse_next.lock().unwrap() = true;
    }
}

impl WakeUps for MemoryWakeUps {
    fn schedule<'a>(&'a self, wake_up: &'a WakeUp) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            *self.calls.lock().unwrap() += 1;
            if std::mem::take(&mut *self.refuse_next.lock().unwrap()) {
                return Err(AwsError {
                    operation: "CreateSchedule",
                    message: "AccessDeniedException (HTTP 403)".into(),
                    kind: AwsErrorKind::Permanent,
                });
            }
            let mut scheduled = self.scheduled.lock().unwrap();
            if !scheduled.iter().any(|w| w.name == wake_up.name) {
                scheduled.push(wake_up.clone());
            }
            Ok(())
        })
    }
}
