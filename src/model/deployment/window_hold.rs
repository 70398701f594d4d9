//! What a deployment records while its target's deployment window holds it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a deployment waited for its target's window, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowHold {
    pub since: DateTime<Utc>,
    /// When the windows open, as computed when it started waiting.
    pub opens_at: DateTime<Utc>,
    pub because: String,
}
