//! What approvers of a release group are told: the whole release — every step in order,
//! every target's image, what a failure does — and the one link that decides it. Slack
//! gets a button that opens the same page (a run is decided on the page only: its POST is
//! the one path that checks the signed link and asks for a name).

use serde_json::json;

use super::{escape, truncate, SlackPayload, SNS_SUBJECT_MAX};
use crate::model::group::{GroupRun, OnFailure, RunState, StepKind};

/// The Slack `action_id` of the button that opens a run's approval page (Slack still
/// posts the click to the interactions endpoint, which acknowledges it and does nothing).
pub const OPEN_GROUP_PAGE_ACTION: &str = "slipway_open_group_run";

/// The steps, one line each: `migrate — task on web's new revision: ./manage migrate
/// (container app, at most 15m)`, `worker — roll prod/worker`.
pub fn group_step_lines(run: &GroupRun, service_of: impl Fn(&str) -> String) -> Vec<String> {
    run.steps
        .iter()
        .map(|step| match &step.kind {
            StepKind::Task {
                container,
                command,
                timeout_seconds,
            } => format!(
                "{} — one-off task on {}'s new revision: `{}` (container {container}, at most {})",
                step.name,
                step.target,
                command.join(" "),
                minutes(*timeout_seconds)
            ),
            StepKind::Service => format!("{} — roll {}", step.name, service_of(&step.target)),
        })
        .collect()
}

pub fn on_failure_line(on_failure: OnFailure) -> &'static str {
    match on_failure {
        OnFailure::Stop => "the group stops; what already rolled stays",
        OnFailure::RollbackCompleted => {
            "the group stops and rolls the services it already rolled back, the last one first"
        }
    }
}

pub fn group_approval_email(run: &GroupRun, steps: &[String], link: &str) -> (String, String) {
    let subject: String = format!("Approve release of group {}?", run.group)
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(SNS_SUBJECT_MAX)
        .collect();
    let expires = run
        .approval
        .as_ref()
        .map(|a| a.expires_at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let mut body = format!(
        "Slipway asks for your approval before it runs release group {group}: one approval \
         for the whole release, before any step starts.\n\nSteps, in order:\n",
        group = run.group
    );
    for (n, line) in steps.iter().enumerate() {
        body.push_str(&format!("  {}. {line}\n", n + 1));
    }
    body.push_str("\nImages:\n");
    for (target, image) in &run.release {
        body.push_str(&format!("  {target}: {image}\n"));
    }
    if !run.gates.evidence.is_empty() {
        body.push_str("\nPromotion (read from each upstream's ledger record):\n");
        for evidence in &run.gates.evidence {
            body.push_str(&format!("  {}\n", evidence.describe()));
        }
    }
    body.push_str(&format!(
        "\nOn a failure: {}.\nExpires:  {expires}\n\n\
         Review the release, then approve or reject:\n{link}\n\n\
         Opening the link changes nothing; only the buttons on the page act.\n\n\
         Run {}\n",
        on_failure_line(run.on_failure),
        run.id
    ));
    (subject, body)
}

pub fn group_approval_slack(run: &GroupRun, steps: &[String], link: &str) -> SlackPayload {
    let text = format!(
        "Approval needed: release group {} ({} steps)",
        run.group,
        steps.len()
    );
    let expires = run
        .approval
        .as_ref()
        .map(|a| a.expires_at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let mut details = format!("*Release group {}?*\n", escape(&run.group));
    for (n, line) in steps.iter().enumerate() {
        details.push_str(&format!("{}. {}\n", n + 1, escape(line)));
    }
    for evidence in &run.gates.evidence {
        details.push_str(&format!("Promotion: {}\n", escape(&evidence.describe())));
    }
    details.push_str(&format!(
        "On a failure: {}.\nExpires {expires}.",
        on_failure_line(run.on_failure)
    ));
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&details, 3000)}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": truncate(&format!("run `{}`", run.id), 3000)}
        ]},
        {"type": "actions", "block_id": "slipway_group_run", "elements": [
            {"type": "button", "action_id": OPEN_GROUP_PAGE_ACTION, "style": "primary",
             "text": {"type": "plain_text", "text": "Review and decide"}, "url": link}
        ]}
    ]);
    SlackPayload {
        text,
        blocks,
        replace_original: true,
    }
}

/// The request once it is over: how it ended, and no button left.
pub fn group_closed_slack(run: &GroupRun) -> SlackPayload {
    let outcome = match (run.state, run.why.as_deref()) {
        (RunState::Running, _) => {
            let by = run
                .approval
                .as_ref()
                .and_then(|a| a.decision.as_ref())
                .map(|d| d.actor.clone())
                .unwrap_or_default();
            format!("approved by {by}: the run started")
        }
        (state, Some(why)) => format!("{state}: {why}"),
        (state, None) => state.to_string(),
    };
    let text = format!("Release group {} — {outcome}", run.group);
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!(
            "*Release group {}*\n{}", escape(&run.group), escape(&outcome)), 3000)}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("run `{}`", run.id)}
        ]}
    ]);
    SlackPayload {
        text,
        blocks,
        replace_original: true,
    }
}

fn minutes(seconds: i64) -> String {
    match (seconds / 3600, (seconds % 3600) / 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::group::spec::example;

    fn asked() -> GroupRun {
        let release = BTreeMap::from([
            ("web".to_string(), "r/web@sha256:aa".to_string()),
            ("worker".to_string(), "r/worker@sha256:bb".to_string()),
        ]);
        let group = example("shop", OnFailure::RollbackCompleted);
        let mut run = GroupRun::begin("shop-1f", &group, release, true);
        run.admitted().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 6, 10, 0, 0).unwrap();
        run.ask(at, at + chrono::Duration::hours(4)).unwrap();
        run
    }

    fn steps(run: &GroupRun) -> Vec<String> {
        group_step_lines(run, |target| format!("prod/{target}"))
    }

    #[test]
    fn the_email_shows_every_step_image_and_the_link() {
        let run = asked();
        let (subject, body) = group_approval_email(&run, &steps(&run), "https://a/x?t=1");
        assert_eq!(subject, "Approve release of group shop?");
        for line in [
            "  1. migrate — one-off task on web's new revision: `./manage migrate` (container app, at most 15m)",
            "  2. worker — roll prod/worker",
            "  3. web — roll prod/web",
            "  web: r/web@sha256:aa",
            "  worker: r/worker@sha256:bb",
            "On a failure: the group stops and rolls the services it already rolled back, the last one first.",
            "Expires:  2026-03-06 14:00 UTC",
            "https://a/x?t=1",
            "Run shop-1f",
        ] {
            assert!(body.contains(line), "{line} missing from:\n{body}");
        }
    }

    #[test]
    fn slack_opens_the_page_and_has_no_decision_button() {
        let run = asked();
        let payload = group_approval_slack(&run, &steps(&run), "https://a/x?t=1");
        let buttons = payload.blocks[2]["elements"].as_array().unwrap();
        assert_eq!(buttons.len(), 1);
        assert_eq!(buttons[0]["url"], "https://a/x?t=1");
        assert_ne!(buttons[0]["action_id"], super::super::APPROVE_ACTION);
        let closed = group_closed_slack(&run);
        assert!(closed.blocks.to_string().contains("awaiting-approval"));
        assert!(!closed.blocks.to_string().contains("button"));
    }
}
