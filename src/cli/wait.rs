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
    let (result, exit) = match ended {
        Ended::Succeeded => ("succeeded", Exit::Done),
        Ended::Badly(_) => ("ended-badly", Exit::EndedBadly),
        Ended::TimedOut(_) => ("timed-out", Exit::TimedOut),
    };
    if out.json {
        let body = serde_json::json!({
            "id": deployment.id,
            "result": result,
            "state": deployment.state,
            "states_seen": seen,
            "error": deployment.error,
        });
        out.json("wait", &body)?;
    } else {
        let state = out.state(deployment.state);
        let text = match ended {
            Ended::TimedOut(_) => format!(
                "{}: still {state} after {}",
                deployment.id,
                humantime::format_duration(timeout)
            ),
            _ => format!("{}: {state}", deployment.id),
        };
        out.text(&text)?;
    }
    Ok(exit)
}
