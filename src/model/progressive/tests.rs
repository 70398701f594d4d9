use super::*;

fn canary() -> RolloutPolicy {
    RolloutPolicy {
        strategy: Strategy::Canary {
            percent: 10.0,
            bake_minutes: 5,
        },
        load_balancer: Some(TrafficShift {
            target_group_arn: "arn:tg/blue".into(),
            container_name: "app".into(),
            container_port: 8080,
            alternate_target_group_arn: "arn:tg/green".into(),
            production_listener_rule: "arn:rule/prod".into(),
            test_listener_rule: Some("arn:rule/test".into()),
            role_arn: "arn:role/ecs-infra".into(),
            test_url: None,
        }),
        approval: ApprovalPoint::During(Stage::PostTestTraffic),
        ..RolloutPolicy::default()
    }
}

#[test]
fn a_canary_paused_after_test_traffic_is_valid_and_sends_a_pause_hook_timing_out_with_the_approval()
{
    let policy = canary();
    assert_eq!(policy.check(Some(24 * 60)), Ok(()));
    let settings = policy.settings(24 * 60).unwrap();
    assert_eq!(
        settings.pause,
        Some(Pause {
            stage: Stage::PostTestTraffic,
            timeout_minutes: 1440
        })
    );
    assert_eq!(settings.strategy.ecs_name(), "CANARY");
}

#[test]
fn an_approval_is_refused_where_ecs_cannot_pause_or_may_never_come() {
    for stage in Stage::ALL {
        let policy = RolloutPolicy {
            approval: ApprovalPoint::During(stage),
            ..canary()
        };
        let checked = policy.check(Some(60));
        if matches!(
            stage,
            Stage::TestTraffic | Stage::ProductionTraffic | Stage::ReconcileService
        ) {
            let err = checked.unwrap_err();
            assert_eq!(err.field, "approval_at");
            assert!(err.problem.contains(stage.ecs_name()), "{err:?}");
        } else {
            assert_eq!(checked, Ok(()), "{stage:?}");
        }
    }
}

#[test]
fn percentages_and_bakes_follow_ecs_ranges() {
    let with = |strategy| RolloutPolicy {
        strategy,
        ..canary()
    };
    let cases = [
        (
            Strategy::Canary {
                percent: 0.1,
                bake_minutes: 0,
            },
            None,
        ),
        (
            Strategy::Canary {
                percent: 0.05,
                bake_minutes: 0,
            },
            Some("canary.percent"),
        ),
        (
            Strategy::Canary {
                percent: 10.25,
                bake_minutes: 0,
            },
            Some("canary.percent"),
        ),
        (
            Strategy::Canary {
                percent: 100.0,
                bake_minutes: 1440,
            },
            None,
        ),
        (
            Strategy::Canary {
                percent: 5.0,
                bake_minutes: 1441,
            },
            Some("canary.bake_minutes"),
        ),
        (
            Strategy::Linear {
                step_percent: 3.0,
                step_bake_minutes: 6,
            },
            None,
        ),
        (
            Strategy::Linear {
                step_percent: 2.9,
                step_bake_minutes: 6,
            },
            Some("linear.step_percent"),
        ),
        (
            Strategy::Linear {
                step_percent: 100.1,
                step_bake_minutes: 6,
            },
            Some("linear.step_percent"),
        ),
        (
            Strategy::Linear {
                step_percent: 10.0,
                step_bake_minutes: 1441,
            },
            Some("linear.step_bake_minutes"),
        ),
        (Strategy::BlueGreen, Some("bake_minutes")),
    ];
    for (strategy, field) in cases {
        assert_eq!(
            with(strategy).check(Some(60)).err().map(|e| e.field),
            field,
            "{strategy:?}"
        );
    }
    let blue_green = RolloutPolicy {
        strategy: Strategy::BlueGreen,
        bake_minutes: Some(10),
        ..canary()
    };
    assert_eq!(blue_green.check(Some(60)), Ok(()));
}

#[test]
fn traffic_shifting_needs_a_load_balancer_or_service_connect() {
    let bare = RolloutPolicy {
        load_balancer: None,
        approval: ApprovalPoint::Before,
        ..canary()
    };
    assert_eq!(bare.check(None).unwrap_err().field, "load_balancer");
    let connect = RolloutPolicy {
        service_connect: true,
        ..bare
    };
    assert_eq!(connect.check(None), Ok(()));
}

#[test]
fn an_approval_inside_the_rollout_needs_an_approval_target_a_traffic_strategy_and_a_test_listener()
{
    assert_eq!(canary().check(None).unwrap_err().field, "approval_at");
    let rolling = RolloutPolicy {
        strategy: Strategy::Rolling,
        ..canary()
    };
    assert_eq!(rolling.check(Some(60)).unwrap_err().field, "approval_at");
    let mut no_test_listener = canary();
    no_test_listener
        .load_balancer
        .as_mut()
        .unwrap()
        .test_listener_rule = None;
    assert_eq!(
        no_test_listener.check(Some(60)).unwrap_err().field,
        "load_balancer.test_listener_rule"
    );
    assert_eq!(
        canary()
            .check(Some(MAX_PAUSE_MINUTES + 1))
            .unwrap_err()
            .field,
        "approval_at"
    );
    let each_step_after_test = RolloutPolicy {
        ask_each_step: true,
        ..canary()
    };
    assert_eq!(
        each_step_after_test.check(Some(60)).unwrap_err().field,
        "ask_each_step"
    );
    let each_step = RolloutPolicy {
        ask_each_step: true,
        approval: ApprovalPoint::During(Stage::PreProductionTraffic),
        ..canary()
    };
    assert_eq!(each_step.check(Some(60)), Ok(()));
    for (refused, why) in [
        (
            RolloutPolicy {
                approval: ApprovalPoint::Before,
                ..each_step.clone()
            },
            "needs `approval_at: pre-production-traffic`",
        ),
        (
            RolloutPolicy {
                strategy: Strategy::BlueGreen,
                bake_minutes: Some(5),
                ..each_step.clone()
            },
            "only to canary and linear",
        ),
    ] {
        let broken = refused.check(Some(60)).unwrap_err();
        assert_eq!(broken.field, "ask_each_step");
        assert!(broken.problem.contains(why), "{broken:?}");
    }
}

#[test]
fn a_plain_rolling_target_sends_nothing_new() {
    assert_eq!(RolloutPolicy::default().settings(60), None);
    let with_alarms = RolloutPolicy {
        alarms: vec!["web-5xx".into()],
        ..RolloutPolicy::default()
    };
    let settings = with_alarms.settings(60).unwrap();
    assert_eq!(settings.strategy, Strategy::Rolling);
    assert_eq!(settings.pause, None);
}

#[test]
fn stage_names_round_trip_between_config_and_ecs() {
    for stage in Stage::ALL {
        assert_eq!(Stage::from_ecs_name(stage.ecs_name()), Some(stage));
        assert_eq!(Stage::from_config_name(stage.config_name()), Some(stage));
    }
    assert_eq!(Stage::from_ecs_name("BAKE_TIME"), None);
}

fn probe() -> TestProbe {
    TestProbe {
        path: "/healthz".into(),
        status: 200,
        for_seconds: 60,
        every_seconds: 10,
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:slipway-test-probe".into(),
        role_arn: "arn:aws:iam::123456789012:role/slipway-ecs-hooks".into(),
    }
}

#[test]
fn a_test_probe_needs_a_test_listener_with_a_url_and_is_sent_as_a_lambda_hook() {
    let mut policy = RolloutPolicy {
        test_probe: Some(probe()),
        ..canary()
    };
    let refused = policy.check(Some(60)).unwrap_err();
    assert_eq!(refused.field, "test_probe", "no test_url: {refused:?}");
    policy.load_balancer.as_mut().unwrap().test_url = Some("https://web.example:8443/".into());
    assert_eq!(policy.check(Some(60)), Ok(()));
    let hook = policy.settings(60).unwrap().probe.unwrap();
    assert_eq!(hook.spec.url, "https://web.example:8443/healthz");
    assert_eq!(hook.function_arn, probe().function_arn);

    policy.load_balancer.as_mut().unwrap().test_listener_rule = None;
    policy.approval = ApprovalPoint::Before;
    assert_eq!(policy.check(None).unwrap_err().field, "test_probe");

    let rolling = RolloutPolicy {
        test_probe: Some(probe()),
        ..RolloutPolicy::default()
    };
    let refused = rolling.check(None).unwrap_err();
    assert!(refused.problem.contains("no test listener"), "{refused:?}");

    let mut slow = canary();
    slow.load_balancer.as_mut().unwrap().test_url = Some("https://web.example:8443/".into());
    slow.test_probe = Some(TestProbe {
        every_seconds: 1,
        ..probe()
    });
    assert_eq!(
        slow.check(Some(60)).unwrap_err().field,
        "test_probe.every_seconds"
    );
}
