//! The reconciler against the local emulator: a rollout whose ECS event was lost is closed
//! from what DescribeServices says, and a push whose ECR event was lost is deployed — once,
//! and harmlessly racing the late events themselves.
//!
//! moto reports a deployment's `rolloutState` from task counts it never changes by itself,
//! so where a test needs ECS to say COMPLETED the fault proxy rewrites DescribeServices'
//! answer (ECS API Reference, Deployment: `rolloutState` COMPLETED | FAILED | IN_PROGRESS).

mod common;

use std::time::Duration;

use common::faults::FaultProxy;
use common::*;
use serde_json::{json, Value};
use slipway::aws::CallTimeouts;
use slipway::deployer::{EventOutcome, TargetOutcome};
use slipway::ledger::image_key;
use slipway::model::deployment::State;

fn schedule() -> Value {
    let path = format!(
        "{}/events/scheduled-reconcile.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn semver_web() -> String {
    config(&[target_json("web", "web", r#"{"semver": ">=1.0"}"#, "auto")])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_whose_completed_event_was_lost_is_closed_by_the_reconciler_once() {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 7).await;
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    let auto = config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]);
    let (deployer, _) = world.deployer_with_clients(&auto, false, None, &clients);
    deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();
    let id = format!("web.{}", image_key(&pushed));
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Rolling
    );

    // ECS finished the rollout; its SERVICE_DEPLOYMENT_COMPLETED event never arrived.
    proxy.rewrite(
        |call| call.operation == "DescribeServices",
        |_, answer| {
            for service in answer["services"].as_array_mut().into_iter().flatten() {
                for deployment in service["deployments"].as_array_mut().into_iter().flatten() {
                    deployment["rolloutState"] = json!("COMPLETED");
                }
            }
        },
    );
    let run = deployer.reconcile(&schedule(), &invocation("tick-1")).await;
    assert_eq!(run.targets.len(), 1, "{run:?}");
    assert!(run.targets[0].problems.is_empty(), "{run:?}");
    assert_eq!(run.targets[0].closed.len(), 1, "{run:?}");
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Succeeded
    );
    let rollouts = deployer
        .ledger()
        .rollouts("web")
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(rollouts.last_good.unwrap().deployment_id, id);

    let again = deployer.reconcile(&schedule(), &invocation("tick-2")).await;
    assert!(again.targets[0].closed.is_empty(), "{again:?}");
    assert!(again.targets[0].missed_push.is_none(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_whose_event_was_lost_is_deployed_by_the_reconciler_and_the_late_event_is_a_duplicate(
) {
    let world = World::new().await;
    let running = world.push_image(Some("v1.0.0")).await;
    world.create_service("web", &image_uri(&running)).await;
    // CI pushed v1.1.0; ECR's event for it was lost (ECR's events are best effort).
    let pushed = world.push_image(Some("v1.1.0")).await;
    let (deployer, calls) = world.deployer(&semver_web(), false);

    let run = deployer.reconcile(&schedule(), &invocation("tick-1")).await;
    let Some(report) = &run.targets[0].missed_push else {
        panic!("the lost push was not found: {run:?}")
    };
    let EventOutcome::Targets { targets, .. } = &report.outcome else {
        panic!("{report:?}")
    };
    assert!(
        matches!(targets[0].outcome, TargetOutcome::Rolling { .. }),
        "{report:?}"
    );
    let (service, _) = world.running("web").await;
    assert!(
        service
            .container_definitions()
            .iter()
            .any(|c| c.image().unwrap_or_default().ends_with(&pushed)),
        "the service runs the missed push"
    );
    let updates = calls.updates.load(std::sync::atomic::Ordering::SeqCst);

    // The next run finds nothing to do; ECR's event, arriving late after all, is a duplicate.
    let again = deployer.reconcile(&schedule(), &invocation("tick-2")).await;
    assert!(again.targets[0].missed_push.is_none(), "{again:?}");
    let late = deployer
        .handle_ecr_event(
            &push_event("late", Some("v1.1.0"), &pushed),
            &invocation("r-late"),
        )
        .await
        .unwrap();
    let EventOutcome::Targets { targets, .. } = &late.outcome else {
        panic!("{late:?}")
    };
    assert!(
        matches!(
            targets[0].outcome,
            TargetOutcome::Duplicate { .. } | TargetOutcome::AlreadyRunning { .. }
        ),
        "{late:?}"
    );
    assert_eq!(
        calls.updates.load(std::sync::atomic::Ordering::SeqCst),
        updates
    );
}

/// A wake-up is a one-time EventBridge Scheduler schedule of the reconciler, against
/// moto's Scheduler (which stores schedules and never fires them: what a wake-up does
/// when it fires is what the reconciler does on its schedule, tested above). Asking
/// twice is the same schedule; a group that does not exist is an error, not swallowed.
#[tokio::test(flavor = "multi_thread")]
async fn a_wake_up_is_a_one_time_schedule_of_the_reconciler_deleted_after_it_fires() {
    use chrono::TimeZone;
    use slipway::model::wake_up::WakeUp;
    use slipway::ports::WakeUps;

    let world = World::new().await;
    let scheduler = world.clients.scheduler();
    scheduler
        .create_schedule_group()
        .name("slipway-wake-ups")
        .send()
        .await
        .unwrap();
    let reconciler = "arn:aws:lambda:us-east-1:123456789012:function:slipway-reconcile";
    let role = "arn:aws:iam::123456789012:role/slipway-wake-ups";
    let wake_ups = slipway::aws::SchedulerWakeUps::new(
        scheduler.clone(),
        "slipway-wake-ups".into(),
        reconciler.into(),
        role.into(),
    );
    let due = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 7, 0, 30).unwrap();
    let wake_up = WakeUp::new("window web", due, "web's deployment window opens");
    wake_ups.schedule(&wake_up).await.unwrap();
    wake_ups
        .schedule(&wake_up)
        .await
        .expect("the same wake-up again is scheduled already");

    let schedule = scheduler
        .get_schedule()
        .group_name("slipway-wake-ups")
        .name(&wake_up.name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        schedule.schedule_expression(),
        Some("at(2026-12-07T07:01:00)")
    );
    assert_eq!(schedule.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(
        schedule.action_after_completion().map(|a| a.as_str()),
        Some("DELETE")
    );
    assert_eq!(
        schedule.flexible_time_window().map(|w| w.mode().as_str()),
        Some("OFF")
    );
    let target = schedule.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (reconciler, role));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input["id"], format!("wake-up/{}", wake_up.name));

    let elsewhere = slipway::aws::SchedulerWakeUps::new(
        scheduler,
        "no-such-group".into(),
        reconciler.into(),
        role.into(),
    );
    let err = elsewhere.schedule(&wake_up).await.unwrap_err();
    assert_eq!(err.operation, "CreateSchedule");
}

/// A promotion hint is one PutEvents entry on Slipway's promotion bus, against moto's
/// EventBridge: a rule on the bus (as Terraform makes it, `source` slipway.promotion)
/// delivers it — to a queue here, to deployment-events on AWS — and the delivered event
/// parses as the hint published.
#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_hint_is_put_on_the_bus_and_delivered_with_the_publishers_account() {
    use slipway::input::event::Intent;
    use slipway::input::hint::{parse_hint, UpstreamSucceeded};
    use slipway::ports::Hints;

    let world = World::new().await;
    let events = world.clients.eventbridge();
    events
        .create_event_bus()
        .name("slipway-promotion")
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&world.emulator.shared().await);
    let queue_url = sqs
        .create_queue()
        .queue_name("hints")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    events
        .put_rule()
        .name("hints")
        .event_bus_name("slipway-promotion")
        .event_pattern(
            json!({"source": ["slipway.promotion"], "detail-type": ["Slipway Upstream Succeeded"]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("hints")
        .event_bus_name("slipway-promotion")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:hints"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let hint = UpstreamSucceeded {
        target: "dev-web".into(),
        deployment_id: "dev-web.img-abc".into(),
        image: image_uri(&format!("sha256:{}", "d".repeat(64))),
        succeeded_at: chrono::Utc::now(),
    };
    let bus = slipway::aws::hints::EventBridgeHints::new(events, "slipway-promotion".into());
    bus.publish(&hint).await.unwrap();

    let delivered = world.drain_queue(&queue_url).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let mut raw: Value = serde_json::from_str(&delivered[0]).unwrap();
    // moto 5.2.5 leaves `account` out of the events it delivers; every EventBridge event
    // has it, the publisher's account ("account: The 12-digit number identifying an AWS
    // account", Amazon EventBridge User Guide, "Amazon EventBridge event structure";
    // PutEventsRequestEntry has no field to set it). Without it the hint would be refused
    // (`deployer::hints`), so it is put back as AWS sends it.
    assert_eq!(
        raw.get("account"),
        None,
        "moto now sends account: drop this stand-in"
    );
    raw["account"] = json!(ACCOUNT);
    let Ok(Intent::Deploy(event)) = parse_hint(&raw) else {
        panic!("not a hint: {raw}")
    };
    assert_eq!(event.hint, hint);
    assert_eq!(event.account.as_deref(), Some(ACCOUNT), "{raw}");
    assert_eq!(event.region.as_deref(), Some(REGION));
}

/// Promotion across accounts against moto's S3, ECR and ECS: prod's Slipway reads dev's
/// Slipway's ledger — another bucket, through its own `S3Store`, as `upstreams` names it
/// — and takes a release only once dev's record of the digest says it succeeded. moto is
/// one account: dev's claimed account is the config's, the buckets are what differ.
#[tokio::test(flavor = "multi_thread")]
async fn prod_reads_devs_ledger_in_its_bucket_and_rolls_only_what_succeeded_there() {
    use slipway::aws::{EcrRegistry, EcsService, S3Sources, S3Store};
    use slipway::input::config::{Config, Home};

    let world = World::new().await;
    let running = world.push_image(Some("v0")).await;
    world.create_service("web", &image_uri(&running)).await;
    world.create_service("web-prod", &image_uri(&running)).await;
    let s3 = world.clients.s3.clone();
    s3.create_bucket()
        .bucket("slipway-prod-ledger")
        .send()
        .await
        .unwrap();

    // dev's Slipway: web deploys every main build; prod promotes from it.
    let mut dev_config: Value = serde_json::from_str(&config(&[target_json(
        "web",
        "web",
        r#"{"glob": "main-*"}"#,
        "auto",
    )]))
    .unwrap();
    dev_config["promoted_elsewhere"] = json!(["web"]);
    let (dev, _) = world.deployer(&dev_config.to_string(), false);
    // prod's: web-prod takes v* releases of what succeeded on dev's web.
    let mut prod_config: Value = serde_json::from_str(&config(&[target_json_with(
        "web-prod",
        "web-prod",
        r#"{"glob": "v*"}"#,
        "auto",
        json!({"promotion": {"from": ["dev-web"]}}),
    )]))
    .unwrap();
    prod_config["upstreams"] = json!([{"name": "dev-web", "account": "111122223333",
        "ledger_bucket": LEDGER_BUCKET, "target": "web", "tags": {"glob": "main-*"}}]);
    let home = Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let prod = slipway::Deployer::new(
        Config::from_json(&prod_config.to_string(), &home).unwrap(),
        EcsService::new(world.clients.ecs.clone()),
        EcrRegistry::new(world.clients.ecr.clone()),
        S3Store::new(s3.clone(), "slipway-prod-ledger".into()),
        S3Sources::new(s3.clone()),
        false,
    )
    .with_remote_ledger("dev-web", S3Store::new(s3.clone(), LEDGER_BUCKET.into()));

    // main's build: dev rolls it.
    let built = world.push_image(Some("main-1")).await;
    let report = dev
        .handle_ecr_event(
            &push_event("d-1", Some("main-1"), &built),
            &invocation("d-1"),
        )
        .await
        .unwrap();
    assert!(
        matches!(target_outcomes(&report)[0].1, TargetOutcome::Rolling { .. }),
        "{report:?}"
    );
    // The release tag names the same digest (CI's release step: put-image of its manifest).
    world.tag_again(&built, "v1.0.0").await;
    let release = |id: &'static str, tag: &'static str, digest: String| {
        let prod = &prod;
        async move {
            let report = prod
                .handle_ecr_event(&push_event(id, Some(tag), &digest), &invocation(id))
                .await
                .unwrap();
            target_outcomes(&report).remove(0).1
        }
    };
    let waiting = release("p-1", "v1.0.0", built.clone()).await;
    assert!(
        matches!(waiting, TargetOutcome::WaitingForUpstream { .. }),
        "dev still rolls it: {waiting:?}"
    );

    // ECS tells dev its rollout completed; prod's reconciler looks again, in dev's ledger.
    let dev_record = dev
        .deployment(&format!("web.{}", image_key(&built)))
        .await
        .unwrap()
        .value;
    let mut completed: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/events/ecs-deployment-completed.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    completed["resources"] = json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web")]);
    completed["detail"]["deploymentId"] = json!(dev_record.ecs_deployment_id.unwrap());
    dev.handle_deployment_event(&completed, &invocation("done"))
        .await
        .unwrap();
    prod.reconcile(&schedule(), &invocation("reconcile")).await;

    let prod_record = prod
        .deployment(&format!("web-prod.{}", image_key(&built)))
        .await
        .unwrap()
        .value;
    assert!(
        matches!(prod_record.state, State::Rolling | State::Succeeded),
        "{prod_record:?}"
    );
    let evidence = prod_record.promotion.unwrap().evidence;
    assert_eq!(evidence[0].upstream, "dev-web");
    assert_eq!(
        evidence[0].deployment_id,
        format!("web.{}", image_key(&built))
    );
    let service = world
        .clients
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web-prod")
        .send()
        .await
        .unwrap();
    let running = service.services()[0].task_definition().unwrap().to_string();
    let definition = world
        .clients
        .ecs
        .describe_task_definition()
        .task_definition(running)
        .send()
        .await
        .unwrap();
    let image = definition
        .task_definition()
        .unwrap()
        .container_definitions()[0]
        .image()
        .unwrap()
        .to_string();
    assert!(image.ends_with(&built), "prod runs dev's digest: {image}");

    // An image built separately for prod, under a release tag: nothing in dev's ledger.
    let separate = world.push_image(Some("v2.0.0")).await;
    let refused = release("p-2", "v2.0.0", separate).await;
    assert!(
        matches!(refused, TargetOutcome::NotPromoted { .. }),
        "{refused:?}"
    );
}
