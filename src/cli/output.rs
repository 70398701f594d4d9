//! How results reach the operator: data on stdout (a table for people, one JSON document
//! with a schema version for programs), progress and errors on stderr, colour only on a
//! terminal and never with `NO_COLOR` (no-color.org) or `TERM=dumb`.

use std::io::{IsTerminal, Write};

use owo_colors::OwoColorize;
use serde::Serialize;

use crate::console::SCHEMA_VERSION;
use crate::model::deployment::State;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub colour: bool,
}

impl Output {
    pub fn new(json: bool) -> Output {
        Output {
            json,
            colour: colour_wanted(std::io::stdout().is_terminal()),
        }
    }

    /// One JSON document: see [`document`].
    pub fn json<T: Serialize>(&self, command: &str, body: &T) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &document(command, body)?)?;
        writeln!(out)
    }

    pub fn text(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            writeln!(out)?;
        }
        Ok(())
    }

    /// A state in words, green when it went well, red when it did not, yellow while a
    /// person is needed.
    pub fn state(&self, state: State) -> String {
        let text = state.to_string();
        if !self.colour {
            return text;
        }
        match state {
            State::Succeeded => text.green().to_string(),
            State::Failed | State::RolledBack | State::Rejected | State::Expired => {
                text.red().to_string()
            }
            State::AwaitingApproval => text.yellow().to_string(),
            _ => text,
        }
    }

    /// A warning in a table (drift, a freeze).
    pub fn alert(&self, text: &str) -> String {
        if self.colour {
            text.red().to_string()
        } else {
            text.to_string()
        }
    }
}

/// `{"schema_version": 1, "command": …, …the body's fields}`: what `--json` prints, one
/// per call, as `src/cli/schema.json` describes.
pub fn document<T: Serialize>(command: &str, body: &T) -> serde_json::Result<serde_json::Value> {
    let mut document = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "command": command,
    });
    if let (Some(document), serde_json::Value::Object(fields)) =
        (document.as_object_mut(), serde_json::to_value(body)?)
    {
        document.extend(fields);
    }
    Ok(document)
}

/// Colour only for a terminal, and never when `NO_COLOR` is set to anything non-empty or
/// `TERM` is `dumb`.
pub fn colour_wanted(is_terminal: bool) -> bool {
    let no_colour = std::env::var("NO_COLOR").ok();
    let term = std::env::var("TERM").ok();
    colour_for(is_terminal, no_colour.as_deref(), term.as_deref())
}

/// The rule, given what the environment says (no-color.org: "when present and not an
/// empty string").
pub fn colour_for(is_terminal: bool, no_colour: Option<&str>, term: Option<&str>) -> bool {
    is_terminal && no_colour.is_none_or(str::is_empty) && term != Some("dumb")
}

#[cfg(test)]
mod tests {
    use super::colour_for;

    #[test]
    fn colour_only_on_a_terminal_never_with_no_color_or_a_dumb_terminal() {
        assert!(colour_for(true, None, Some("xterm-256color")));
        assert!(
            colour_for(true, Some(""), None),
            "an empty NO_COLOR does not count"
        );
        assert!(!colour_for(false, None, Some("xterm")));
        assert!(!colour_for(true, Some("1"), Some("xterm")));
        assert!(!colour_for(true, None, Some("dumb")));
    }
}
