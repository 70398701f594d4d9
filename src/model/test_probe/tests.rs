use chrono::{Duration, TimeZone, Utc};

use super::*;

fn spec() -> ProbeSpec {
    ProbeSpec {
        url: "http://test.example:8443/healthz".into(),
        status: 200,
        for_seconds: 60,
        every_seconds: 15,
    }
}

fn probe() -> TestProbe {
    TestProbe {
        path: "/healthz".into(),
        status: 200,
        for_seconds: 60,
        every_seconds: 15,
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:slipway-test-probe".into(),
        role_arn: "arn:aws:iam::123456789012:role/slipway-ecs-hooks".into(),
    }
}

#[test]
fn good_answers_continue_until_they_lasted_for_seconds_then_pass() {
    let start = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
    let ok = Observation::Status(200);
    let ProbeVerdict::Continue {
        progress,
        delay_seconds,
    } = spec().judge(None, &ok, start)
    else {
        panic!("the first good answer starts the check")
    };
    assert_eq!(
        (progress.started_at, progress.passed, delay_seconds),
        (start, 1, 15)
    );
    let at_59 = spec().judge(Some(progress), &ok, start + Duration::seconds(59));
    assert!(
        matches!(at_59, ProbeVerdict::Continue { delay_seconds: 1, progress } if progress.passed == 2),
        "{at_59:?}"
    );
    assert_eq!(
        spec().judge(Some(progress), &ok, start + Duration::seconds(60)),
        ProbeVerdict::Passed { passed: 2 }
    );
}

#[test]
fn one_unexpected_answer_or_none_fails_at_once_saying_what_was_seen() {
    let now = Utc::now();
    let progress = ProbeProgress {
        started_at: now - Duration::seconds(30),
        passed: 2,
    };
    let ProbeVerdict::Failed { reason } =
        spec().judge(Some(progress), &Observation::Status(503), now)
    else {
        panic!("a 503 fails the check")
    };
    assert_eq!(
        reason,
        "GET http://test.example:8443/healthz answered 503, expected 200, after 2 good answer(s)"
    );
    let ProbeVerdict::Failed { reason } = spec().judge(
        None,
        &Observation::NoAnswer("connection refused".into()),
        now,
    ) else {
        panic!("no answer fails the check")
    };
    assert!(
        reason.contains("did not answer (connection refused)"),
        "{reason}"
    );
}

#[test]
fn the_details_carry_the_check_and_its_progress_from_call_to_call() {
    let progress = ProbeProgress {
        started_at: Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap(),
        passed: 3,
    };
    let details = spec().details(Some(&progress));
    assert_eq!(
        ProbeSpec::from_details(&details).unwrap(),
        (spec(), Some(progress))
    );
    assert_eq!(
        ProbeSpec::from_details(&spec().details(None)).unwrap(),
        (spec(), None)
    );
    let mut file = spec().details(None);
    file["url"] = json!("file:///etc/passwd");
    assert!(ProbeSpec::from_details(&file)
        .unwrap_err()
        .contains("not an http(s) URL"));
    assert!(ProbeSpec::from_details(&json!({"path": "/x"}))
        .unwrap_err()
        .contains("do not describe a test probe"));
}

#[test]
fn a_probe_outside_its_ranges_is_refused_naming_the_field() {
    assert_eq!(probe().problem(), None);
    for (change, field) in [
        (
            TestProbe {
                path: "healthz".into(),
                ..probe()
            },
            "path",
        ),
        (
            TestProbe {
                status: 700,
                ..probe()
            },
            "status",
        ),
        (
            TestProbe {
                for_seconds: 5,
                ..probe()
            },
            "for_seconds",
        ),
        (
            TestProbe {
                for_seconds: 3601,
                ..probe()
            },
            "for_seconds",
        ),
        (
            TestProbe {
                every_seconds: 1,
                ..probe()
            },
            "every_seconds",
        ),
        (
            TestProbe {
                function_arn: "slipway-test-probe".into(),
                ..probe()
            },
            "function_arn",
        ),
        (
            TestProbe {
                role_arn: "arn:aws:iam::1:user/x".into(),
                ..probe()
            },
            "role_arn",
        ),
    ] {
        assert_eq!(change.problem().map(|(f, _)| f), Some(field));
    }
    assert_eq!(
        probe().spec("http://test.example:8443/").url,
        "http://test.example:8443/healthz"
    );
}

#[test]
fn the_hooks_timeout_covers_the_check_and_stays_within_ecs_range() {
    let hook = |for_seconds, every_seconds| ProbeHook {
        function_arn: probe().function_arn,
        role_arn: probe().role_arn,
        spec: ProbeSpec {
            for_seconds,
            every_seconds,
            ..spec()
        },
    };
    assert_eq!(hook(60, 15).timeout_minutes(), 7);
    assert_eq!(hook(3600, 300).timeout_minutes(), 75);
    assert_eq!(hook(10, 5).timeout_minutes(), 6);
    // Past the ranges config allows, the hook still stays within ECS's 1 to 1440.
    assert_eq!(hook(u32::MAX, u32::MAX).timeout_minutes(), MAX_HOOK_MINUTES);
}

#[test]
fn details_from_elsewhere_can_neither_overflow_nor_stall_the_check() {
    let now = Utc::now();
    let ok = Observation::Status(200);
    let maxed = ProbeProgress {
        started_at: now - Duration::seconds(5),
        passed: u32::MAX,
    };
    assert!(matches!(
        spec().judge(Some(maxed), &ok, now),
        ProbeVerdict::Continue { progress, .. } if progress.passed == u32::MAX
    ));
    // A start in the future counts as now: the check goes on, a full period away.
    let ahead = ProbeProgress {
        started_at: now + Duration::days(365),
        passed: 1,
    };
    assert!(matches!(
        spec().judge(Some(ahead), &ok, now),
        ProbeVerdict::Continue {
            delay_seconds: 15,
            ..
        }
    ));
}

#[test]
fn an_origin_is_scheme_and_authority_without_credentials() {
    assert_eq!(
        origin_of("HTTPS://Web.Example:8443/healthz?x=1").as_deref(),
        Some("https://web.example:8443")
    );
    assert_eq!(
        origin_of("http://a.example").as_deref(),
        Some("http://a.example")
    );
    assert_eq!(origin_of("http://user@a.example/"), None);
    assert_eq!(origin_of("ftp://a.example/"), None);
    assert_eq!(origin_of("a.example/health"), None);
}
