//! What AWS does and the emulator does not, played against Slipway: deployment
//! controllers and strategies, short service ARNs, S3's 409 ConditionalRequestConflict,
//! ECR's push time of a re-tagged image, a failing SNS topic. Where moto can be set up to
//! answer as AWS does, it is; where it cannot, the fault proxy rewrites its answer, with
//! the AWS documentation it follows cited at the rewrite.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType};
use common::faults::{Fault, FaultProxy};
use common::*;
use serde_json::{json, Value};
use slipway::aws::{AwsNotifier, CallTimeouts, S3Store, SlackApi};
use slipway::deployer::TargetOutcome;
use slipway::ledger::image_key;
use slipway::model::deployment::State;
use slipway::ports::{ConditionalWrite, ObjectStore};

fn auto_web() -> String {
    config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")])
}

/// A service of `controller` running `app:v1`, created as AWS would (moto stores the
/// controller and reports it in DescribeServices).
async fn service_with_controller(world: &World, name: &str, controller: DeploymentControllerType) {
    let running = world.push_image(Some("v1")).await;
    let task_definition = world.create_service("template", &image_uri(&running)).await;
    world
        .clients
        .ecs
        .create_service()
        .cluster("prod")
        .service_name(name)
        .task_definition(task_definition)
        .desired_count(1)
        .deployment_controller(
            DeploymentController::builder()
                .r#type(controller)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn code_deploy_and_external_services_are_refused_before_anything_is_registered() {
    for (controller, name) in [
        (DeploymentControllerType::CodeDeploy, "CODE_DEPLOY"),
        (DeploymentControllerType::External, "EXTERNAL"),
    ] {
        let world = World::new().await;
        service_with_controller(&world, "web", controller).await;
        let pushed = world.push_image(Some("v2")).await;
        let (deployer, calls) = world.deployer(&auto_web(), false);

        let report = deployer
            .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
            .await
            .unwrap();

        let TargetOutcome::Unsupported {
            deployment_controller,
            error,
            ..
        } = only_outcome(&report)
        else {
            panic!("{name}: expected unsupported, got {report:?}")
        };
        assert_eq!(deployment_controller, name);
        assert!(
            error.contains(name) && error.contains("Nothing was registered"),
            "{error}"
        );
        assert_eq!(calls.registers.load(Ordering::SeqCst), 0, "{name}");
        assert_eq!(calls.updates.load(Ordering::SeqCst), 0, "{name}");
        assert!(
            world.ledger_keys().await.is_empty(),
            "{name}: nothing is written for a service Slipway cannot roll"
        );
    }
}

/// DescribeServices as ECS answers it for a service with `deploymentConfiguration` (moto
/// does not keep it at CreateService): ECS API Reference, DeploymentConfiguration
/// (`strategy`: ROLLING | BLUE_GREEN | LINEAR | CANARY) and DeploymentCircuitBreaker.
fn with_deployment_configuration(proxy: &FaultProxy, configuration: Value) {
    proxy.rewrite(
        |call| call.operation == "DescribeServices",
        move |_, answer| {
            for service in answer["services"].as_array_mut().into_iter().flatten() {
                service["deploymentConfiguration"] = configuration.clone();
            }
        },
    );
}

async fn world_via_proxy() -> (World, FaultProxy, slipway::aws::Clients, String) {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 7).await;
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    (world, proxy, clients, pushed)
}

/// A canary target's UpdateService carries ECS's deployment configuration under the
/// documented wire names (API_DeploymentConfiguration, API_CanaryConfiguration,
/// API_DeploymentAlarms, API_AdvancedConfiguration), and the service deployment ARN ECS
/// answers with (`service.currentServiceDeployment`, API_Service) is recorded: moto
/// answers without it, so the proxy adds it as ECS would.
#[tokio::test(flavor = "multi_thread")]
async fn a_canary_targets_update_service_carries_its_deployment_configuration() {
    let (world, proxy, clients, pushed) = world_via_proxy().await;
    const ARN: &str =
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/0EYSiB0qap8xf0N76FsbE";
    proxy.rewrite(
        |call| call.operation == "UpdateService",
        |_, answer| answer["service"]["currentServiceDeployment"] = json!(ARN),
    );
    let lb = json!({
        "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1",
        "container_name": "app", "container_port": 8080,
        "alternate_target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2",
        "production_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/2/3",
        "test_listener_rule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/1/4/5",
        "role_arn": "arn:aws:iam::123456789012:role/ecs-infrastructure"});
    let config = config(&[target_json_with(
        "web",
        "web",
        r#"{"glob": "v*"}"#,
        "auto",
        json!({"rollout": {"strategy": "canary", "canary": {"percent": 10, "bake_minutes": 5},
            "bake_minutes": 15, "alarms": ["web-5xx"], "load_balancer": lb}}),
    )]);
    let (deployer, calls) = world.deployer_with_clients(&config, false, None, &clients);

    deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();

    assert_eq!(calls.updates.load(Ordering::SeqCst), 1);
    let update = proxy
        .calls()
        .into_iter()
        .find(|c| c.operation == "UpdateService")
        .and_then(|c| c.body)
        .unwrap();
    let sent = &update["deploymentConfiguration"];
    assert_eq!(sent["strategy"], "CANARY", "{update:#}");
    assert_eq!(sent["bakeTimeInMinutes"], 15);
    assert_eq!(sent["canaryConfiguration"]["canaryPercent"], 10.0);
    assert_eq!(sent["canaryConfiguration"]["canaryBakeTimeInMinutes"], 5);
    assert_eq!(
        sent["alarms"],
        json!({"alarmNames": ["web-5xx"], "enable": true, "rollback": true})
    );
    assert_eq!(
        sent["lifecycleHooks"],
        json!([]),
        "no pause, and none left from an earlier rollout"
    );
    let advanced = &update["loadBalancers"][0]["advancedConfiguration"];
    assert_eq!(
        advanced["alternateTargetGroupArn"],
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2"
    );
    assert_eq!(
        advanced["roleArn"],
        "arn:aws:iam::123456789012:role/ecs-infrastructure"
    );
    let record = deployer
        .ledger()
        .deployment("web", &image_key(&pushed))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(record.state, State::Rolling);
    let progress = record.progress.unwrap();
    assert_eq!(progress.service_deployment_arn.as_deref(), Some(ARN));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blue_green_linear_or_canary_service_of_a_rolling_target_is_refused_with_what_to_do() {
    for strategy in ["BLUE_GREEN", "LINEAR", "CANARY"] {
        let (world, proxy, clients, pushed) = world_via_proxy().await;
        with_deployment_configuration(
            &proxy,
            json!({"strategy": strategy, "deploymentCircuitBreaker": {"enable": false, "rollback": false}}),
        );
        let (deployer, calls) = world.deployer_with_clients(&auto_web(), false, None, &clients);

        let report = deployer
            .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
            .await
            .unwrap();

        let TargetOutcome::Unsupported {
            strategy: reported,
            error,
            ..
        } = only_outcome(&report)
        else {
            panic!("{strategy}: {report:?}")
        };
        assert_eq!(reported.as_deref(), Some(strategy));
        assert!(
            error.contains("rollout.strategy") && error.contains("strategy to ROLLING"),
            "{error}"
        );
        assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
        assert!(world.ledger_keys().await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_service_with_a_circuit_breaker_plans_without_a_warning() {
    let (world, proxy, clients, pushed) = world_via_proxy().await;
    with_deployment_configuration(
        &proxy,
        json!({"strategy": "ROLLING", "deploymentCircuitBreaker": {"enable": true, "rollback": true},
               "maximumPercent": 200, "minimumHealthyPercent": 100}),
    );
    let (deployer, _) = world.deployer_with_clients(&auto_web(), true, None, &clients);

    let report = deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();

    let TargetOutcome::DryRun { warnings, .. } = only_outcome(&report) else {
        panic!("{report:?}")
    };
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_with_a_short_arn_is_refused_until_it_is_migrated() {
    let world = World::new().await;
    // Services created before the long ARN format (2021) keep service/<name>; moto
    // creates them so while the account setting is disabled (ECS Developer Guide,
    // "Migrate an Amazon ECS short service ARN to a long ARN").
    world
        .clients
        .ecs
        .put_account_setting()
        .name(aws_sdk_ecs::types::SettingName::ServiceLongArnFormat)
        .value("disabled")
        .send()
        .await
        .unwrap();
    let running = world.push_image(Some("v1")).await;
    world.create_service("web", &image_uri(&running)).await;
    let pushed = world.push_image(Some("v2")).await;
    let (deployer, calls) = world.deployer(&auto_web(), false);

    let report = deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();

    let TargetOutcome::Unsupported { error, .. } = only_outcome(&report) else {
        panic!("{report:?}")
    };
    assert!(
        error.contains("short service ARN") && error.contains("long ARN format"),
        "{error}"
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_409_conditional_request_conflict_is_retried_and_not_taken_as_written() {
    let world = World::new().await;
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 7).await;
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    // The first conditional write to the key meets another in flight: S3 answers 409
    // and applies nothing (S3 API Reference, PutObject).
    let seen = Arc::new(AtomicUsize::new(0));
    let first = seen.clone();
    proxy.inject(
        1.0,
        &[Fault::InFlightConflict],
        Some(Box::new(move |call| {
            call.operation == "PutObject"
                && call.path.ends_with("audit/entry.json")
                && first.fetch_add(1, Ordering::SeqCst) == 0
        })),
    );
    let store = S3Store::new(clients.s3.clone(), LEDGER_BUCKET.into());

    let written = store
        .create("targets/web/audit/entry.json", b"{}".to_vec())
        .await
        .unwrap();

    assert!(
        matches!(written, ConditionalWrite::Written { .. }),
        "{written:?}"
    );
    assert_eq!(proxy.faults_injected(), 1);
    assert_eq!(proxy.applied("PutObject"), 1, "retried once after the 409");
    let direct = S3Store::new(world.clients.s3.clone(), LEDGER_BUCKET.into());
    assert!(direct
        .get("targets/web/audit/entry.json")
        .await
        .unwrap()
        .is_some());
    // A 412 is still a conflict: the object exists now.
    let again = store
        .create("targets/web/audit/entry.json", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(again, ConditionalWrite::Conflict);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_higher_version_re_tagged_onto_an_image_built_earlier_deploys() {
    let world = World::new().await;
    let built_earlier = world.push_image(Some("rc-7")).await;
    let running = world.push_image(Some("v1.4.2")).await;
    world.create_service("web", &image_uri(&running)).await;
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(30), 7).await;
    let clients = clients_at(&proxy.endpoint, CallTimeouts::default()).await;
    // ECR keeps an image's first imagePushedAt when it is re-tagged (ECR User Guide,
    // "Retagging an image"; ImageDetail.imagePushedAt). moto's push times have whole
    // seconds, so the earlier image is made an hour older than the running one.
    let earlier = built_earlier.clone();
    proxy.rewrite(
        |call| call.operation == "DescribeImages",
        move |_, answer| {
            for image in answer["imageDetails"].as_array_mut().into_iter().flatten() {
                if image["imageDigest"] == earlier.as_str() {
                    let at = image["imagePushedAt"].as_f64().unwrap_or_default();
                    image["imagePushedAt"] = json!(at - 3600.0);
                }
            }
        },
    );
    let (deployer, calls) = world.deployer_with_clients(
        &config(&[target_json(
            "web",
            "web",
            r#"{"semver": ">=1, <2"}"#,
            "auto",
        )]),
        false,
        None,
        &clients,
    );
    // Slipway accepted v1.4.2 once (the head records its version).
    let report = deployer
        .handle_ecr_event(
            &push_event("e-0", Some("v1.4.2"), &running),
            &invocation("r-0"),
        )
        .await
        .unwrap();
    assert!(
        matches!(only_outcome(&report), TargetOutcome::AlreadyRunning { .. }),
        "{report:?}"
    );
    let newer = world.push_image(Some("v1.4.3")).await;
    let report = deployer
        .handle_ecr_event(
            &push_event("e-1", Some("v1.4.3"), &newer),
            &invocation("r-1"),
        )
        .await
        .unwrap();
    assert!(
        matches!(only_outcome(&report), TargetOutcome::Rolling { .. }),
        "{report:?}"
    );

    // CI promotes the release candidate: v1.5.0 names the digest built before both.
    world.tag_again(&built_earlier, "v1.5.0").await;
    let report = deployer
        .handle_ecr_event(
            &push_event("e-2", Some("v1.5.0"), &built_earlier),
            &invocation("r-2"),
        )
        .await
        .unwrap();

    let TargetOutcome::Rolling { changes, .. } = only_outcome(&report) else {
        panic!("a strictly higher version must deploy whenever its image was built: {report:?}")
    };
    assert!(changes[0].to.ends_with(&built_earlier), "{changes:?}");
    assert_eq!(calls.updates.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_sns_topic_does_not_keep_the_slack_request_from_being_posted() {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    let slack = SlackStandIn::start().await;
    let (deployer, _) = world.deployer(
        &config(&[target_json_with(
            "web",
            "web",
            r#"{"glob": "v*"}"#,
            "approval",
            serde_json::json!({"approval": {"slack_channel": "C0DEPLOYS", "slack_approvers": ["U1"]}}),
        )]),
        false,
    );
    // The topic was deleted (or its policy denies Publish): SNS answers NotFound.
    let notifier = AwsNotifier::new(
        Some(slipway::aws::SnsTopic {
            client: world.clients.sns(),
            arn: format!("arn:aws:sns:{REGION}:{ACCOUNT}:deleted-topic"),
        }),
        Some(SlackApi::new(
            &format!("{}/api", slack.url),
            "xoxb-test".into(),
        )),
    );
    let deployer = deployer.with_approvals(
        Some(slipway::approval::ApprovalLinks::new(
            APPROVAL_URL,
            test_keys(),
        )),
        notifier,
    );

    let report = deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();

    assert!(
        matches!(
            only_outcome(&report),
            TargetOutcome::AwaitingApproval { .. }
        ),
        "{report:?}"
    );
    assert_eq!(slack.calls_to("api/chat.postMessage").len(), 1);
    let record = deployer
        .ledger()
        .deployment("web", &image_key(&pushed))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(record.state, State::AwaitingApproval);
    let deliveries = &record.approval.unwrap().deliveries;
    let by_channel: Vec<(&str, bool)> = deliveries
        .iter()
        .map(|d| (d.channel.as_str(), d.sent))
        .collect();
    assert_eq!(
        by_channel,
        [("email", false), ("slack", true)],
        "{deliveries:?}"
    );
    assert!(
        deliveries[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("SNS"),
        "{deliveries:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_service_whose_answer_was_lost_is_not_sent_twice() {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    // The answer comes after the client gave up: ECS applied the call (and started a
    // deployment, forced), the client saw a timeout. SLOW_FOR > the attempt timeout.
    let proxy = FaultProxy::start(&world.emulator.endpoint, Duration::from_secs(3), 7).await;
    let timeouts = CallTimeouts {
        connect: Duration::from_secs(1),
        attempt: Duration::from_secs(1),
        operation: Duration::from_secs(10),
    };
    let clients = clients_at(&proxy.endpoint, timeouts).await;
    let seen = Arc::new(AtomicUsize::new(0));
    let first = seen.clone();
    proxy.inject(
        1.0,
        &[Fault::Slow],
        Some(Box::new(move |call| {
            call.operation == "UpdateService" && first.fetch_add(1, Ordering::SeqCst) == 0
        })),
    );
    let (deployer, _) = world.deployer_with_clients(&auto_web(), false, None, &clients);

    let report = deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &pushed), &invocation("r-1"))
        .await
        .unwrap();

    let TargetOutcome::Rolling {
        ecs_deployment_id, ..
    } = only_outcome(&report)
    else {
        panic!("{report:?}")
    };
    assert_eq!(
        proxy.applied("UpdateService"),
        1,
        "a second UpdateService (forceNewDeployment) would start a second ECS deployment"
    );
    let service = world
        .clients
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .unwrap();
    let primary = service.services()[0]
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.id())
        .unwrap()
        .to_string();
    assert_eq!(
        ecs_deployment_id, primary,
        "the deployment the lost call started is recorded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_is_read_from_its_object_at_the_version_terraform_wrote() {
    let world = World::new().await;
    let s3 = &world.clients.s3;
    s3.put_bucket_versioning()
        .bucket(LEDGER_BUCKET)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let put = |body: String| async move {
        s3.put_object()
            .bucket(LEDGER_BUCKET)
            .key("config/targets.json")
            .body(body.into_bytes().into())
            .send()
            .await
            .unwrap()
            .version_id
            .unwrap()
    };
    let many: Vec<String> = (0..40)
        .map(|i| target_json(&format!("web-{i}"), "web", r#"{"glob": "v*"}"#, "auto"))
        .collect();
    let first = put(config(&many)).await;
    let _newer = put(config(&many[..1])).await;
    let home = slipway::input::config::Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let uri = format!("s3://{LEDGER_BUCKET}/config/targets.json");

    let pinned = slipway::aws::config_from_object(s3, &home, &uri, Some(first))
        .await
        .unwrap();
    assert_eq!(
        pinned.targets.len(),
        40,
        "the version in the environment, not the latest"
    );

    put(r#"{"targets": [{"name": "web"}]}"#.into()).await;
    let err = slipway::aws::config_from_object(s3, &home, &uri, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("targets[0]"),
        "an invalid config stops the cold start: {err}"
    );
    let err = slipway::aws::config_from_object(s3, &home, "s3://nope/config.json", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("s3://nope/config.json"), "{err}");
}
