//! The commands that change something — `approve`, `reject`, `rollback`, `freeze`,
//! `unfreeze`, `override-window` — each one signed request to the operator endpoint, so the ledger records
//! the caller's verified ARN. A command that starts something prints its id first.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::context::Context;
use super::endpoint::Answer;
use super::exit::{CliError, Exit};
use super::output::Output;
use super::wait;

/// What one change asks for.
pub struct Change<'a> {
    pub action: &'static str,
    pub body: Value,
    /// `--wait` on a rollback: follow the deployment it started until it ends.
    pub wait: Option<Duration>,
    pub out: &'a Output,
}

pub async fn run(ctx: &Context, change: Change<'_>) -> Result<Exit, CliError> {
    let endpoint = ctx.endpoint()?;
    let mut body = change.body;
    if let Some(fields) = body.as_object_mut() {
        // The same request sent twice (a retry after a lost answer) acts once.
        fields.insert("request_id".into(), Value::from(request_id()));
    }
    let answer = endpoint.call(change.action, &body).await?;
    if answer.exit() != Exit::Done {
        if change.out.json {
            change.out.json(
                change.action,
                &json!({ "status": answer.status, "answer": answer.body }),
            )?;
        }
        eprintln!("slipway: {} refused: {}", change.action, answer.message());
        return Ok(answer.exit());
    }
    let id = started_id(&answer);
    if !change.out.json {
        if let Some(id) = &id {
            change.out.text(id)?;
        }
        change.out.text(&summary(change.action, &answer))?;
    }
    let (Some(timeout), Some(id)) = (change.wait, id.as_ref()) else {
        if change.out.json {
            change.out.json(
                change.action,
                &json!({ "deployment_id": id, "answer": answer.body }),
            )?;
        }
        return Ok(Exit::Done);
    };
    let reads = ctx.reads();
    let mut seen = Vec::new();
    let (deployment, ended) = crate::console::wait::follow(
        || reads.deployment(id),
        timeout,
        |d| {
            if !std::io::stderr().is_terminal() || !change.out.json {
                eprintln!("{} {}", d.id, d.state);
            }
            seen.push(d.state);
        },
    )
    .await?;
    if change.out.json {
        let waited = wait::body(&deployment, ended, &seen);
        change.out.json(
            change.action,
            &json!({ "deployment_id": id, "answer": answer.body, "wait": waited }),
        )?;
    } else {
        change
            .out
            .text(&wait::text(&deployment, ended, timeout, change.out))?;
    }
    Ok(wait::exit_of(ended))
}

/// The targets a freeze or unfreeze names: the one given, or (--all) every target of the
/// config Slipway runs with that deploys automatically (a person approves each deploy of
/// the others, which a freeze refuses: they are named, not asked).
pub async fn targets(
    ctx: &Context,
    target: Option<String>,
    all: bool,
) -> Result<Vec<String>, CliError> {
    if let Some(target) = target.filter(|_| !all) {
        return Ok(vec![target]);
    }
    let (auto, approved): (Vec<_>, Vec<_>) = ctx
        .config()
        .await?
        .targets
        .into_iter()
        .partition(|t| t.policy == crate::input::config::Policy::Auto);
    for target in approved {
        eprintln!(
            "{}: left alone, a person approves each of its deploys",
            target.name
        );
    }
    Ok(auto.into_iter().map(|t| t.name).collect())
}

/// The same change for each target, one signed request each, in order: every target is
/// asked even when one is refused; the exit is the first that was not `Done`.
pub async fn each(
    ctx: &Context,
    action: &'static str,
    targets: &[String],
    out: &Output,
    body: impl Fn(&str) -> Value,
) -> Result<Exit, CliError> {
    let mut exit = Exit::Done;
    for target in targets {
        if targets.len() > 1 && !out.json {
            out.text(&format!("{target}:"))?;
        }
        let done = run(
            ctx,
            Change {
                action,
                body: body(target),
                wait: None,
                out,
            },
        )
        .await?;
        if exit == Exit::Done {
            exit = done;
        }
    }
    Ok(exit)
}

/// The deployment the request started or concerned.
fn started_id(answer: &Answer) -> Option<String> {
    answer
        .body
        .pointer("/answer/deployment_id")
        .or_else(|| answer.body.get("deployment_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn summary(action: &str, answer: &Answer) -> String {
    let by = answer.body.get("by").and_then(Value::as_str).unwrap_or("?");
    let result = answer
        .body
        .pointer("/answer/outcome/result")
        .or_else(|| answer.body.pointer("/answer/result"))
        .and_then(Value::as_str)
        .unwrap_or("done");
    // A release group run's decision: where the run stands now.
    if let (Some(run), Some(state)) = (
        answer.body.get("run_id").and_then(Value::as_str),
        answer
            .body
            .pointer("/answer/run/state")
            .and_then(Value::as_str),
    ) {
        let why = answer
            .body
            .pointer("/answer/run/why")
            .and_then(Value::as_str)
            .map(|why| format!(": {why}"))
            .unwrap_or_default();
        return format!("{action}: run {run} is {state} (as {by}){why}");
    }
    match answer.body.pointer("/answer/why").and_then(Value::as_str) {
        Some(why) => format!("{action}: {result} (as {by}): {why}"),
        None => format!("{action}: {result} (as {by})"),
    }
}

fn request_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    format!("cli-{}", hex::encode(bytes))
}

/// `--until`: a time (RFC 3339) or a duration from now (`2h`, `3d`).
pub fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let duration = humantime::parse_duration(text).map_err(|_| {
        format!("`{text}` is neither a time (2026-12-24T18:00:00Z) nor a duration (2h, 3d)")
    })?;
    let duration = chrono::Duration::from_std(duration).map_err(|err| err.to_string())?;
    Ok(Utc::now() + duration)
}
