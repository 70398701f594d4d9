//! A target's rollout policy — ECS's own rolling, blue/green, canary and linear
//! deployments — and the rules ECS puts on them, as plain data.
//!
//! The hashicorp/aws provider this project pins cannot express ECS's newer deployment
//! configuration, so Slipway sends it with each UpdateService ([`DeploymentSettings`]).
//! Every rule here is ECS's, checked at cold start so that a config ECS would refuse
//! fails Slipway's own deployment rather than a release at 3 a.m. Sources (Amazon ECS
//! API Reference and Developer Guide):
//! - API_DeploymentConfiguration: `bakeTimeInMinutes` "You must provide this parameter
//!   when you use the BLUE_GREEN deployment strategy"; canary and linear settings only
//!   with their strategy.
//! - API_CanaryConfiguration: `canaryPercent` multiples of 0.1 from 0.1 to 100.0,
//!   `canaryBakeTimeInMinutes` 0 to 1440. API_LinearConfiguration: `stepPercent`
//!   multiples of 0.1 from 3.0 to 100.0, `stepBakeTimeInMinutes` 0 to 1440.
//! - API_DeploymentLifecycleHook and "Pause lifecycle hooks": "PAUSE hooks cannot be
//!   configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages" (those stages
//!   run again during a rollback); a pause at PRE_PRODUCTION_TRAFFIC_SHIFT fires before
//!   every traffic-shift step of a linear or canary deployment, each with its own hookId.
//! - API_DeploymentLifecycleHookTimeoutConfiguration: `timeoutInMinutes` 1 to 20160.
//! - "Blue/green deployment resources": managed traffic shifting needs Elastic Load
//!   Balancing (the load balancer's `advancedConfiguration`: alternate target group,
//!   production and test listener rules, the infrastructure role) or Service Connect.

use serde::{Deserialize, Serialize};

use super::test_probe::{ProbeHook, TestProbe};

/// How ECS replaces a service's tasks (`deploymentConfiguration.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Strategy {
    /// Today's behaviour: Slipway sends no deployment configuration at all.
    Rolling,
    BlueGreen,
    /// `percent` of production traffic first, the rest after `bake_minutes`.
    Canary {
        percent: f64,
        bake_minutes: u32,
    },
    /// `step_percent` more of production traffic every `step_bake_minutes`.
    Linear {
        step_percent: f64,
        step_bake_minutes: u32,
    },
}

impl Strategy {
    /// ECS's name for it.
    pub fn ecs_name(&self) -> &'static str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Canary { .. } => "CANARY",
            Strategy::Linear { .. } => "LINEAR",
        }
    }

    /// In words, for pages and notifications: "canary 10% for 5 min".
    pub fn describe(&self) -> String {
        match self {
            Strategy::Rolling => "rolling".into(),
            Strategy::BlueGreen => "blue/green".into(),
            Strategy::Canary {
                percent,
                bake_minutes,
            } => format!("canary {percent}% for {bake_minutes} min"),
            Strategy::Linear {
                step_percent,
                step_bake_minutes,
            } => format!("linear {step_percent}% every {step_bake_minutes} min"),
        }
    }

    /// Whether traffic moves between two revisions (and so has test and production
    /// traffic stages): every strategy but rolling.
    pub fn shifts_traffic(&self) -> bool {
        !matches!(self, Strategy::Rolling)
    }
}

/// The lifecycle stages of an ECS service deployment where a hook can run
/// (`DeploymentLifecycleHookStage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    ReconcileService,
    PreScaleUp,
    PostScaleUp,
    TestTraffic,
    PostTestTraffic,
    PreProductionTraffic,
    ProductionTraffic,
    PostProductionTraffic,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::ReconcileService,
        Stage::PreScaleUp,
        Stage::PostScaleUp,
        Stage::TestTraffic,
        Stage::PostTestTraffic,
        Stage::PreProductionTraffic,
        Stage::ProductionTraffic,
        Stage::PostProductionTraffic,
    ];

    /// ECS's name, as in hooks, events and DescribeServiceDeployments.
    pub fn ecs_name(self) -> &'static str {
        match self {
            Stage::ReconcileService => "RECONCILE_SERVICE",
            Stage::PreScaleUp => "PRE_SCALE_UP",
            Stage::PostScaleUp => "POST_SCALE_UP",
            Stage::TestTraffic => "TEST_TRAFFIC_SHIFT",
            Stage::PostTestTraffic => "POST_TEST_TRAFFIC_SHIFT",
            Stage::PreProductionTraffic => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            Stage::ProductionTraffic => "PRODUCTION_TRAFFIC_SHIFT",
            Stage::PostProductionTraffic => "POST_PRODUCTION_TRAFFIC_SHIFT",
        }
    }

    pub fn from_ecs_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.ecs_name() == name)
    }

    /// The config's name for it (`post-test-traffic`).
    pub fn config_name(self) -> &'static str {
        match self {
            Stage::ReconcileService => "reconcile-service",
            Stage::PreScaleUp => "pre-scale-up",
            Stage::PostScaleUp => "post-scale-up",
            Stage::TestTraffic => "test-traffic",
            Stage::PostTestTraffic => "post-test-traffic",
            Stage::PreProductionTraffic => "pre-production-traffic",
            Stage::ProductionTraffic => "production-traffic",
            Stage::PostProductionTraffic => "post-production-traffic",
        }
    }

    pub fn from_config_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.config_name() == name)
    }

    /// Whether ECS lets a PAUSE hook wait here: not at the two traffic-shift stages,
    /// which ECS runs again during a rollback.
    pub fn allows_pause(self) -> bool {
        !matches!(self, Stage::TestTraffic | Stage::ProductionTraffic)
    }

    /// Whether a person's approval may be ECS's pause here: a stage every deployment
    /// passes. RECONCILE_SERVICE "only happens when you start a new service deployment
    /// with more than 1 service revision in an ACTIVE state" (API_DeploymentLifecycleHook):
    /// a pause there would usually never come, and the release would reach production
    /// without anyone asked.
    pub fn allows_approval(self) -> bool {
        self.allows_pause() && self != Stage::ReconcileService
    }

    /// What is live where while a deployment waits at this stage, for the approver.
    pub fn situation(self) -> &'static str {
        match self {
            Stage::ReconcileService | Stage::PreScaleUp => {
                "the new revision has not started; production runs the current one"
            }
            Stage::PostScaleUp => {
                "the new revision's tasks run but receive no traffic; production runs the current one"
            }
            Stage::TestTraffic | Stage::PostTestTraffic => {
                "the new revision is serving the test listener; production still runs the current one"
            }
            Stage::PreProductionTraffic | Stage::ProductionTraffic => {
                "the new revision is about to take the next share of production traffic"
            }
            Stage::PostProductionTraffic => {
                "the new revision serves all production traffic; the old one is kept for the bake time"
            }
        }
    }
}

/// Where a protected target's approval happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", content = "stage", rename_all = "kebab-case")]
pub enum ApprovalPoint {
    /// Nothing runs until a person approves (the only choice for rolling targets).
    Before,
    /// ECS pauses the rollout at this stage (a PAUSE hook) until a person decides.
    During(Stage),
}

/// The load balancer's part in a traffic-shifting rollout
/// (`loadBalancers[].advancedConfiguration`, API_AdvancedConfiguration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficShift {
    /// The production target group the service is registered with today.
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: u16,
    /// Where the new revision's tasks go while both run.
    pub alternate_target_group_arn: String,
    /// The listener rule (ALB) or listener (NLB) that carries production traffic.
    pub production_listener_rule: String,
    /// The one that carries test traffic: what an approver at a test stage looks at.
    pub test_listener_rule: Option<String>,
    /// The ECS infrastructure role for load balancers
    /// (AmazonECSInfrastructureRolePolicyForLoadBalancers).
    pub role_arn: String,
    /// The URL of the test listener, shown to approvers and probed by Slipway's hook.
    pub test_url: Option<String>,
}

/// A target's rollout policy, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutPolicy {
    pub strategy: Strategy,
    /// Both revisions run this long after production traffic moved (required for
    /// blue/green; ECS's default otherwise).
    pub bake_minutes: Option<u32>,
    /// CloudWatch alarms whose ALARM state fails the rollout and rolls it back.
    pub alarms: Vec<String>,
    pub approval: ApprovalPoint,
    /// With a pause before production traffic on a canary or linear rollout: ask a person
    /// at every step. Otherwise the first step is asked and Slipway continues the rest.
    pub ask_each_step: bool,
    pub load_balancer: Option<TrafficShift>,
    /// The service shifts traffic with Service Connect instead of a load balancer.
    pub service_connect: bool,
    /// Slipway's Lambda hook checks the test listener after test traffic moved.
    pub test_probe: Option<TestProbe>,
}

impl Default for RolloutPolicy {
    fn default() -> Self {
        RolloutPolicy {
            strategy: Strategy::Rolling,
            bake_minutes: None,
            alarms: vec![],
            approval: ApprovalPoint::Before,
            ask_each_step: false,
            load_balancer: None,
            service_connect: false,
            test_probe: None,
        }
    }
}

/// A rollout policy ECS would refuse: the field (under `rollout`) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleBroken {
    pub field: &'static str,
    pub problem: String,
}

fn broken(field: &'static str, problem: impl Into<String>) -> Result<(), RuleBroken> {
    Err(RuleBroken {
        field,
        problem: problem.into(),
    })
}

/// ECS's bake limits (canary and linear: 0 to 1440 minutes). ECS documents no range
/// for `bakeTimeInMinutes`; the same day is assumed.
pub const MAX_BAKE_MINUTES: u32 = 1440;
/// A PAUSE hook's longest timeout: 20160 minutes (14 days).
pub const MAX_PAUSE_MINUTES: i64 = 20160;

impl RolloutPolicy {
    /// Checks the policy against ECS's rules. `approval_minutes` is how long the target's
    /// approval requests stay open (a pause's timeout), `None` for an `auto` target.
    pub fn check(&self, approval_minutes: Option<i64>) -> Result<(), RuleBroken> {
        self.check_strategy()?;
        if self.alarms.iter().any(|a| a.trim().is_empty()) {
            return broken("alarms", "holds an empty alarm name");
        }
        if self.strategy.shifts_traffic() && self.load_balancer.is_none() && !self.service_connect {
            return broken(
                "load_balancer",
                format!(
                    "is required for {}: ECS shifts traffic through the load balancer's alternate target group and listener rules (or set `service_connect: true`)",
                    self.strategy.describe()
                ),
            );
        }
        self.check_approval(approval_minutes)?;
        self.check_test_probe()
    }

    /// The probe GETs the test listener, so there must be one, reachable by URL.
    fn check_test_probe(&self) -> Result<(), RuleBroken> {
        let Some(probe) = &self.test_probe else {
            return Ok(());
        };
        if let Some((field, problem)) = probe.problem() {
            return Err(RuleBroken {
                field: match field {
                    "path" => "test_probe.path",
                    "status" => "test_probe.status",
                    "for_seconds" => "test_probe.for_seconds",
                    "every_seconds" => "test_probe.every_seconds",
                    "function_arn" => "test_probe.function_arn",
                    _ => "test_probe.role_arn",
                },
                problem,
            });
        }
        if !self.strategy.shifts_traffic() {
            return broken(
                "test_probe",
                "needs blue-green, canary or linear: a rolling update has no test listener to probe",
            );
        }
        let test_url = self
            .load_balancer
            .as_ref()
            .filter(|lb| lb.test_listener_rule.is_some())
            .and_then(|lb| lb.test_url.as_deref());
        match test_url {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(()),
            Some(url) => broken(
                "load_balancer.test_url",
                format!("`{url}` is not an http(s) URL: the test probe GETs it"),
            ),
            None => broken(
                "test_probe",
                "needs a load balancer with `test_listener_rule` and `test_url`: the probe checks the new revision on the test listener, which only blue-green, canary and linear rollouts have",
            ),
        }
    }

    fn check_strategy(&self) -> Result<(), RuleBroken> {
        let percent_ok = |p: f64, min: f64| {
            (min..=100.0).contains(&p) && ((p * 10.0).round() - p * 10.0).abs() < 1e-9
        };
        match self.strategy {
            Strategy::BlueGreen if self.bake_minutes.is_none() => broken(
                "bake_minutes",
                "is required for blue-green (ECS refuses BLUE_GREEN without bakeTimeInMinutes)",
            ),
            Strategy::Canary { percent, .. } if !percent_ok(percent, 0.1) => broken(
                "canary.percent",
                format!("{percent} is not a multiple of 0.1 from 0.1 to 100"),
            ),
            Strategy::Canary { bake_minutes, .. } if bake_minutes > MAX_BAKE_MINUTES => broken(
                "canary.bake_minutes",
                format!("{bake_minutes} is out of range: 0 to {MAX_BAKE_MINUTES}"),
            ),
            Strategy::Linear { step_percent, .. } if !percent_ok(step_percent, 3.0) => broken(
                "linear.step_percent",
                format!("{step_percent} is not a multiple of 0.1 from 3 to 100"),
            ),
            Strategy::Linear {
                step_bake_minutes, ..
            } if step_bake_minutes > MAX_BAKE_MINUTES => broken(
                "linear.step_bake_minutes",
                format!("{step_bake_minutes} is out of range: 0 to {MAX_BAKE_MINUTES}"),
            ),
            _ if self.bake_minutes.is_some_and(|b| b > MAX_BAKE_MINUTES) => broken(
                "bake_minutes",
                format!("is out of range: 0 to {MAX_BAKE_MINUTES}"),
            ),
            _ => Ok(()),
        }
    }

    fn check_approval(&self, approval_minutes: Option<i64>) -> Result<(), RuleBroken> {
        if self.ask_each_step
            && !matches!(
                self.strategy,
                Strategy::Canary { .. } | Strategy::Linear { .. }
            )
        {
            return broken(
                "ask_each_step",
                "applies only to canary and linear rollouts (the strategies that shift production traffic in steps)",
            );
        }
        let ApprovalPoint::During(stage) = self.approval else {
            if self.ask_each_step {
                return broken(
                    "ask_each_step",
                    "needs `approval_at: pre-production-traffic` (the stage ECS repeats before every step)",
                );
            }
            return Ok(());
        };
        let Some(minutes) = approval_minutes else {
            return broken(
                "approval_at",
                "is set but the target's `policy` is not `approval`",
            );
        };
        if !self.strategy.shifts_traffic() {
            return broken(
                "approval_at",
                format!(
                    "`{}` needs a blue-green, canary or linear strategy (a rolling rollout has no traffic stages): use `before`",
                    stage.config_name()
                ),
            );
        }
        if !stage.allows_pause() {
            return broken(
                "approval_at",
                format!(
                    "ECS cannot pause at {} (it runs again during a rollback): use `post-test-traffic` or `pre-production-traffic`",
                    stage.ecs_name()
                ),
            );
        }
        if !stage.allows_approval() {
            return broken(
                "approval_at",
                format!(
                    "ECS reaches {} only when more than one service revision is active, so the release could reach production unasked: use `post-test-traffic` or `pre-production-traffic`",
                    stage.ecs_name()
                ),
            );
        }
        if stage == Stage::PostTestTraffic
            && self
                .load_balancer
                .as_ref()
                .is_some_and(|lb| lb.test_listener_rule.is_none())
        {
            return broken(
                "load_balancer.test_listener_rule",
                "is required to approve at post-test-traffic: without a test listener nothing serves the new revision before production does",
            );
        }
        if !(1..=MAX_PAUSE_MINUTES).contains(&minutes) {
            return broken(
                "approval_at",
                format!("a pause lasts 1 to {MAX_PAUSE_MINUTES} minutes; the approval's expiry is {minutes}"),
            );
        }
        if self.ask_each_step && stage != Stage::PreProductionTraffic {
            return broken(
                "ask_each_step",
                "applies only to `approval_at: pre-production-traffic` (the stage ECS repeats before every step)",
            );
        }
        Ok(())
    }

    /// The deployment configuration an UpdateService carries for this policy, or `None`
    /// for a plain rolling target (today's call, unchanged). `pause_minutes` is the
    /// approval's expiry: ECS rolls back on its own when nobody decided by then.
    pub fn settings(&self, pause_minutes: i64) -> Option<DeploymentSettings> {
        if self.strategy == Strategy::Rolling && self.alarms.is_empty() {
            return None;
        }
        let pause = match self.approval {
            ApprovalPoint::During(stage) => Some(Pause {
                stage,
                timeout_minutes: pause_minutes.clamp(1, MAX_PAUSE_MINUTES),
            }),
            ApprovalPoint::Before => None,
        };
        Some(DeploymentSettings {
            strategy: self.strategy,
            bake_minutes: self.bake_minutes,
            alarms: self.alarms.clone(),
            pause,
            load_balancer: self.load_balancer.clone(),
            probe: self.probe_hook(),
        })
    }

    fn probe_hook(&self) -> Option<ProbeHook> {
        let probe = self.test_probe.as_ref()?;
        let test_url = self.load_balancer.as_ref()?.test_url.as_deref()?;
        Some(ProbeHook {
            function_arn: probe.function_arn.clone(),
            role_arn: probe.role_arn.clone(),
            spec: probe.spec(test_url),
        })
    }
}

/// A PAUSE hook: ECS waits at `stage` for ContinueServiceDeployment, and rolls back after
/// `timeout_minutes` (the hook's timeout action, ROLLBACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub stage: Stage,
    pub timeout_minutes: i64,
}

/// What one UpdateService sends beside the task definition: the strategy, bake, alarms
/// (with rollback), a PAUSE hook, and the load balancer's advanced configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentSettings {
    pub strategy: Strategy,
    pub bake_minutes: Option<u32>,
    pub alarms: Vec<String>,
    pub pause: Option<Pause>,
    pub load_balancer: Option<TrafficShift>,
    /// Slipway's Lambda hook at POST_TEST_TRAFFIC_SHIFT.
    pub probe: Option<ProbeHook>,
}

#[cfg(test)]
mod tests;
