//! The gates a run passes before anything starts, as its record keeps them (the moves
//! are in [`super::gating`]): the promotion
//! of each gated target's image (judged before the approval is asked, so the approvers see
//! the evidence, as a single release's), and the targets' deployment windows (judged once
//! the run may start: approvers may decide while a window is closed). Once any step
//! started the gates are behind it: a run half-way is never held by a window that closes,
//! nor by an upstream that moves on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::deployment::{SoakBypass, WindowOverride};
use crate::model::promotion::Evidence;

/// Which gate holds a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// An image is not available upstream yet (rolling, soaking).
    Upstream,
    /// A target's deployment window is closed.
    Window,
}

/// What a gate holds the run for, and until when it is worth looking again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunWait {
    pub gate: Gate,
    pub why: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunGates {
    /// A target of the group had a promotion gate when the run began.
    #[serde(default)]
    pub promotion: bool,
    /// A target of the group had deployment windows when the run began.
    #[serde(default)]
    pub windows: bool,
    /// What made every gated image available upstream, once it was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_at: Option<DateTime<Utc>>,
    /// When every target's window was found open, and the run let through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_open_at: Option<DateTime<Utc>>,
    /// What holds the run now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<RunWait>,
    /// An approver let the run through its closed windows (`slipway override-window
    /// <run>`): who, why, when. It lets the run start within `OVERRIDE_LASTS`, as a single
    /// release's override does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_override: Option<WindowOverride>,
    /// An approver bypassed the promotion soak (`slipway bypass-soak <run>`): the run's
    /// images need only have succeeded upstream, and the run still asks its approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_bypass: Option<SoakBypass>,
}

impl RunGates {
    pub fn is_none(&self) -> bool {
        !self.promotion && !self.windows
    }
}
