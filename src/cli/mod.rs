//! The operator's command line, `slipway`: reads straight from AWS with the operator's
//! own credentials, everything found from the settings Terraform writes.
//!
//! - [`args`] — the grammar (clap), with an example in every command's help.
//! - [`exit`] — the documented exit codes and the one error type.
//! - [`settings`] — the SSM parameter `/slipway/<environment>/settings`.
//! - [`context`] — the AWS clients and readers over those settings.
//! - [`output`] — stdout/stderr, JSON documents, colour only on a terminal.
//! - [`tables`] — the tables, drawn from `crate::console`'s views.
//! - [`status`], [`history`], [`wait`], [`why`], [`dlq`] — the reads, one file per command.
//! - [`redrive`] — `dlq redrive`: dead letters re-invoked, deleted once accepted.
//! - [`act`] — the changes (approve, reject, rollback, freeze, unfreeze), each a request
//!   to the operator endpoint signed by [`endpoint`] as the operator.

pub mod act;
pub mod args;
pub mod context;
pub mod dlq;
pub mod endpoint;
pub mod exit;
pub mod group_tables;
pub mod groups;
pub mod history;
pub mod output;
pub mod plan;
pub mod redrive;
pub mod replay;
pub mod settings;
pub mod status;
pub mod tables;
pub mod wait;
pub mod why;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command, Dlq};
use context::Context;
use exit::{CliError, Exit};
use output::Output;

/// The JSON schema of every document `--json` prints.
pub const SCHEMA: &str = include_str!("schema.json");

pub async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Usage
            } else {
                Exit::Done
            }
            .into();
        }
    };
    match run(cli).await {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("slipway: {err}");
            err.exit().into()
        }
    }
}

async fn run(cli: Cli) -> Result<Exit, CliError> {
    let out = Output::new(cli.json);
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "slipway",
                &mut std::io::stdout(),
            );
            return Ok(Exit::Done);
        }
        Command::Schema => {
            out.text(SCHEMA)?;
            return Ok(Exit::Done);
        }
        _ => {}
    }
    let ctx = Context::load(cli.environment.as_deref()).await?;
    match cli.command {
        Command::Status { targets } => status::run(&ctx, &targets, &out).await,
        Command::Groups {
            groups: names,
            runs,
            limit,
        } => groups::run(&ctx, &names, runs.then_some(limit), &out).await,
        Command::History { target, limit } => history::history(&ctx, &target, limit, &out).await,
        Command::Show { id } => history::show(&ctx, &id, &out).await,
        Command::Wait { id, timeout } => wait::run(&ctx, &id, timeout, &out).await,
        Command::Why { image, target } => why::run(&ctx, &image, target.as_deref(), &out).await,
        Command::Replay {
            from,
            to,
            wait,
            timeout,
        } => replay::run(&ctx, from, to, wait.then_some(timeout), &out).await,
        Command::Plan {
            event,
            image,
            detailed_exitcode,
        } => {
            plan::run(
                &ctx,
                event.as_deref(),
                image.as_deref(),
                detailed_exitcode,
                &out,
            )
            .await
        }
        Command::Dlq(Dlq::List { function, max }) => {
            dlq::list(&ctx, function.as_deref(), max, &out).await
        }
        Command::Dlq(Dlq::Redrive {
            function,
            dry_run,
            max,
        }) => redrive::redrive(&ctx, function.as_deref(), dry_run, max, &out).await,
        Command::Approve { id, reason } => {
            let body = serde_json::json!({ "deployment": id, "reason": reason });
            act::run(
                &ctx,
                act::Change {
                    action: "approve",
                    body,
                    wait: None,
                    out: &out,
                },
            )
            .await
        }
        Command::Reject { id, reason } => {
            let body = serde_json::json!({ "deployment": id, "reason": reason });
            act::run(
                &ctx,
                act::Change {
                    action: "reject",
                    body,
                    wait: None,
                    out: &out,
                },
            )
            .await
        }
        Command::Rollback {
            target,
            to,
            reason,
            wait,
            timeout,
        } => {
            let body = serde_json::json!({ "target": target, "to": to, "reason": reason });
            let wait = wait.then_some(timeout);
            act::run(
                &ctx,
                act::Change {
                    action: "rollback",
                    body,
                    wait,
                    out: &out,
                },
            )
            .await
        }
        Command::Freeze {
            target,
            all,
            reason,
            until,
        } => {
            let targets = act::targets(&ctx, target, all).await?;
            act::each(
                &ctx,
                "freeze",
                &targets,
                &out,
                |target| serde_json::json!({ "target": target, "reason": reason, "until": until }),
            )
            .await
        }
        Command::Unfreeze {
            target,
            all,
            reason,
        } => {
            let targets = act::targets(&ctx, target, all).await?;
            act::each(
                &ctx,
                "unfreeze",
                &targets,
                &out,
                |target| serde_json::json!({ "target": target, "reason": reason }),
            )
            .await
        }
        Command::OverrideWindow { id, reason } => {
            let body = serde_json::json!({ "deployment": id, "reason": reason });
            act::run(
                &ctx,
                act::Change {
                    action: "override-window",
                    body,
                    wait: None,
                    out: &out,
                },
            )
            .await
        }
        Command::BypassSoak { id, reason } => {
            let body = serde_json::json!({ "deployment": id, "reason": reason });
            act::run(
                &ctx,
                act::Change {
                    action: "bypass-soak",
                    body,
                    wait: None,
                    out: &out,
                },
            )
            .await
        }
        Command::Completions { .. } | Command::Schema => Ok(Exit::Done),
    }
}

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod group_golden_tests;
