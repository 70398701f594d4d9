//! The deployment pipelines, one file per path, over one set of roll steps:
//!
//! - `push` — an image pushed to ECR; `uploads` — a manifest uploaded to the source bucket;
//! - `asking` — asking for approval (one open request per target); `decisions` — a
//!   person's decision on it; `approved` — rolling what was approved; `replan` — a
//!   fresh plan when the service changed since;
//! - `outcomes` — ECS's deployment events; `operator` — rollback, freeze and unfreeze
//!   requests (from EventBridge, the sender only claimed; `operate` — from the operator
//!   endpoint, the caller verified);
//!   `external` — deployments ECS reports that Slipway did not start; `service_actions`
//!   — ECS's service events noted on a rollout; `hooks` — ECS's lifecycle-hook events
//!   on a progressive rollout, and the approval as ECS's pause; `pause_answer` — answering
//!   that pause (ContinueServiceDeployment); `reconcile` — the reconciler's findings;
//! - `headship` — a push's claim: the deployment, the target's head and the starting
//!   marker in one write of the target's document, waiting for an older push to reach ECS;
//! - `roll` — the steps they share (claim → register once → start the rollout → record and
//!   settle, in one write → conclude); `telling` — the outcome messages;
//! - `windows` — releases held by the target's deployment window, and the reconciler's
//!   release of the newest when it opens; `window_override` — an approver letting one
//!   release through; `promotion` — the gate that takes only digests that succeeded
//!   upstream;
//! - `groups` — release group runs, driven pass by pass (`group_line`, `group_approval`,
//!   `group_steps`, `group_reconcile`, `group_missed_push`, `group_release*`);
//!   `group_gates` — a run's
//!   promotion and windows before anything starts; `group_overrides` — an approver's
//!   override of a run's windows or bypass of its soak;
//! - `report` — what a pipeline answers; `logging` — the span its lines carry.
//!
//! The `Deployer` holds the config and the adapters, built once per cold start.

use serde_json::Value;
use tracing::{info, warn};

use crate::approval::ApprovalLinks;
use crate::input::config::Config;
use crate::input::event::{EventError, Intent};
use crate::ledger::{Ledger, Versioned};
use crate::model::rollout::Rollouts;
use crate::ports::{Adapters, Ecs, Notifier, ObjectStore, Registry, Silent, SourceBucket};

/// A target's rollouts record as read from the ledger (`None`: not written yet).
type RolloutsRead = Option<Versioned<Rollouts>>;

mod approved;
mod asking;
mod decisions;
mod external;
mod group_approval;
mod group_gates;
mod group_line;
mod group_missed_push;
mod group_overrides;
mod group_plan;
mod group_reconcile;
mod group_release;
mod group_release_upload;
mod group_steps;
mod groups;
mod headship;
mod hints;
mod hook_endings;
mod hooks;
mod logging;
mod operate;
mod operator;
mod outcomes;
mod pause_answer;
mod promotion;
mod push;
mod reconcile;
mod replan;
mod report;
mod roll;
mod service_actions;
mod soak_bypass;
mod telling;
mod uploads;
mod wake_ups;
mod window_override;
mod windows;

pub use decisions::{DecisionError, DecisionOutcome, RollWhen};
pub use group_approval::GroupDecision;
pub use group_overrides::{RunGateAction, RunGateOutcome};
pub use groups::GroupRunReport;
pub(crate) use logging::{decision_span, record_in_span};
use logging::{log_decision, log_warning};
pub use operate::{OperatorAnswer, OperatorError};
use push::dry_run_plan;
pub use push::{deployment_id, target_wants};
pub use reconcile::{ReconcileReport, Reconciled};
use report::permanent_outcome;
pub use report::{
    DeployError, EventOutcome, Invocation, Report, Step, StepError, TargetOutcome, TargetReport,
};
use roll::duplicate;
pub use soak_bypass::BypassOutcome;
pub use window_override::OverrideOutcome;

pub struct Deployer<A: Adapters> {
    config: Config,
    ecs: A::Ecs,
    registry: A::Registry,
    ledger: Ledger<A::Store>,
    sources: A::Sources,
    notifier: A::Notifier,
    /// Signs approval links; required when any target's policy is `approval`.
    links: Option<ApprovalLinks>,
    /// The only bucket source uploads are read from, when set.
    source_bucket: Option<String>,
    dry_run: bool,
    /// What time it is for the deployment windows (the system clock, or a test's).
    clock: Clock,
    /// CloudWatch's alarm history, for promotion soaks that name `alarms_ok`.
    alarms: Option<std::sync::Arc<dyn crate::ports::AlarmHistory>>,
    /// RunTask and friends, for release groups' one-off tasks.
    tasks: Option<std::sync::Arc<dyn crate::ports::TaskRunner>>,
    /// One-time wake-ups of the reconciler when a wait ends (`wake_ups`).
    wake_ups: Option<std::sync::Arc<dyn crate::ports::WakeUps>>,
    /// The promotion bus, told when an upstream's deployment succeeds (`hints`).
    hints: Option<std::sync::Arc<dyn crate::ports::Hints>>,
    /// Other Slipways' ledgers, read-only, by the name `upstreams` gives each of their
    /// targets: where the promotion gate reads a remote upstream's record.
    remote_ledgers: std::collections::BTreeMap<String, Ledger<A::Store>>,
}

/// The time source of the window decisions.
pub type Clock = std::sync::Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

/// How many times a push retries moving the head when other pushes move it concurrently.
const HEAD_ATTEMPTS: usize = 5;
tokio::task_local! {
    /// Set for the calls of one [`Deployer::plan`]: a dry run within a deployer that
    /// otherwise deploys (the approval function serves plans beside decisions).
    static PLANNING: bool;
}

/// How often a push waiting for an older one to reach ECS looks again.
const HEAD_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl<E, R, S, B> Deployer<(E, R, S, B, Silent)>
where
    E: Ecs + 'static,
    R: Registry + 'static,
    S: ObjectStore + 'static,
    B: SourceBucket + 'static,
{
    pub fn new(config: Config, ecs: E, registry: R, store: S, sources: B, dry_run: bool) -> Self {
        Deployer {
            config,
            ecs,
            registry,
            ledger: Ledger::new(store),
            sources,
            notifier: Silent,
            links: None,
            source_bucket: None,
            dry_run,
            clock: std::sync::Arc::new(chrono::Utc::now),
            alarms: None,
            tasks: None,
            wake_ups: None,
            hints: None,
            remote_ledgers: std::collections::BTreeMap::new(),
        }
    }
}

impl<E, R, S, B, N> Deployer<(E, R, S, B, N)>
where
    E: Ecs + 'static,
    R: Registry + 'static,
    S: ObjectStore + 'static,
    B: SourceBucket + 'static,
    N: Notifier + 'static,
{
    /// Ask approvers through `notifier`, with links signed by `links` (required for
    /// targets whose policy is `approval`).
    pub fn with_approvals<M: Notifier + 'static>(
        self,
        links: Option<ApprovalLinks>,
        notifier: M,
    ) -> Deployer<(E, R, S, B, M)> {
        Deployer {
            config: self.config,
            ecs: self.ecs,
            registry: self.registry,
            ledger: self.ledger,
            sources: self.sources,
            notifier,
            links,
            source_bucket: self.source_bucket,
            dry_run: self.dry_run,
            clock: self.clock,
            alarms: self.alarms,
            tasks: self.tasks,
            wake_ups: self.wake_ups,
            hints: self.hints,
            remote_ledgers: self.remote_ledgers,
        }
    }
}

impl<A: Adapters> Deployer<A> {
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn notifier(&self) -> &A::Notifier {
        &self.notifier
    }

    /// The approval links, when approvals are configured.
    pub fn links(&self) -> Option<&ApprovalLinks> {
        self.links.as_ref()
    }

    /// Decide the deployment windows by `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Read alarm histories (for promotion soaks) through `alarms`.
    pub fn with_alarms(mut self, alarms: std::sync::Arc<dyn crate::ports::AlarmHistory>) -> Self {
        self.alarms = Some(alarms);
        self
    }

    /// Ask `wake_ups` to wake the reconciler when a wait ends.
    pub fn with_wake_ups(mut self, wake_ups: std::sync::Arc<dyn crate::ports::WakeUps>) -> Self {
        self.wake_ups = Some(wake_ups);
        self
    }

    /// Publish promotion hints on `hints` when an upstream's deployment succeeds.
    pub fn with_hints(mut self, hints: std::sync::Arc<dyn crate::ports::Hints>) -> Self {
        self.hints = Some(hints);
        self
    }

    /// Read the ledger of the other Slipway that `upstreams` names `upstream` through
    /// `store` (its bucket, with a read-only grant): the promotion gate reads nothing else
    /// there.
    pub fn with_remote_ledger(mut self, upstream: &str, store: A::Store) -> Self {
        self.remote_ledgers
            .insert(upstream.to_string(), Ledger::new(store));
        self
    }

    /// Run release groups' one-off tasks through `tasks`.
    pub fn with_tasks(mut self, tasks: std::sync::Arc<dyn crate::ports::TaskRunner>) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Now, for the window decisions.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.clock)()
    }

    /// Accept source uploads only from this bucket.
    pub fn with_source_bucket(mut self, bucket: Option<String>) -> Self {
        self.source_bucket = bucket;
        self
    }

    pub fn ledger(&self) -> &Ledger<A::Store> {
        &self.ledger
    }

    /// Refused and ignored events end here: logged, and acknowledged so Lambda does not
    /// retry them.
    fn triage<T>(&self, raw: &Value, parsed: Result<Intent<T>, EventError>) -> Result<T, Report> {
        match parsed {
            Err(err) => Err(self.refused(raw, err)),
            Ok(Intent::Ignore { event_id, reason }) => {
                info!(event_id, decision = "ignored", "{reason}");
                Err(self.report(raw, EventOutcome::Ignored { reason }))
            }
            Ok(Intent::Deploy(intent)) => Ok(intent),
        }
    }

    fn refused(&self, raw: &Value, err: EventError) -> Report {
        warn!(event_id = event_id(raw).as_deref().unwrap_or("(no id)"), decision = "refused",
              error = %err, "event refused and acknowledged (no retry, nothing written)");
        self.report(
            raw,
            EventOutcome::Refused {
                error: err.to_string(),
            },
        )
    }

    fn report(&self, raw: &Value, outcome: EventOutcome) -> Report {
        Report {
            event_id: event_id(raw),
            dry_run: self.is_dry_run(),
            outcome,
        }
    }

    /// Whether this call writes nothing: the deployer's own setting (`SLIPWAY_DRY_RUN`), or
    /// a plan an operator asked for ([`Deployer::plan`]).
    fn is_dry_run(&self) -> bool {
        self.dry_run || PLANNING.try_with(|planning| *planning).unwrap_or(false)
    }

    /// The dry run of `raw` (an ECR push or an S3 upload event), server side: what each
    /// target would do — the task-definition diff and the calls — with nothing written and
    /// nothing rolled (`slipway plan`). The same pipeline as the event itself, told to stop
    /// before its first write for this call only.
    pub async fn plan(&self, raw: &Value, invocation: &Invocation) -> Result<Report, DeployError> {
        let source = raw
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or_default();
        PLANNING
            .scope(true, async {
                match source {
                    "aws.s3" => Box::pin(self.handle_source_event(raw, invocation)).await,
                    _ => Box::pin(self.handle_ecr_event(raw, invocation)).await,
                }
            })
            .await
    }
}

/// The event itself when `raw` is Lambda's on-failure record of it (an operator redrove
/// the dead-letter queue by invoking the function with the message body).
fn redriven(raw: &Value) -> &Value {
    let (event, redriven) = crate::input::redrive::event_of(raw);
    if let Some(redriven) = redriven {
        info!(
            event_id = event_id(event).as_deref().unwrap_or("(no id)"),
            decision = "redriven",
            "redriven from the dead-letter queue: Lambda gave up on it ({}) after {} attempt(s), request {}",
            redriven.condition,
            redriven.attempts,
            redriven.request_id
        );
    }
    event
}

fn event_id(raw: &Value) -> Option<String> {
    raw.get("id").and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn image_digest(image: &str) -> &str {
    crate::model::image_ref::digest_of(image).unwrap_or(image)
}

#[cfg(test)]
mod group_approval_tests;
#[cfg(test)]
mod group_gates_tests;
#[cfg(test)]
mod group_line_tests;
#[cfg(test)]
mod group_overrides_tests;
#[cfg(test)]
mod group_reconcile_tests;
#[cfg(test)]
mod group_release_tests;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod group_upload_tests;
#[cfg(test)]
mod hint_tests;
#[cfg(test)]
mod hook_step_tests;
#[cfg(test)]
mod hook_tests;
#[cfg(test)]
mod pipeline_tests;
#[cfg(test)]
mod promotion_tests;
#[cfg(test)]
mod remote_upstream_tests;
#[cfg(test)]
mod soak_bypass_tests;
#[cfg(test)]
mod wake_up_tests;
#[cfg(test)]
mod window_override_tests;
#[cfg(test)]
mod window_tests;
