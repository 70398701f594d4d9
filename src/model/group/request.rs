//! A run's approval request as the run's record keeps it (the moves are in
//! [`super::approval`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::deployment::{Decision, Delivery, SlackMessage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunApproval {
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// When the approvers were told; `None` until a telling succeeded (a retry tells).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<DateTime<Utc>>,
    /// The Slack message that asked, edited when the request ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
}
