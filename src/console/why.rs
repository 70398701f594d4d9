//! `slipway why IMAGE`: walks the chain from a push to a running service and names, per
//! target, the first link that broke — the questions README's "Why did push X not deploy
//! to service Y?" answers file by file, answered from what AWS and the ledger hold.
//!
//! The chain, in the order the pipeline decides (src/deployer/push.rs): ECR has the image;
//! the target deploys that repository (account, region, name); its tag rule accepts one of
//! the image's tags; a delivery of the push reached Slipway (a ledger record, or a
//! dead-lettered event with its error); the target was not frozen; the image was not older
//! than what Slipway last accepted; and then the deployment's own state (awaiting
//! approval, rolling, ECS's outcome).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::dead_letters::DeadLetter;
use super::release;
use crate::input::config::Target;
use crate::ledger::TargetRecord;
use crate::model::deployment::{Deployment, State};
use crate::model::ordering::older_than_running;
use crate::model::rollout::FreezeCheck;

/// The image asked about, as ECR knows it (`None` from ECR: not there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    pub account: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: Option<DateTime<Utc>>,
}

/// One target's answer: the first broken link, or how far the push got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Why {
    pub target: String,
    /// `other-repository`, `tag-rule`, `no-rule-matches`, `dead-lettered`, `frozen`, `older`, `not-delivered`,
    /// `awaiting-approval`, `rejected`, `expired`, `superseded`, `in-progress`, `rolling`,
    /// `failed`, `rolled-back`, or `deployed` (nothing broke).
    pub link: &'static str,
    pub deployed: bool,
    pub explanation: String,
    pub deployment_id: Option<String>,
}

/// What `why` knows about one target.
pub struct Facts<'a> {
    pub target: &'a Target,
    pub record: &'a TargetRecord,
    /// The target's deployment of this image (`img-<digest>`), if the ledger has one.
    pub deployment: Option<&'a Deployment>,
    /// Dead-lettered events about this image.
    pub dead_letters: &'a [DeadLetter],
    /// Whether the image-push rule's pattern matches the push's event (`None`: unknown).
    pub rule_matches: Option<bool>,
    pub now: DateTime<Utc>,
}

fn why(target: &Target, link: &'static str, explanation: String) -> Why {
    Why {
        target: target.name.clone(),
        link,
        deployed: link == "deployed",
        explanation,
        deployment_id: None,
    }
}

pub fn explain(image: &Image, facts: &Facts) -> Why {
    let target = facts.target;
    let wanted = &target.repository;
    if (
        wanted.account.as_str(),
        wanted.region.as_str(),
        wanted.name.as_str(),
    ) != (
        image.account.as_str(),
        image.region.as_str(),
        image.repository.as_str(),
    ) {
        return why(
            target,
            "other-repository",
            format!(
                "{} deploys repository {} of account {} in {}, not {} of {} in {}",
                target.name,
                wanted.name,
                wanted.account,
                wanted.region,
                image.repository,
                image.account,
                image.region
            ),
        );
    }
    let Some(tag) = image.tags.iter().find(|tag| target.tags.matches(tag)) else {
        let tags = match image.tags.as_slice() {
            [] => "it has no tag (pushed by digest)".to_string(),
            tags => format!("none of its tags ({}) matches", tags.join(", ")),
        };
        return why(
            target,
            "tag-rule",
            format!(
                "the tag rule `{}` accepts no tag of this image: {tags}",
                target.tags
            ),
        );
    };
    if let Some(deployment) = facts.deployment {
        return from_record(target, deployment, facts.now);
    }
    if facts.rule_matches == Some(false) {
        return why(
            target,
            "no-rule-matches",
            format!(
                "the image-push rule's event pattern does not match the push of {}:{tag}, so EventBridge never invoked Slipway: re-apply Slipway's Terraform (the rule lists the targets' repositories)",
                image.repository
            ),
        );
    }
    if let Some(letter) = facts.dead_letters.first() {
        return why(
            target,
            "dead-lettered",
            format!(
                "the push's event is in {}'s dead-letter queue ({} shape, message {}): {}; `slipway dlq list` shows it",
                letter.function,
                letter.shape,
                letter.message_id,
                letter.error.as_deref().unwrap_or("no error recorded")
            ),
        );
    }
    let rollouts = facts.record.rollouts.clone().unwrap_or_default();
    let version = target.tags.version(tag);
    if let FreezeCheck::Frozen(reason) = rollouts.check_push(
        target.freeze_rule(),
        &image.digest,
        version.as_ref(),
        image.pushed_at,
    ) {
        return why(target, "frozen", reason);
    }
    if let Some(reason) = older_than_running(
        image.pushed_at,
        version.as_ref(),
        None,
        facts.record.head.as_ref(),
    ) {
        return why(
            target,
            "older",
            format!("older than what Slipway last accepted for {}: {reason}; it never rolls a service back", target.name),
        );
    }
    why(
        target,
        "not-delivered",
        format!(
            "no delivery of the push of {}:{tag} reached Slipway: ECR's events are best effort, and the reconciler deploys the newest image the tag rule accepts on its next run (every 5 minutes); if it never does, check the image-push rule's event pattern",
            image.repository
        ),
    )
}

fn from_record(target: &Target, deployment: &Deployment, now: DateTime<Utc>) -> Why {
    let release = release::of_deployment(deployment);
    let at = |state: State| {
        deployment
            .history
            .iter()
            .rev()
            .find(|entry| entry.state == state)
            .map(|entry| entry.at.format("%Y-%m-%d %H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    let (link, explanation) = match deployment.state {
        State::AwaitingApproval => {
            let expires = deployment.approval.as_ref().map(|a| a.expires_at);
            let left = expires.map(|e| crate::model::rollout::human_duration(e - now)).unwrap_or_default();
            ("awaiting-approval", format!("{release} waits for approval since {} (expires in {left}): `slipway approve {}`", at(State::AwaitingApproval), deployment.id))
        }
        State::WaitingForWindow => {
            let hold = deployment.window.as_ref();
            ("waiting-for-window", format!(
                "{release} waits for the target's deployment window since {}: {}; it rolls when the window opens at {} (the newest waiting release only)",
                at(State::WaitingForWindow),
                hold.map_or("closed", |h| h.because.as_str()),
                hold.map(|h| h.opens_at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
            ))
        }
        State::WaitingForUpstream => {
            let check = deployment.promotion.as_ref();
            ("waiting-for-upstream", format!(
                "{release} waits since {} for its digest to be available upstream: {}; {}",
                at(State::WaitingForUpstream),
                check.and_then(|c| c.waiting.as_deref()).unwrap_or("not yet"),
                check.and_then(|c| c.look_again_at).map_or_else(
                    || "the reconciler looks again every run (every 5 minutes)".to_string(),
                    |at| format!("it is looked at again at {}", at.format("%Y-%m-%d %H:%M UTC")),
                ),
            ))
        }
        State::Planned | State::Approved => ("in-progress", format!("{release} is {} since {}", deployment.state, at(deployment.state))),
        State::Rolling => ("rolling", format!("{release} is rolling since {}: ECS has not said how it ended yet (`slipway wait {}`)", at(State::Rolling), deployment.id)),
        State::Succeeded => ("deployed", format!("{release} is deployed: ECS completed it at {}", at(State::Succeeded))),
        State::Failed => ("failed", format!("{release} failed: {}", deployment.error.as_deref().unwrap_or("see `slipway show`"))),
        State::RolledBack => ("rolled-back", format!(
            "{release} was rolled back{}: {}",
            deployment.rolled_back_to.as_ref().map(|to| format!(" to {to}")).unwrap_or_default(),
            deployment.error.as_deref().unwrap_or("see `slipway show`")
        )),
        State::Rejected => ("rejected", decided(&release, deployment, "rejected")),
        State::Expired => ("expired", format!("{release}'s approval request expired unanswered at {}", at(State::Expired))),
        State::Superseded => ("superseded", format!("{release} was superseded by a newer push before it rolled ({})", last_note(deployment))),
    };
    Why {
        target: target.name.clone(),
        link,
        deployed: link == "deployed",
        explanation,
        deployment_id: Some(deployment.id.clone()),
    }
}

fn decided(release: &str, deployment: &Deployment, verb: &str) -> String {
    match deployment
        .approval
        .as_ref()
        .and_then(|a| a.decision.as_ref())
    {
        Some(d) => format!(
            "{release} was {verb} by {}{}",
            d.actor,
            d.reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        None => format!("{release} was {verb}"),
    }
}

fn last_note(deployment: &Deployment) -> String {
    deployment
        .history
        .last()
        .map(|e| e.note.clone())
        .unwrap_or_default()
}
