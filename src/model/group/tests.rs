use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::ids::{client_token, started_by, STARTED_BY_MAX, TOKEN_HEX};
use super::task_exit::TASK_FAILED_TO_START;
use super::*;

pub(super) fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 6, 10, 0, 0).unwrap() + Duration::minutes(minute)
}

/// migrate (a task on `web`'s revision), then worker, then web.
pub(super) fn release_group(on_failure: OnFailure) -> Group {
    super::spec::example("shop", on_failure)
}

pub(super) fn release() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("web".to_string(), "r/web@sha256:aa".to_string()),
        ("worker".to_string(), "r/worker@sha256:bb".to_string()),
    ])
}

pub(super) fn running(on_failure: OnFailure) -> GroupRun {
    let group = release_group(on_failure);
    let mut run = begun(&run_id("shop", &release()), &group, release(), false);
    run.registered("web", "web:8").unwrap();
    run.registered("worker", "worker:5").unwrap();
    run
}

fn stopped(task: &str, exit_code: Option<i32>) -> TaskStopped {
    TaskStopped {
        task_arn: task.into(),
        started_by: None,
        stop_code: Some("EssentialContainerExited".into()),
        stopped_reason: Some("Essential container in task exited".into()),
        stopped_at: Some(at(3)),
        containers: vec![ContainerExit {
            name: "app".into(),
            exit_code,
            reason: None,
        }],
    }
}

/// The run after migrate exited 0 and worker rolled to COMPLETED: web is next.
fn migrated_and_worker_rolled(on_failure: OnFailure) -> GroupRun {
    let mut run = running(on_failure);
    run.task_started(0, "task/1", at(1)).unwrap();
    run.task_stopped(&stopped("task/1", Some(0)), at(3))
        .unwrap();
    run.service_started(1, "worker:4", at(4)).unwrap();
    run.service_ended(1, Ok(()), at(6)).unwrap();
    run
}

/// A run that holds its group's line.
pub(super) fn begun(
    id: &str,
    group: &Group,
    release: BTreeMap<String, String>,
    needs_approval: bool,
) -> GroupRun {
    let mut run = GroupRun::begin(id, group, release, needs_approval);
    assert_eq!(run.state, RunState::Queued);
    assert_eq!(
        run.next(at(0)),
        Next::AwaitLine,
        "a queued run does nothing"
    );
    run.admitted().unwrap();
    run
}

#[test]
fn a_group_registers_each_target_once_then_runs_its_steps_in_order() {
    let group = release_group(OnFailure::Stop);
    let mut run = begun("shop-1", &group, release(), false);
    assert_eq!(
        run.next(at(0)),
        Next::Register {
            target: "web".into()
        }
    );
    run.registered("web", "web:8").unwrap();
    assert!(run.registered("web", "web:9").is_err(), "registered once");
    assert!(matches!(run.next(at(0)), Next::RunTask { step: 0, .. }));
    run.task_started(0, "task/1", at(1)).unwrap();
    assert_eq!(
        run.next(at(2)),
        Next::Wait {
            until: Some(at(16))
        }
    );
    run.task_stopped(&stopped("task/1", Some(0)), at(3))
        .unwrap();
    assert_eq!(
        run.next(at(3)),
        Next::Register {
            target: "worker".into()
        }
    );
    run.registered("worker", "worker:5").unwrap();
    assert_eq!(run.next(at(3)), Next::RollService { step: 1 });
    run.service_started(1, "worker:4", at(4)).unwrap();
    assert_eq!(run.next(at(5)), Next::Wait { until: None });
    run.service_ended(1, Ok(()), at(6)).unwrap();
    assert_eq!(run.next(at(6)), Next::RollService { step: 2 });
    run.service_started(2, "web:7", at(7)).unwrap();
    run.service_ended(2, Ok(()), at(9)).unwrap();
    assert_eq!(run.state, RunState::Succeeded);
    assert_eq!(run.next(at(9)), Next::Done);
    assert_eq!(run.why, None);
}

#[test]
fn a_migration_that_exits_1_stops_the_group_before_any_service_rolls() {
    let mut run = running(OnFailure::RollbackCompleted);
    run.task_started(0, "task/1", at(1)).unwrap();
    run.task_stopped(&stopped("task/1", Some(1)), at(3))
        .unwrap();
    // Nothing rolled, so there is nothing to roll back: the group failed.
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(run.why.as_deref(), Some("migrate failed: app exited 1"));
    assert_eq!(run.next(at(4)), Next::Done);
    assert!(run.steps[1..].iter().all(|s| s.state == StepState::Pending));
}

#[test]
fn a_task_that_never_started_fails_with_the_reason_ecs_gave() {
    let mut run = running(OnFailure::Stop);
    run.task_started(0, "task/1", at(1)).unwrap();
    let mut never = stopped("task/1", None);
    never.stop_code = Some(TASK_FAILED_TO_START.into());
    never.stopped_reason = Some("CannotPullContainerError: pull access denied".into());
    run.task_stopped(&never, at(2)).unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        run.why.as_deref(),
        Some("migrate failed: the task never started (TaskFailedToStart: CannotPullContainerError: pull access denied)")
    );
}

#[test]
fn a_task_is_timed_out_at_its_deadline_and_not_a_second_before() {
    let mut run = running(OnFailure::Stop);
    run.task_started(0, "task/1", at(1)).unwrap();
    let deadline = at(16);
    let just_before = deadline - Duration::seconds(1);
    assert_eq!(
        run.next(just_before),
        Next::Wait {
            until: Some(deadline)
        }
    );
    assert!(
        run.timed_out(0, just_before).is_err(),
        "an early wake-up moves nothing"
    );
    assert_eq!(run.state, RunState::Running);
    assert_eq!(
        run.next(deadline),
        Next::TimeOut {
            step: 0,
            task_arn: "task/1".into()
        }
    );
    run.timed_out(0, deadline).unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        run.why.as_deref(),
        Some("migrate failed: did not exit within 15m: stopped")
    );
    // The task's STOPPED event (after StopTask) and a second wake-up come late.
    assert!(run
        .task_stopped(&stopped("task/1", Some(137)), at(17))
        .is_err());
    assert!(run.timed_out(0, at(18)).is_err());
    assert_eq!(
        run.why.as_deref(),
        Some("migrate failed: did not exit within 15m: stopped")
    );
}

#[test]
fn a_duplicate_or_foreign_task_event_moves_nothing() {
    let mut run = running(OnFailure::Stop);
    run.task_started(0, "task/1", at(1)).unwrap();
    run.task_stopped(&stopped("task/1", Some(0)), at(3))
        .unwrap();
    let before = run.clone();
    // ECS sends events at least once: the same STOPPED event again.
    assert!(run
        .task_stopped(&stopped("task/1", Some(0)), at(4))
        .is_err());
    // A task this run never started, even one claiming another run's startedBy.
    let mut foreign = stopped("task/9", Some(1));
    foreign.started_by = Some(started_by("other-run", 0));
    assert!(run.task_stopped(&foreign, at(4)).is_err());
    assert_eq!(run, before);
}

#[test]
fn a_stopped_event_that_outran_run_tasks_answer_finds_its_step_by_started_by() {
    let mut run = running(OnFailure::Stop);
    // RunTask started the task, and the invocation died before recording it.
    let mut early = stopped("task/1", Some(0));
    early.started_by = Some(started_by(&run.id, 0));
    run.task_stopped(&early, at(3)).unwrap();
    assert_eq!(run.steps[0].state, StepState::Succeeded);
    assert_eq!(run.steps[0].task_arn.as_deref(), Some("task/1"));
    // The retried RunTask's answer (same token, same task) now moves nothing.
    assert!(run.task_started(0, "task/1", at(4)).is_err());
    assert_eq!(run.next(at(4)), Next::RollService { step: 1 });
}

#[test]
fn rollback_completed_puts_back_the_services_that_rolled_last_first_and_never_the_migration() {
    let mut group = release_group(OnFailure::RollbackCompleted);
    group.steps.push(Step::Service {
        target: "api".into(),
    });
    let mut release = release();
    release.insert("api".into(), "r/api@sha256:cc".into());
    let mut run = begun("shop-2", &group, release, false);
    for (target, revision) in [("web", "web:8"), ("worker", "worker:5"), ("api", "api:3")] {
        run.registered(target, revision).unwrap();
    }
    run.task_started(0, "task/1", at(1)).unwrap();
    run.task_stopped(&stopped("task/1", Some(0)), at(3))
        .unwrap();
    run.service_started(1, "worker:4", at(4)).unwrap();
    run.service_ended(1, Ok(()), at(5)).unwrap();
    run.service_started(2, "web:7", at(6)).unwrap();
    run.service_ended(2, Ok(()), at(7)).unwrap();
    run.service_started(3, "api:2", at(8)).unwrap();
    run.service_ended(
        3,
        Err("ECS deployment ecs-svc/1 failed: tasks failed to start".into()),
        at(9),
    )
    .unwrap();
    assert_eq!(run.state, RunState::RollingBack);
    assert_eq!(
        run.next(at(9)),
        Next::RollBack {
            step: 2,
            to: "web:7".into()
        }
    );
    run.rollback_started(2).unwrap();
    assert_eq!(run.next(at(9)), Next::Wait { until: None }, "one at a time");
    run.rollback_ended(2, Ok(())).unwrap();
    assert_eq!(
        run.next(at(10)),
        Next::RollBack {
            step: 1,
            to: "worker:4".into()
        }
    );
    run.rollback_started(1).unwrap();
    run.rollback_ended(1, Ok(())).unwrap();
    assert_eq!(run.state, RunState::RolledBack);
    assert_eq!(run.next(at(11)), Next::Done);
    assert_eq!(
        run.steps[0].state,
        StepState::Succeeded,
        "a migration is not undone"
    );
    assert_eq!(
        run.why.as_deref(),
        Some("api failed: ECS deployment ecs-svc/1 failed: tasks failed to start")
    );
}

#[test]
fn stop_leaves_the_services_that_rolled_where_they_are() {
    let mut run = migrated_and_worker_rolled(OnFailure::Stop);
    run.service_started(2, "web:7", at(7)).unwrap();
    run.service_ended(2, Err("rolled back by the circuit breaker".into()), at(8))
        .unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(run.next(at(8)), Next::Done);
    assert_eq!(run.steps[1].state, StepState::Succeeded);
}

#[test]
fn a_rollback_that_fails_ends_the_run_failed_with_both_reasons() {
    let mut run = migrated_and_worker_rolled(OnFailure::RollbackCompleted);
    run.service_started(2, "web:7", at(7)).unwrap();
    run.service_ended(2, Err("web's rollout failed".into()), at(8))
        .unwrap();
    run.rollback_started(1).unwrap();
    run.rollback_ended(1, Err("worker:4 is INACTIVE".into()))
        .unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        run.why.as_deref(),
        Some("web failed: web's rollout failed; rolling worker back failed: worker:4 is INACTIVE")
    );
    assert_eq!(run.next(at(9)), Next::Done);
}

#[test]
fn one_approval_starts_the_whole_group_and_only_a_waiting_run_is_superseded() {
    let group = release_group(OnFailure::Stop);
    let mut run = begun("shop-3", &group, release(), true);
    assert_eq!(run.next(at(0)), Next::AskApproval);
    run.ask(at(0), at(60)).unwrap();
    assert_eq!(run.next(at(0)), Next::AskApproval, "nobody was told yet");
    run.told(at(1), None, vec![]).unwrap();
    assert_eq!(run.next(at(1)), Next::AwaitDecision { until: at(60) });
    let approver = crate::model::deployment::Actor {
        id: "ada (approval link)".into(),
        channel: crate::model::deployment::Channel::Web,
        source: None,
    };
    let approve = crate::model::deployment::Verdict::Approve;
    run.decided(approve, &approver, None, at(2)).unwrap();
    assert!(
        run.decided(approve, &approver, None, at(2)).is_err(),
        "a second approval moves nothing"
    );
    assert!(
        run.decide(RunState::Superseded).is_err(),
        "a started run finishes; a newer release waits behind it"
    );
    assert_eq!(
        run.next(at(0)),
        Next::Register {
            target: "web".into()
        }
    );

    let mut waiting = begun("shop-4", &group, release(), true);
    waiting.decide(RunState::Superseded).unwrap();
    assert_eq!(waiting.next(at(0)), Next::Done);
}

#[test]
fn no_run_state_leaves_a_terminal_state() {
    use RunState::*;
    let all = [
        AwaitingApproval,
        Running,
        RollingBack,
        Succeeded,
        Failed,
        RolledBack,
        Rejected,
        Expired,
        Superseded,
    ];
    for from in all.iter().filter(|s| s.is_terminal()) {
        for to in all {
            assert!(!from.can_move_to(to), "{from:?} -> {to:?}");
        }
    }
}

#[test]
fn run_task_tokens_are_stable_per_step_distinct_across_steps_and_runs_and_within_ecs_limits() {
    let id = run_id(&"g".repeat(MAX_GROUP_NAME), &release());
    let token = client_token(&id, 0);
    assert_eq!(token, client_token(&id, 0));
    assert_ne!(token, client_token(&id, 1));
    assert_ne!(token, client_token(&run_id("other", &release()), 0));
    assert_eq!(token.len(), TOKEN_HEX);
    assert!(token.len() <= 64 && token.bytes().all(|b| (33..=126).contains(&b)));
    let by = started_by(&id, 99);
    assert!(by.len() <= STARTED_BY_MAX, "{}", by.len());
    assert!(by
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'_')));
}

#[test]
fn the_same_release_is_the_same_run_and_another_release_another() {
    let mut other = release();
    other.insert("web".into(), "r/web@sha256:dd".into());
    assert_eq!(run_id("shop", &release()), run_id("shop", &release()));
    assert_ne!(run_id("shop", &release()), run_id("shop", &other));
    assert_ne!(run_id("shop", &release()), run_id("shop2", &release()));
}

#[test]
fn a_run_survives_the_ledger_round_trip() {
    let run = migrated_and_worker_rolled(OnFailure::RollbackCompleted);
    let json = serde_json::to_string(&run).unwrap();
    let back: GroupRun = serde_json::from_str(&json).unwrap();
    assert_eq!(back, run);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["steps"][0]["kind"], "task");
    assert_eq!(value["on_failure"], "rollback-completed");
}

#[test]
fn a_task_without_the_named_container_fails_with_what_it_has() {
    let verdict = stopped("task/1", Some(0)).verdict("migrator");
    assert_eq!(
        verdict,
        TaskVerdict::Failed(
            "the task has no container named migrator (it has app): fix the step's `container`"
                .into()
        )
    );
}

#[test]
fn a_service_event_for_a_step_that_is_not_current_moves_nothing() {
    let mut run = running(OnFailure::Stop);
    assert!(
        run.service_started(1, "worker:4", at(1)).is_err(),
        "migrate runs first"
    );
    assert!(run.service_ended(2, Ok(()), at(1)).is_err());
    assert!(run.rollback_started(1).is_err(), "not rolling back");
    assert_eq!(
        run.steps
            .iter()
            .filter(|s| s.state != StepState::Pending)
            .count(),
        0
    );
}

#[test]
fn a_rollback_that_fails_does_not_stop_the_other_services_going_back() {
    let mut group = release_group(OnFailure::RollbackCompleted);
    group.steps.push(Step::Service {
        target: "api".into(),
    });
    let mut release = release();
    release.insert("api".into(), "r/api@sha256:cc".into());
    let mut run = begun("shop-5", &group, release, false);
    for (target, revision) in [("web", "web:8"), ("worker", "worker:5"), ("api", "api:3")] {
        run.registered(target, revision).unwrap();
    }
    run.task_started(0, "task/1", at(1)).unwrap();
    run.task_stopped(&stopped("task/1", Some(0)), at(2))
        .unwrap();
    for (index, previous) in [(1, "worker:4"), (2, "web:7")] {
        run.service_started(index, previous, at(3)).unwrap();
        run.service_ended(index, Ok(()), at(4)).unwrap();
    }
    run.service_started(3, "api:2", at(5)).unwrap();
    run.service_ended(3, Err("api's rollout failed".into()), at(6))
        .unwrap();
    // web's rollback cannot even start (its old revision is gone); worker still goes back.
    assert_eq!(
        run.next(at(6)),
        Next::RollBack {
            step: 2,
            to: "web:7".into()
        }
    );
    run.step_failed(2, "web:7 is INACTIVE", at(6)).unwrap();
    assert_eq!(run.state, RunState::RollingBack);
    assert_eq!(
        run.next(at(6)),
        Next::RollBack {
            step: 1,
            to: "worker:4".into()
        }
    );
    run.rollback_started(1).unwrap();
    run.rollback_ended(1, Ok(())).unwrap();
    assert_eq!(run.state, RunState::Failed, "not every service went back");
    assert_eq!(run.steps[1].state, StepState::RolledBack);
    assert_eq!(
        run.why.as_deref(),
        Some("api failed: api's rollout failed; rolling web back failed: web:7 is INACTIVE")
    );
}

#[test]
fn a_call_that_fails_for_good_fails_its_step_instead_of_leaving_the_run_waiting() {
    let mut run = running(OnFailure::Stop);
    run.step_failed(
        0,
        "RunTask failed: ECS did not start the task: MISSING",
        at(1),
    )
    .unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        run.why.as_deref(),
        Some("migrate failed: RunTask failed: ECS did not start the task: MISSING")
    );
    assert!(
        run.step_failed(1, "late", at(2)).is_err(),
        "not the current step"
    );
    assert_eq!(run.next(at(2)), Next::Done);
}

#[test]
fn a_task_event_carrying_this_steps_started_by_but_another_task_moves_nothing() {
    let mut run = running(OnFailure::Stop);
    run.task_started(0, "task/1", at(1)).unwrap();
    // Another Slipway (or a replayed event) with the same startedBy: a different task.
    let mut other = stopped("task/2", Some(0));
    other.started_by = Some(started_by(&run.id, 0));
    assert!(run.task_stopped(&other, at(2)).is_err());
    assert_eq!(run.steps[0].state, StepState::Started);
}

#[test]
fn a_queued_run_starts_only_once_admitted_and_a_started_one_is_never_superseded() {
    let group = release_group(OnFailure::Stop);
    let mut queued = GroupRun::begin("shop-6", &group, release(), false);
    queued.superseded("shop-7").unwrap();
    assert_eq!(queued.state, RunState::Superseded);
    assert!(queued.why.as_deref().unwrap().contains("shop-7"));
    assert!(queued.admitted().is_err(), "a superseded run never starts");
    assert_eq!(queued.next(at(0)), Next::Done);

    let mut running = begun("shop-8", &group, release(), false);
    assert!(running.superseded("shop-9").is_err());
    assert!(running.admitted().is_err(), "admitted once");
    assert_eq!(running.state, RunState::Running);

    let mut approval = GroupRun::begin("shop-10", &group, release(), true);
    approval.admitted().unwrap();
    assert_eq!(approval.state, RunState::AwaitingApproval);
    approval.superseded("shop-11").unwrap();
}

#[test]
fn a_run_id_names_its_group_whole() {
    let id = run_id("shop-eu", &release());

    assert!(is_run_of("shop-eu", &id));
    // `shop` is a prefix of the name, not the group: its runs are `shop-<16 hex>`.
    assert!(!is_run_of("shop", &id));
    assert!(!is_run_of("shop-eu", "shop-eu-123"));
    assert!(!is_run_of("shop-eu", &format!("{id}0")));
    assert!(!is_run_of("shop-eu", "app:v1.4.2"));
}
