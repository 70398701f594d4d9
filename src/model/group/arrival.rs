//! How a release came to a group — an upload of a release object, or a push — and what
//! orders it against the others that came the same way: S3's sequencer for uploads of one
//! key, the ordering rule (version, then ECR's push time) for pushes. The group's line
//! ([`super::line`]) refuses one older than what it took.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a release arrived, which orders it against the others that arrived the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival<'a> {
    /// An upload of a release object: S3's sequencer orders uploads of one key.
    Upload(&'a ReleaseSource),
    /// A push: the ordering rule (version, then push time) orders pushes.
    Push(&'a PushedRelease),
}

/// Where an uploaded release came from: its object and S3's sequencer for the upload,
/// which orders uploads of one key whatever order their events arrive in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSource {
    /// `s3://<bucket>/<key>`.
    pub key: String,
    pub version_id: String,
    pub sequencer: String,
}

/// Where a pushed release came from: its tag, the version the tag names (when a target of
/// the group orders by semver) and when ECR received its digest — what orders one push
/// against another (README, "Which image wins"), whatever order their events arrive in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRelease {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_at: Option<DateTime<Utc>>,
}

impl PushedRelease {
    /// Whether another push can be ordered against this one: by its version, or by ECR's
    /// push time.
    pub fn is_comparable(&self) -> bool {
        self.version.is_some() || self.pushed_at.is_some()
    }

    /// Why this push is older than `theirs` (`None`: it is not).
    pub fn older_than(&self, theirs: &PushedRelease) -> Option<String> {
        crate::model::ordering::older_push(
            (self.version.as_deref(), self.pushed_at),
            (theirs.version.as_deref(), theirs.pushed_at),
        )
    }
}
