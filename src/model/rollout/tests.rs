use super::*;
use crate::model::deployment::HistoryEntry;
use crate::model::ecs_event::ServiceRef;

fn rolling() -> Deployment {
    let mut d = crate::model::deployment::example();
    d.image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:ab1200000000ffff".into();
    d.version = Some("1.4.2".into());
    d.state = State::Rolling;
    d.history.push(HistoryEntry {
        at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        state: State::Rolling,
        note: "UpdateService".into(),
    });
    d
}

fn event(name: DeploymentEventName, reason: Option<&str>) -> DeploymentChanged {
    DeploymentChanged {
        event_id: "e".into(),
        service: ServiceRef::parse("arn:aws:ecs:us-east-1:123456789012:service/prod/web").unwrap(),
        name,
        ecs_deployment_id: "ecs-svc/1".into(),
        updated_at: DateTime::from_timestamp(1_800_000_192, 0).unwrap(),
        reason: reason.map(str::to_string),
    }
}

const ROLLBACK: &str = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/0.";

fn apply(d: &mut Deployment, e: &DeploymentChanged, kind: RolloutKind) -> bool {
    match on_deployment_event(d, e, kind) {
        Move::To(state, note) => {
            d.advance(state, note, e.updated_at).unwrap();
            true
        }
        Move::Nothing(_) => false,
    }
}

#[test]
fn completed_succeeds_once_and_late_events_change_nothing() {
    use DeploymentEventName::*;
    let mut d = rolling();
    assert!(!apply(
        &mut d,
        &event(InProgress, None),
        RolloutKind::Slipway
    ));
    assert!(apply(&mut d, &event(Completed, None), RolloutKind::Slipway));
    assert_eq!(d.state, State::Succeeded);
    for late in [
        event(Completed, None),
        event(InProgress, None),
        event(Failed, Some("x")),
        event(InProgress, Some(ROLLBACK)),
    ] {
        assert!(!apply(&mut d, &late, RolloutKind::Slipway), "{late:?}");
        assert_eq!(d.state, State::Succeeded);
    }
}

#[test]
fn a_circuit_breaker_rollback_ends_rolled_back_in_either_order() {
    use DeploymentEventName::*;
    let failed = event(
        Failed,
        Some("ECS deployment circuit breaker: task failed to start."),
    );
    let rollback = event(InProgress, Some(ROLLBACK));

    let mut first_failed = rolling();
    assert!(apply(&mut first_failed, &failed, RolloutKind::Slipway));
    assert_eq!(first_failed.state, State::Failed);
    assert!(apply(
        &mut first_failed,
        &rollback,
        RolloutKind::CircuitBreakerRollback
    ));
    assert_eq!(first_failed.state, State::RolledBack);

    let mut first_rollback = rolling();
    assert!(apply(
        &mut first_rollback,
        &rollback,
        RolloutKind::CircuitBreakerRollback
    ));
    assert!(!apply(&mut first_rollback, &failed, RolloutKind::Slipway));
    assert_eq!(first_rollback.state, State::RolledBack);
    assert!(!apply(
        &mut first_rollback,
        &event(Completed, None),
        RolloutKind::CircuitBreakerRollback
    ));
    assert_eq!(first_rollback.state, State::RolledBack);
}

#[test]
fn the_duration_runs_from_update_service_to_ecs_final_word() {
    let mut d = rolling();
    d.ended_at = Some(DateTime::from_timestamp(1_800_000_192, 0).unwrap());
    assert_eq!(human_duration(d.rollout_duration().unwrap()), "3m12s");
    assert_eq!(human_duration(chrono::Duration::seconds(45)), "45s");
    assert_eq!(human_duration(chrono::Duration::seconds(3720)), "1h02m");
}

fn frozen_on(version: Option<&str>) -> Rollouts {
    let mut d = rolling();
    d.version = version.map(str::to_string);
    let mut rollouts = Rollouts::default();
    rollouts.freeze_after(
        &d,
        FreezeRule::UntilNewerImage,
        "circuit breaker",
        DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    );
    rollouts
}

#[test]
fn a_freeze_holds_the_failed_image_and_lower_versions_and_thaws_for_newer_ones() {
    let rollouts = frozen_on(Some("1.4.2"));
    let failed_digest = "sha256:ab1200000000ffff";
    let rule = FreezeRule::UntilNewerImage;
    let v = |s: &str| Version::parse(s).unwrap();
    let later = Some(DateTime::from_timestamp(1_800_000_500, 0).unwrap());
    assert!(matches!(
        rollouts.check_push(rule, failed_digest, Some(&v("1.4.3")), later),
        FreezeCheck::Frozen(_)
    ));
    let FreezeCheck::Frozen(why) =
        rollouts.check_push(rule, "sha256:other", Some(&v("1.4.2")), later)
    else {
        panic!("a rebuilt v1.4.2 stays frozen")
    };
    assert!(why.contains("not above 1.4.2"), "{why}");
    assert!(matches!(
        rollouts.check_push(rule, "sha256:other", Some(&v("1.4.3")), later),
        FreezeCheck::Thaws(_)
    ));
    assert!(matches!(
        rollouts.check_push(
            FreezeRule::UntilUnfrozen,
            "sha256:other",
            Some(&v("2.0.0")),
            later
        ),
        FreezeCheck::Frozen(_)
    ));
    assert_eq!(
        rollouts.check_push(FreezeRule::Never, failed_digest, None, later),
        FreezeCheck::Open
    );
}

#[test]
fn without_versions_a_push_after_the_failure_thaws() {
    let rollouts = frozen_on(None);
    let rule = FreezeRule::UntilNewerImage;
    let before = Some(DateTime::from_timestamp(1_799_999_000, 0).unwrap());
    let after = Some(DateTime::from_timestamp(1_800_000_001, 0).unwrap());
    assert!(matches!(
        rollouts.check_push(rule, "sha256:other", None, before),
        FreezeCheck::Frozen(_)
    ));
    assert!(matches!(
        rollouts.check_push(rule, "sha256:other", None, after),
        FreezeCheck::Thaws(_)
    ));
    let mut unfrozen = rollouts.clone();
    assert!(unfrozen.unfreeze("alice", None, Utc::now()));
    assert_eq!(
        unfrozen.check_push(rule, "sha256:other", None, before),
        FreezeCheck::Open
    );
    assert!(!unfrozen.unfreeze("alice", None, Utc::now()), "once");
}

#[test]
fn the_last_good_release_never_moves_back_to_an_older_completion() {
    let at = |s| DateTime::from_timestamp(s, 0).unwrap();
    let good = |id: &str, when| GoodRelease {
        deployment_id: id.into(),
        key: id.into(),
        release: id.into(),
        image: String::new(),
        version: None,
        task_definition: format!("td:{id}"),
        ecs_deployment_id: id.into(),
        completed_at: at(when),
    };
    let mut rollouts = Rollouts::default();
    rollouts.completed(good("b", 200));
    rollouts.completed(good("a", 100));
    assert_eq!(rollouts.last_good.unwrap().deployment_id, "b");
}

#[test]
fn a_rollback_from_the_last_good_release_goes_to_the_one_before_and_discredits_it() {
    let at = |s| DateTime::from_timestamp(s, 0).unwrap();
    let good = |id: &str, when| GoodRelease {
        deployment_id: id.into(),
        key: id.into(),
        release: id.into(),
        image: String::new(),
        version: None,
        task_definition: format!("td:{id}"),
        ecs_deployment_id: id.into(),
        completed_at: at(when),
    };
    let mut rollouts = Rollouts::default();
    rollouts.completed(good("v1", 100));
    rollouts.completed(good("v2", 200));
    assert_eq!(
        rollouts
            .clone()
            .rollback_target("td:v3")
            .unwrap()
            .deployment_id,
        "v2",
        "a failed v3: back to v2"
    );
    let target = rollouts.rollback_target("td:v2").unwrap();
    assert_eq!(
        target.deployment_id, "v1",
        "v2 completed but is bad: back to v1"
    );
    assert_eq!(rollouts.last_good.as_ref().unwrap().deployment_id, "v1");
    assert!(
        rollouts.rollback_target("td:v1").is_none(),
        "nothing before v1"
    );
}

#[test]
fn remembered_rollouts_are_bounded_and_found_newest_first() {
    let mut rollouts = Rollouts::default();
    for n in 0..(REMEMBERED_ROLLOUTS + 5) {
        rollouts.remember(StartedRollout {
            ecs_deployment_id: format!("ecs-svc/{}", n % 3),
            deployment_id: format!("d{n}"),
            key: format!("k{n}"),
            kind: RolloutKind::Slipway,
            at: Utc::now(),
        });
    }
    assert_eq!(rollouts.started.len(), REMEMBERED_ROLLOUTS);
    let last = REMEMBERED_ROLLOUTS + 4;
    assert_eq!(
        rollouts.find(&format!("ecs-svc/{}", last % 3)).unwrap().key,
        format!("k{last}")
    );
}

#[test]
fn an_operators_hold_and_a_failures_freeze_do_not_undo_each_other() {
    let rule = FreezeRule::UntilNewerImage;
    let v = |s: &str| Version::parse(s).unwrap();
    let now = Utc::now();
    // A hold, then a failure: the failure does not replace the hold.
    let mut rollouts = Rollouts::default();
    assert!(rollouts.freeze_by(
        "arn:aws:sts::1:assumed-role/ops/alice",
        "year-end",
        None,
        now
    ));
    let mut failed = rolling();
    failed.version = Some("1.4.2".into());
    rollouts.freeze_after(&failed, rule, "circuit breaker", now);
    assert!(rollouts.held.is_some() && rollouts.freeze.is_some());
    // A newer image would thaw the failure's freeze, but the hold stops it first.
    let FreezeCheck::Frozen(why) =
        rollouts.check_push(rule, "sha256:new", Some(&v("1.5.0")), Some(now))
    else {
        panic!("held")
    };
    assert!(why.contains("alice") && why.contains("year-end"), "{why}");
    // Thawing the failure's freeze leaves the hold; a thaw for another failure changes nothing.
    assert!(!rollouts.thaw("web.other", "newer".into(), now));
    assert!(rollouts.thaw(&failed.id, "newer".into(), now));
    assert!(rollouts.held.is_some() && rollouts.freeze.is_none());
    // A hold whose time is up lets the failure rule decide again.
    let mut timed = Rollouts::default();
    timed.freeze_by(
        "ops",
        "deploy window",
        Some(now - chrono::Duration::minutes(1)),
        now,
    );
    timed.freeze_after(&failed, rule, "circuit breaker", now);
    assert!(
        matches!(
            timed.check_push(
                rule,
                "sha256:ab1200000000ffff",
                Some(&v("1.4.2")),
                Some(now)
            ),
            FreezeCheck::Frozen(_)
        ),
        "the failure's freeze outlives an expired hold"
    );
    // An unfreeze lifts both.
    assert!(timed.unfreeze("ops", Some("done".into()), now));
    assert!(timed.held.is_none() && timed.freeze.is_none());
    assert_eq!(
        timed.check_push(
            rule,
            "sha256:ab1200000000ffff",
            Some(&v("1.4.2")),
            Some(now)
        ),
        FreezeCheck::Open
    );
}
