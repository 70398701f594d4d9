//! A target's tag rule: which tags of its repository deploy (one exact tag, a glob, or a
//! semver range), as the config writes it and as the pipelines match it.

use std::fmt;

use globset::{Glob, GlobMatcher};
use semver::{Version, VersionReq};
use serde::Deserialize;

use super::ConfigError;

/// Which tags of the repository deploy.
#[derive(Debug, Clone)]
pub enum TagRule {
    Exact(String),
    Glob(GlobMatcher),
    /// A semver range such as `>=1.2, <2`; tags may carry a leading `v`.
    Semver(VersionReq),
}

impl TagRule {
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            TagRule::Exact(wanted) => tag == wanted,
            TagRule::Glob(glob) => glob.is_match(tag),
            TagRule::Semver(req) => version_of_tag(tag).is_some_and(|v| req.matches(&v)),
        }
    }

    /// The version a tag stands for, when this rule orders tags by semver.
    pub fn version(&self, tag: &str) -> Option<Version> {
        match self {
            TagRule::Semver(_) => version_of_tag(tag),
            _ => None,
        }
    }
}

impl fmt::Display for TagRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagRule::Exact(tag) => write!(f, "exact {tag}"),
            TagRule::Glob(glob) => write!(f, "glob {}", glob.glob()),
            TagRule::Semver(req) => write!(f, "semver {req}"),
        }
    }
}

/// `v1.4.2` and `1.4.2` both stand for 1.4.2; anything else is not a version.
pub fn version_of_tag(tag: &str) -> Option<Version> {
    Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) enum RawTagRule {
    Exact(String),
    Glob(String),
    Semver(String),
}

/// Which tags deploy: one exact tag, a glob, or a semver range.
pub(super) fn validate_tags(
    raw: RawTagRule,
    field: &dyn Fn(&str) -> String,
) -> Result<TagRule, ConfigError> {
    match raw {
        RawTagRule::Exact(tag) if tag.is_empty() => Err(ConfigError::invalid(
            field("tags.exact"),
            "must not be empty",
        )),
        RawTagRule::Exact(tag) => Ok(TagRule::Exact(tag)),
        RawTagRule::Glob(pattern) => Glob::new(&pattern)
            .map(|glob| TagRule::Glob(glob.compile_matcher()))
            .map_err(|err| {
                ConfigError::invalid(
                    field("tags.glob"),
                    format!("`{pattern}` is not a glob: {err}"),
                )
            }),
        RawTagRule::Semver(range) => {
            VersionReq::parse(&range)
                .map(TagRule::Semver)
                .map_err(|err| {
                    ConfigError::invalid(
                        field("tags.semver"),
                        format!("`{range}` is not a semver range (e.g. \">=1.2, <2\"): {err}"),
                    )
                })
        }
    }
}
