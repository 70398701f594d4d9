//! Promotion across accounts. A downstream Slipway (prod's) names the targets of another
//! Slipway (dev's, in another account) it promotes from, in `upstreams`: the gate reads
//! that Slipway's ledger record of the digest with a read-only grant on its ledger bucket,
//! as it reads a local upstream's; that Slipway's hints reach this one's promotion bus
//! from its account. The upstream Slipway names, in `promoted_elsewhere`, its targets
//! others promote from, so their successes are hinted though no stage of its own waits.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{is_target_name, validate_tags, ConfigError, Home, RawTagRule, TagRule, Target};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    name: String,
    account: String,
    ledger_bucket: String,
    target: String,
    tags: RawTagRule,
}

/// A target of another Slipway that stages here may promote from (`promotion.from` names
/// it by `name`).
#[derive(Debug, Clone)]
pub struct RemoteUpstream {
    /// How this config's `promotion.from` names it (unique among targets and upstreams).
    pub name: String,
    /// The account the other Slipway runs in: its hints come from there.
    pub account: String,
    /// Its ledger bucket, in this region: the record of the digest is read there.
    pub ledger_bucket: String,
    /// The target's name in that Slipway's config (its ledger keys).
    pub target: String,
    /// The tags that target deploys: a digest this registry holds under one of them (the
    /// replicated copy of its build) is on its way there, not refused yet.
    pub tags: TagRule,
}

pub(super) fn validate_upstreams(
    raw: Vec<RawUpstream>,
    targets: &[Target],
    home: &Home,
) -> Result<Vec<RemoteUpstream>, ConfigError> {
    let mut seen: BTreeSet<String> = targets.iter().map(|t| t.name.clone()).collect();
    let mut upstreams = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("upstreams[{index}].{name}");
        if !is_target_name(&raw.name) {
            return Err(ConfigError::invalid(
                field("name"),
                format!("`{}` is not a name: 1-64 of a-z, 0-9 and -", raw.name),
            ));
        }
        if !seen.insert(raw.name.clone()) {
            return Err(ConfigError::invalid(
                field("name"),
                format!(
                    "`{}` names a target or an earlier upstream: names must be unique",
                    raw.name
                ),
            ));
        }
        if raw.account.len() != 12 || !raw.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                field("account"),
                format!("`{}` is not a 12-digit account id", raw.account),
            ));
        }
        if raw.account == home.account {
            return Err(ConfigError::invalid(
                field("account"),
                "is this Slipway's own account: a target of this Slipway is named in `targets` and promoted from by name",
            ));
        }
        if !is_bucket_name(&raw.ledger_bucket) {
            return Err(ConfigError::invalid(
                field("ledger_bucket"),
                format!("`{}` is not an S3 bucket name", raw.ledger_bucket),
            ));
        }
        if !is_target_name(&raw.target) {
            return Err(ConfigError::invalid(
                field("target"),
                format!("`{}` is not a target name", raw.target),
            ));
        }
        let tags = validate_tags(raw.tags, &field)?;
        upstreams.push(RemoteUpstream {
            name: raw.name,
            account: raw.account,
            ledger_bucket: raw.ledger_bucket,
            target: raw.target,
            tags,
        });
    }
    Ok(upstreams)
}

/// Each name must be a target of this config.
pub(super) fn validate_promoted_elsewhere(
    raw: Vec<String>,
    targets: &[Target],
) -> Result<Vec<String>, ConfigError> {
    for (index, name) in raw.iter().enumerate() {
        if !targets.iter().any(|t| t.name == *name) {
            return Err(ConfigError::invalid(
                format!("promoted_elsewhere[{index}]"),
                format!("`{name}` is not a target of this config"),
            ));
        }
    }
    Ok(raw)
}

/// S3's rules for a general purpose bucket's name, enough to catch a typo: 3-63 of a-z,
/// 0-9, `.` and `-`, beginning and ending with a letter or digit.
fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}
