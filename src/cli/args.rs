//! The command line's grammar (clap derive). Every command's `--help` ends with an
//! example; `slipway --help` lists the exit codes.

use std::time::Duration;

use clap::{Parser, Subcommand};

use super::exit::EXIT_CODES;

#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about = "Operate Slipway: what runs where, why a push did not deploy, and the deployments' records",
    long_about = "Operate Slipway with your own AWS credentials. Everything else comes from the \
        SSM parameter /slipway/<environment>/settings that Slipway's Terraform writes.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// The Slipway environment (dev, prod, local): its settings are read from SSM.
    #[arg(long = "env", global = true, env = "SLIPWAY_ENV")]
    pub environment: Option<String>,
    /// Print one JSON document (with a schema version) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per target: policy, running release and since when, last known good, state,
    /// frozen, pending approval, drift.
    #[command(
        after_help = "Example:\n  slipway --env prod status web worker\n  slipway --env prod status --json | jq '.targets[] | select(.drift)'"
    )]
    Status {
        /// The targets (all when none is named).
        targets: Vec<String>,
    },
    /// Per release group: the run holding its line (its step, a task's deadline, why it
    /// failed) and the releases waiting behind it.
    #[command(
        after_help = "Example:\n  slipway --env prod groups shop\n  slipway --env prod groups shop --runs --limit 5\n  slipway --env prod groups --json | jq '.groups[].holder.state'"
    )]
    Groups {
        /// The groups (all when none is named).
        groups: Vec<String>,
        /// Also list each group's runs, newest first: what ran, how it ended.
        #[arg(long)]
        runs: bool,
        /// With --runs: at most this many per group.
        #[arg(long, default_value_t = 20, requires = "runs")]
        limit: usize,
    },
    /// One row per deployment of a target, newest first.
    #[command(after_help = "Example:\n  slipway --env prod history web --limit 5")]
    History {
        target: String,
        /// At most this many rows.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One deployment: the record, its history, the audit entries, the diff.
    #[command(after_help = "Example:\n  slipway --env prod show web.img-3f2a9c1e…")]
    Show {
        /// `<target>.<key>`, as history and status print it.
        id: String,
    },
    /// Why an image did (not) reach each target: the first broken link per target. Given
    /// a release group's run id, where that run stands and why, step by step.
    #[command(
        after_help = "Example:\n  slipway --env prod why app:v1.4.2\n  slipway --env prod why 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:3f2a… --target web\n  slipway --env prod why shop-1f2e3d4c5b6a7980"
    )]
    Why {
        /// `repo:tag`, `repo@sha256:…`, a full ECR image URI, or a run id (`slipway groups`).
        image: String,
        /// One target (all when none is named).
        #[arg(long)]
        target: Option<String>,
    },
    /// The dry run of a push or an upload, server side: per target the task-definition
    /// diff and the calls it would make; nothing is written.
    #[command(
        after_help = "Example:\n  slipway --env prod plan --image app:v1.4.3 --detailed-exitcode\n  slipway --env prod plan --event events/s3-taskdef.json --json"
    )]
    Plan {
        /// An ECR push or S3 upload event, in the shape AWS sends.
        #[arg(long, conflicts_with = "image", required_unless_present = "image")]
        event: Option<std::path::PathBuf>,
        /// An image in ECR (`repo:tag`): planned as its push event.
        #[arg(long)]
        image: Option<String>,
        /// Exit 10 when some target would change, 0 when none would.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Wait until a deployment reaches a final state (exit 0 succeeded, 6 ended badly,
    /// 5 timed out).
    #[command(after_help = "Example:\n  slipway --env prod wait web.img-3f2a9c1e… --timeout 15m")]
    Wait {
        id: String,
        /// How long to wait, e.g. 90s, 15m, 1h.
        #[arg(long, default_value = "30m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Approve a deployment, or a release group's run, awaiting approval, as your IAM
    /// identity (the target's approval.iam_approvers decide who may; for a run, those of
    /// every target of the group that asks for approval).
    #[command(
        after_help = "Example:\n  slipway --env prod approve prod-web.img-3f2a9c1e… --reason 'checked on staging'"
    )]
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a deployment, or a release group's run, awaiting approval, as your IAM
    /// identity.
    #[command(
        after_help = "Example:\n  slipway --env prod reject prod-web.img-3f2a9c1e… --reason 'breaks checkout'"
    )]
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Let one release (or a release group run) waiting for its deployment window roll
    /// now, as your IAM identity (an approver of the target, or of every target of the
    /// group that asks for approval), saying why; recorded with the release or run.
    #[command(
        after_help = "Examples:\n  slipway --env prod override-window web.img-3f2a9c1e… --reason 'hotfix for incident 4711'\n  slipway --env prod override-window shop-c5edde7ed6578d21 --reason 'hotfix for incident 4711'"
    )]
    OverrideWindow {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Bypass the promotion soak one release (or a release group run) waits out (a
    /// hotfix), as your IAM identity (an approver of the target, or of every target of the
    /// group that asks for approval), saying why; it still asks for its approval, and the
    /// approvers see the bypass with its evidence.
    #[command(
        after_help = "Examples:\n  slipway --env prod bypass-soak web-prod.img-3f2a9c1e… --reason 'hotfix for incident 4711'\n  slipway --env prod bypass-soak shop-c5edde7ed6578d21 --reason 'hotfix for incident 4711'"
    )]
    BypassSoak {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Roll a target back to its last known good release, or to an earlier succeeded
    /// deployment (--to); prints the rollback's id first.
    #[command(
        after_help = "Example:\n  slipway --env prod rollback web --reason '500s since v1.4.2' --wait --timeout 15m"
    )]
    Rollback {
        target: String,
        /// A deployment of the target that succeeded (see `history`).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        reason: String,
        /// Wait until the rollback ends (exit 0 succeeded, 6 ended badly, 5 timed out).
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value = "30m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Pause automatic deploys to a target (a newer image does not lift it), or to every
    /// target at once (--all: stop the line).
    #[command(
        after_help = "Example:\n  slipway --env prod freeze web --reason 'year-end freeze' --until 2027-01-04T08:00:00Z\n  slipway --env prod freeze --all --reason 'incident 4711: stop the line'"
    )]
    Freeze {
        #[arg(required_unless_present = "all")]
        target: Option<String>,
        /// Every target of the config, one request each (a target added later is not).
        #[arg(long, conflicts_with = "target")]
        all: bool,
        #[arg(long)]
        reason: String,
        /// When the freeze ends by itself: a time (RFC 3339) or a duration (2h, 3d).
        #[arg(long, value_parser = super::act::parse_until)]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Let automatic deploys to a target (or every target: --all) resume.
    #[command(
        after_help = "Example:\n  slipway --env prod unfreeze web --reason 'fix v1.4.3 is out'\n  slipway --env prod unfreeze --all --reason 'incident 4711 resolved'"
    )]
    Unfreeze {
        #[arg(required_unless_present = "all")]
        target: Option<String>,
        #[arg(long, conflicts_with = "target")]
        all: bool,
        #[arg(long)]
        reason: String,
    },
    /// Send Slipway's events of a time window again, from its EventBridge archive to its
    /// own rules; prints the replay's name first.
    #[command(
        after_help = "Example:\n  slipway --env prod replay --from 2026-12-05T09:00:00Z --to 2026-12-05T11:30:00Z --wait\n  slipway --env prod replay --from 3h --to 0s"
    )]
    Replay {
        /// A time (RFC 3339), or how long ago (`3h`).
        #[arg(long, value_parser = parse_ago)]
        from: chrono::DateTime<chrono::Utc>,
        /// A time (RFC 3339), or how long ago (`0s`: now).
        #[arg(long, value_parser = parse_ago)]
        to: chrono::DateTime<chrono::Utc>,
        /// Follow the replay until it ends (exit 0 completed, 1 failed, 5 timed out).
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value = "30m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// The functions' dead-letter queues.
    #[command(subcommand)]
    Dlq(Dlq),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  slipway completions bash > /etc/bash_completion.d/slipway"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the JSON schema of what --json prints.
    #[command(after_help = "Example:\n  slipway schema > slipway-cli.schema.json")]
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum Dlq {
    /// What each dead-letter queue holds, in both shapes (EventBridge's event, Lambda's
    /// invocation record with the error); the messages stay in the queue.
    #[command(after_help = "Example:\n  slipway --env prod dlq list image-push")]
    List {
        /// One function's queue (all when none is named).
        function: Option<String>,
        /// At most this many messages per queue.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
    /// Re-invoke each dead-lettered event asynchronously and delete its message once the
    /// invoke was accepted; a message whose invoke fails stays (exit 1).
    #[command(
        after_help = "Example:\n  slipway --env prod dlq redrive image-push --dry-run\n  slipway --env prod dlq redrive image-push"
    )]
    Redrive {
        /// One function's queue (all when none is named).
        function: Option<String>,
        /// Show what would be redriven; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// At most this many messages per queue.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
}

/// A time (RFC 3339) or a duration ago (`3h`).
pub fn parse_ago(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let ago = parse_duration(text)?;
    Ok(chrono::Utc::now() - chrono::Duration::from_std(ago).map_err(|err| err.to_string())?)
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|err| format!("{err} (examples: 90s, 15m, 1h)"))
}
