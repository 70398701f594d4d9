//! The tables people read, drawn from the same views `--json` prints. Pure: the time they
//! are drawn at is an argument, so the golden tests (tests/cli/golden/) are exact.

use chrono::{DateTime, Utc};
use comfy_table::{presets, Table};

use super::output::Output;
use crate::console::dead_letters::DeadLetter;
use crate::console::history::HistoryRow;
use crate::console::show::Shown;
use crate::console::status::TargetStatus;
use crate::model::rollout::human_duration;

pub(super) fn table(header: Option<&[&str]>) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    if let Some(header) = header {
        table.set_header(header.to_vec());
    }
    table
}

/// `2026-12-05 18:09:12Z (3m12s ago)`, `… (in 23h59m)`.
pub fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let stamp = at.format("%Y-%m-%d %H:%M:%SZ");
    let delta = now - at;
    if delta >= chrono::Duration::zero() {
        format!("{stamp} ({} ago)", human_duration(delta))
    } else {
        format!("{stamp} (in {})", human_duration(-delta))
    }
}

pub(super) fn maybe_when(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    at.map_or_else(|| "-".to_string(), |at| when(at, now))
}

pub fn status(statuses: &[TargetStatus], out: &Output, now: DateTime<Utc>) -> String {
    let blocks: Vec<String> = statuses.iter().map(|s| status_block(s, out, now)).collect();
    blocks.join("\n\n")
}

fn status_block(status: &TargetStatus, out: &Output, now: DateTime<Utc>) -> String {
    let mut rows = table(None);
    rows.add_row(vec![
        "policy".to_string(),
        format!("{:?}", status.policy).to_lowercase(),
    ]);
    let running = match (&status.running, &status.service_error) {
        (Some(running), _) => match running.since {
            Some(since) => format!("{} since {}", running.release, when(since, now)),
            None => running.release.clone(),
        },
        (None, Some(error)) => out.alert(&format!("unknown: {error}")),
        (None, None) => "unknown".to_string(),
    };
    rows.add_row(vec!["running".to_string(), running]);
    let good = status
        .last_known_good
        .as_ref()
        .map_or("none".to_string(), |g| {
            format!(
                "{} ({}, {})",
                g.release,
                g.deployment_id,
                when(g.completed_at, now)
            )
        });
    rows.add_row(vec!["last known good".to_string(), good]);
    let latest = status.latest.as_ref().map_or("none".to_string(), |l| {
        format!(
            "{} {} ({}, started {})",
            out.state(l.state),
            l.release,
            l.deployment_id,
            maybe_when(l.started_at, now)
        )
    });
    rows.add_row(vec!["state".to_string(), latest]);
    let frozen = status.frozen.as_ref().map_or("no".to_string(), |f| {
        out.alert(&format!(
            "since {}: {} (by {}; lifted when {})",
            when(f.since, now),
            f.reason,
            f.by,
            f.lifted_by
        ))
    });
    rows.add_row(vec!["frozen".to_string(), frozen]);
    let pending = status
        .pending_approval
        .as_ref()
        .map_or("none".to_string(), |p| {
            format!(
                "{} {} (expires {})",
                p.deployment_id,
                p.release,
                when(p.expires_at, now)
            )
        });
    rows.add_row(vec!["pending approval".to_string(), pending]);
    if let Some(w) = &status.waiting_for_window {
        rows.add_row(vec![
            "waiting for window".to_string(),
            format!(
                "{} {} (opens {}; {})",
                w.deployment_id,
                w.release,
                when(w.opens_at, now),
                w.because
            ),
        ]);
    }
    if let Some(w) = &status.waiting_for_upstream {
        let again = w
            .look_again_at
            .map(|at| format!("; looks again {}", when(at, now)))
            .unwrap_or_default();
        rows.add_row(vec![
            "waiting for upstream".to_string(),
            format!("{} {} ({}{again})", w.deployment_id, w.release, w.why),
        ]);
    }
    let drift = status
        .drift
        .as_deref()
        .map_or("none".to_string(), |d| out.alert(d));
    rows.add_row(vec!["drift".to_string(), drift]);
    format!(
        "{} (cluster {}, service {})\n{}",
        status.target,
        status.cluster,
        status.service,
        indent(&rows)
    )
}

/// A table's lines, two spaces in (under a heading).
fn indent(table: &Table) -> String {
    trimmed(table)
        .lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn history(rows: &[HistoryRow], out: &Output, now: DateTime<Utc>) -> String {
    if rows.is_empty() {
        return "no deployments yet".to_string();
    }
    let mut t = table(Some(&[
        "ID",
        "TRIGGER",
        "RELEASE",
        "STATE",
        "STARTED",
        "TOOK",
        "DECIDED BY",
    ]));
    for row in rows {
        t.add_row(vec![
            row.id.clone(),
            row.trigger.to_string(),
            row.release.clone(),
            out.state(row.state),
            maybe_when(row.started_at, now),
            row.took_seconds
                .map_or("-".into(), |s| human_duration(chrono::Duration::seconds(s))),
            row.decided_by.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    trimmed(&t)
}

/// One block per group: its steps, then the run holding its line and those waiting, and
/// why each run that says so ended where it did.
/// The table without the margin the preset leaves before the first column, and without
/// trailing blanks.
pub(super) fn trimmed(table: &Table) -> String {
    let text = table.to_string();
    let margin = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| line.get(margin..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn show(shown: &Shown, out: &Output, now: DateTime<Utc>) -> String {
    let s = &shown.summary;
    let mut facts = table(None);
    let mut fact = |name: &str, value: String| {
        facts.add_row(vec![name.to_string(), value]);
    };
    fact("id", s.id.clone());
    fact(
        "target",
        format!(
            "{} (cluster {}, service {})",
            shown.target, shown.cluster, shown.service
        ),
    );
    fact("trigger", s.trigger.to_string());
    fact("release", s.release.clone());
    fact("image", shown.image.clone());
    fact("state", out.state(s.state));
    fact("started", maybe_when(s.started_at, now));
    fact(
        "took",
        s.took_seconds
            .map_or("-".into(), |t| human_duration(chrono::Duration::seconds(t))),
    );
    fact(
        "decided by",
        s.decided_by.clone().unwrap_or_else(|| "-".into()),
    );
    fact("from", shown.from_task_definition.clone());
    fact(
        "to",
        shown
            .to_task_definition
            .clone()
            .unwrap_or_else(|| "-".into()),
    );
    fact(
        "ecs deployment",
        shown
            .ecs_deployment_id
            .clone()
            .unwrap_or_else(|| "-".into()),
    );
    if let Some(error) = &shown.record.error {
        fact("error", out.alert(error));
    }
    let mut text = trimmed(&facts);
    text.push_str("\n\nDIFF\n");
    if shown.diff.is_empty() {
        text.push_str("  (none recorded)\n");
    }
    for change in &shown.diff {
        text.push_str(&format!("  {change}\n"));
    }
    let mut history = table(Some(&["AT", "STATE", "NOTE"]));
    for entry in &shown.history {
        history.add_row(vec![
            when(entry.at, now),
            out.state(entry.state),
            entry.note.clone(),
        ]);
    }
    text.push_str("\nHISTORY\n");
    text.push_str(&indent(&history));
    text.push_str("\n\nAUDIT\n");
    text.push_str(&audit(&shown.audit, now));
    text
}

/// Every attempt to decide (or open a gate), taken or refused, one row each, indented.
pub fn audit(entries: &[crate::model::deployment::AuditEntry], now: DateTime<Utc>) -> String {
    if entries.is_empty() {
        return "  (no attempts to decide)".to_string();
    }
    let mut audit = table(Some(&["AT", "ACTION", "WHO", "CHANNEL", "OUTCOME"]));
    for entry in entries {
        audit.add_row(vec![
            when(entry.at, now),
            format!("{:?}", entry.action).to_lowercase(),
            entry.actor.clone(),
            format!("{:?}", entry.channel).to_lowercase(),
            entry.outcome.clone(),
        ]);
    }
    indent(&audit)
}

pub fn why(image: &crate::console::why::Image, answers: &[crate::console::why::Why]) -> String {
    let tags = if image.tags.is_empty() {
        "no tag".to_string()
    } else {
        image.tags.join(", ")
    };
    let mut t = table(Some(&["TARGET", "LINK", "WHY"]));
    for answer in answers {
        t.add_row(vec![
            answer.target.clone(),
            answer.link.to_string(),
            answer.explanation.clone(),
        ]);
    }
    format!(
        "{}@{} ({tags})\n{}",
        image.repository,
        image.digest,
        trimmed(&t)
    )
}

pub fn redriven(results: &[crate::console::dead_letters::Redriven]) -> String {
    if results.is_empty() {
        return "no dead letters".to_string();
    }
    let mut t = table(Some(&["FUNCTION", "MESSAGE", "EVENT", "SUBJECT", "RESULT"]));
    for r in results {
        t.add_row(vec![
            r.letter.function.clone(),
            r.letter.message_id.clone(),
            r.letter.event_id.clone().unwrap_or_else(|| "-".into()),
            r.letter.subject.clone(),
            r.result.clone(),
        ]);
    }
    trimmed(&t)
}

/// A plan: one row per target, then each changing target's diff and calls.
pub fn plan(report: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let Some(targets) = report["targets"].as_array() else {
        let why = report
            .get("error")
            .or_else(|| report.get("reason"))
            .map(text)
            .unwrap_or_default();
        return format!("{}: nothing to plan ({why})", text(&report["outcome"]));
    };
    if targets.is_empty() {
        return "no target's repository and tag rule match this image: nothing would change"
            .to_string();
    }
    let mut t = table(Some(&["TARGET", "RESULT", "DEPLOYMENT"]));
    for target in targets {
        t.add_row(vec![
            text(&target["target"]),
            text(&target["result"]),
            text(&target["deployment_id"]),
        ]);
    }
    let mut out = trimmed(&t);
    for target in targets.iter().filter(|t| t["result"] == "dry-run") {
        out.push_str(&format!(
            "\n\n{}: from {}\n",
            text(&target["target"]),
            text(&target["from_task_definition"])
        ));
        for line in target["diff"].as_array().into_iter().flatten() {
            out.push_str(&format!("  ~ {}\n", text(line)));
        }
        for line in target["calls"].as_array().into_iter().flatten() {
            out.push_str(&format!("  → {}\n", text(line)));
        }
        for line in target["warnings"].as_array().into_iter().flatten() {
            out.push_str(&format!("  ! {}\n", text(line)));
        }
    }
    out.trim_end().to_string()
}

pub fn dead_letters(letters: &[DeadLetter], now: DateTime<Utc>) -> String {
    if letters.is_empty() {
        return "no dead letters".to_string();
    }
    let mut t = table(Some(&[
        "FUNCTION", "MESSAGE", "SENT", "SHAPE", "EVENT", "SUBJECT", "ERROR",
    ]));
    for letter in letters {
        t.add_row(vec![
            letter.function.clone(),
            letter.message_id.clone(),
            maybe_when(letter.sent_at, now),
            letter.shape.to_string(),
            letter.event_id.clone().unwrap_or_else(|| "-".into()),
            letter.subject.clone(),
            letter.error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    trimmed(&t)
}
