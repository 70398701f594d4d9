//! Asking to be woken when a wait ends ([`crate::model::wake_up`]). Best effort by
//! design: the reconciler's own schedule looks at every wait within its period, so a
//! wake-up that cannot be scheduled (no schedule group configured, a dry run, Scheduler
//! refusing) delays the end of a wait by at most that period and fails nothing. A wake-up
//! that fires twice, or after the wait ended, finds nothing to do: the reconciler moves
//! only what its records say is due.

use chrono::{DateTime, Utc};

use crate::model::wake_up::WakeUp;
use crate::ports::Adapters;

use super::*;

impl<A: Adapters> Deployer<A> {
    /// Wakes the reconciler at `due` for `subject` (what waits); `reason` in words.
    pub(super) async fn wake_at(&self, subject: &str, due: DateTime<Utc>, reason: &str) {
        let Some(wake_ups) = self.wake_ups.as_deref() else {
            return;
        };
        if self.is_dry_run() || due <= self.now() {
            return;
        }
        let wake_up = WakeUp::new(subject, due, reason);
        match wake_ups.schedule(&wake_up).await {
            Ok(()) => log_decision(
                "wake-up",
                &format!(
                    "the reconciler wakes at {} ({reason}): schedule {}",
                    wake_up.at.format("%Y-%m-%d %H:%M UTC"),
                    wake_up.name
                ),
            ),
            Err(err) => log_warning(
                "wake-up-failed",
                &format!(
                    "no wake-up at {} ({reason}): {err}; the reconciler's schedule looks within its period",
                    wake_up.at.format("%Y-%m-%d %H:%M UTC")
                ),
            ),
        }
    }
}
