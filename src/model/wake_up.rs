//! One-time wake-ups of the reconciler: a wait that ends at a known time — a deployment
//! window opening, a promotion's soak ending, a release group's task reaching its
//! deadline — is looked at then, not at the reconciler's next schedule. EventBridge
//! Scheduler fires a one-time schedule within the minute it is set for ("All schedule
//! types on EventBridge Scheduler invoke their targets with 60 second precision",
//! <https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html>), so a
//! wake-up is set for the first whole minute at or after the time it waits for: never
//! early. Its name is derived from what waits and when, so asking twice schedules once.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

/// A one-time wake-up, ready to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WakeUp {
    /// Unique per (what waits, minute): a schedule name (1-64 of `0-9a-zA-Z-_.`).
    pub name: String,
    /// A whole minute, UTC.
    pub at: DateTime<Utc>,
    /// What waits, in words, for the reconciler's log and the schedule's description.
    pub reason: String,
}

impl WakeUp {
    /// A wake-up for `subject` (what waits, e.g. `window web img-3f2a…`), due at `due`.
    pub fn new(subject: &str, due: DateTime<Utc>, reason: &str) -> WakeUp {
        let floor = due.duration_trunc(Duration::minutes(1)).unwrap_or(due);
        let at = if floor < due {
            floor + Duration::minutes(1)
        } else {
            floor
        };
        use sha2::{Digest, Sha256};
        let hash = hex::encode(Sha256::digest(subject.as_bytes()));
        WakeUp {
            name: format!("{}-{}", at.format("%Y%m%dT%H%MZ"), &hash[..16]),
            at,
            reason: reason.to_string(),
        }
    }

    /// The one-time schedule expression, evaluated in UTC.
    pub fn expression(&self) -> String {
        format!("at({})", self.at.format("%Y-%m-%dT%H:%M:%S"))
    }

    /// What the reconciler is invoked with: its log names the wake-up (`id`).
    pub fn input(&self) -> Value {
        json!({
            "id": format!("wake-up/{}", self.name),
            "source": "slipway.wake-up",
            "detail-type": "Slipway Wake-up",
            "detail": {"reason": self.reason, "at": self.at.to_rfc3339()},
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, s).unwrap()
    }

    #[test]
    fn a_wake_up_is_set_for_the_first_whole_minute_at_or_after_its_time() {
        let late = WakeUp::new("task shop-1 migrate", at(16, 0, 1), "deadline");
        assert_eq!(
            late.at,
            at(16, 1, 0),
            "never inside the minute before the deadline"
        );
        assert_eq!(late.expression(), "at(2026-12-04T16:01:00)");
        let exact = WakeUp::new("window web img-ab", at(8, 0, 0), "opens");
        assert_eq!(exact.at, at(8, 0, 0));
        let nanos = at(8, 0, 0) + Duration::nanoseconds(1);
        assert_eq!(WakeUp::new("w", nanos, "").at, at(8, 1, 0));
    }

    #[test]
    fn the_same_wait_asked_twice_is_the_same_schedule_and_another_is_another() {
        let one = WakeUp::new("window web img-ab", at(8, 0, 0), "opens");
        assert_eq!(one, WakeUp::new("window web img-ab", at(8, 0, 0), "opens"));
        assert_ne!(
            one.name,
            WakeUp::new("window api img-ab", at(8, 0, 0), "").name
        );
        assert_ne!(
            one.name,
            WakeUp::new("window web img-ab", at(8, 1, 0), "").name
        );
        // Scheduler's name rule: 1-64 of 0-9a-zA-Z-_.
        assert!(one.name.len() <= 64);
        assert!(one
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    }

    #[test]
    fn the_input_names_the_wake_up_for_the_reconcilers_log() {
        let wake = WakeUp::new("task shop-1 migrate", at(16, 0, 0), "migrate's deadline");
        let input = wake.input();
        assert_eq!(input["id"], format!("wake-up/{}", wake.name));
        assert_eq!(input["detail"]["reason"], "migrate's deadline");
    }
}
