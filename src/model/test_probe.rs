//! Slipway's own Lambda lifecycle hook: an automated check of the test listener at
//! POST_TEST_TRAFFIC_SHIFT, before any production traffic moves (Amazon ECS Developer
//! Guide, "Lambda hooks for Amazon ECS service deployments",
//! https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html).
//!
//! ECS calls the hook again `callBackDelay` seconds after an IN_PROGRESS answer and passes
//! it the `hookDetails` that answer returned, merged into the hook's own; the check keeps
//! its progress there, so the function holds no state and needs no grant but its logs.
//! The rules: each call GETs the URL once; any other status than the expected one, or no
//! answer, fails the check at once (FAILED: ECS rolls back); once the expected answers
//! have lasted `for_seconds`, it passed (SUCCEEDED: ECS goes on).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The probe a target asks for (`rollout.test_probe`), and the Lambda hook that runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestProbe {
    /// Appended to the load balancer's `test_url`.
    pub path: String,
    pub status: u16,
    pub for_seconds: u32,
    pub every_seconds: u32,
    /// Slipway's test-probe function, and the role ECS invokes it with (Terraform's).
    pub function_arn: String,
    pub role_arn: String,
}

pub const MIN_FOR_SECONDS: u32 = 10;
/// An hour: a longer soak belongs to the bake time, which ECS watches with alarms.
pub const MAX_FOR_SECONDS: u32 = 3600;
pub const MIN_EVERY_SECONDS: u32 = 5;
pub const MAX_EVERY_SECONDS: u32 = 300;
/// A Lambda hook's timeout: "Valid range: 1 to 1,440 (24 hours)" (the Lambda hooks page).
pub const MAX_HOOK_MINUTES: i64 = 1440;

impl TestProbe {
    /// What is wrong with it, if anything: (field under `rollout.test_probe`, problem).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if !self.path.starts_with('/') {
            return Some(("path", format!("`{}` must start with /", self.path)));
        }
        if !(100..=599).contains(&self.status) {
            return Some(("status", format!("{} is not an HTTP status", self.status)));
        }
        if !(MIN_FOR_SECONDS..=MAX_FOR_SECONDS).contains(&self.for_seconds) {
            return Some((
                "for_seconds",
                format!(
                    "{} is out of range: {MIN_FOR_SECONDS} to {MAX_FOR_SECONDS}",
                    self.for_seconds
                ),
            ));
        }
        if !(MIN_EVERY_SECONDS..=MAX_EVERY_SECONDS).contains(&self.every_seconds) {
            return Some((
                "every_seconds",
                format!(
                    "{} is out of range: {MIN_EVERY_SECONDS} to {MAX_EVERY_SECONDS}",
                    self.every_seconds
                ),
            ));
        }
        if !(self.function_arn.starts_with("arn:") && self.function_arn.contains(":function:")) {
            return Some((
                "function_arn",
                format!("`{}` is not a Lambda function's ARN", self.function_arn),
            ));
        }
        if !(self.role_arn.starts_with("arn:") && self.role_arn.contains(":role/")) {
            return Some((
                "role_arn",
                format!("`{}` is not a role's ARN", self.role_arn),
            ));
        }
        None
    }

    /// The check ECS hands the function, for the test listener at `test_url`.
    pub fn spec(&self, test_url: &str) -> ProbeSpec {
        ProbeSpec {
            url: format!("{}{}", test_url.trim_end_matches('/'), self.path),
            status: self.status,
            for_seconds: self.for_seconds,
            every_seconds: self.every_seconds,
        }
    }
}

/// The hook as one UpdateService sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeHook {
    pub function_arn: String,
    pub role_arn: String,
    pub spec: ProbeSpec,
}

impl ProbeHook {
    /// Long enough for the whole check and its calls, then ECS's timeout action
    /// (ROLLBACK): a check that never finished must not ship.
    pub fn timeout_minutes(&self) -> i64 {
        let seconds = i64::from(self.spec.for_seconds) + 2 * i64::from(self.spec.every_seconds);
        ((seconds + 59) / 60 + 5).clamp(1, MAX_HOOK_MINUTES)
    }
}

/// What one call checks: its `hookDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSpec {
    pub url: String,
    pub status: u16,
    pub for_seconds: u32,
    pub every_seconds: u32,
}

/// How far the check got, carried from one call to the next in `hookDetails`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeProgress {
    pub started_at: DateTime<Utc>,
    /// Answers as expected so far.
    pub passed: u32,
}

/// What one GET saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Status(u16),
    /// No HTTP answer (refused, reset, timed out): why.
    NoAnswer(String),
}

/// The check's verdict after one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeVerdict {
    /// Call again in `delay_seconds`.
    Continue {
        progress: ProbeProgress,
        delay_seconds: u32,
    },
    Passed {
        passed: u32,
    },
    Failed {
        reason: String,
    },
}

impl ProbeSpec {
    /// The `hookDetails` that carry the check, and its progress once it started.
    pub fn details(&self, progress: Option<&ProbeProgress>) -> Value {
        let mut details = json!({
            "url": self.url, "status": self.status,
            "for_seconds": self.for_seconds, "every_seconds": self.every_seconds,
        });
        if let Some(progress) = progress {
            details["started_at"] = json!(progress.started_at);
            details["passed"] = json!(progress.passed);
        }
        details
    }

    /// `scheme://host[:port]`, lower-cased: what the function's allow-list names. `None`
    /// for a URL with credentials in it, which no test listener needs.
    pub fn origin(&self) -> Option<String> {
        origin_of(&self.url)
    }

    /// The check and its progress from a call's `hookDetails`.
    pub fn from_details(details: &Value) -> Result<(ProbeSpec, Option<ProbeProgress>), String> {
        let spec: ProbeSpec = serde_json::from_value(details.clone()).map_err(|e| {
            format!("hookDetails do not describe a test probe ({e}): the hook must be the one Slipway's UpdateService sends")
        })?;
        if origin_of(&spec.url).is_none() {
            return Err(format!("`{}` is not an http(s) URL", spec.url));
        }
        let progress = match (details.get("started_at"), details.get("passed")) {
            (Some(started), Some(passed)) => Some(ProbeProgress {
                started_at: serde_json::from_value(started.clone())
                    .map_err(|e| format!("hookDetails.started_at: {e}"))?,
                passed: serde_json::from_value(passed.clone())
                    .map_err(|e| format!("hookDetails.passed: {e}"))?,
            }),
            _ => None,
        };
        Ok((spec, progress))
    }

    /// The verdict after one GET that saw `observed` at `now`.
    pub fn judge(
        &self,
        progress: Option<ProbeProgress>,
        observed: &Observation,
        now: DateTime<Utc>,
    ) -> ProbeVerdict {
        let seen = match observed {
            Observation::Status(status) if *status == self.status => None,
            Observation::Status(status) => Some(format!("answered {status}")),
            Observation::NoAnswer(why) => Some(format!("did not answer ({why})")),
        };
        if let Some(seen) = seen {
            let after = progress.map_or(0, |p| p.passed);
            return ProbeVerdict::Failed {
                reason: format!(
                    "GET {} {seen}, expected {}, after {after} good answer(s)",
                    self.url, self.status
                ),
            };
        }
        let progress = progress.unwrap_or(ProbeProgress {
            started_at: now,
            passed: 0,
        });
        let progress = ProbeProgress {
            passed: progress.passed.saturating_add(1),
            ..progress
        };
        // A start in the future (details altered, clocks apart) counts as now.
        let elapsed = (now - progress.started_at).num_seconds().max(0);
        if elapsed >= i64::from(self.for_seconds) {
            return ProbeVerdict::Passed {
                passed: progress.passed,
            };
        }
        let left = u32::try_from(i64::from(self.for_seconds) - elapsed).unwrap_or(u32::MAX);
        ProbeVerdict::Continue {
            progress,
            delay_seconds: self.every_seconds.min(left).max(1),
        }
    }
}

/// `scheme://authority` of an http(s) URL, lower-cased; `None` for anything else or for
/// an authority carrying credentials (`user@host`).
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests;
