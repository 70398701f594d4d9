//! `slipway status [TARGET…]`.

use chrono::Utc;

use super::context::Context;
use super::exit::{CliError, Exit};
use super::output::Output;
use super::tables;
use crate::console::reads::split_id;
use crate::console::status::{rollouts_to_read, status, Inputs, TargetStatus};
use crate::input::config::{Config, Target};
use crate::ports::Ecs;

pub async fn run(ctx: &Context, names: &[String], out: &Output) -> Result<Exit, CliError> {
    let config = ctx.config().await?;
    let targets = chosen(&config, names)?;
    let now = Utc::now();
    let mut statuses = Vec::new();
    for target in targets {
        statuses.push(one(ctx, target, now).await?);
    }
    if out.json {
        out.json("status", &body(&statuses))?;
    } else {
        out.text(&tables::status(&statuses, out, now))?;
    }
    Ok(Exit::Done)
}

/// What `status --json` prints besides the schema version and the command.
pub fn body(statuses: &[TargetStatus]) -> serde_json::Value {
    serde_json::json!({ "targets": statuses })
}

/// The named targets, or all of them; an unknown name is "not found", naming the others.
pub fn chosen<'a>(config: &'a Config, names: &[String]) -> Result<Vec<&'a Target>, CliError> {
    if names.is_empty() {
        return Ok(config.targets.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            config
                .target(name)
                .ok_or_else(|| unknown_target(config, name))
        })
        .collect()
}

pub fn unknown_target(config: &Config, name: &str) -> CliError {
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    CliError::NotFound(format!(
        "no target named `{name}`; the targets are: {}",
        names.join(", ")
    ))
}

async fn one(
    ctx: &Context,
    target: &Target,
    now: chrono::DateTime<Utc>,
) -> Result<TargetStatus, CliError> {
    let reads = ctx.reads();
    let read = reads.target(&target.name).await?;
    let mut deployments: Vec<_> = read.record.live.values().cloned().collect();
    let mut keys = rollouts_to_read(&read.record);
    if let Some(head) = &read.record.head {
        if let Ok((_, key)) = split_id(&head.deployment_id) {
            keys.push(key.to_string());
        }
    }
    for key in keys {
        if deployments.iter().any(|d| d.key == key) {
            continue;
        }
        if let Some(found) = reads.find(&target.name, &key).await? {
            deployments.push(found);
        }
    }
    let service = ctx
        .ecs()
        .describe_service(&target.cluster, &target.service)
        .await
        .map_err(|err| err.to_string());
    Ok(status(&Inputs {
        target,
        record: &read.record,
        deployments: &deployments,
        service: service.as_ref().map_err(Clone::clone),
        now,
    }))
}
