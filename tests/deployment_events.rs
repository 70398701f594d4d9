//! How rollouts end, against the emulator: ECS's deployment events (replayed from
//! `events/`, since the emulator emits none) move the ledger, tell people the truth by SNS
//! and Slack, keep the last known good release, and freeze a target after a failure;
//! operators roll back and unfreeze through their own events.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use serde_json::Value;
use slipway::deployer::{EventOutcome, TargetOutcome};
use slipway::model::deployment::{State, Trigger};
use slipway::Report;

const CIRCUIT_BREAKER: &str = "ECS deployment circuit breaker: task failed to start.";

/// A target `web` (semver tags) whose outcomes go to Slack channel C0DEPLOYS.
fn web_config(freeze: &str) -> String {
    config(&[format!(
        r#"{{"name": "web", "cluster": "prod", "service": "web", "containers": ["app"],
            "repository": "app", "tags": {{"semver": ">=1"}}, "policy": "auto",
            "notifications": {{"slack_channel": "C0DEPLOYS"}},
            "freeze_after_failure": "{freeze}"}}"#
    )])
}

/// An ECS deployment event in AWS's shape (the file in `events/`), for service prod/web.
fn ecs_event(name: &str, ecs_deployment_id: &str, reason: &str, at: DateTime<Utc>) -> Value {
    let path = format!(
        "{}/events/ecs-deployment-completed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["id"] = Value::from(format!("{name}-{ecs_deployment_id}-{}", at.timestamp()));
    event["resources"] =
        serde_json::json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web")]);
    event["detail"]["eventName"] = Value::from(format!("SERVICE_DEPLOYMENT_{name}"));
    event["detail"]["eventType"] = Value::from(if name == "FAILED" { "ERROR" } else { "INFO" });
    event["detail"]["deploymentId"] = Value::from(ecs_deployment_id);
    event["detail"]["updatedAt"] = Value::from(at.to_rfc3339());
    event["detail"]["reason"] = Value::from(reason);
    event
}

fn rollback_reason(to: &str) -> String {
    format!("ECS deployment circuit breaker: rolling back to deploymentId {to}.")
}

fn operator(action: &str, id: &str) -> Value {
    let path = format!(
        "{}/events/operator-rollback.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["id"] = Value::from(id);
    event["detail"]["action"] = Value::from(action);
    event
}

/// Pushes `tag` and deploys it; returns the deployment id and the ECS deployment id.
async fn deploy(world: &World, deployer: &TestDeployer, tag: &str) -> (String, String) {
    let digest = world.push_image(Some(tag)).await;
    let report = deployer
        .handle_ecr_event(
            &push_event(&format!("push-{tag}-{digest}"), Some(tag), &digest),
            &invocation(&format!("push-{tag}")),
        )
        .await
        .unwrap();
    let TargetOutcome::Rolling {
        ecs_deployment_id, ..
    } = &only_outcome(&report)
    else {
        panic!("{tag} should roll: {report:?}")
    };
    (
        format!("web.img-{}", digest.trim_start_matches("sha256:")),
        ecs_deployment_id.clone(),
    )
}

async fn replay(deployer: &TestDeployer, event: &Value) -> Report {
    deployer
        .handle_deployment_event(event, &invocation("ecs-event"))
        .await
        .unwrap()
}

async fn state_of(deployer: &TestDeployer, id: &str) -> slipway::model::deployment::Deployment {
    deployer.deployment(id).await.unwrap().value
}

async fn rollouts(deployer: &TestDeployer) -> slipway::model::rollout::Rollouts {
    deployer
        .ledger()
        .rollouts("web")
        .await
        .unwrap()
        .map(|r| r.value)
        .unwrap_or_default()
}

async fn world_with_web() -> World {
    let world = World::new().await;
    let running = world.push_image(Some("v0.9.0")).await;
    world.create_service("web", &image_uri(&running)).await;
    world
}

#[tokio::test]
async fn a_completed_rollout_succeeds_with_its_duration_becomes_last_good_and_is_told_once() {
    let world = world_with_web().await;
    let approvers = world.approvers().await;
    let (deployer, _) = world.approval_deployer(&web_config("until-newer-image"), &approvers);
    let (id, ecs_id) = deploy(&world, &deployer, "v1.4.2").await;
    let started = state_of(&deployer, &id).await.rolling_since().unwrap();

    let progress = replay(
        &deployer,
        &ecs_event("IN_PROGRESS", &ecs_id, "in progress", started),
    )
    .await;
    assert!(matches!(
        &only_outcome(&progress),
        TargetOutcome::Unchanged { .. }
    ));
    let done = ecs_event(
        "COMPLETED",
        &ecs_id,
        "completed",
        started + Duration::seconds(192),
    );
    let report = replay(&deployer, &done).await;
    assert!(
        matches!(
            &only_outcome(&report),
            TargetOutcome::Moved {
                to: State::Succeeded,
                ..
            }
        ),
        "{report:?}"
    );
    let record = state_of(&deployer, &id).await;
    assert_eq!(record.state, State::Succeeded);
    assert_eq!(record.rollout_duration(), Some(Duration::seconds(192)));
    let good = rollouts(&deployer).await.last_good.unwrap();
    assert_eq!(good.deployment_id, id);
    assert_eq!(good.ecs_deployment_id, ecs_id);
    assert_eq!(Some(good.task_definition), record.to_task_definition);

    let published = world.published(&approvers).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(
        published[0].contains("app:v1.4.2 live on prod/web in 3m12s"),
        "{}",
        published[0]
    );
    let posts = approvers.slack.calls_to("api/chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["channel"], "C0DEPLOYS");
    assert_eq!(posts[0]["text"], "app:v1.4.2 live on prod/web in 3m12s");

    // Duplicates and late events: nothing moves, nobody is told again.
    for late in [
        done.clone(),
        ecs_event("IN_PROGRESS", &ecs_id, "in progress", started),
        ecs_event(
            "FAILED",
            &ecs_id,
            CIRCUIT_BREAKER,
            started + Duration::seconds(1),
        ),
    ] {
        let report = replay(&deployer, &late).await;
        assert!(
            matches!(&only_outcome(&report), TargetOutcome::Unchanged { .. }),
            "{report:?}"
        );
    }
    assert_eq!(state_of(&deployer, &id).await.state, State::Succeeded);
    assert!(world.published(&approvers).await.is_empty());
    assert_eq!(approvers.slack.calls_to("api/chat.postMessage").len(), 1);
}

#[tokio::test]
async fn a_circuit_breaker_rollback_is_a_failure_named_as_such_and_freezes_the_target() {
    let world = world_with_web().await;
    let approvers = world.approvers().await;
    let (deployer, calls) = world.approval_deployer(&web_config("until-newer-image"), &approvers);
    let (good_id, good_ecs) = deploy(&world, &deployer, "v1.4.1").await;
    let now = Utc::now();
    replay(&deployer, &ecs_event("COMPLETED", &good_ecs, "", now)).await;
    world.published(&approvers).await;

    let (bad_id, bad_ecs) = deploy(&world, &deployer, "v1.4.2").await;
    // A problem while rolling is noted on the rollout.
    let impaired = format!(
        "{}/events/ecs-service-action-task-start-impaired.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut impaired: Value =
        serde_json::from_str(&std::fs::read_to_string(impaired).unwrap()).unwrap();
    impaired["resources"] =
        serde_json::json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web")]);
    replay(&deployer, &impaired).await;
    replay(&deployer, &impaired).await;
    let noted = state_of(&deployer, &bad_id).await.history;
    assert_eq!(
        noted
            .iter()
            .filter(|h| h.note.contains("SERVICE_TASK_START_IMPAIRED"))
            .count(),
        1,
        "noted once: {noted:?}"
    );

    replay(
        &deployer,
        &ecs_event(
            "FAILED",
            &bad_ecs,
            CIRCUIT_BREAKER,
            now + Duration::seconds(300),
        ),
    )
    .await;
    assert_eq!(state_of(&deployer, &bad_id).await.state, State::Failed);
    let rollback = ecs_event(
        "IN_PROGRESS",
        "ecs-svc/rollback-1",
        &rollback_reason(&good_ecs),
        now + Duration::seconds(301),
    );
    let report = replay(&deployer, &rollback).await;
    assert!(
        matches!(
            &only_outcome(&report),
            TargetOutcome::Moved {
                from: State::Failed,
                to: State::RolledBack,
                ..
            }
        ),
        "{report:?}"
    );
    let record = state_of(&deployer, &bad_id).await;
    assert_eq!(record.state, State::RolledBack);
    assert_eq!(record.rolled_back_to.as_deref(), Some("app:v1.4.1"));
    // The rollback's own completion changes nothing.
    replay(
        &deployer,
        &ecs_event(
            "COMPLETED",
            "ecs-svc/rollback-1",
            "",
            now + Duration::seconds(420),
        ),
    )
    .await;
    assert_eq!(state_of(&deployer, &bad_id).await.state, State::RolledBack);

    let published = world.published(&approvers).await;
    assert_eq!(
        published.len(),
        2,
        "the failure, then the rollback: {published:?}"
    );
    assert!(published[0].contains(&format!("app:v1.4.2 FAILED on prod/web: {CIRCUIT_BREAKER}")));
    assert!(
        published[1]
            .contains("app:v1.4.2 FAILED on prod/web: circuit breaker rolled back to app:v1.4.1"),
        "{}",
        published[1]
    );
    assert!(
        published[1].contains("Automatic deploys to web are paused"),
        "{}",
        published[1]
    );
    assert!(
        published[1].contains("Last known good: app:v1.4.1"),
        "{}",
        published[1]
    );
    let state = rollouts(&deployer).await;
    assert_eq!(state.freeze.as_ref().unwrap().deployment_id, bad_id);
    assert_eq!(
        state.last_good.unwrap().deployment_id,
        good_id,
        "a failure is never good"
    );

    // Frozen: the same version rebuilt does not deploy; nothing reaches ECS.
    let updates = calls.updates.load(std::sync::atomic::Ordering::SeqCst);
    let rebuilt = world.push_image(Some("v1.4.2")).await;
    let report = deployer
        .handle_ecr_event(
            &push_event("rebuilt", Some("v1.4.2"), &rebuilt),
            &invocation("rebuilt"),
        )
        .await
        .unwrap();
    let TargetOutcome::Frozen { reason } = &only_outcome(&report) else {
        panic!("{report:?}")
    };
    assert!(reason.contains("not above 1.4.2"), "{reason}");
    assert_eq!(
        calls.updates.load(std::sync::atomic::Ordering::SeqCst),
        updates
    );
    // A newer version thaws it and deploys.
    deploy(&world, &deployer, "v1.4.3").await;
    let state = rollouts(&deployer).await;
    assert!(state.freeze.is_none());
    assert_eq!(state.unfrozen.unwrap().by, "slipway");
}

#[tokio::test]
async fn out_of_order_a_rollback_before_its_failure_still_ends_rolled_back_and_told_once() {
    let world = world_with_web().await;
    let approvers = world.approvers().await;
    let (deployer, _) = world.approval_deployer(&web_config("never"), &approvers);
    let (_, good_ecs) = deploy(&world, &deployer, "v1.0.0").await;
    let now = Utc::now();
    replay(&deployer, &ecs_event("COMPLETED", &good_ecs, "", now)).await;
    let (bad_id, bad_ecs) = deploy(&world, &deployer, "v1.1.0").await;
    world.published(&approvers).await;

    let rollback = ecs_event(
        "IN_PROGRESS",
        "ecs-svc/rollback-2",
        &rollback_reason(&good_ecs),
        now + Duration::seconds(60),
    );
    let failed = ecs_event(
        "FAILED",
        &bad_ecs,
        CIRCUIT_BREAKER,
        now + Duration::seconds(59),
    );
    // Each delivered twice, the rollback first.
    for event in [&rollback, &rollback, &failed, &failed] {
        replay(&deployer, event).await;
    }
    let record = state_of(&deployer, &bad_id).await;
    assert_eq!(record.state, State::RolledBack);
    let published = world.published(&approvers).await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(published[0].contains("circuit breaker rolled back to app:v1.0.0"));
    assert!(
        rollouts(&deployer).await.freeze.is_none(),
        "freeze_after_failure: never"
    );
}

#[tokio::test]
async fn a_deployment_slipway_did_not_start_is_recorded_as_external() {
    let world = world_with_web().await;
    let approvers = world.approvers().await;
    let (deployer, _) = world.approval_deployer(&web_config("until-newer-image"), &approvers);
    let report = replay(
        &deployer,
        &ecs_event("COMPLETED", "ecs-svc/console-1", "", Utc::now()),
    )
    .await;
    let outcome = &only_outcome(&report);
    assert!(
        matches!(
            outcome,
            TargetOutcome::Moved {
                to: State::Succeeded,
                ..
            }
        ),
        "{report:?}"
    );
    let keys = world.ledger_keys().await;
    let key = keys
        .iter()
        .find(|k| k.contains("/deployments/ext-"))
        .expect("an external record");
    let id = format!(
        "web.{}",
        key.rsplit('/').next().unwrap().trim_end_matches(".json")
    );
    let record = state_of(&deployer, &id).await;
    assert!(matches!(record.trigger, Trigger::External { .. }));
    let (running, _) = world.running("web").await;
    assert_eq!(
        record.to_task_definition.as_deref(),
        running.task_definition_arn()
    );
    let published = world.published(&approvers).await;
    assert!(
        published[0].contains(
            "ECS deployment ecs-svc/console-1 (not started by Slipway) live on prod/web\n"
        ),
        "{published:?}"
    );
    assert!(
        rollouts(&deployer).await.last_good.is_none(),
        "Slipway cannot vouch for what another tool deployed"
    );

    // An event for a service no target deploys to is acknowledged and ignored.
    let mut elsewhere = ecs_event("COMPLETED", "ecs-svc/x", "", Utc::now());
    elsewhere["resources"] =
        serde_json::json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/other")]);
    assert!(matches!(
        replay(&deployer, &elsewhere).await.outcome,
        EventOutcome::Ignored { .. }
    ));
}

#[tokio::test]
async fn an_unknown_deployment_while_slipway_is_calling_update_service_is_retried() {
    let world = world_with_web().await;
    let (deployer, _) = world.deployer(&web_config("until-newer-image"), false);
    let rollouts = slipway::model::rollout::Rollouts {
        starting: Some(slipway::model::rollout::Starting {
            deployment_id: "web.img-abc".into(),
            key: "img-abc".into(),
            until: Utc::now() + Duration::seconds(30),
        }),
        ..Default::default()
    };
    deployer
        .ledger()
        .set_rollouts("web", None, rollouts)
        .await
        .unwrap();
    let err = deployer
        .handle_deployment_event(
            &ecs_event("IN_PROGRESS", "ecs-svc/new", "", Utc::now()),
            &invocation("early"),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("web.img-abc"), "{err}");
    assert!(
        !world
            .ledger_keys()
            .await
            .iter()
            .any(|k| k.contains("/ext-")),
        "not taken for an external deployment"
    );
}

#[tokio::test]
async fn an_operator_rolls_back_to_the_last_known_good_release_as_a_ledger_entry() {
    let world = world_with_web().await;
    let approvers = world.approvers().await;
    let (deployer, calls) = world.approval_deployer(&web_config("until-newer-image"), &approvers);
    let (good_id, good_ecs) = deploy(&world, &deployer, "v2.0.0").await;
    let good_td = state_of(&deployer, &good_id)
        .await
        .to_task_definition
        .unwrap();
    replay(
        &deployer,
        &ecs_event("COMPLETED", &good_ecs, "", Utc::now()),
    )
    .await;
    // v2.1.0 fails, and this service's circuit breaker does not roll back.
    let (bad_id, bad_ecs) = deploy(&world, &deployer, "v2.1.0").await;
    replay(
        &deployer,
        &ecs_event("FAILED", &bad_ecs, CIRCUIT_BREAKER, Utc::now()),
    )
    .await;
    let registered = world.revisions("web").await;

    let request = operator("rollback", "rollback-1");
    let report = replay(&deployer, &request).await;
    let TargetOutcome::Rolling {
        to_task_definition,
        ecs_deployment_id,
        ..
    } = &only_outcome(&report)
    else {
        panic!("{report:?}")
    };
    assert_eq!(*to_task_definition, good_td, "exactly the good revision");
    let (running, _) = world.running("web").await;
    assert_eq!(running.task_definition_arn(), Some(good_td.as_str()));
    assert_eq!(
        world.revisions("web").await,
        registered,
        "nothing registered"
    );
    let EventOutcome::Targets { targets, .. } = &report.outcome else {
        unreachable!()
    };
    let rollback = state_of(&deployer, &targets[0].deployment_id).await;
    assert!(
        matches!(&rollback.trigger, Trigger::Rollback { requested_by, to_deployment_id, .. }
            // EventBridge's sender is not verified: the ledger says so.
            if requested_by == "claimed by alice@example.com" && *to_deployment_id == good_id),
        "{:?}",
        rollback.trigger
    );
    assert_eq!(rollback.state, State::Rolling);

    // A redelivered request does nothing more.
    let updates = calls.updates.load(std::sync::atomic::Ordering::SeqCst);
    let again = replay(&deployer, &request).await;
    assert!(
        matches!(&only_outcome(&again), TargetOutcome::Duplicate { .. }),
        "{again:?}"
    );
    assert_eq!(
        calls.updates.load(std::sync::atomic::Ordering::SeqCst),
        updates
    );

    // ECS concludes the rollback like any rollout.
    replay(
        &deployer,
        &ecs_event(
            "COMPLETED",
            ecs_deployment_id,
            "",
            Utc::now() + Duration::seconds(90),
        ),
    )
    .await;
    assert_eq!(
        state_of(&deployer, &targets[0].deployment_id).await.state,
        State::Succeeded
    );
    let published = world.published(&approvers).await;
    assert!(
        published
            .iter()
            .any(|m| m.contains("rollback to app:v2.0.0 live on prod/web in 1m")),
        "{published:?}"
    );
    assert_eq!(
        rollouts(&deployer).await.freeze.unwrap().deployment_id,
        bad_id,
        "the failed release stays frozen out"
    );

    // A request for a target that does not exist: refused with a reason.
    let unknown = replay(&deployer, &{
        let mut e = operator("rollback", "rollback-2");
        e["detail"]["target"] = Value::from("nope");
        e
    })
    .await;
    assert!(matches!(unknown.outcome, EventOutcome::Refused { .. }));
}

#[tokio::test]
async fn until_unfrozen_targets_wait_for_an_operator() {
    let world = world_with_web().await;
    let (deployer, _) = world.deployer(&web_config("until-unfrozen"), false);
    let (_, ecs_id) = deploy(&world, &deployer, "v3.0.0").await;
    replay(
        &deployer,
        &ecs_event("FAILED", &ecs_id, CIRCUIT_BREAKER, Utc::now()),
    )
    .await;
    let newer = world.push_image(Some("v3.1.0")).await;
    let push = push_event("newer", Some("v3.1.0"), &newer);
    let report = deployer
        .handle_ecr_event(&push, &invocation("newer"))
        .await
        .unwrap();
    assert!(
        matches!(&only_outcome(&report), TargetOutcome::Frozen { reason } if reason.contains("until-unfrozen")),
        "{report:?}"
    );
    let unfrozen = replay(&deployer, &operator("unfreeze", "unfreeze-1")).await;
    assert!(
        matches!(&only_outcome(&unfrozen), TargetOutcome::Unfrozen { .. }),
        "{unfrozen:?}"
    );
    assert_eq!(
        rollouts(&deployer).await.unfrozen.unwrap().by,
        "claimed by alice@example.com"
    );
    let report = deployer
        .handle_ecr_event(&push, &invocation("newer-again"))
        .await
        .unwrap();
    assert!(
        matches!(&only_outcome(&report), TargetOutcome::Rolling { .. }),
        "{report:?}"
    );
    let again = replay(&deployer, &operator("unfreeze", "unfreeze-2")).await;
    assert!(matches!(
        &only_outcome(&again),
        TargetOutcome::Unchanged { .. }
    ));
}

#[tokio::test]
async fn the_approval_slack_message_tells_how_the_approved_rollout_ended() {
    let world = world_with_web().await;
    let approvers = world.approvers().await;
    let prod = config(&[
        r#"{"name": "web", "cluster": "prod", "service": "web", "containers": ["app"],
            "repository": "app", "tags": {"semver": ">=1"}, "policy": "approval",
            "approval": {"slack_channel": "C0APPROVALS", "slack_approvers": ["U0ALICE"]}}"#
            .to_string(),
    ]);
    let (deployer, _) = world.approval_deployer(&prod, &approvers);
    let digest = world.push_image(Some("v1.5.0")).await;
    deployer
        .handle_ecr_event(
            &push_event("push-approval", Some("v1.5.0"), &digest),
            &invocation("push-approval"),
        )
        .await
        .unwrap();
    let id = format!("web.img-{}", digest.trim_start_matches("sha256:"));
    let alice = slipway::model::deployment::Actor {
        id: "U0ALICE".into(),
        channel: slipway::model::deployment::Channel::Slack,
        source: None,
    };
    deployer
        .decide(
            &id,
            slipway::model::deployment::Verdict::Approve,
            &alice,
            None,
        )
        .await
        .unwrap();
    let record = state_of(&deployer, &id).await;
    let ecs_id = record.ecs_deployment_id.clone().unwrap();
    let asked = record.approval.unwrap().slack.unwrap();
    let edits_before = approvers.slack.calls_to("api/chat.update").len();

    replay(
        &deployer,
        &ecs_event("COMPLETED", &ecs_id, "", Utc::now() + Duration::seconds(75)),
    )
    .await;
    let edits = approvers.slack.calls_to("api/chat.update");
    assert_eq!(edits.len(), edits_before + 1, "{edits:?}");
    let last = edits.last().unwrap();
    assert_eq!(last["ts"], asked.ts.as_str());
    assert!(
        last["text"]
            .as_str()
            .unwrap()
            .contains("app:v1.5.0 live on prod/web"),
        "{last}"
    );
    // Outcomes go to the approval channel when the target names no other.
    let posts = approvers.slack.calls_to("api/chat.postMessage");
    assert!(posts
        .iter()
        .any(|p| p["channel"] == "C0APPROVALS" && p["text"].as_str().unwrap().contains("live on")));
}

/// ECR's lifecycle policy may expire the image the last known good revision pins: a
/// rollback onto it would leave ECS unable to pull, so it is refused before UpdateService.
#[tokio::test]
async fn a_rollback_onto_an_image_ecr_no_longer_has_is_refused_and_nothing_rolls() {
    let world = world_with_web().await;
    let approvers = world.approvers().await;
    let (deployer, calls) = world.approval_deployer(&web_config("until-newer-image"), &approvers);
    let (good_id, good_ecs) = deploy(&world, &deployer, "v2.0.0").await;
    replay(
        &deployer,
        &ecs_event("COMPLETED", &good_ecs, "", Utc::now()),
    )
    .await;
    let (_, bad_ecs) = deploy(&world, &deployer, "v2.1.0").await;
    replay(
        &deployer,
        &ecs_event("FAILED", &bad_ecs, CIRCUIT_BREAKER, Utc::now()),
    )
    .await;
    let good_digest = good_id.trim_start_matches("web.img-");
    world
        .clients
        .ecr
        .batch_delete_image()
        .repository_name("app")
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(format!("sha256:{good_digest}"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (running_before, _) = world.running("web").await;
    let updates = calls.updates.load(std::sync::atomic::Ordering::SeqCst);

    let report = replay(&deployer, &operator("rollback", "rollback-expired")).await;
    let TargetOutcome::Failed { error } = &only_outcome(&report) else {
        panic!("{report:?}")
    };
    assert!(
        error.contains("no longer in ECR") && error.contains("app:v2.0.0"),
        "{error}"
    );
    assert_eq!(
        calls.updates.load(std::sync::atomic::Ordering::SeqCst),
        updates
    );
    let (running_after, _) = world.running("web").await;
    assert_eq!(
        running_after.task_definition_arn(),
        running_before.task_definition_arn()
    );
}
