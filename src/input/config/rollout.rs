//! A target's `rollout` block: ECS's deployment strategy, bake, alarms, where the approval
//! pauses the rollout, and the load balancer's part — read into
//! [`RolloutPolicy`] and checked against ECS's rules (`model::progressive`).

use serde::Deserialize;

use super::ConfigError;
use crate::model::progressive::{ApprovalPoint, RolloutPolicy, Stage, Strategy, TrafficShift};
use crate::model::test_probe::TestProbe;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRollout {
    #[serde(default = "rolling")]
    strategy: String,
    canary: Option<RawCanary>,
    linear: Option<RawLinear>,
    bake_minutes: Option<u32>,
    #[serde(default)]
    alarms: Vec<String>,
    approval_at: Option<String>,
    #[serde(default)]
    ask_each_step: bool,
    load_balancer: Option<RawLoadBalancer>,
    #[serde(default)]
    service_connect: bool,
    test_probe: Option<RawTestProbe>,
}

/// `rollout.test_probe`: what Slipway's Lambda hook GETs on the test listener, how long,
/// and (written by Terraform) the hook function and the role ECS invokes it with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestProbe {
    #[serde(default = "probe_path")]
    path: String,
    #[serde(default = "probe_status")]
    status: u16,
    #[serde(default = "probe_for")]
    for_seconds: u32,
    #[serde(default = "probe_every")]
    every_seconds: u32,
    function_arn: String,
    role_arn: String,
}

fn probe_path() -> String {
    "/".into()
}
fn probe_status() -> u16 {
    200
}
fn probe_for() -> u32 {
    60
}
fn probe_every() -> u32 {
    10
}

fn rolling() -> String {
    "rolling".into()
}

/// ECS's defaults when a canary or linear block is left out (API_CanaryConfiguration:
/// 5.0 % and 10 minutes; API_LinearConfiguration: 10.0 % and 6 minutes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanary {
    #[serde(default = "canary_percent")]
    percent: f64,
    #[serde(default = "canary_bake")]
    bake_minutes: u32,
}

fn canary_percent() -> f64 {
    5.0
}
fn canary_bake() -> u32 {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinear {
    #[serde(default = "step_percent")]
    step_percent: f64,
    #[serde(default = "step_bake")]
    step_bake_minutes: u32,
}

fn step_percent() -> f64 {
    10.0
}
fn step_bake() -> u32 {
    6
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoadBalancer {
    target_group_arn: String,
    container_name: String,
    container_port: u16,
    alternate_target_group_arn: String,
    production_listener_rule: String,
    test_listener_rule: Option<String>,
    role_arn: String,
    test_url: Option<String>,
}

/// Reads and checks one target's `rollout` block. `approval_minutes` is how long its
/// approval requests stay open (`None` for an `auto` target).
pub(super) fn validate_rollout(
    raw: Option<RawRollout>,
    approval_minutes: Option<i64>,
    field: &dyn Fn(&str) -> String,
) -> Result<RolloutPolicy, ConfigError> {
    let Some(raw) = raw else {
        return Ok(RolloutPolicy::default());
    };
    let strategy = strategy_of(&raw, field)?;
    let approval = match raw.approval_at.as_deref() {
        None | Some("before") => ApprovalPoint::Before,
        Some(name) => ApprovalPoint::During(Stage::from_config_name(name).ok_or_else(|| {
            ConfigError::invalid(
                field("rollout.approval_at"),
                format!("`{name}` is not a stage: use `before`, `post-test-traffic`, `pre-production-traffic`, `post-scale-up`, `pre-scale-up` or `post-production-traffic`"),
            )
        })?),
    };
    let load_balancer = raw.load_balancer.map(|lb| TrafficShift {
        target_group_arn: lb.target_group_arn,
        container_name: lb.container_name,
        container_port: lb.container_port,
        alternate_target_group_arn: lb.alternate_target_group_arn,
        production_listener_rule: lb.production_listener_rule,
        test_listener_rule: lb.test_listener_rule.filter(|r| !r.trim().is_empty()),
        role_arn: lb.role_arn,
        test_url: lb.test_url.filter(|u| !u.trim().is_empty()),
    });
    if let Some(lb) = &load_balancer {
        for (name, value) in [
            ("target_group_arn", &lb.target_group_arn),
            ("alternate_target_group_arn", &lb.alternate_target_group_arn),
            ("production_listener_rule", &lb.production_listener_rule),
            ("role_arn", &lb.role_arn),
        ] {
            if !value.starts_with("arn:") {
                return Err(ConfigError::invalid(
                    field(&format!("rollout.load_balancer.{name}")),
                    format!("`{value}` is not an ARN"),
                ));
            }
        }
    }
    let policy = RolloutPolicy {
        strategy,
        bake_minutes: raw.bake_minutes,
        alarms: raw.alarms,
        approval,
        ask_each_step: raw.ask_each_step,
        load_balancer,
        service_connect: raw.service_connect,
        test_probe: raw.test_probe.map(|p| TestProbe {
            path: p.path,
            status: p.status,
            for_seconds: p.for_seconds,
            every_seconds: p.every_seconds,
            function_arn: p.function_arn,
            role_arn: p.role_arn,
        }),
    };
    policy.check(approval_minutes).map_err(|broken| {
        ConfigError::invalid(field(&format!("rollout.{}", broken.field)), broken.problem)
    })?;
    Ok(policy)
}

fn strategy_of(raw: &RawRollout, field: &dyn Fn(&str) -> String) -> Result<Strategy, ConfigError> {
    let strategy = match raw.strategy.as_str() {
        "rolling" => Strategy::Rolling,
        "blue-green" => Strategy::BlueGreen,
        "canary" => {
            let canary = raw.canary.as_ref();
            Strategy::Canary {
                percent: canary.map_or(canary_percent(), |c| c.percent),
                bake_minutes: canary.map_or(canary_bake(), |c| c.bake_minutes),
            }
        }
        "linear" => {
            let linear = raw.linear.as_ref();
            Strategy::Linear {
                step_percent: linear.map_or(step_percent(), |l| l.step_percent),
                step_bake_minutes: linear.map_or(step_bake(), |l| l.step_bake_minutes),
            }
        }
        other => {
            return Err(ConfigError::invalid(
                field("rollout.strategy"),
                format!("`{other}` is not a strategy: use rolling, blue-green, canary or linear"),
            ))
        }
    };
    let stray = match (&strategy, &raw.canary, &raw.linear) {
        (Strategy::Canary { .. }, _, Some(_)) | (Strategy::Linear { .. }, Some(_), _) => true,
        (Strategy::Rolling | Strategy::BlueGreen, c, l) => c.is_some() || l.is_some(),
        _ => false,
    };
    if stray {
        return Err(ConfigError::invalid(
            field("rollout"),
            format!(
                "a `canary` or `linear` block goes only with its own strategy (this target's is {})",
                raw.strategy
            ),
        ));
    }
    Ok(strategy)
}
