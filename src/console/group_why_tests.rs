//! What `slipway why RUN` says of a run in each state it can be in.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::group_why::{began, explain};
use crate::model::deployment::{Actor, Channel, Verdict};
use crate::model::group::spec::example;
use crate::model::group::{run_id, GroupLine, GroupRun, OnFailure, RunState};

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap() + Duration::minutes(minute)
}

fn release(n: u8) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "web".to_string(),
            format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:{:064x}",
                n
            ),
        ),
        (
            "worker".to_string(),
            format!(
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/worker@sha256:{:064x}",
                n + 1
            ),
        ),
    ])
}

fn run(n: u8, needs_approval: bool) -> GroupRun {
    let release = release(n);
    GroupRun::begin(
        &run_id("shop", &release),
        &example("shop", OnFailure::Stop),
        release,
        needs_approval,
    )
}

fn line(holder: &GroupRun, waiting: &[&GroupRun]) -> GroupLine {
    GroupLine {
        holder: Some(holder.id.clone()),
        waiting: waiting.iter().map(|r| r.id.clone()).collect(),
        ..GroupLine::default()
    }
}

#[test]
fn a_queued_run_names_the_run_it_waits_for_and_a_newer_one_that_will_supersede_it() {
    let mut holder = run(1, false);
    holder.admitted().unwrap();
    let (queued, newer) = (run(3, false), run(5, false));

    let why = explain(&queued, Some(&line(&holder, &[&queued, &newer])), at(0));

    assert_eq!(why.state, RunState::Queued);
    assert!(!why.ended);
    assert!(
        why.explanation
            .contains(&format!("queued behind run {}", holder.id)),
        "{}",
        why.explanation
    );
    assert!(
        why.explanation
            .contains(&format!("newer release waits too (run {})", newer.id)),
        "{}",
        why.explanation
    );
    let newest = explain(&newer, Some(&line(&holder, &[&queued, &newer])), at(0));
    assert!(
        !newest.explanation.contains("superseded"),
        "{}",
        newest.explanation
    );
}

#[test]
fn a_run_awaiting_its_approval_says_until_when_and_once_expired_who_ends_it() {
    let mut asked = run(1, true);
    asked.admitted().unwrap();
    asked.ask(at(0), at(60)).unwrap();

    let open = explain(&asked, None, at(30));
    let past = explain(&asked, None, at(61));

    assert!(
        open.explanation.contains("until 2026-12-07 11:00:00Z"),
        "{}",
        open.explanation
    );
    assert!(
        open.explanation
            .contains(&format!("slipway approve {}", asked.id)),
        "{}",
        open.explanation
    );
    assert!(
        past.explanation.contains("expired at 2026-12-07 11:00:00Z"),
        "{}",
        past.explanation
    );
}

#[test]
fn a_running_migration_names_its_task_and_deadline_then_the_deadline_passed() {
    let mut running = run(1, false);
    running.admitted().unwrap();
    running
        .task_started(0, "arn:aws:ecs:us-east-1:123456789012:task/prod/7", at(0))
        .unwrap();

    let before = explain(&running, None, at(14));
    let after = explain(&running, None, at(16));

    assert!(before.explanation.contains("step 1 of 3 (migrate): task arn:aws:ecs:us-east-1:123456789012:task/prod/7 runs on web"), "{}", before.explanation);
    assert!(
        before.explanation.contains("fails at 2026-12-07 10:15:00Z"),
        "{}",
        before.explanation
    );
    assert!(
        after.explanation.contains("passed its deadline"),
        "{}",
        after.explanation
    );
    assert_eq!(before.steps[0].kind, "task");
    assert_eq!(before.steps[0].deployment_id, None);
    assert_eq!(
        before.steps[1].deployment_id, None,
        "a service step not started has no deployment yet"
    );
}

#[test]
fn a_failed_run_names_the_step_and_the_reason_and_a_rejected_one_who_rejected() {
    let mut failed = run(1, false);
    failed.admitted().unwrap();
    failed.task_started(0, "task/7", at(0)).unwrap();
    failed
        .step_failed(0, "migrate exited 1 (container app)", at(2))
        .unwrap();

    let why = explain(&failed, None, at(3));

    assert!(why.ended);
    assert_eq!(
        why.explanation,
        "failed: migrate failed: migrate exited 1 (container app); no later step started"
    );

    let mut rejected = run(3, true);
    rejected.admitted().unwrap();
    rejected.ask(at(0), at(60)).unwrap();
    let actor = Actor {
        id: "arn:aws:iam::123456789012:user/ana".into(),
        channel: Channel::Iam,
        source: None,
    };
    rejected
        .decided(
            Verdict::Reject,
            &actor,
            Some("not during the sale".into()),
            at(5),
        )
        .unwrap();

    let why = explain(&rejected, None, at(6));

    assert_eq!(why.state, RunState::Rejected);
    assert!(why.explanation.contains("rejected by arn:aws:iam::123456789012:user/ana at 2026-12-07 10:05:00Z (not during the sale)"), "{}", why.explanation);
}

#[test]
fn a_run_without_began_at_is_ordered_by_the_first_time_its_record_shows() {
    let mut old = run(1, false);
    old.admitted().unwrap();
    old.task_started(0, "task/7", at(4)).unwrap();
    assert_eq!(began(&old), Some(at(4)));
    old.began_at = Some(at(1));
    assert_eq!(began(&old), Some(at(1)));
    assert_eq!(began(&run(3, false)), None);
}
