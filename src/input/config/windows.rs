//! A target's `windows` block: when it may roll, in its own time zone
//! (`model::window` holds the rules).

use serde::Deserialize;

use super::ConfigError;
use crate::model::window::{Span, Windows};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindows {
    time_zone: String,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

/// Reads and checks one target's windows: an IANA zone, spans that parse, and a week in
/// which they open at least once.
pub(super) fn validate_windows(
    raw: Option<RawWindows>,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<Windows>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let spans = |list: &[String], name: &str| -> Result<Vec<Span>, ConfigError> {
        list.iter()
            .enumerate()
            .map(|(i, text)| {
                Span::parse(text).map_err(|problem| {
                    ConfigError::invalid(field(&format!("windows.{name}[{i}]")), problem)
                })
            })
            .collect()
    };
    let allow = spans(&raw.allow, "allow")?;
    let deny = spans(&raw.deny, "deny")?;
    if allow.is_empty() && deny.is_empty() {
        return Err(ConfigError::invalid(
            field("windows"),
            "names no `allow` or `deny` span: leave the block out to roll at any time",
        ));
    }
    Windows::new(&raw.time_zone, allow, deny)
        .map(Some)
        .map_err(|problem| ConfigError::invalid(field("windows"), problem))
}
