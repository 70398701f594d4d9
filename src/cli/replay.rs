//! `slipway replay --from T --to T [--wait]`: Slipway's events of a time window sent again
//! from its EventBridge archive (Terraform creates it: infra/modules/slipway/operator.tf)
//! to its own rules only (StartReplay with `Destination.FilterArns`; Amazon EventBridge
//! API Reference, "StartReplay", "ReplayDestination"). A replay delivers events again and
//! in any order; the ledger (a duplicate deploys once) and the ordering rule (an older
//! image never rolls a service back) are what make that safe. Prints the replay's name
//! first; with `--wait`, follows DescribeReplay until the replay ends.

use std::time::Duration;

use aws_sdk_eventbridge::primitives::DateTime as AwsTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::context::Context;
use super::exit::{CliError, Exit};
use super::output::Output;

pub async fn run(
    ctx: &Context,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    wait: Option<Duration>,
    out: &Output,
) -> Result<Exit, CliError> {
    if from >= to {
        return Err(CliError::Usage("--from must be before --to".into()));
    }
    let missing = |what: &str| CliError::Settings {
        parameter: super::settings::parameter_name(&ctx.settings.environment),
        message: format!(
            "it names no {what}: re-apply Slipway's Terraform (it creates the archive)"
        ),
    };
    let archive = ctx
        .settings
        .archive_arn
        .clone()
        .ok_or_else(|| missing("archive_arn"))?;
    let bus = ctx
        .settings
        .event_bus_arn
        .clone()
        .ok_or_else(|| missing("event_bus_arn"))?;
    let events = aws_sdk_eventbridge::Client::new(&ctx.shared);
    let name = replay_name();
    let destination = ReplayDestination::builder()
        .arn(bus)
        .set_filter_arns(Some(ctx.settings.replay_rule_arns.clone()))
        .build()
        .map_err(|err| CliError::Usage(err.to_string()))?;
    events
        .start_replay()
        .replay_name(&name)
        .description(format!("slipway replay {from} .. {to}"))
        .event_source_arn(archive)
        .event_start_time(AwsTime::from_secs(from.timestamp()))
        .event_end_time(AwsTime::from_secs(to.timestamp()))
        .destination(destination)
        .send()
        .await
        .map_err(|err| CliError::Aws {
            operation: "events:StartReplay",
            message: format!(
                "{}; the credentials need events:StartReplay on Slipway's archive",
                aws_sdk_eventbridge::error::DisplayErrorContext(&err)
            ),
        })?;
    if !out.json {
        out.text(&name)?;
    }
    let Some(timeout) = wait else {
        if out.json {
            out.json(
                "replay",
                &json!({ "replay": name, "from": from, "to": to, "state": "STARTING" }),
            )?;
        }
        return Ok(Exit::Done);
    };
    let (state, reason) = follow(&events, &name, timeout).await?;
    if out.json {
        out.json(
            "replay",
            &json!({ "replay": name, "from": from, "to": to, "state": state, "reason": reason }),
        )?;
    } else {
        out.text(&format!(
            "{name}: {state}{}",
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ))?;
    }
    Ok(match state.as_str() {
        "COMPLETED" => Exit::Done,
        "FAILED" | "CANCELLED" => Exit::Error,
        _ => Exit::TimedOut,
    })
}

/// DescribeReplay with the same backoff as `wait`, until the replay ends or `timeout`.
async fn follow(
    events: &aws_sdk_eventbridge::Client,
    name: &str,
    timeout: Duration,
) -> Result<(String, Option<String>), CliError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut delay = crate::console::wait::FIRST_DELAY;
    loop {
        let replay = events
            .describe_replay()
            .replay_name(name)
            .send()
            .await
            .map_err(|err| CliError::Aws {
                operation: "events:DescribeReplay",
                message: aws_sdk_eventbridge::error::DisplayErrorContext(&err).to_string(),
            })?;
        let state = replay.state().cloned().unwrap_or(ReplayState::Starting);
        let ended = matches!(
            state,
            ReplayState::Completed | ReplayState::Failed | ReplayState::Cancelled
        );
        let now = tokio::time::Instant::now();
        if ended || now >= deadline {
            return Ok((
                state.as_str().to_string(),
                replay.state_reason().map(str::to_string),
            ));
        }
        eprintln!("{name} {}", state.as_str());
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = crate::console::wait::next_delay(delay);
    }
}

/// `slipway-20261205T181500-3f2a9c`: unique, and at most 64 characters as EventBridge allows.
fn replay_name() -> String {
    let mut bytes = [0u8; 3];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    format!(
        "slipway-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        hex::encode(bytes)
    )
}
