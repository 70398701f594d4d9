//! The targets config: which pushes deploy where, and how.
//!
//! One JSON document, rendered by Terraform with `jsonencode` in production and written by
//! hand locally. It is loaded and validated once, at cold start, so that a typo fails the
//! deployment of Slipway itself instead of silently matching nothing at 3 a.m.

pub use crate::model::freeze::FreezeRule;
pub use crate::model::image_ref::RepositoryRef;
pub use crate::model::progressive::RolloutPolicy;
use std::collections::BTreeSet;
use tags::{validate_tags, RawTagRule};
pub use tags::{version_of_tag, TagRule};
pub use upstreams::RemoteUpstream;

use serde::Deserialize;

/// A config that cannot be used. The message names the field and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the targets config from {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("no targets config: set SLIPWAY_CONFIG (the JSON itself) or SLIPWAY_CONFIG_FILE (a path to it)")]
    Missing,
    #[error("targets config, field `{field}`: {problem}")]
    Invalid { field: String, problem: String },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    pub targets: Vec<Target>,
    /// Releases that are more than one service (`groups`): ordered tasks and services.
    pub groups: Vec<crate::model::group::Group>,
    /// Targets of other Slipways (other accounts) that stages here promote from.
    pub upstreams: Vec<RemoteUpstream>,
    /// Targets whose successes other Slipways promote from: hinted even when no stage of
    /// this config waits for them.
    pub promoted_elsewhere: Vec<String>,
    /// The function's own account and region.
    pub home: Home,
}

/// One service Slipway may deploy to.
#[derive(Debug, Clone)]
pub struct Target {
    /// Unique, DNS-label-like (`[a-z0-9-]`): it names ledger keys and appears in links.
    pub name: String,
    pub cluster: String,
    pub service: String,
    /// The containers whose image a push replaces; every other container is left alone.
    pub containers: Vec<String>,
    pub repository: RepositoryRef,
    pub tags: TagRule,
    pub policy: Policy,
    /// How approval requests for this target work (used when `policy` is `approval`).
    pub approval: ApprovalSettings,
    /// Where rollout outcomes are posted in Slack (defaults to the approval channel).
    pub outcome_slack_channel: Option<String>,
    /// What a failed or rolled-back deployment does to later automatic deploys.
    pub freeze: FreezeRule,
    /// The task-definition family Slipway may register revisions in (its grants name
    /// only this family); `None`: whatever family the service runs.
    pub task_family: Option<String>,
    /// How ECS rolls the service out (strategy, bake, alarms) and, for an approval
    /// target, whether the approval pauses the rollout inside ECS.
    pub rollout: RolloutPolicy,
    /// When it may roll (`None`: at any time). Operators' rollbacks are never held.
    pub windows: Option<crate::model::window::Windows>,
    /// The upstream targets a digest must have succeeded on first (`None`: any digest
    /// the tag rule accepts).
    pub promotion: Option<crate::model::promotion::Promotion>,
}

impl Target {
    /// The Slack channel outcomes go to: the target's own, else its approval channel.
    pub fn outcome_channel(&self) -> Option<&str> {
        self.outcome_slack_channel
            .as_deref()
            .or(self.approval.slack_channel.as_deref())
    }

    /// The freeze rule in force: a target whose policy is `approval` never freezes, since
    /// a person decides each of its deployments.
    pub fn freeze_rule(&self) -> FreezeRule {
        match self.policy {
            Policy::Approval => FreezeRule::Never,
            Policy::Auto => self.freeze,
        }
    }

    /// Whether an ECS service (by cluster name and service name) is this target's. The
    /// config may name the cluster by ARN; ECS events name it by its name.
    pub fn runs_on(&self, cluster: &str, service: &str) -> bool {
        let name_of = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
        name_of(&self.cluster) == cluster && name_of(&self.service) == service
    }
}

/// Per-target approval settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSettings {
    /// How long a request stays open before its link and buttons stop working.
    pub expires_after: chrono::Duration,
    /// The Slack channel the request is posted to (none: email only).
    pub slack_channel: Option<String>,
    /// The Slack user ids (`U…`) whose button clicks count. Slack vouches for the user id
    /// through its request signature, so this is the authenticated approver list.
    pub slack_approvers: Vec<String>,
    /// The IAM principals (ARNs, `*` and `?` as wildcards) who may decide through the
    /// operator endpoint (`slipway approve`): API Gateway vouches for the caller's ARN.
    pub iam_approvers: Vec<String>,
}

impl ApprovalSettings {
    /// Whether the verified IAM caller `arn` may decide this target's requests. An assumed
    /// role's session (`arn:aws:sts::…:assumed-role/<role>/<session>`) matches by the
    /// pattern as written: name the role's sessions with `…/assumed-role/<role>/*`.
    pub fn may_decide_as(&self, arn: &str) -> bool {
        self.iam_approvers.iter().any(|pattern| {
            globset::Glob::new(pattern).is_ok_and(|glob| glob.compile_matcher().is_match(arn))
        })
    }
}

/// CodePipeline's manual approval allows 7 days; a day keeps stale requests from piling up.
pub const DEFAULT_APPROVAL_HOURS: u32 = 24;
pub const MAX_APPROVAL_HOURS: u32 = 7 * 24;

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            expires_after: chrono::Duration::hours(DEFAULT_APPROVAL_HOURS.into()),
            slack_channel: None,
            slack_approvers: vec![],
            iam_approvers: vec![],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Deploy as soon as a matching image is pushed.
    Auto,
    /// Plan, record as awaiting approval, and wait for a person.
    Approval,
}

/// Target names: 1-64 of a-z, 0-9 and '-' (they name ledger keys, links and source keys).
pub fn is_target_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Defaults for repository account/region: the function's own.
#[derive(Debug, Clone)]
pub struct Home {
    pub account: String,
    pub region: String,
}

// The document as written. Unknown fields are refused: in our own config a misspelt
// field is a mistake, unlike in AWS events.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    targets: Vec<RawTarget>,
    #[serde(default)]
    groups: Vec<groups::RawGroup>,
    #[serde(default)]
    upstreams: Vec<upstreams::RawUpstream>,
    #[serde(default)]
    promoted_elsewhere: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    cluster: String,
    service: String,
    containers: Vec<String>,
    repository: RawRepository,
    tags: RawTagRule,
    policy: Policy,
    approval: Option<RawApproval>,
    notifications: Option<RawNotifications>,
    #[serde(default)]
    freeze_after_failure: FreezeRule,
    task_family: Option<String>,
    rollout: Option<rollout::RawRollout>,
    windows: Option<windows::RawWindows>,
    promotion: Option<promotion::RawPromotion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifications {
    slack_channel: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    expires_after_hours: Option<u32>,
    slack_channel: Option<String>,
    #[serde(default)]
    slack_approvers: Vec<String>,
    #[serde(default)]
    iam_approvers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, untagged)]
enum RawRepository {
    Name(String),
    Full {
        name: String,
        account: Option<String>,
        region: Option<String>,
    },
}

impl Config {
    /// Parses and validates the config document.
    pub fn from_json(text: &str, home: &Home) -> Result<Config, ConfigError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let raw: RawConfig =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
                let path = err.path().to_string();
                let field = if path == "." {
                    "(document)".to_string()
                } else {
                    path
                };
                ConfigError::invalid(field, err.into_inner().to_string())
            })?;
        if raw.targets.is_empty() {
            return Err(ConfigError::invalid(
                "targets",
                "is empty: add at least one target",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut targets = Vec::with_capacity(raw.targets.len());
        for (index, raw_target) in raw.targets.into_iter().enumerate() {
            let target = validate_target(index, raw_target, home)?;
            if !seen.insert(target.name.clone()) {
                return Err(ConfigError::invalid(
                    format!("targets[{index}].name"),
                    format!(
                        "`{}` is used by an earlier target: names must be unique",
                        target.name
                    ),
                ));
            }
            targets.push(target);
        }
        let upstreams = upstreams::validate_upstreams(raw.upstreams, &targets, home)?;
        promotion::check_upstreams(&targets, &upstreams)?;
        let promoted_elsewhere =
            upstreams::validate_promoted_elsewhere(raw.promoted_elsewhere, &targets)?;
        let groups = groups::validate_groups(raw.groups, &targets)?;
        Ok(Config {
            targets,
            groups,
            upstreams,
            promoted_elsewhere,
            home: home.clone(),
        })
    }

    /// Reads `SLIPWAY_CONFIG` (inline JSON) or else `SLIPWAY_CONFIG_FILE` (a path).
    pub fn from_env(home: &Home) -> Result<Config, ConfigError> {
        if let Ok(text) = std::env::var("SLIPWAY_CONFIG") {
            return Config::from_json(&text, home);
        }
        let path = std::env::var("SLIPWAY_CONFIG_FILE").map_err(|_| ConfigError::Missing)?;
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::from_json(&text, home)
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The release group whose service step rolls `target`, if one does: such a target
    /// moves only with its group's releases (after the migration), never by a push or an
    /// upload of its own.
    pub fn rolled_by_group(&self, target: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|group| {
                group.steps.iter().any(|step| {
                    matches!(step, crate::model::group::Step::Service { target: t } if t == target)
                })
            })
            .map(|group| group.name.as_str())
    }
}

fn validate_target(index: usize, raw: RawTarget, home: &Home) -> Result<Target, ConfigError> {
    let field = |name: &str| format!("targets[{index}].{name}");
    validate_place(&raw, &field)?;
    let repository = validate_repository(raw.repository, home, &field)?;
    let tags = validate_tags(raw.tags, &field)?;
    let approval = validate_approval(raw.policy, raw.approval, &field)?;
    let approval_minutes =
        (raw.policy == Policy::Approval).then(|| approval.expires_after.num_minutes());
    let rollout = rollout::validate_rollout(raw.rollout, approval_minutes, &field)?;
    let windows = windows::validate_windows(raw.windows, &field)?;
    let promotion = promotion::validate_promotion(raw.promotion, &field)?;
    Ok(Target {
        name: raw.name,
        cluster: raw.cluster,
        service: raw.service,
        containers: raw.containers,
        repository,
        tags,
        policy: raw.policy,
        approval,
        outcome_slack_channel: raw
            .notifications
            .and_then(|n| n.slack_channel)
            .filter(|c| !c.trim().is_empty()),
        freeze: raw.freeze_after_failure,
        task_family: raw.task_family.filter(|f| !f.trim().is_empty()),
        rollout,
        windows,
        promotion,
    })
}

/// The target's name, and the service and containers it deploys to.
fn validate_place(raw: &RawTarget, field: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    if !is_target_name(&raw.name) {
        return Err(ConfigError::invalid(
            field("name"),
            format!(
                "`{}` must be 1-64 characters of a-z, 0-9 and '-' (it names ledger keys and links)",
                raw.name
            ),
        ));
    }
    for (key, value) in [("cluster", &raw.cluster), ("service", &raw.service)] {
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(field(key), "must not be empty"));
        }
    }
    if raw.containers.is_empty() {
        return Err(ConfigError::invalid(
            field("containers"),
            "is empty: name the container(s) whose image a push replaces",
        ));
    }
    if let Some(blank) = raw.containers.iter().position(|c| c.trim().is_empty()) {
        return Err(ConfigError::invalid(
            field(&format!("containers[{blank}]")),
            "must not be empty",
        ));
    }
    Ok(())
}

/// The repository pushes come from: a name in Slipway's own account and region, or
/// another account's or region's.
fn validate_repository(
    raw: RawRepository,
    home: &Home,
    field: &dyn Fn(&str) -> String,
) -> Result<RepositoryRef, ConfigError> {
    let repository = match raw {
        RawRepository::Name(name) => RepositoryRef {
            account: home.account.clone(),
            region: home.region.clone(),
            name,
        },
        RawRepository::Full {
            name,
            account,
            region,
        } => RepositoryRef {
            account: account.unwrap_or_else(|| home.account.clone()),
            region: region.unwrap_or_else(|| home.region.clone()),
            name,
        },
    };
    let repo_name_ok = !repository.name.is_empty()
        && repository.name.len() <= 256
        && repository
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c));
    if !repo_name_ok {
        return Err(ConfigError::invalid(
            field("repository.name"),
            format!(
                "`{}` is not an ECR repository name (lowercase letters, digits, . _ - /)",
                repository.name
            ),
        ));
    }
    if repository.account.len() != 12 || !repository.account.chars().all(|c| c.is_ascii_digit()) {
        return Err(ConfigError::invalid(
            field("repository.account"),
            format!("`{}` is not a 12-digit AWS account id", repository.account),
        ));
    }
    if repository.region.is_empty() {
        return Err(ConfigError::invalid(
            field("repository.region"),
            "must not be empty",
        ));
    }
    Ok(repository)
}

fn validate_approval(
    policy: Policy,
    raw: Option<RawApproval>,
    field: &dyn Fn(&str) -> String,
) -> Result<ApprovalSettings, ConfigError> {
    let Some(raw) = raw else {
        return Ok(ApprovalSettings::default());
    };
    if policy != Policy::Approval {
        return Err(ConfigError::invalid(
            field("approval"),
            "is set but `policy` is not `approval`: remove it, or set the policy to `approval`",
        ));
    }
    let hours = raw.expires_after_hours.unwrap_or(DEFAULT_APPROVAL_HOURS);
    if !(1..=MAX_APPROVAL_HOURS).contains(&hours) {
        return Err(ConfigError::invalid(
            field("approval.expires_after_hours"),
            format!("{hours} is out of range: use 1 to {MAX_APPROVAL_HOURS} (7 days)"),
        ));
    }
    let channel = raw.slack_channel.filter(|c| !c.trim().is_empty());
    if channel.is_some() && raw.slack_approvers.is_empty() {
        return Err(ConfigError::invalid(
            field("approval.slack_approvers"),
            "is empty, so nobody could decide from Slack: list the Slack user ids (U…) allowed to approve",
        ));
    }
    if let Some(bad) = raw.slack_approvers.iter().position(|id| {
        id.len() < 2
            || !id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }) {
        return Err(ConfigError::invalid(
            field(&format!("approval.slack_approvers[{bad}]")),
            format!(
                "`{}` is not a Slack user id: use the id (like U024BE7LH), not the display name, which anyone can change",
                raw.slack_approvers[bad]
            ),
        ));
    }
    if let Some(bad) = raw
        .iam_approvers
        .iter()
        .position(|arn| !arn.starts_with("arn:") || globset::Glob::new(arn).is_err())
    {
        return Err(ConfigError::invalid(
            field(&format!("approval.iam_approvers[{bad}]")),
            format!(
                "`{}` is not an IAM caller's ARN: use arn:aws:sts::<account>:assumed-role/<role>/* for a role's sessions, or arn:aws:iam::<account>:user/<name>",
                raw.iam_approvers[bad]
            ),
        ));
    }
    // API Gateway names a role's caller by its session (`userArn`), never by the role.
    if let Some(bad) = raw
        .iam_approvers
        .iter()
        .position(|arn| arn.contains(":role/"))
    {
        let role = raw.iam_approvers[bad]
            .rsplit(":role/")
            .next()
            .unwrap_or_default();
        return Err(ConfigError::invalid(
            field(&format!("approval.iam_approvers[{bad}]")),
            format!(
                "`{}` names a role, which never matches: a role's caller arrives as its session, arn:aws:sts::<account>:assumed-role/{role}/<session>; write arn:aws:sts::<account>:assumed-role/{role}/*",
                raw.iam_approvers[bad]
            ),
        ));
    }
    Ok(ApprovalSettings {
        expires_after: chrono::Duration::hours(hours.into()),
        slack_channel: channel,
        slack_approvers: raw.slack_approvers,
        iam_approvers: raw.iam_approvers,
    })
}

mod groups;
mod promotion;
mod rollout;
mod tags;
#[cfg(test)]
mod tests;
mod upstreams;
mod windows;
