//! A target's `promotion` block: the upstream targets a digest must have succeeded on
//! first, and for how long (`model::promotion` holds the rules).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{Config, ConfigError, RemoteUpstream, Target};
use crate::model::promotion::{Availability, Promotion, MAX_SOAK};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPromotion {
    from: Vec<String>,
    #[serde(default = "one_of")]
    availability: Availability,
    /// `2h`, `30m`, `1h 30m`, `0s` (humantime's format).
    #[serde(default)]
    soak: Option<String>,
    #[serde(default)]
    alarms_ok: Vec<String>,
}

fn one_of() -> Availability {
    Availability::OneOf
}

/// Reads one target's block; the upstream names are checked once every target is known
/// ([`check_upstreams`]).
pub(super) fn validate_promotion(
    raw: Option<RawPromotion>,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<Promotion>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.from.is_empty() {
        return Err(ConfigError::invalid(
            field("promotion.from"),
            "names no upstream target: name the targets a digest must succeed on first",
        ));
    }
    let soak = match raw.soak.as_deref().map(str::trim) {
        None | Some("") => chrono::Duration::zero(),
        Some(text) => {
            let parsed = humantime::parse_duration(text).map_err(|err| {
                ConfigError::invalid(
                    field("promotion.soak"),
                    format!("`{text}` is not a duration ({err}): write e.g. `2h` or `90m`"),
                )
            })?;
            chrono::Duration::from_std(parsed)
                .ok()
                .filter(|d| *d <= MAX_SOAK)
                .ok_or_else(|| {
                    ConfigError::invalid(
                        field("promotion.soak"),
                        format!("`{text}` is longer than 7 days: CloudWatch keeps an alarm's history for two weeks, and a soak is judged from it"),
                    )
                })?
        }
    };
    if let Some(i) = raw.alarms_ok.iter().position(|a| a.trim().is_empty()) {
        return Err(ConfigError::invalid(
            field(&format!("promotion.alarms_ok[{i}]")),
            "is empty: name a CloudWatch alarm",
        ));
    }
    Ok(Some(Promotion {
        from: raw.from,
        availability: raw.availability,
        soak,
        alarms_ok: raw.alarms_ok,
    }))
}

/// Every upstream must be another target of this config or one of `upstreams` (another
/// Slipway's), and promotion must not go in a circle (a stage that waits, through others,
/// for itself would never deploy).
pub(super) fn check_upstreams(
    targets: &[Target],
    remote: &[super::RemoteUpstream],
) -> Result<(), ConfigError> {
    let names: BTreeSet<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (index, target) in targets.iter().enumerate() {
        let Some(promotion) = &target.promotion else {
            continue;
        };
        for (i, upstream) in promotion.from.iter().enumerate() {
            let field = format!("targets[{index}].promotion.from[{i}]");
            if upstream == &target.name {
                return Err(ConfigError::invalid(field, "names the target itself"));
            }
            if remote.iter().any(|r| r.name == *upstream) {
                // Another Slipway's target: no edge here can close a circle through it.
                continue;
            }
            if !names.contains(upstream.as_str()) {
                return Err(ConfigError::invalid(
                    field,
                    format!(
                        "`{upstream}` is not a target of this config, nor one of its `upstreams`"
                    ),
                ));
            }
            edges.entry(&target.name).or_default().push(upstream);
        }
    }
    for start in edges.keys() {
        let mut stack = vec![(*start, vec![*start])];
        while let Some((at, path)) = stack.pop() {
            for next in edges.get(at).into_iter().flatten() {
                if next == start {
                    let circle = path.iter().chain([next]).copied().collect::<Vec<_>>();
                    return Err(ConfigError::invalid(
                        "targets[].promotion.from",
                        format!("promotion goes in a circle: {}", circle.join(" <- ")),
                    ));
                }
                if !path.contains(next) {
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push((next, longer));
                }
            }
        }
    }
    Ok(())
}

/// Who promotes from whom, as the pipelines ask it.
impl Config {
    /// The other Slipway's target `promotion.from` names `name`, if it is one.
    pub fn upstream(&self, name: &str) -> Option<&RemoteUpstream> {
        self.upstreams.iter().find(|u| u.name == name)
    }

    /// Whether a success of `target` is worth a hint: a stage here or elsewhere promotes
    /// from it.
    pub fn is_promoted_from(&self, target: &str) -> bool {
        !self.downstream_of(target).is_empty()
            || self.promoted_elsewhere.iter().any(|t| t == target)
    }

    /// The targets that promote from `upstream` (name it in `promotion.from`).
    pub fn downstream_of(&self, upstream: &str) -> Vec<&Target> {
        self.targets
            .iter()
            .filter(|t| {
                t.promotion
                    .as_ref()
                    .is_some_and(|p| p.from.iter().any(|f| f == upstream))
            })
            .collect()
    }
}
