//! What a deployment records while its target's deployment window, or its upstream
//! stages, hold it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Why a deployment waited for its target's window, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowHold {
    pub since: DateTime<Utc>,
    /// When the windows open, as computed when it started waiting.
    pub opens_at: DateTime<Utc>,
    pub because: String,
    /// An approver let this one release through the closed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<WindowOverride>,
}

/// Who let a release through its closed window, when, and why (`slipway override-window`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowOverride {
    /// The IAM caller, as the operator endpoint verified it.
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// How long an override lets its release through: the roll it asked for happens at once
/// or on one of the reconciler's next runs (an auto target's freeze, a lease another
/// invocation holds); a release that still has not rolled after that is held by the
/// window again, so that an override never lingers armed into a later deny span.
pub const OVERRIDE_LASTS: Duration = Duration::hours(1);

impl WindowOverride {
    pub fn until(&self) -> DateTime<Utc> {
        self.at + OVERRIDE_LASTS
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.until()
    }
}

/// A gated deployment's promotion: the evidence that let it go on, or why it waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionCheck {
    pub checked_at: DateTime<Utc>,
    /// Set once the digest was available upstream: what showed it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<crate::model::promotion::Evidence>,
    /// While it waits: why, and when to look again (`None`: when the upstream rollout
    /// ends, which the reconciler notices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_again_at: Option<DateTime<Utc>>,
    /// An approver's hotfix bypass of the soak (`slipway bypass-soak`): the rest of the
    /// gate still holds (a success upstream, no alarm so far), and so does the approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_bypass: Option<SoakBypass>,
}

/// Who bypassed a release's soak, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoakBypass {
    /// The IAM caller, as the operator endpoint verified it.
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl PromotionCheck {
    pub fn passed(&self) -> bool {
        !self.evidence.is_empty()
    }
}
