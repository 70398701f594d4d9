//! `slipway groups [GROUP…] [--runs [--limit N]]`.

use std::collections::BTreeMap;

use chrono::Utc;

use super::context::Context;
use super::exit::{CliError, Exit};
use super::group_tables;
use super::output::Output;
use crate::console::groups::{group_status, run_view, runs_to_read, GroupStatus};
use crate::input::config::Config;
use crate::model::group::Group;

/// `runs`: with `--runs`, how many of each group's runs to list (newest first).
pub async fn run(
    ctx: &Context,
    names: &[String],
    runs: Option<usize>,
    out: &Output,
) -> Result<Exit, CliError> {
    let config = ctx.config().await?;
    let reads = ctx.reads();
    let mut statuses = Vec::new();
    for group in chosen(&config, names)? {
        let line = reads.group_line(&group.name).await?;
        let mut held = BTreeMap::new();
        for id in line.as_ref().map(runs_to_read).unwrap_or_default() {
            if let Some(run) = reads.group_run(&group.name, &id).await? {
                held.insert(id, run);
            }
        }
        let mut status = group_status(group, line.as_ref(), &held);
        if let Some(limit) = runs {
            let all = reads.group_runs(&group.name).await?;
            status.runs = Some(all.iter().take(limit).map(run_view).collect());
        }
        statuses.push(status);
    }
    if out.json {
        out.json("groups", &body(&statuses))?;
    } else {
        out.text(&group_tables::groups(&statuses, out, Utc::now()))?;
    }
    Ok(Exit::Done)
}

/// What `groups --json` prints besides the schema version and the command.
pub fn body(statuses: &[GroupStatus]) -> serde_json::Value {
    serde_json::json!({ "groups": statuses })
}

/// The named groups, or all of them; an unknown name is "not found", naming the others.
fn chosen<'a>(config: &'a Config, names: &[String]) -> Result<Vec<&'a Group>, CliError> {
    if names.is_empty() {
        return Ok(config.groups.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            config
                .groups
                .iter()
                .find(|g| g.name == *name)
                .ok_or_else(|| {
                    let known: Vec<&str> = config.groups.iter().map(|g| g.name.as_str()).collect();
                    CliError::NotFound(format!(
                        "no release group named `{name}`; the groups are: {}",
                        if known.is_empty() {
                            "(none)".to_string()
                        } else {
                            known.join(", ")
                        }
                    ))
                })
        })
        .collect()
}
