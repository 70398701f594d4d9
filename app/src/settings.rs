//! What the environment configures, read once at start so a typo stops the task at once
//! (ECS shows the exit and the log line) instead of serving on the wrong port.

use std::time::Duration;

/// ECS waits `stopTimeout` (30 s in the bundled task definitions) between SIGTERM and SIGKILL;
/// draining gives up a little earlier so the exit and its log line are ours, not the kill's.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(25);
pub const DEFAULT_PORT: u16 = 3000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `PORT`; 0 asks the OS for a free port (tests).
    pub port: u16,
    /// `DRAIN_SECONDS`: how long in-flight requests may run on after SIGTERM.
    pub drain: Duration,
    /// `ECS_CONTAINER_METADATA_URI_V4`, which ECS sets in every task (Fargate and EC2).
    pub task_metadata_uri: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("PORT is `{0}`: set it to a port number (0-65535), or unset it for {DEFAULT_PORT}")]
    Port(String),
    #[error(
        "DRAIN_SECONDS is `{0}`: set it to whole seconds below the task's stopTimeout (default 25)"
    )]
    Drain(String),
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in `main`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let port = match lookup("PORT") {
            None => DEFAULT_PORT,
            Some(raw) => raw.trim().parse().map_err(|_| SettingsError::Port(raw))?,
        };
        let drain = match lookup("DRAIN_SECONDS") {
            None => DEFAULT_DRAIN,
            Some(raw) => {
                Duration::from_secs(raw.trim().parse().map_err(|_| SettingsError::Drain(raw))?)
            }
        };
        let task_metadata_uri =
            lookup("ECS_CONTAINER_METADATA_URI_V4").filter(|uri| !uri.trim().is_empty());
        Ok(Settings {
            port,
            drain,
            task_metadata_uri,
        })
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_suit_the_bundled_task_definition() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.port, 3000);
        assert_eq!(settings.drain, Duration::from_secs(25));
        assert_eq!(settings.task_metadata_uri, None);
    }

    #[test]
    fn reads_port_drain_and_the_metadata_endpoint() {
        let settings = settings(&[
            ("PORT", "8080"),
            ("DRAIN_SECONDS", "5"),
            (
                "ECS_CONTAINER_METADATA_URI_V4",
                "http://169.254.170.2/v4/abc",
            ),
        ])
        .unwrap();
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.drain, Duration::from_secs(5));
        assert_eq!(
            settings.task_metadata_uri.as_deref(),
            Some("http://169.254.170.2/v4/abc")
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_the_fix() {
        let error = settings(&[("PORT", "eighty")]).unwrap_err();
        assert_eq!(error, SettingsError::Port("eighty".into()));
        assert!(error.to_string().contains("PORT is `eighty`"), "{error}");
        assert_eq!(
            settings(&[("PORT", "70000")]).unwrap_err(),
            SettingsError::Port("70000".into())
        );
        assert_eq!(
            settings(&[("DRAIN_SECONDS", "-1")]).unwrap_err(),
            SettingsError::Drain("-1".into())
        );
    }
}
