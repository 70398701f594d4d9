//! The freeze after a failure: which rule a target follows.

use serde::Deserialize;

/// After a deployment of a target fails (or ECS rolls it back), automatic deploys to the
/// target pause, so that re-pushing a broken tag does not flap production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FreezeRule {
    /// Paused until an image newer than the failed one is pushed: for semver targets a
    /// higher version, otherwise another digest pushed after the failure; or until an
    /// operator unfreezes the target.
    #[default]
    UntilNewerImage,
    /// Paused until an operator unfreezes the target.
    UntilUnfrozen,
    /// Never paused.
    Never,
}
