//! What Slipway tells people, composed here and sent by a [`Notifier`]: the approval
//! request by SNS (plain text, for email) and by Slack (Block Kit with buttons), and the
//! edits that close a Slack request once it is decided, superseded or expired.
//!
//! Slack messages are posted with `chat.postMessage` and a bot token rather than an
//! incoming webhook, because only a posted message can be edited later (`chat.update`)
//! when a newer push supersedes the request or it is decided on the web page.
//!
//! A release group's one approval is told in `group`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::model::deployment::{Deployment, State, Trigger};

mod group;
pub use group::{
    group_approval_email, group_approval_slack, group_closed_slack, group_step_lines,
    on_failure_line, OPEN_GROUP_PAGE_ACTION,
};

/// A Slack message body: Block Kit blocks and the plain-text fallback for notifications.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackPayload {
    pub text: String,
    pub blocks: Value,
    /// For `response_url`: replace the message the button was on (else reply only to
    /// the clicking user, ephemerally).
    pub replace_original: bool,
}

/// The Slack `action_id`s of the two buttons; the button's `value` is the deployment id.
pub const APPROVE_ACTION: &str = "slipway_approve";
pub const REJECT_ACTION: &str = "slipway_reject";

/// One line: what is asked, e.g. "web (prod/web): app v1.4.2 → …@sha256:ab12…".
pub fn summary(deployment: &Deployment) -> String {
    format!(
        "{} ({}/{}): {}",
        deployment.target,
        deployment.cluster,
        deployment.service,
        what(deployment)
    )
}

/// The release in words: the tag or manifest that triggered it, and the pinned image.
pub fn what(deployment: &Deployment) -> String {
    let release = match &deployment.trigger {
        Trigger::EcrPush {
            repository, tag, ..
        } => format!("{repository}:{tag}"),
        _ => crate::model::rollout::release_name(deployment),
    };
    format!("{release} → {}", short_image(&deployment.image))
}

/// `…/app@sha256:0123456789ab`: enough of the digest to recognise it.
pub fn short_image(image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.split_once("@sha256:") {
        Some((repo, hex)) => format!("{repo}@sha256:{}", &hex[..hex.len().min(12)]),
        None => name.to_string(),
    }
}

/// What started the deployment, e.g. "ECR push of app:v1.4.2 at 2026-11-23 10:04:00 UTC".
pub fn trigger_line(deployment: &Deployment) -> String {
    match &deployment.trigger {
        Trigger::EcrPush {
            repository,
            tag,
            pushed_at,
            ..
        } => format!(
            "ECR push of {repository}:{tag}{}",
            pushed_at
                .map(|at| format!(" at {}", at.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default()
        ),
        Trigger::SourceUpload { key, requester, .. } => format!(
            "upload of {key}{}",
            requester
                .as_ref()
                .map(|r| format!(" by {r}"))
                .unwrap_or_default()
        ),
        Trigger::Rollback {
            requested_by,
            reason,
            ..
        } => format!(
            "rollback requested by {requested_by}{}",
            reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Trigger::GroupStep {
            group,
            run_id,
            step,
            rollback,
        } => format!(
            "{} of release group {group} (run {run_id})",
            if *rollback {
                format!("rolling {step} back, a step having failed,")
            } else {
                format!("step {step}")
            }
        ),
        Trigger::External {
            ecs_deployment_id, ..
        } => format!("ECS deployment {ecs_deployment_id}, started outside Slipway"),
    }
}

/// The one line that says how a rollout ended, e.g. "app:v1.4.2 live on prod/web in
/// 3m12s" or "app:v1.4.2 FAILED on prod/web: circuit breaker rolled back to app:v1.4.1".
pub fn outcome_line(deployment: &Deployment) -> String {
    let release = crate::model::rollout::release_name(deployment);
    let place = format!("{}/{}", deployment.cluster, deployment.service);
    // Slipway knows when an external deployment started only if ECS said IN_PROGRESS.
    let external_from_its_end = matches!(deployment.trigger, Trigger::External { .. })
        && deployment.rolling_since() == deployment.ended_at;
    let took = deployment
        .rollout_duration()
        .filter(|_| !external_from_its_end)
        .map(|d| format!(" in {}", crate::model::rollout::human_duration(d)))
        .unwrap_or_default();
    // A progressive rollout's rollback is a person's rejection or ECS's own (an alarm, a
    // pause that ran out): the move's own note says which, never "circuit breaker".
    let moved = || {
        deployment
            .history
            .iter()
            .rev()
            .find(|h| h.state == deployment.state)
            .map_or_else(String::new, |h| h.note.clone())
    };
    match deployment.state {
        State::Succeeded => format!("{release} live on {place}{took}"),
        State::RolledBack if deployment.progress.is_some() => {
            format!("{release} FAILED on {place}: {}", moved())
        }
        State::Expired if deployment.progress.is_some() => {
            format!("{release} NOT DEPLOYED on {place}: {}", moved())
        }
        State::RolledBack => format!(
            "{release} FAILED on {place}: circuit breaker rolled back to {}",
            deployment
                .rolled_back_to
                .as_deref()
                .unwrap_or("the last completed deployment")
        ),
        State::Failed => format!(
            "{release} FAILED on {place}: {}",
            deployment
                .error
                .as_deref()
                .unwrap_or("ECS reported the deployment failed")
        ),
        state => format!("{release} on {place}: {state}"),
    }
}

/// What the target's state means for what happens next, for the outcome message.
#[derive(Debug, Clone, Default)]
pub struct OutcomeContext {
    /// Why automatic deploys to the target are paused, if they are.
    pub frozen: Option<String>,
    /// The last known good release, if any, in words.
    pub last_good: Option<String>,
}

/// SNS `Subject`: "no line breaks or control characters, and less than 100 characters
/// long" (SNS API Reference, Publish). ASCII only, which older SNS documentation required.
pub const SNS_SUBJECT_MAX: usize = 99;

/// Subject and body of the SNS message that tells how a rollout ended.
pub fn outcome_email(deployment: &Deployment, context: &OutcomeContext) -> (String, String) {
    let verdict = match deployment.state {
        State::Succeeded => "Deployed",
        State::RolledBack => "ROLLED BACK",
        State::Failed => "FAILED",
        State::Expired => "EXPIRED",
        _ => "Deployment update",
    };
    let subject: String = format!(
        "{verdict}: {} to {}",
        crate::model::rollout::release_name(deployment),
        deployment.target
    )
    .chars()
    .filter(|c| c.is_ascii() && !c.is_ascii_control())
    .take(SNS_SUBJECT_MAX)
    .collect();
    let mut body = format!(
        "{line}\n\n\
         Target:      {target} ({cluster}/{service})\n\
         Image:       {image}\n\
         Revision:    {to}\n\
         Replaced:    {from}\n\
         ECS:         {ecs}\n\
         Trigger:     {trigger}\n",
        line = outcome_line(deployment),
        target = deployment.target,
        cluster = deployment.cluster,
        service = deployment.service,
        image = deployment.image,
        to = deployment.to_task_definition.as_deref().unwrap_or("-"),
        from = deployment.from_task_definition,
        ecs = deployment.ecs_deployment_id.as_deref().unwrap_or("-"),
        trigger = trigger_line(deployment),
    );
    if let Some(took) = deployment.rollout_duration() {
        body.push_str(&format!(
            "Took:        {}\n",
            crate::model::rollout::human_duration(took)
        ));
    }
    if let Some(progress) = &deployment.progress {
        body.push_str(&format!("Strategy:    {}\n", progress.strategy));
        let end = deployment.ended_at.unwrap_or_else(chrono::Utc::now);
        let phases = progress.phases(end);
        if !phases.is_empty() {
            body.push_str(&format!("Phases:      {phases}\n"));
        }
        for answered in &progress.answered {
            body.push_str(&format!(
                "Pause:       {} answered {:?} by {}\n",
                answered.hook_id, answered.action, answered.by
            ));
        }
    }
    if let Some(frozen) = &context.frozen {
        body.push_str(&format!(
            "\nAutomatic deploys to {} are paused: {frozen}\n",
            deployment.target
        ));
    }
    if matches!(deployment.state, State::Failed | State::RolledBack) {
        match &context.last_good {
            Some(good) => body.push_str(&format!(
                "\nLast known good: {good}. To roll back to it, send the operator request \
                 (README, \"Rolling back\"): {{\"action\": \"rollback\", \"target\": \"{}\", \"requested_by\": \"<you>\"}}\n",
                deployment.target
            )),
            None => body.push_str("\nNo earlier release of this target has completed under Slipway, so there is no known good release to roll back to.\n"),
        }
    }
    body.push_str(&format!("\nDeployment {}\n", deployment.id));
    (subject, body)
}

/// The Slack message that tells how a rollout ended.
pub fn outcome_slack(deployment: &Deployment, context: &OutcomeContext) -> SlackPayload {
    let line = outcome_line(deployment);
    let icon = match deployment.state {
        State::Succeeded => ":white_check_mark:",
        State::Failed | State::RolledBack => ":x:",
        _ => ":information_source:",
    };
    let mut details = format!("{icon} *{}*\n{}", escape(&line), escape(&what(deployment)));
    if let Some(frozen) = &context.frozen {
        details.push_str(&format!("\nAutomatic deploys paused: {}", escape(frozen)));
    }
    if matches!(deployment.state, State::Failed | State::RolledBack) {
        if let Some(good) = &context.last_good {
            details.push_str(&format!("\nLast known good: {}", escape(good)));
        }
    }
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&details, 3000)}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("deployment `{}` · {}", deployment.id, escape(&trigger_line(deployment)))}
        ]}
    ]);
    SlackPayload {
        text: line,
        blocks,
        replace_original: false,
    }
}

/// Subject and body of the SNS message (email subscribers read it as plain text).
/// For a rollout ECS holds at a pause: what is live where, and what each answer does.
pub fn paused_line(deployment: &Deployment) -> Option<String> {
    let progress = deployment.progress.as_ref()?;
    let pause = progress.pause.as_ref()?;
    let expires = pause
        .expires_at
        .map(|at| {
            format!(
                " ECS rolls back by itself at {}.",
                at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_default();
    // With ask_each_step: which step this is, and who approved the ones before.
    let step = deployment.approval.as_ref().map_or(0, |a| a.step);
    let earlier = progress
        .earlier_approvals
        .iter()
        .filter_map(|a| a.decision.as_ref().map(|d| d.actor.as_str()))
        .collect::<Vec<_>>();
    let step = if step == 0 {
        String::new()
    } else {
        format!(
            " Step {} of this rollout (the steps before approved by {}).",
            step + 1,
            earlier.join(", ")
        )
    };
    Some(format!(
        "ECS holds this {} rollout at {}: {}. New: {}; current: {}. Approve to continue the rollout; reject and ECS rolls it back.{step}{expires}",
        progress.strategy,
        pause.stage.ecs_name(),
        pause.stage.situation(),
        deployment.image,
        deployment.from_task_definition,
    ))
}

/// The promotion evidence, one line per upstream target: "succeeded on staging-web at
/// …, soaked 2h01m, alarms …: no ALARM during the soak".
pub fn upstream_lines(deployment: &Deployment) -> Vec<String> {
    deployment
        .promotion
        .iter()
        .flat_map(|check| check.evidence.iter())
        .map(crate::model::promotion::Evidence::describe)
        .collect()
}

pub fn approval_email(
    deployment: &Deployment,
    link: &str,
    expires_at: DateTime<Utc>,
) -> (String, String) {
    let subject: String = format!("Approve deploy to {}?", deployment.target)
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(SNS_SUBJECT_MAX)
        .collect();
    let ask = match deployment.progress.as_ref().filter(|p| p.pause.is_some()) {
        Some(progress) => format!(
            "ECS holds a {} rollout of {}/{} for your approval.",
            progress.strategy, deployment.cluster, deployment.service
        ),
        None => format!(
            "Slipway asks for your approval before it rolls {}/{}.",
            deployment.cluster, deployment.service
        ),
    };
    let mut body = format!(
        "{ask}\n\n\
         Target:   {target}\n\
         Release:  {what}\n\
         Image:    {image}\n\
         From:     {from}\n\
         Trigger:  {trigger}\n\
         Expires:  {expires}\n\n\
         Review what changes, then approve or reject:\n{link}\n\n\
         Opening the link changes nothing; only the buttons on the page act.\n",
        target = deployment.target,
        what = what(deployment),
        image = deployment.image,
        from = deployment.from_task_definition,
        trigger = trigger_line(deployment),
        expires = expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    if let Some(paused) = paused_line(deployment) {
        body.push_str(&format!("\n{paused}\n"));
    }
    let upstream = upstream_lines(deployment);
    if !upstream.is_empty() {
        body.push_str("\nUpstream (why this digest may go here):\n");
        for line in &upstream {
            body.push_str(&format!("  - {line}\n"));
        }
    }
    if !deployment.diff.is_empty() {
        body.push_str("\nChanges (names only):\n");
        for line in &deployment.diff {
            body.push_str(&format!("  - {line}\n"));
        }
    }
    body.push_str(&format!("\nDeployment {}\n", deployment.id));
    (subject, body)
}

/// The Slack request: the summary, the diff, a link to the page, and the two buttons
/// (Approve behind a confirm dialog).
pub fn approval_slack(
    deployment: &Deployment,
    link: &str,
    expires_at: DateTime<Utc>,
) -> SlackPayload {
    let text = format!("Approval needed: {}", summary(deployment));
    // The buttons name the request they answer: a later step's carry `#step-<n>`, so a
    // button left on an earlier step's message never decides this one.
    let value = match deployment.approval.as_ref().map_or(0, |a| a.step) {
        0 => deployment.id.clone(),
        step => format!("{}#step-{step}", deployment.id),
    };
    let mut details = format!(
        "*Deploy to {}?*  `{}/{}`\n{}\nTriggered by {}.\nExpires {}.",
        escape(&deployment.target),
        escape(&deployment.cluster),
        escape(&deployment.service),
        escape(&what(deployment)),
        escape(&trigger_line(deployment)),
        expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    for line in upstream_lines(deployment) {
        details.push_str(&format!("\n*Upstream:* {}", escape(&line)));
    }
    if !deployment.diff.is_empty() {
        details.push_str("\n*Changes* (names only):");
        for line in deployment.diff.iter().take(20) {
            details.push_str(&format!("\n• {}", escape(line)));
        }
        if deployment.diff.len() > 20 {
            details.push_str(&format!("\n• … {} more", deployment.diff.len() - 20));
        }
    }
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&details, 3000)}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": truncate(&format!("<{link}|Review on the approval page> · deployment `{}`", deployment.id), 3000)}
        ]},
        {"type": "actions", "block_id": "slipway_decision", "elements": [
            {"type": "button", "action_id": APPROVE_ACTION, "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}, "value": value,
             "confirm": {
                "title": {"type": "plain_text", "text": "Roll it out?"},
                "text": {"type": "mrkdwn", "text": truncate(&format!("Roll {} onto `{}`?", escape(&deployment.target), escape(&short_image(&deployment.image))), 300)},
                "confirm": {"type": "plain_text", "text": "Approve"},
                "deny": {"type": "plain_text", "text": "Cancel"}
             }},
            {"type": "button", "action_id": REJECT_ACTION, "style": "danger",
             "text": {"type": "plain_text", "text": "Reject"}, "value": value}
        ]}
    ]);
    SlackPayload {
        text,
        blocks,
        replace_original: true,
    }
}

/// The request once it is over: the summary and how it ended, with no buttons left.
pub fn closed_slack(deployment: &Deployment, outcome: &str) -> SlackPayload {
    let text = format!("{} — {outcome}", summary(deployment));
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!(
            "*{}*  `{}/{}`\n{}\n{}",
            escape(&deployment.target),
            escape(&deployment.cluster),
            escape(&deployment.service),
            escape(&what(deployment)),
            escape(outcome)
        ), 3000)}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("deployment `{}`", deployment.id)}
        ]}
    ]);
    SlackPayload {
        text,
        blocks,
        replace_original: true,
    }
}

/// Slack's mrkdwn needs only `&`, `<` and `>` escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max_chars - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn deployment() -> Deployment {
        let trigger = Trigger::EcrPush {
            event_id: "e".into(),
            repository: "app".into(),
            tag: "v1.4.2".into(),
            digest: "sha256:ab12".into(),
            pushed_at: None,
        };
        Deployment {
            state: State::AwaitingApproval,
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:ab1200000000ffff"
                .into(),
            version: Some("1.4.2".into()),
            diff: vec!["container app: environment <NEW> added".into()],
            from_task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7".into(),
            ..Deployment::new("web", "prod", "web", "img-ab12", trigger)
        }
    }

    #[test]
    fn the_email_carries_the_summary_link_expiry_and_diff() {
        let expires = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (subject, body) = approval_email(&deployment(), "https://x/approvals/a?t=T", expires);
        assert_eq!(subject, "Approve deploy to web?");
        for expected in [
            "app:v1.4.2 → app@sha256:ab1200000000",
            "https://x/approvals/a?t=T",
            "2027-01-15 08:00 UTC",
            "environment <NEW> added",
            "task-definition/web:7",
            "Opening the link changes nothing",
        ] {
            assert!(body.contains(expected), "{expected} missing:\n{body}");
        }
    }

    #[test]
    fn a_promoted_release_shows_its_upstream_evidence_in_the_email_and_in_slack() {
        let expires = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut promoted = deployment();
        promoted.promotion = Some(crate::model::deployment::PromotionCheck {
            checked_at: expires,
            evidence: vec![crate::model::promotion::Evidence {
                upstream: "staging-web".into(),
                deployment_id: "staging-web.img-ab12".into(),
                succeeded_at: DateTime::from_timestamp(1_799_990_000, 0).unwrap(),
                ecs_deployment_id: Some("ecs-svc/42".into()),
                soaked_seconds: 7260,
                soak_seconds: 7200,
                alarms_ok: vec!["web-5xx".into()],
                soak_bypassed_by: None,
            }],
            waiting: None,
            look_again_at: None,
            soak_bypass: None,
        });
        let line = "succeeded on staging-web at 2027-01-15 05:13 UTC (ECS ecs-svc/42), soaked 2h01m, alarms web-5xx: no ALARM during the soak";
        let (_, body) = approval_email(&promoted, "https://x/a?t=T", expires);
        assert!(body.contains(line), "{body}");
        let slack = approval_slack(&promoted, "https://x/a?t=T", expires);
        let text = slack.blocks[0]["text"]["text"].as_str().unwrap();
        assert!(text.contains(&format!("*Upstream:* {line}")), "{text}");
        let (_, plain) = approval_email(&deployment(), "https://x/a?t=T", expires);
        assert!(!plain.contains("Upstream"), "{plain}");
    }

    #[test]
    fn the_slack_request_has_both_buttons_bound_to_the_deployment_and_a_confirm_on_approve() {
        let expires = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let payload = approval_slack(&deployment(), "https://x/a?t=T", expires);
        let actions = &payload.blocks[2]["elements"];
        assert_eq!(actions[0]["action_id"], APPROVE_ACTION);
        assert_eq!(actions[0]["value"], "web.img-ab12");
        assert!(actions[0]["confirm"].is_object());
        assert_eq!(actions[1]["action_id"], REJECT_ACTION);
        let section = payload.blocks[0]["text"]["text"].as_str().unwrap();
        assert!(section.contains("&lt;NEW&gt;"), "escaped: {section}");
        let closed = closed_slack(&deployment(), "Superseded by web.img-cd");
        assert!(
            closed.blocks.as_array().unwrap().len() == 2,
            "no buttons left"
        );
        assert!(closed.text.contains("Superseded by web.img-cd"));
    }
}
