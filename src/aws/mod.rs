//! The thin adapter: the `ports` traits implemented with the AWS SDK, and the cold-start
//! wiring the functions share. No decisions are taken here.

mod alarms;
mod config_source;
mod ecr;
mod ecs;
mod errors;
pub mod hints;
pub mod http;
mod http_probe;
pub mod limits;
mod notifier;
mod progressive;
mod revision;
mod s3;
pub mod secrets;
pub mod self_invoke;
mod service_state;
mod taskdef;
mod tasks;
mod wake_ups;

pub use alarms::CloudWatchAlarms;
pub use config_source::config_from_object;
pub use ecr::EcrRegistry;
pub use ecs::EcsService;
pub use http_probe::HttpProber;
pub use notifier::{AwsNotifier, SlackApi, SnsTopic, DEFAULT_SLACK_API_URL};
pub use revision::{registration, FullTaskDefinition};
pub use s3::{S3Sources, S3Store};
pub use secrets::{SecretError, SlackSecrets};
pub use tasks::EcsTasks;
pub use wake_ups::SchedulerWakeUps;

use crate::approval::ApprovalLinks;
use crate::deployer::Deployer;
use crate::input::config::{ConfigError, Home, Policy};

/// Why a function could not start. Lambda reports it as an init error; the message says
/// what to set.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("environment variable {name} is not set: {hint}")]
    MissingEnv {
        name: &'static str,
        hint: &'static str,
    },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("reading the targets config {uri} failed: {message}")]
    ConfigObject { uri: String, message: String },
}

/// The AWS clients, built once per cold start and shared by every invocation. Every
/// function calls ECS, ECR and S3; SNS, Secrets Manager, CloudWatch and Scheduler only
/// where the config asks for them (an approvals topic, approval links or Slack, promotion
/// alarms, releases that wait for a known time),
/// so those are built on demand from `shared`: building an SDK client runs (and maps in)
/// its code, which a cold start pays for.
#[derive(Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub s3: aws_sdk_s3::Client,
    shared: aws_config::SdkConfig,
    pub region: String,
}

/// The standard credential and region chain, with the function's name as the SDK's app
/// name: every call's user agent then says `app/<function>` (CloudTrail's `userAgent`),
/// which is how the local stack's IAM check (tests/local/iam_check.py) knows the caller.
pub async fn shared_config() -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(app) = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .and_then(|name| aws_config::AppName::new(name).ok())
    {
        loader = loader.app_name(app);
    }
    loader.load().await
}

impl Clients {
    /// Standard credential/region chain; `AWS_ENDPOINT_URL` points everything at the local
    /// emulator, which needs path-style S3 addressing.
    pub async fn from_env() -> Clients {
        Clients::new(&shared_config().await)
    }

    pub fn new(shared: &aws_config::SdkConfig) -> Clients {
        Clients::with_timeouts(shared, CallTimeouts::default())
    }

    /// [`Clients::new`] with other time limits per call (tests shorten them).
    pub fn with_timeouts(shared: &aws_config::SdkConfig, timeouts: CallTimeouts) -> Clients {
        let shared = shared
            .to_builder()
            .timeout_config(timeouts.config())
            .build();
        let s3_config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(shared.endpoint_url().is_some())
            .build();
        Clients {
            ecs: aws_sdk_ecs::Client::new(&shared),
            ecr: aws_sdk_ecr::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            region: shared.region().map(|r| r.to_string()).unwrap_or_default(),
            shared,
        }
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.shared)
    }

    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.shared)
    }

    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.shared)
    }

    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.shared)
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.shared)
    }
}

/// How long one AWS call may take. The SDK sets no limit on a response by default: an
/// endpoint that accepts a request and never answers would hold the invocation until
/// Lambda kills it, with no error logged and no lease released. With these, a stuck
/// attempt is abandoned and retried by the SDK's standard retry (3 attempts), and a call
/// that cannot finish becomes a transient error the event is retried for — well inside
/// the functions' 60 s timeout.
#[derive(Debug, Clone, Copy)]
pub struct CallTimeouts {
    pub connect: std::time::Duration,
    /// One HTTP attempt, from sending to the whole response read.
    pub attempt: std::time::Duration,
    /// The call with all its retries.
    pub operation: std::time::Duration,
}

impl Default for CallTimeouts {
    fn default() -> Self {
        CallTimeouts {
            connect: std::time::Duration::from_secs(3),
            attempt: std::time::Duration::from_secs(6),
            operation: std::time::Duration::from_secs(20),
        }
    }
}

impl CallTimeouts {
    fn config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

pub type SlipwayDeployer = Deployer<(EcsService, EcrRegistry, S3Store, S3Sources, AwsNotifier)>;

/// Everything the event-driven functions need, read from their environment:
/// `SLIPWAY_ACCOUNT_ID`, `AWS_REGION`, `SLIPWAY_LEDGER_BUCKET`, the targets config
/// (`SLIPWAY_CONFIG_S3` and `SLIPWAY_CONFIG_VERSION`, or `SLIPWAY_CONFIG` or
/// `SLIPWAY_CONFIG_FILE`: `config_source`), `SLIPWAY_SOURCE_BUCKET` (optional: the
/// only bucket source uploads are accepted from), `SLIPWAY_DRY_RUN`, and for approvals
/// `SLIPWAY_APPROVAL_URL`, `SLIPWAY_SIGNING_KEY_SECRET`, `SLIPWAY_APPROVALS_TOPIC_ARN`,
/// `SLIPWAY_SLACK_SECRET` and `SLIPWAY_SLACK_API_URL` (README, "Approvals").
pub async fn deployer_from_env() -> Result<SlipwayDeployer, StartupError> {
    Ok(from_env(LinkBase::Required).await?.0)
}

/// The approval function's deployer and, when Slack is configured, Slack's credentials
/// (it verifies interactions with the signing secret). It serves the approval links
/// rather than sending them, so `SLIPWAY_APPROVAL_URL` is optional here: a function URL
/// cannot be in its own function's environment (Terraform would have a cycle).
pub async fn slipway_from_env() -> Result<(SlipwayDeployer, Option<SlackSecrets>), StartupError> {
    from_env(LinkBase::Optional).await
}

/// Whether the functions' own URL must be known: only those that send approval links.
enum LinkBase {
    Required,
    Optional,
}

async fn from_env(
    link_base: LinkBase,
) -> Result<(SlipwayDeployer, Option<SlackSecrets>), StartupError> {
    let clients = Clients::from_env().await;
    let account = required_env(
        "SLIPWAY_ACCOUNT_ID",
        "set it to the 12-digit account the function runs in (Terraform sets it)",
    )?;
    if clients.region.is_empty() {
        return Err(StartupError::MissingEnv {
            name: "AWS_REGION",
            hint: "Lambda sets it; locally, export AWS_REGION=us-east-1",
        });
    }
    let home = Home {
        account,
        region: clients.region.clone(),
    };
    let config = config_source::load(&clients.s3, &home).await?;
    let bucket = required_env(
        "SLIPWAY_LEDGER_BUCKET",
        "set it to the S3 bucket that holds the deployment ledger",
    )?;
    let wants_approval = config.targets.iter().any(|t| t.policy == Policy::Approval);
    let wants_slack = config.targets.iter().any(|t| t.outcome_channel().is_some());
    let wants_alarms = config.targets.iter().any(|t| {
        t.promotion
            .as_ref()
            .is_some_and(|p| !p.alarms_ok.is_empty())
    });
    let alarms = wants_alarms.then(|| CloudWatchAlarms::new(clients.cloudwatch()));
    // Release groups run one-off tasks (RunTask, StopTask, DescribeTasks).
    let tasks = (!config.groups.is_empty()).then(|| EcsTasks::new(clients.ecs.clone()));
    // Only a config whose releases can wait for a known time (a window, a soak, a group
    // task's deadline) builds Scheduler's client: the others' cold starts skip it.
    let wants_wake_ups = !config.groups.is_empty()
        || config
            .targets
            .iter()
            .any(|t| t.windows.is_some() || t.promotion.is_some());
    let wake_ups = if wants_wake_ups {
        wake_ups_from_env(&clients)?
    } else {
        None
    };
    // The promotion bus, where an upstream's success is told to the stages promoting from
    // it, here or, forwarded by the bus's rule, in other Slipways (`promoted_elsewhere`)
    // (`SLIPWAY_HINT_BUS`; without it they look on the reconciler's schedule).
    let hints = optional_env("SLIPWAY_HINT_BUS")
        .filter(|_| {
            config.targets.iter().any(|t| t.promotion.is_some())
                || !config.promoted_elsewhere.is_empty()
        })
        .map(|bus| hints::EventBridgeHints::new(clients.eventbridge(), bus));
    let secrets_client = std::cell::OnceCell::new();
    let secrets_client = || secrets_client.get_or_init(|| clients.secrets());
    // The signing keys are read only where links are made or checked: a Slipway whose
    // targets all deploy automatically needs neither the secret nor its value.
    let links = match optional_env("SLIPWAY_SIGNING_KEY_SECRET").filter(|_| wants_approval) {
        Some(secret) => {
            let keys = secrets::signing_keys(secrets_client(), &secret).await?;
            let base = match link_base {
                LinkBase::Required => required_env(
                    "SLIPWAY_APPROVAL_URL",
                    "set it to the approval function's URL, which approval links point to",
                )?,
                // Links made here are relative to the page that serves them.
                LinkBase::Optional => optional_env("SLIPWAY_APPROVAL_URL").unwrap_or_default(),
            };
            let source = secrets::SecretKeys {
                client: secrets_client().clone(),
                name: secret,
            };
            Some(ApprovalLinks::new(&base, keys).with_source(std::sync::Arc::new(source)))
        }
        None if wants_approval => {
            return Err(StartupError::MissingEnv {
                name: "SLIPWAY_SIGNING_KEY_SECRET",
                hint: "a target has policy `approval`: name the Secrets Manager secret holding the approval-link signing keys",
            })
        }
        None => None,
    };
    let slack_secrets = match optional_env("SLIPWAY_SLACK_SECRET") {
        Some(name) => Some(secrets::slack(secrets_client(), &name).await?),
        None if wants_slack => {
            return Err(StartupError::MissingEnv {
                name: "SLIPWAY_SLACK_SECRET",
                hint: "a target names a Slack channel: name the Secrets Manager secret holding Slack's signing secret and bot token",
            })
        }
        None => None,
    };
    let slack = slack_secrets.as_ref().map(|s| {
        let api = optional_env("SLIPWAY_SLACK_API_URL")
            .unwrap_or_else(|| DEFAULT_SLACK_API_URL.to_string());
        SlackApi::new(&api, s.bot_token.clone())
    });
    let topic = optional_env("SLIPWAY_APPROVALS_TOPIC_ARN").map(|arn| SnsTopic {
        client: clients.sns(),
        arn,
    });
    let notifier = AwsNotifier::new(topic, slack);
    // Other Slipways' ledgers, read-only, for the stages promoting from their targets
    // (`upstreams`): each bucket's policy grants this function's role GetObject there.
    let remote_ledgers: Vec<(String, S3Store)> = config
        .upstreams
        .iter()
        .map(|u| {
            let store = S3Store::new(clients.s3.clone(), u.ledger_bucket.clone());
            (u.name.clone(), store)
        })
        .collect();
    let deployer = Deployer::new(
        config,
        EcsService::new(clients.ecs),
        EcrRegistry::new(clients.ecr),
        S3Store::new(clients.s3.clone(), bucket),
        S3Sources::new(clients.s3),
        dry_run_from_env(),
    )
    .with_source_bucket(optional_env("SLIPWAY_SOURCE_BUCKET"))
    .with_approvals(links, notifier);
    let deployer = remote_ledgers
        .into_iter()
        .fold(deployer, |deployer, (name, store)| {
            deployer.with_remote_ledger(&name, store)
        });
    let deployer = match alarms {
        Some(alarms) => deployer.with_alarms(std::sync::Arc::new(alarms)),
        None => deployer,
    };
    let deployer = match tasks {
        Some(tasks) => deployer.with_tasks(std::sync::Arc::new(tasks)),
        None => deployer,
    };
    let deployer = match wake_ups {
        Some(wake_ups) => deployer.with_wake_ups(std::sync::Arc::new(wake_ups)),
        None => deployer,
    };
    let deployer = match hints {
        Some(hints) => deployer.with_hints(std::sync::Arc::new(hints)),
        None => deployer,
    };
    Ok((deployer, slack_secrets))
}

/// EventBridge Scheduler's one-time wake-ups of the reconciler, when Terraform gave the
/// schedule group (`SLIPWAY_WAKE_UP_GROUP`), the reconcile function's ARN
/// (`SLIPWAY_WAKE_UP_TARGET`) and the role Scheduler invokes it with
/// (`SLIPWAY_WAKE_UP_ROLE`); without them the reconciler's schedule alone ends waits.
fn wake_ups_from_env(clients: &Clients) -> Result<Option<SchedulerWakeUps>, StartupError> {
    let Some(group) = optional_env("SLIPWAY_WAKE_UP_GROUP") else {
        return Ok(None);
    };
    let target = required_env(
        "SLIPWAY_WAKE_UP_TARGET",
        "set it to the reconcile function's ARN (SLIPWAY_WAKE_UP_GROUP is set)",
    )?;
    let role = required_env(
        "SLIPWAY_WAKE_UP_ROLE",
        "set it to the role EventBridge Scheduler invokes the reconciler with (SLIPWAY_WAKE_UP_GROUP is set)",
    )?;
    Ok(Some(SchedulerWakeUps::new(
        clients.scheduler(),
        group,
        target,
        role,
    )))
}

/// `SLIPWAY_DRY_RUN=1` (or `true`): plan and print, write nothing.
pub fn dry_run_from_env() -> bool {
    matches!(
        std::env::var("SLIPWAY_DRY_RUN").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

fn optional_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required_env(name: &'static str, hint: &'static str) -> Result<String, StartupError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(StartupError::MissingEnv { name, hint })
}

impl From<&lambda_runtime::Context> for crate::Invocation {
    fn from(context: &lambda_runtime::Context) -> Self {
        crate::Invocation {
            request_id: context.request_id.clone(),
            deadline: context.deadline().into(),
        }
    }
}
