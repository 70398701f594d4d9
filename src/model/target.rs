//! What Slipway holds per target beside its deployments: the newest accepted image (the
//! head, which orders concurrent pushes), the one open approval request, and the newest
//! accepted version of each source object.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The newest image Slipway accepted for a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub deployment_id: String,
    pub digest: String,
    pub pushed_at: Option<DateTime<Utc>>,
    pub version: Option<String>,
    /// Until this deployment has called UpdateService (or stopped), a newer one waits
    /// for it, so that two pushes can never reach ECS in the wrong order.
    #[serde(default)]
    pub settled: bool,
    /// How long an unsettled head may hold others back: the invocation's deadline.
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Head {
    pub fn holds_back_others(&self, now: DateTime<Utc>) -> bool {
        !self.settled && self.lease_until.is_some_and(|until| until > now)
    }

    /// Once `deployment_id` has called UpdateService (or stopped), newer pushes need not
    /// wait for it; whether this changed anything.
    pub fn settle(&mut self, deployment_id: &str, now: DateTime<Utc>) -> bool {
        if self.deployment_id != deployment_id || self.settled {
            return false;
        }
        self.settled = true;
        self.updated_at = now;
        true
    }
}

/// The target's open approval request. Only one may be open per target: asking for a
/// newer one supersedes the one named here (CodePipeline's rule), so that an approver
/// can never approve a stale image after a newer one was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingPointer {
    pub deployment_id: String,
    pub key: String,
    pub updated_at: DateTime<Utc>,
}

/// The newest version of one source object Slipway accepted, by S3 sequencer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHead {
    pub deployment_id: String,
    pub key: String,
    pub version_id: String,
    pub sequencer: String,
    pub updated_at: DateTime<Utc>,
}
