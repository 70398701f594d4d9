//! The exit codes, documented in `slipway --help` and the README ("Operating Slipway"):
//! scripts branch on them, so they never change meaning.

use std::process::ExitCode;

use crate::console::ConsoleError;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  error (AWS, the ledger, the settings; the message says what to check)
  2  usage (a wrong command or option)
  3  not found (no such target, deployment or queue)
  4  refused by policy
  5  timed out (wait --timeout)
  6  the deployment ended badly (failed, rolled back, rejected, expired, superseded)
  10 the plan has changes (plan --detailed-exitcode)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Done = 0,
    Error = 1,
    Usage = 2,
    NotFound = 3,
    Refused = 4,
    TimedOut = 5,
    EndedBadly = 6,
    PlanHasChanges = 10,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Why a command failed; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Console(#[from] ConsoleError),
    #[error("no environment given: pass --env NAME or set SLIPWAY_ENV (locally: `set -a; . .slipway/local.env; set +a`)")]
    NoEnvironment,
    #[error("reading Slipway's settings {parameter} failed: {message}")]
    Settings { parameter: String, message: String },
    #[error("no Slipway environment `{environment}`: SSM has no parameter {parameter}; apply Slipway's Terraform there, or check --env and the region")]
    NoSuchEnvironment {
        environment: String,
        parameter: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Usage(String),
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
    #[error("writing the output failed: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Console(ConsoleError::NotFound(_))
            | CliError::NotFound(_)
            | CliError::NoSuchEnvironment { .. } => Exit::NotFound,
            CliError::NoEnvironment | CliError::Usage(_) => Exit::Usage,
            _ => Exit::Error,
        }
    }
}
