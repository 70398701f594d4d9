//! Which release this binary is: set by `build.rs` from CI's values or from git.

use serde::Serialize;

/// The answer of `GET /version`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    /// The git tag on a release build (`v1.4.2`), else `git describe`'s answer.
    pub version: &'static str,
    /// The full commit sha the binary was built from.
    pub git_sha: &'static str,
}

pub const BUILD: BuildInfo = BuildInfo {
    version: env!("APP_VERSION"),
    git_sha: env!("APP_GIT_SHA"),
};
