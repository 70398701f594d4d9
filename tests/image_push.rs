//! The image-push pipeline against the local AWS emulator (moto): real ECS, ECR and S3
//! calls, including S3's conditional writes.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::Value;
use slipway::deployer::{EventOutcome, TargetOutcome};
use slipway::model::deployment::State;

#[tokio::test(flavor = "multi_thread")]
async fn one_push_registers_one_revision_pinned_by_digest_and_carries_everything_else_over() {
    let world = World::new().await;
    let old_digest = world.push_image(Some("v1.4.1")).await;
    let first_arn = world.create_service("web", &image_uri(&old_digest)).await;
    let (before, before_tags) = world.running("web").await;
    let digest = world.push_image(Some("v1.4.2")).await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json(
            "web",
            "web",
            r#"{"semver": ">=1.2, <2"}"#,
            "auto",
        )]),
        false,
    );

    let report = deployer
        .handle_ecr_event(
            &push_event("e-1", Some("v1.4.2"), &digest),
            &invocation("r-1"),
        )
        .await
        .unwrap();

    let [(
        target,
        TargetOutcome::Rolling {
            from_task_definition,
            to_task_definition,
            ecs_deployment_id,
            changes,
        },
    )] = &target_outcomes(&report)[..]
    else {
        panic!("expected one rolling target: {report:?}")
    };
    assert_eq!(target, "web");
    assert_eq!(from_task_definition, &first_arn);
    assert!(
        to_task_definition.ends_with("task-definition/web:2"),
        "{to_task_definition}"
    );
    assert!(!ecs_deployment_id.is_empty());
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (
            calls.registers.load(Ordering::SeqCst),
            calls.updates.load(Ordering::SeqCst)
        ),
        (1, 1)
    );

    let (after, after_tags) = world.running("web").await;
    assert_eq!(after.revision(), 2);
    let app = &after.container_definitions()[0];
    assert_eq!(
        app.image(),
        Some(image_uri(&digest).as_str()),
        "pinned by digest, not by tag"
    );

    // Everything but the app image and the read-only fields is exactly as before.
    let mut expected = before.clone();
    expected.container_definitions.as_mut().unwrap()[0].image = Some(image_uri(&digest));
    expected.task_definition_arn = after.task_definition_arn.clone();
    expected.revision = after.revision;
    expected.registered_at = after.registered_at;
    expected.registered_by = after.registered_by.clone();
    assert_eq!(after, expected);
    assert_eq!(
        after.container_definitions()[1],
        before.container_definitions()[1],
        "the sidecar is untouched"
    );
    // The base's tags, and the deployment the revision was registered for.
    assert_eq!(after_tags[..2], before_tags[..]);
    assert_eq!(after_tags.len(), 3);
    assert_eq!(
        after_tags[2].key(),
        Some(slipway::ports::REGISTERED_FOR_TAG)
    );
    assert_eq!(
        after_tags[2].value(),
        Some(format!("web.{}", slipway::ledger::image_key(&digest)).as_str())
    );

    let record = deployer
        .ledger()
        .deployment("web", &slipway::ledger::image_key(&digest))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(record.state, State::Rolling);
    assert_eq!(
        record.to_task_definition.as_deref(),
        Some(to_task_definition.as_str())
    );
    assert_eq!(
        record.ecs_deployment_id.as_deref(),
        Some(ecs_deployment_id.as_str())
    );
    assert_eq!(record.version.as_deref(), Some("1.4.2"));
    assert!(record.lease.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_matching_two_targets_rolls_both() {
    let world = World::new().await;
    let old = world.push_image(Some("v1")).await;
    world.create_service("web", &image_uri(&old)).await;
    world.create_service("worker", &image_uri(&old)).await;
    let digest = world.push_image(Some("release-7")).await;
    let (deployer, calls) = world.deployer(
        &config(&[
            target_json("web", "web", r#"{"glob": "release-*"}"#, "auto"),
            target_json("worker", "worker", r#"{"glob": "release-*"}"#, "auto"),
            target_json("canary", "web", r#"{"exact": "canary"}"#, "auto"),
        ]),
        false,
    );

    let report = deployer
        .handle_ecr_event(
            &push_event("e-2", Some("release-7"), &digest),
            &invocation("r-2"),
        )
        .await
        .unwrap();

    let results: Vec<_> = target_outcomes(&report)
        .iter()
        .map(|(t, o)| (t.clone(), result_name(o)))
        .collect();
    assert_eq!(
        results,
        [
            ("web".to_string(), "rolling".to_string()),
            ("worker".to_string(), "rolling".to_string())
        ]
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 2);
    for service in ["web", "worker"] {
        let (running, _) = world.running(service).await;
        assert_eq!(
            running.container_definitions()[0].image(),
            Some(image_uri(&digest).as_str()),
            "{service}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_push_delivered_twice_in_sequence_deploys_once() {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]),
        false,
    );
    let event = push_event("e-3", Some("v2"), &digest);

    let first = deployer
        .handle_ecr_event(&event, &invocation("r-3a"))
        .await
        .unwrap();
    let second = deployer
        .handle_ecr_event(&event, &invocation("r-3b"))
        .await
        .unwrap();

    assert_eq!(result_name(&target_outcomes(&first)[0].1), "rolling");
    assert_eq!(
        result_name(&target_outcomes(&second)[0].1),
        "already-running"
    );
    assert_eq!(
        (
            calls.registers.load(Ordering::SeqCst),
            calls.updates.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    assert_eq!(world.revisions("web").await, 2);

    // A second tag for the digest the service already runs registers nothing either.
    let retag = push_event("e-3c", Some("v2-again"), &digest);
    let third = deployer
        .handle_ecr_event(&retag, &invocation("r-3c"))
        .await
        .unwrap();
    assert_eq!(
        result_name(&target_outcomes(&third)[0].1),
        "already-running"
    );
    assert_eq!(world.revisions("web").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_push_delivered_ten_times_at_once_deploys_once() {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]),
        false,
    );
    let event = push_event("e-4", Some("v2"), &digest);

    let deliveries = (0..10).map(|i| {
        let (deployer, event) = (&deployer, &event);
        async move {
            deployer
                .handle_ecr_event(event, &invocation(&format!("r-4-{i}")))
                .await
                .unwrap()
        }
    });
    let reports = futures::future::join_all(deliveries).await;

    let results: Vec<String> = reports
        .iter()
        .map(|r| result_name(&target_outcomes(r)[0].1))
        .collect();
    assert_eq!(
        results.iter().filter(|r| *r == "rolling").count(),
        1,
        "{results:?}"
    );
    // The deliveries all planned before any rolled: the ledger claim is what stopped them.
    assert!(
        results.iter().filter(|r| *r == "duplicate").count() >= 1,
        "{results:?}"
    );
    assert_eq!(
        (
            calls.registers.load(Ordering::SeqCst),
            calls.updates.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    assert_eq!(world.revisions("web").await, 2);
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&digest).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_images_event_after_a_newer_deploy_changes_nothing() {
    let world = World::new().await;
    let first = world.push_image(Some("v1")).await;
    world.create_service("web", &image_uri(&first)).await;
    let older = world.push_image(Some("v2")).await;
    // ECR's imagePushedAt has one-second resolution here.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let newer = world.push_image(Some("v3")).await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]),
        false,
    );

    deployer
        .handle_ecr_event(
            &push_event("e-new", Some("v3"), &newer),
            &invocation("r-5a"),
        )
        .await
        .unwrap();
    let late = deployer
        .handle_ecr_event(
            &push_event("e-old", Some("v2"), &older),
            &invocation("r-5b"),
        )
        .await
        .unwrap();

    let [(_, TargetOutcome::Older { reason })] = &target_outcomes(&late)[..] else {
        panic!("{late:?}")
    };
    assert!(reason.contains("before"), "{reason}");
    assert_eq!(calls.registers.load(Ordering::SeqCst), 1);
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&newer).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lower_semver_tag_never_wins_over_a_higher_one() {
    let world = World::new().await;
    let first = world.push_image(Some("v1.0.0")).await;
    world.create_service("web", &image_uri(&first)).await;
    let high = world.push_image(Some("v1.5.0")).await;
    // Pushed later, but a lower version: a hotfix of an old line must not roll back.
    let low = world.push_image(Some("v1.4.9")).await;
    let (deployer, _) = world.deployer(
        &config(&[target_json(
            "web",
            "web",
            r#"{"semver": ">=1, <2"}"#,
            "auto",
        )]),
        false,
    );

    deployer
        .handle_ecr_event(
            &push_event("e-high", Some("v1.5.0"), &high),
            &invocation("r-6a"),
        )
        .await
        .unwrap();
    let late = deployer
        .handle_ecr_event(
            &push_event("e-low", Some("v1.4.9"), &low),
            &invocation("r-6b"),
        )
        .await
        .unwrap();

    assert_eq!(result_name(&target_outcomes(&late)[0].1), "older");
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&high).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_platform_manifests_then_the_tagged_index_deploy_the_index_once() {
    let world = World::new().await;
    let old = world.push_image(Some("v1")).await;
    world.create_service("web", &image_uri(&old)).await;
    let amd64 = world.push_image(None).await;
    let arm64 = world.push_image(None).await;
    let index = world.push_image(Some("v2")).await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "*"}"#, "auto")]),
        false,
    );

    for (id, digest) in [("e-amd64", &amd64), ("e-arm64", &arm64)] {
        let report = deployer
            .handle_ecr_event(&push_event(id, None, digest), &invocation(id))
            .await
            .unwrap();
        assert!(
            matches!(report.outcome, EventOutcome::Ignored { .. }),
            "{report:?}"
        );
    }
    let report = deployer
        .handle_ecr_event(
            &push_event("e-index", Some("v2"), &index),
            &invocation("r-7"),
        )
        .await
        .unwrap();

    assert_eq!(result_name(&target_outcomes(&report)[0].1), "rolling");
    assert_eq!(
        (
            calls.registers.load(Ordering::SeqCst),
            calls.updates.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&index).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_from_another_account_or_region_matches_nothing() {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]),
        false,
    );

    for (field, value) in [("account", "999999999999"), ("region", "eu-west-1")] {
        let mut event = push_event("e-8", Some("v2"), &digest);
        event[field] = Value::from(value);
        let report = deployer
            .handle_ecr_event(&event, &invocation("r-8"))
            .await
            .unwrap();
        assert!(target_outcomes(&report).is_empty(), "{field}: {report:?}");
    }
    assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
    assert!(world.ledger_keys().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_plans_and_writes_nothing() {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let arn = world
        .running("web")
        .await
        .0
        .task_definition_arn()
        .unwrap()
        .to_string();
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]),
        true,
    );

    let report = deployer
        .handle_ecr_event(&push_event("e-9", Some("v2"), &digest), &invocation("r-9"))
        .await
        .unwrap();

    assert!(report.dry_run);
    let [(
        _,
        TargetOutcome::DryRun {
            from_task_definition,
            diff,
            calls: planned,
            warnings,
        },
    )] = &target_outcomes(&report)[..]
    else {
        panic!("{report:?}")
    };
    assert_eq!(from_task_definition, &arn);
    // The emulator reports no deployment circuit breaker: the plan says what that means.
    assert!(
        warnings.len() == 1 && warnings[0].contains("no deployment circuit breaker"),
        "{warnings:?}"
    );
    assert!(diff[0].contains(&image_uri(&digest)), "{diff:?}");
    assert!(
        planned
            .iter()
            .any(|c| c.starts_with("ecs:RegisterTaskDefinition")),
        "{planned:?}"
    );
    assert!(
        planned.iter().any(|c| c.starts_with("ecs:UpdateService")),
        "{planned:?}"
    );
    assert_eq!(
        (
            calls.registers.load(Ordering::SeqCst),
            calls.updates.load(Ordering::SeqCst)
        ),
        (0, 0)
    );
    assert_eq!(world.revisions("web").await, 1);
    assert!(
        world.ledger_keys().await.is_empty(),
        "a dry run must not write the ledger"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_target_is_planned_and_recorded_but_not_rolled() {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let arn = world
        .running("web")
        .await
        .0
        .task_definition_arn()
        .unwrap()
        .to_string();
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "approval")]),
        false,
    );

    let report = deployer
        .handle_ecr_event(
            &push_event("e-10", Some("v2"), &digest),
            &invocation("r-10"),
        )
        .await
        .unwrap();

    assert_eq!(
        result_name(&target_outcomes(&report)[0].1),
        "awaiting-approval"
    );
    assert_eq!(
        (
            calls.registers.load(Ordering::SeqCst),
            calls.updates.load(Ordering::SeqCst)
        ),
        (0, 0)
    );
    let (running, _) = world.running("web").await;
    assert_eq!(running.task_definition_arn(), Some(arn.as_str()));
    let record = deployer
        .ledger()
        .deployment("web", &slipway::ledger::image_key(&digest))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(record.state, State::AwaitingApproval);
    let request = record.approval.expect("an approval request is recorded");
    assert_eq!(
        request.expires_at - request.requested_at,
        chrono::Duration::hours(24)
    );

    // The service does not show it, so only the ledger can tell a redelivery is a duplicate.
    let again = deployer
        .handle_ecr_event(
            &push_event("e-10", Some("v2"), &digest),
            &invocation("r-10b"),
        )
        .await
        .unwrap();
    assert_eq!(result_name(&target_outcomes(&again)[0].1), "duplicate");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_events_are_acknowledged_and_write_nothing() {
    let world = World::new().await;
    let old = world.push_image(Some("v1")).await;
    world.create_service("web", &image_uri(&old)).await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "*"}"#, "auto")]),
        false,
    );

    for file in [
        "malformed-ecr-push.json",
        "ecr-delete.json",
        "ecr-push-failure.json",
    ] {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let report = deployer
            .handle_ecr_event(&event, &invocation(file))
            .await
            .unwrap();
        assert!(
            matches!(
                report.outcome,
                EventOutcome::Refused { .. } | EventOutcome::Ignored { .. }
            ),
            "{file}: {report:?}"
        );
    }
    assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
    assert!(world.ledger_keys().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_naming_a_missing_container_fails_clearly_and_writes_nothing() {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let target = target_json_with(
        "web",
        "web",
        r#"{"glob": "*"}"#,
        "auto",
        serde_json::json!({"containers": ["api"]}),
    );
    let (deployer, _) = world.deployer(&config(&[target]), false);

    let report = deployer
        .handle_ecr_event(
            &push_event("e-11", Some("v2"), &digest),
            &invocation("r-11"),
        )
        .await
        .unwrap();

    let [(_, TargetOutcome::Failed { error })] = &target_outcomes(&report)[..] else {
        panic!("{report:?}")
    };
    assert!(error.contains("`api` is not in task definition"), "{error}");
    assert_eq!(world.revisions("web").await, 1);
    assert!(world.ledger_keys().await.is_empty());
}

#[test]
fn an_invalid_config_is_refused_naming_the_field() {
    let home = slipway::input::config::Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let bad = config(&[target_json(
        "web",
        "web",
        r#"{"semver": "not a range"}"#,
        "auto",
    )]);
    let err = slipway::Config::from_json(&bad, &home)
        .unwrap_err()
        .to_string();
    assert!(err.contains("targets[0].tags.semver"), "{err}");
    let bad = config(&[target_json(
        "Web Service",
        "web",
        r#"{"glob": "*"}"#,
        "auto",
    )]);
    let err = slipway::Config::from_json(&bad, &home)
        .unwrap_err()
        .to_string();
    assert!(err.contains("targets[0].name"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_image_arriving_while_an_older_one_is_mid_roll_reaches_ecs_last() {
    let world = World::new().await;
    let first = world.push_image(Some("v1")).await;
    world.create_service("web", &image_uri(&first)).await;
    let older = world.push_image(Some("v2")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let newer = world.push_image(Some("v3")).await;
    // The older push is slow to register: without ordering, its UpdateService would land
    // after the newer one's and roll the service back.
    let slow = Some((image_uri(&older), std::time::Duration::from_millis(1500)));
    let config = config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]);
    let (deployer, calls) = world.deployer_with_slow_image(&config, false, slow);
    let (older_event, newer_event) = (
        push_event("e-older", Some("v2"), &older),
        push_event("e-newer", Some("v3"), &newer),
    );
    let (io, inew) = (invocation("r-older"), invocation("r-newer"));

    let late_newer = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        deployer.handle_ecr_event(&newer_event, &inew).await
    };
    let (ro, rn) = tokio::join!(deployer.handle_ecr_event(&older_event, &io), late_newer);

    let results = [
        result_name(&target_outcomes(&ro.unwrap())[0].1),
        result_name(&target_outcomes(&rn.unwrap())[0].1),
    ];
    assert_eq!(results, ["rolling", "rolling"]);
    assert_eq!(calls.updates.load(Ordering::SeqCst), 2);
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&newer).as_str()),
        "the newer image must win"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_failure_is_retried_by_lambda_and_the_retry_reuses_the_registered_revision() {
    let (world, digest) = World::with_web_and_a_new_push().await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]),
        false,
    );
    calls.failing_updates.store(1, Ordering::SeqCst);
    let event = push_event("e-12", Some("v2"), &digest);

    // The first attempt registers, then UpdateService is throttled past the SDK's retries:
    // the handler returns an error so Lambda retries the event.
    let err = deployer
        .handle_ecr_event(&event, &invocation("r-12"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("transient"), "{err}");
    let record = deployer
        .ledger()
        .deployment("web", &slipway::ledger::image_key(&digest))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(record.state, State::Planned);
    // Nothing is written between RegisterTaskDefinition and UpdateService (BENCHMARKS.md,
    // "Ledger calls"): the retry finds the revision by its `slipway:deployment` tag.
    assert_eq!(record.to_task_definition, None);
    assert_eq!(world.revisions("web").await, 2);
    assert!(
        record.lease.is_none(),
        "the lease is released for the retry"
    );

    // Lambda's retry: same request id, as for async retries.
    let report = deployer
        .handle_ecr_event(&event, &invocation("r-12"))
        .await
        .unwrap();
    assert_eq!(result_name(&target_outcomes(&report)[0].1), "rolling");
    assert_eq!(
        calls.registers.load(Ordering::SeqCst),
        1,
        "the registered revision is reused"
    );
    assert_eq!(world.revisions("web").await, 2);
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&digest).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_for_an_image_no_longer_in_ecr_deploys_nothing() {
    let (world, _) = World::with_web_and_a_new_push().await;
    let (deployer, calls) = world.deployer(
        &config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]),
        false,
    );
    let gone = format!("sha256:{}", "0".repeat(64));

    let report = deployer
        .handle_ecr_event(&push_event("e-13", Some("v9"), &gone), &invocation("r-13"))
        .await
        .unwrap();

    let [(_, TargetOutcome::Failed { error })] = &target_outcomes(&report)[..] else {
        panic!("{report:?}")
    };
    assert!(error.contains("not in ECR"), "{error}");
    assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
    assert!(world.ledger_keys().await.is_empty());
}
