//! `slipway history TARGET` and `slipway show ID`.

use chrono::Utc;

use super::context::Context;
use super::exit::{CliError, Exit};
use super::output::Output;
use super::status::unknown_target;
use super::tables;
use crate::console::{history, show};

pub fn history_body(target: &str, rows: &[history::HistoryRow]) -> serde_json::Value {
    serde_json::json!({ "target": target, "deployments": rows })
}

pub fn show_body(shown: &show::Shown) -> serde_json::Value {
    serde_json::json!({ "deployment": shown })
}

pub async fn history(
    ctx: &Context,
    target: &str,
    limit: usize,
    out: &Output,
) -> Result<Exit, CliError> {
    let config = ctx.config().await?;
    if config.target(target).is_none() {
        return Err(unknown_target(&config, target));
    }
    let reads = ctx.reads();
    let read = reads.target(target).await?;
    let mut deployments = reads.deployments(target, &read).await?;
    deployments.truncate(limit);
    let now = Utc::now();
    let rows = history::rows(&deployments, now);
    if out.json {
        out.json("history", &history_body(target, &rows))?;
    } else {
        out.text(&tables::history(&rows, out, now))?;
    }
    Ok(Exit::Done)
}

pub async fn show(ctx: &Context, id: &str, out: &Output) -> Result<Exit, CliError> {
    let reads = ctx.reads();
    let deployment = reads.deployment(id).await?;
    let audit = reads.audit(&deployment).await?;
    let now = Utc::now();
    let shown = show::show(deployment, audit, now);
    if out.json {
        out.json("show", &show_body(&shown))?;
    } else {
        out.text(&tables::show(&shown, out, now))?;
    }
    Ok(Exit::Done)
}
