//! `slipway wait ID [--timeout D]`: one line per state change on stderr (a spinner
//! between them only on a terminal), the outcome on stdout; exit 0 when it succeeded, 6
//! when it ended badly, 5 when the timeout passed first.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::context::Context;
use super::exit::{CliError, Exit};
use super::output::Output;
use crate::console::wait::{follow, Ended};
use crate::model::deployment::{Deployment, State};

pub async fn run(
    ctx: &Context,
    id: &str,
    timeout: Duration,
    out: &Output,
) -> Result<Exit, CliError> {
    let reads = ctx.reads();
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut seen = Vec::new();
    let result = follow(
        || reads.deployment(id),
        timeout,
        |deployment| {
            let line = format!("{} {}", deployment.id, deployment.state);
            match &spinner {
                Some(bar) => {
                    bar.println(&line);
                    bar.set_message(format!("waiting for {}", deployment.id));
                }
                None => eprintln!("{line}"),
            }
            seen.push(deployment.state);
        },
    )
    .await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let (deployment, ended) = result?;
    if out.json {
        out.json("wait", &body(&deployment, ended, &seen))?;
    } else {
        out.text(&text(&deployment, ended, timeout, out))?;
    }
    Ok(exit_of(ended))
}

pub fn exit_of(ended: Ended) -> Exit {
    match ended {
        Ended::Succeeded => Exit::Done,
        Ended::Badly(_) => Exit::EndedBadly,
        Ended::TimedOut(_) => Exit::TimedOut,
    }
}

pub fn body(deployment: &Deployment, ended: Ended, seen: &[State]) -> serde_json::Value {
    let result = match ended {
        Ended::Succeeded => "succeeded",
        Ended::Badly(_) => "ended-badly",
        Ended::TimedOut(_) => "timed-out",
    };
    serde_json::json!({
        "id": deployment.id,
        "result": result,
        "state": deployment.state,
        "states_seen": seen,
        "error": deployment.error,
    })
}

pub fn text(deployment: &Deployment, ended: Ended, timeout: Duration, out: &Output) -> String {
    let state = out.state(deployment.state);
    match ended {
        Ended::TimedOut(_) => format!(
            "{}: still {state} after {}",
            deployment.id,
            humantime::format_duration(timeout)
        ),
        _ => format!("{}: {state}", deployment.id),
    }
}
