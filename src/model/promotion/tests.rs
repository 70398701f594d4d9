use chrono::{Duration, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 10, 4, 0).unwrap()
}

fn promotion(availability: Availability, alarms: &[&str]) -> Promotion {
    Promotion {
        from: vec!["staging-web".into(), "dev-web".into()],
        availability,
        soak: Duration::hours(2),
        alarms_ok: alarms.iter().map(|a| a.to_string()).collect(),
    }
}

fn run(target: &str, state: State) -> Upstream {
    Upstream::Run(UpstreamRun {
        target: target.into(),
        deployment_id: format!("{target}.img-d"),
        state,
        succeeded_at: (state == State::Succeeded).then(t0),
        ecs_deployment_id: Some("ecs-svc/111".into()),
        moved_past: None,
    })
}

fn moved(upstream: Upstream, after: Duration) -> Upstream {
    let Upstream::Run(mut run) = upstream else {
        unreachable!()
    };
    run.moved_past = Some(MovedPast {
        at: t0() + after,
        by: "an external deployment (ecs-svc/222)".into(),
    });
    Upstream::Run(run)
}

const ALL_STATES: [State; 11] = [
    State::Planned,
    State::AwaitingApproval,
    State::Approved,
    State::Rejected,
    State::Expired,
    State::Superseded,
    State::WaitingForWindow,
    State::Rolling,
    State::Succeeded,
    State::Failed,
    State::RolledBack,
];

fn soaked() -> DateTime<Utc> {
    t0() + Duration::hours(2)
}

#[test]
fn impossible_one_second_before_the_soak_ends_and_available_at_its_end() {
    let p = promotion(Availability::OneOf, &[]);
    let up = run("staging-web", State::Succeeded);
    let before = p.judge(&up, &[], soaked() - Duration::seconds(1), None);
    assert_eq!(
        before,
        UpstreamVerdict::NotYet {
            why: "it soaks on staging-web until 2026-12-07 12:04:00 UTC (a 2h00m soak)".into(),
            at: Some(soaked()),
        }
    );
    let UpstreamVerdict::Available(evidence) = p.judge(&up, &[], soaked(), None) else {
        panic!("available at the end of the soak");
    };
    assert_eq!(evidence.soaked_seconds, 7200);
    assert_eq!(
        evidence.describe(),
        "succeeded on staging-web at 2026-12-07 10:04 UTC (ECS ecs-svc/111), soaked 2h00m"
    );
}

#[test]
fn every_upstream_state_for_a_single_upstream() {
    for availability in [Availability::OneOf, Availability::All] {
        let p = promotion(availability, &[]);
        for state in ALL_STATES {
            let verdict = p.combine(vec![p.judge(
                &run("staging-web", state),
                &[],
                soaked(),
                None,
            )]);
            match state {
                State::Succeeded => assert!(matches!(verdict, Verdict::Available(_)), "{state}"),
                s if s.is_terminal() => assert_eq!(
                    verdict,
                    Verdict::Refused(format!(
                        "not succeeded upstream: its deployment on staging-web (staging-web.img-d) ended {s}"
                    )),
                ),
                s => assert_eq!(
                    verdict,
                    Verdict::NotYet {
                        why: format!("not yet available upstream: its deployment on staging-web (staging-web.img-d) is {s}"),
                        at: None
                    },
                ),
            }
        }
    }
}

#[test]
fn one_of_needs_one_good_upstream_and_all_needs_every_one() {
    for state in ALL_STATES {
        let good = run("dev-web", State::Succeeded);
        let other = run("staging-web", state);
        let one_of = promotion(Availability::OneOf, &[]);
        let verdicts = |p: &Promotion| {
            p.combine(vec![
                p.judge(&other, &[], soaked(), None),
                p.judge(&good, &[], soaked(), None),
            ])
        };
        let Verdict::Available(evidence) = verdicts(&one_of) else {
            panic!("one-of: dev-web's success is enough whatever staging-web is ({state})");
        };
        assert!(evidence.iter().any(|e| e.upstream == "dev-web"));
        let all = promotion(Availability::All, &[]);
        match (state, verdicts(&all)) {
            (State::Succeeded, Verdict::Available(evidence)) => assert_eq!(evidence.len(), 2),
            (s, Verdict::Refused(why)) if s.is_terminal() => {
                assert!(why.contains("staging-web"), "{why}")
            }
            (s, Verdict::NotYet { .. }) if !s.is_terminal() && s != State::Succeeded => {}
            (s, verdict) => panic!("all, staging-web {s}: {verdict:?}"),
        }
    }
}

#[test]
fn a_digest_never_deployed_upstream_is_refused() {
    for availability in [Availability::OneOf, Availability::All] {
        let p = promotion(availability, &[]);
        let never = Upstream::Never {
            target: "staging-web".into(),
        };
        assert_eq!(
            p.combine(vec![p.judge(&never, &[], soaked(), None)]),
            Verdict::Refused("not succeeded upstream: staging-web never deployed it".into())
        );
    }
}

#[test]
fn superseded_during_the_soak_is_never_available_and_after_it_stays_available() {
    let p = promotion(Availability::OneOf, &[]);
    let early = moved(run("staging-web", State::Succeeded), Duration::minutes(61));
    match p.judge(&early, &[], soaked() + Duration::hours(5), None) {
        UpstreamVerdict::Never(why) => assert_eq!(
            why,
            "staging-web moved past it before the soak ended (an external deployment (ecs-svc/222) at 2026-12-07 11:05 UTC, 1h01m into a 2h00m soak)"
        ),
        other => panic!("{other:?}"),
    }
    // Even an approver's hotfix bypass cannot promote what upstream replaced mid-soak.
    assert!(matches!(
        p.judge(&early, &[], t0() + Duration::minutes(90), Some("alice")),
        UpstreamVerdict::Never(_)
    ));
    let late = moved(run("staging-web", State::Succeeded), Duration::hours(3));
    assert!(matches!(
        p.judge(&late, &[], soaked() + Duration::hours(5), None),
        UpstreamVerdict::Available(_)
    ));
}

fn timeline(current: AlarmState, transitions: &[(i64, AlarmState, AlarmState)]) -> AlarmTimeline {
    AlarmTimeline {
        since: t0() - Duration::days(1),
        current,
        transitions: transitions
            .iter()
            .map(|(minutes, from, to)| AlarmTransition {
                at: t0() + Duration::minutes(*minutes),
                from: *from,
                to: *to,
            })
            .collect(),
    }
}

#[test]
fn an_alarm_that_flapped_for_a_minute_mid_soak_blocks_the_promotion() {
    use AlarmState::*;
    let p = promotion(Availability::OneOf, &["web-5xx"]);
    let up = run("staging-web", State::Succeeded);
    // OK at the end, as at the start: only the history shows the minute in ALARM.
    let flapped = timeline(Ok, &[(60, Ok, Alarm), (61, Alarm, Ok)]);
    let alarms = vec![("web-5xx".to_string(), Some(flapped))];
    assert_eq!(
        p.judge(&up, &alarms, soaked(), None),
        UpstreamVerdict::Never(
            "alarm web-5xx was in ALARM at 2026-12-07 11:04:00 UTC during the soak on staging-web"
                .into()
        )
    );
    // A bypass of the soak does not bypass what the soak already showed.
    assert!(matches!(
        p.judge(&up, &alarms, t0() + Duration::minutes(90), Some("alice")),
        UpstreamVerdict::Never(_)
    ));
}

#[test]
fn an_alarm_in_alarm_since_before_the_soak_blocks_it_although_nothing_changed_during_it() {
    use AlarmState::*;
    let p = promotion(Availability::OneOf, &["web-5xx"]);
    let up = run("staging-web", State::Succeeded);
    for alarm in [
        timeline(Alarm, &[(-30, Ok, Alarm)]),
        timeline(Alarm, &[]),
        timeline(Ok, &[(150, Alarm, Ok)]),
    ] {
        let verdict = p.judge(&up, &[("web-5xx".into(), Some(alarm))], soaked(), None);
        assert!(
            matches!(&verdict, UpstreamVerdict::Never(why) if why.contains("10:04:00")),
            "{verdict:?}"
        );
    }
}

#[test]
fn alarms_outside_the_soak_do_not_count_and_a_missing_alarm_refuses() {
    use AlarmState::*;
    let p = promotion(Availability::OneOf, &["web-5xx"]);
    let up = run("staging-web", State::Succeeded);
    let outside = timeline(
        Alarm,
        &[(-90, Ok, Alarm), (-60, Alarm, Ok), (150, Ok, Alarm)],
    );
    assert!(matches!(
        p.judge(&up, &[("web-5xx".into(), Some(outside))], soaked() + Duration::hours(1), None),
        UpstreamVerdict::Available(e) if e.alarms_ok == ["web-5xx"]
    ));
    assert_eq!(
        p.judge(&up, &[("web-5xx".into(), None)], soaked(), None),
        UpstreamVerdict::Never(
            "alarm web-5xx does not exist in CloudWatch: fix `promotion.alarms_ok`".into()
        )
    );
}

#[test]
fn an_alarm_while_it_still_soaks_refuses_at_once() {
    use AlarmState::*;
    let p = promotion(Availability::OneOf, &["web-5xx"]);
    let up = run("staging-web", State::Succeeded);
    let now = t0() + Duration::minutes(30);
    let alarm = timeline(Alarm, &[(20, Ok, Alarm)]);
    assert!(matches!(
        p.judge(&up, &[("web-5xx".into(), Some(alarm))], now, None),
        UpstreamVerdict::Never(_)
    ));
}

#[test]
fn an_approvers_bypass_lets_a_soaking_digest_through_and_is_recorded() {
    let p = promotion(Availability::OneOf, &[]);
    let up = run("staging-web", State::Succeeded);
    let now = t0() + Duration::minutes(30);
    let UpstreamVerdict::Available(evidence) = p.judge(&up, &[], now, Some("alice: hotfix")) else {
        panic!("bypassed");
    };
    assert_eq!(evidence.soak_bypassed_by.as_deref(), Some("alice: hotfix"));
    assert_eq!(evidence.soaked_seconds, 1800);
    // It never makes a failed upstream good.
    assert!(matches!(
        p.judge(&run("staging-web", State::Failed), &[], now, Some("alice")),
        UpstreamVerdict::Never(_)
    ));
}

#[test]
fn waiting_looks_again_at_the_first_soak_end_for_one_of_and_the_last_for_all() {
    let not_yet = |minutes: i64| UpstreamVerdict::NotYet {
        why: "soaking".into(),
        at: Some(t0() + Duration::minutes(minutes)),
    };
    let rolling = UpstreamVerdict::NotYet {
        why: "rolling".into(),
        at: None,
    };
    let one_of = promotion(Availability::OneOf, &[]);
    let all = promotion(Availability::All, &[]);
    let at = |v: Verdict| match v {
        Verdict::NotYet { at, .. } => at,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        at(one_of.combine(vec![not_yet(30), not_yet(90)])),
        Some(t0() + Duration::minutes(30))
    );
    assert_eq!(
        at(one_of.combine(vec![not_yet(30), rolling.clone()])),
        Some(t0() + Duration::minutes(30))
    );
    assert_eq!(
        at(all.combine(vec![not_yet(30), not_yet(90)])),
        Some(t0() + Duration::minutes(90))
    );
    assert_eq!(at(all.combine(vec![not_yet(30), rolling])), None);
}

#[test]
fn the_soak_interval_ends_at_the_soak_now_or_when_moved_past() {
    let p = promotion(Availability::OneOf, &[]);
    let Upstream::Run(running) = run("staging-web", State::Succeeded) else {
        unreachable!()
    };
    let later = soaked() + Duration::hours(1);
    assert_eq!(p.soak_interval(&running, later), Some((t0(), soaked())));
    let early = t0() + Duration::minutes(10);
    assert_eq!(p.soak_interval(&running, early), Some((t0(), early)));
    let Upstream::Run(failed) = run("staging-web", State::Failed) else {
        unreachable!()
    };
    assert_eq!(p.soak_interval(&failed, later), None);
}

mod from_the_ledger {
    use super::*;
    use crate::model::deployment::{Deployment, Trigger};
    use crate::model::rollout::{GoodRelease, RolloutKind, Rollouts, StartedRollout};

    fn record(id_key: &str) -> Deployment {
        let mut d = Deployment::new(
            "staging-web",
            "c",
            "s",
            id_key,
            Trigger::External {
                event_id: "e".into(),
                ecs_deployment_id: "x".into(),
            },
        );
        d.state = State::Succeeded;
        d.ended_at = Some(t0());
        d.ecs_deployment_id = Some("ecs-svc/111".into());
        d
    }

    fn started(key: &str, kind: RolloutKind, minutes: i64) -> StartedRollout {
        StartedRollout {
            ecs_deployment_id: format!("ecs-svc/{key}"),
            deployment_id: format!("staging-web.{key}"),
            key: key.into(),
            kind,
            at: t0() + Duration::minutes(minutes),
        }
    }

    #[test]
    fn the_next_rollout_of_anyone_is_when_upstream_moved_past() {
        let ours = record("img-d");
        let rollouts = Rollouts {
            started: vec![
                started("img-old", RolloutKind::Slipway, -100),
                started("img-d", RolloutKind::Slipway, -10),
                started("ext-1", RolloutKind::External, 45),
                started("img-e", RolloutKind::Slipway, 300),
            ],
            ..Rollouts::default()
        };
        let run = upstream_run(&ours, Some(&rollouts));
        assert_eq!(run.succeeded_at, Some(t0()));
        assert_eq!(
            run.moved_past,
            Some(MovedPast {
                at: t0() + Duration::minutes(45),
                by: "an external deployment, staging-web.ext-1 (ecs-svc/ext-1)".into(),
            })
        );
        let still = Rollouts {
            started: rollouts.started[..2].to_vec(),
            ..Rollouts::default()
        };
        assert_eq!(upstream_run(&ours, Some(&still)).moved_past, None);
    }

    #[test]
    fn a_forgotten_rollout_counts_as_replaced_unless_it_is_still_the_last_good_one() {
        let ours = record("img-d");
        let forgotten = Rollouts {
            started: vec![started("img-e", RolloutKind::Slipway, 300)],
            ..Rollouts::default()
        };
        assert_eq!(
            upstream_run(&ours, Some(&forgotten))
                .moved_past
                .map(|m| m.at),
            Some(t0())
        );
        let good = Rollouts {
            last_good: Some(GoodRelease {
                deployment_id: ours.id.clone(),
                key: "img-d".into(),
                release: "app:v1".into(),
                image: "i".into(),
                version: None,
                task_definition: "td".into(),
                ecs_deployment_id: "ecs-svc/111".into(),
                completed_at: t0(),
            }),
            ..Rollouts::default()
        };
        assert_eq!(upstream_run(&ours, Some(&good)).moved_past, None);
    }

    #[test]
    fn only_a_succeeded_record_has_a_success_time() {
        let mut failed = record("img-d");
        failed.state = State::Failed;
        assert_eq!(upstream_run(&failed, None).succeeded_at, None);
    }
}

#[test]
fn a_success_older_than_the_alarm_history_cloudwatch_keeps_is_not_judged_from_nothing() {
    let p = promotion(Availability::OneOf, &["web-5xx"]);
    let up = run("staging-web", State::Succeeded);
    let quiet = timeline(AlarmState::Ok, &[]);
    let later = t0() + Duration::days(15);
    assert!(matches!(
        p.judge(&up, &[("web-5xx".into(), Some(quiet.clone()))], later, None),
        UpstreamVerdict::Never(why) if why.contains("two weeks")
    ));
    assert!(matches!(
        p.judge(
            &up,
            &[("web-5xx".into(), Some(quiet))],
            t0() + Duration::days(13),
            None
        ),
        UpstreamVerdict::Available(_)
    ));
}

#[test]
fn a_state_update_history_item_is_read_as_a_transition() {
    // The shape of the AWS CLI reference's describe-alarm-history example.
    let data = r#"{"version":"1.0","oldState":{"stateValue":"OK","stateReason":"Threshold Crossed"},"newState":{"stateValue":"ALARM","stateReason":"testing purposes"}}"#;
    assert_eq!(
        AlarmTransition::from_history_data(t0(), data),
        Some(AlarmTransition {
            at: t0(),
            from: AlarmState::Ok,
            to: AlarmState::Alarm
        })
    );
    assert_eq!(AlarmTransition::from_history_data(t0(), "{}"), None);
}

#[test]
fn a_digest_the_upstream_takes_from_the_same_push_is_not_refused_before_it_gets_there() {
    let p = promotion(Availability::All, &[]);
    let expected = Upstream::Expected {
        target: "dev-web".into(),
    };
    assert_eq!(
        p.combine(vec![p.judge(&expected, &[], soaked(), None)]),
        Verdict::NotYet {
            why: "not yet available upstream: dev-web takes this digest too and has not deployed it yet".into(),
            at: None
        }
    );
}

#[test]
fn durations_read_as_hours_and_minutes_and_a_short_one_in_seconds() {
    assert_eq!(hours_minutes(7260), "2h01m");
    assert_eq!(hours_minutes(2700), "45m");
    assert_eq!(hours_minutes(21), "21s");
    assert_eq!(hours_minutes(-5), "0s");
}

#[test]
fn the_time_soaked_ends_when_upstream_moved_past_after_the_soak() {
    let p = promotion(Availability::OneOf, &[]);
    let up = moved(run("staging-web", State::Succeeded), Duration::hours(3));
    let UpstreamVerdict::Available(evidence) = p.judge(&up, &[], t0() + Duration::hours(10), None)
    else {
        panic!("it soaked the whole two hours before it was replaced");
    };
    assert_eq!(evidence.soaked_seconds, 3 * 3600);
}

#[test]
fn a_wait_reads_the_same_on_every_look_during_the_soak() {
    let p = promotion(Availability::OneOf, &[]);
    let up = run("staging-web", State::Succeeded);
    let early = p.judge(&up, &[], t0() + Duration::minutes(5), None);
    let later = p.judge(&up, &[], t0() + Duration::minutes(95), None);
    assert_eq!(early, later);
}

fn change(container: &str, from: &str, to: &str) -> ImageChange {
    ImageChange {
        container: container.into(),
        from: from.into(),
        to: to.into(),
    }
}

#[test]
fn every_changed_image_is_gated_each_digest_once() {
    let a = format!("sha256:{}", "a".repeat(64));
    let b = format!("sha256:{}", "b".repeat(64));
    let repo = "1.dkr.ecr.eu-west-1.amazonaws.com/web";
    let changes = vec![
        change(
            "web",
            &format!("{repo}@sha256:{}", "0".repeat(64)),
            &format!("{repo}@{a}"),
        ),
        change(
            "worker",
            &format!("{repo}@sha256:{}", "0".repeat(64)),
            &format!("{repo}@{a}"),
        ),
        change("proxy", "envoy:1", &format!("{repo}@{b}")),
        change("log", "fluent:2", "fluent:2"),
    ];
    assert_eq!(gated_digests(&changes), vec![a, b]);
    assert!(gated_digests(&[change("log", "fluent:2", "fluent:2")]).is_empty());
}

#[test]
fn a_release_of_several_images_needs_each_available() {
    let evidence = |upstream: &str| Evidence {
        upstream: upstream.into(),
        deployment_id: format!("{upstream}.img-a"),
        succeeded_at: t0(),
        ecs_deployment_id: None,
        soaked_seconds: 7200,
        soak_seconds: 7200,
        alarms_ok: vec![],
        soak_bypassed_by: None,
    };
    let a = format!("sha256:{}", "a".repeat(64));
    let b = format!("sha256:{}", "b".repeat(64));
    let ok = |e| Verdict::Available(vec![e]);
    let soon = |h| Verdict::NotYet {
        why: "soaking".into(),
        at: Some(t0() + Duration::hours(h)),
    };
    assert_eq!(
        Verdict::every(vec![
            (a.clone(), ok(evidence("web"))),
            (b.clone(), ok(evidence("proxy")))
        ]),
        Verdict::Available(vec![evidence("web"), evidence("proxy")])
    );
    assert_eq!(
        Verdict::every(vec![(a.clone(), soon(1)), (b.clone(), soon(3))]),
        Verdict::NotYet {
            why: "aaaaaaaaaaaa: soaking; bbbbbbbbbbbb: soaking".into(),
            at: Some(t0() + Duration::hours(3)),
        }
    );
    let Verdict::Refused(why) = Verdict::every(vec![
        (a.clone(), ok(evidence("web"))),
        (b.clone(), Verdict::Refused("never deployed".into())),
    ]) else {
        panic!("one image that never ran upstream refuses the release");
    };
    assert_eq!(why, "bbbbbbbbbbbb: never deployed");
}
