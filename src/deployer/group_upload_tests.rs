//! A release group's `release.json` from the source bucket, over the in-memory adapters:
//! one image per target (each from its own repository, which no single push can
//! release) starts the group's run once; bad input is refused and writes nothing; a dry
//! run of a release — uploaded or pushed — lists its calls and writes nothing.

use std::collections::BTreeMap;

use serde_json::Value;

use super::group_tests::{world, World};
use super::pipeline_tests::invocation;
use super::*;
use crate::memory::{digest, ecr_push, s3_upload, ACCOUNT, REGION};
use crate::model::group::{run_id, RunState};

const BUCKET: &str = "slipway-source-123456789012";
const KEY: &str = "deploy/shop/releases/v7/release.json";

fn registry() -> String {
    format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com")
}

/// Puts `body` as version `version` of [`KEY`] and returns its "Object Created" event.
fn upload(world: &World, version: &str, body: &str) -> Value {
    upload_in_order(world, version, "0062E5F4C2B5D6E812", body)
}

/// [`upload`] with S3's `sequencer` for it (which orders uploads of one key).
fn upload_in_order(world: &World, version: &str, sequencer: &str, body: &str) -> Value {
    world
        .deployer
        .sources
        .put(BUCKET, KEY, version, body.as_bytes());
    s3_upload(&format!("s3-{version}"), BUCKET, KEY, version, sequencer)
}

/// web's image pushed as web:v7 (digest `a…`), worker's as worker:v7 (digest `b…`);
/// and v8 (`c…`, `d…`).
fn pushed_v7(world: &World) {
    let registry = &world.deployer.registry;
    registry.push(ACCOUNT, "web", Some("v7"), &digest('a'));
    registry.push(ACCOUNT, "worker", Some("v7"), &digest('b'));
    registry.push(ACCOUNT, "web", Some("v8"), &digest('c'));
    registry.push(ACCOUNT, "worker", Some("v8"), &digest('d'));
}

fn groups_of(report: Report) -> Vec<super::groups::GroupRunReport> {
    match report.outcome {
        EventOutcome::Targets { targets, groups } => {
            assert!(targets.is_empty(), "{targets:?}");
            groups
        }
        other => panic!("{other:?}"),
    }
}

/// Nothing of the group in the ledger: no line, and no run of `release`.
async fn nothing_written(world: &World, release: &BTreeMap<String, String>) {
    let ledger = &world.deployer.ledger;
    assert!(ledger.group_line("shop").await.unwrap().is_none());
    let id = run_id("shop", release);
    assert!(ledger.group_run("shop", &id).await.unwrap().is_none());
    assert!(world.tasks.started().is_empty());
    assert_eq!(world.deployer.ecs.registers(), 0);
}

fn v7_release() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "web".to_string(),
            format!("{}/web@{}", registry(), digest('a')),
        ),
        (
            "worker".to_string(),
            format!("{}/worker@{}", registry(), digest('b')),
        ),
    ])
}

#[tokio::test]
async fn a_release_json_starts_the_groups_run_with_each_targets_image_once() {
    let world = world("stop");
    pushed_v7(&world);
    // web by tag (resolved to its digest at upload), worker by digest.
    let body = format!(
        r#"{{"images": {{"web": "{r}/web:v7", "worker": "{r}/worker@{d}"}}}}"#,
        r = registry(),
        d = digest('b')
    );
    let event = upload(&world, "v-1", &body);
    for delivery in 0..3 {
        let report = world
            .deployer
            .handle_source_event(&event, &invocation())
            .await
            .unwrap();
        let groups = groups_of(report);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].run_id, run_id("shop", &v7_release()));
        assert_eq!(groups[0].state, RunState::Running, "delivery {delivery}");
    }
    let run = world
        .deployer
        .ledger
        .group_run("shop", &run_id("shop", &v7_release()))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(run.release, v7_release(), "web's tag pinned to its digest");
    assert_eq!(
        world.tasks.started().len(),
        1,
        "one migration, three deliveries"
    );
    assert_eq!(
        world.deployer.ecs.updates(),
        0,
        "nothing rolls before the migration"
    );
}

#[tokio::test]
async fn a_release_json_that_is_not_the_groups_release_is_refused_and_writes_nothing() {
    let world = world("stop");
    pushed_v7(&world);
    let r = registry();
    for (version, body, says) in [
        (
            "v-1",
            format!(r#"{{"images": {{"web": "{r}/web:v7"}}}}"#),
            "names no image for worker",
        ),
        (
            "v-2",
            format!(r#"{{"images": {{"web": "{r}/web:v7", "worker": "{r}/worker:v9"}}}}"#),
            "worker: image",
        ),
        ("v-3", "{\"images\": [".to_string(), "not valid JSON"),
    ] {
        let event = upload(&world, version, &body);
        let report = world
            .deployer
            .handle_source_event(&event, &invocation())
            .await
            .unwrap();
        let EventOutcome::Refused { error } = report.outcome else {
            panic!("{version}: {report:?}")
        };
        assert!(error.contains(says), "{version}: {error}");
        assert!(error.contains("not a release of group shop"), "{error}");
    }
    nothing_written(&world, &v7_release()).await;
}

#[tokio::test]
async fn a_release_json_for_no_group_or_a_deleted_version_starts_nothing() {
    let world = world("stop");
    let mut event = s3_upload("s3-x", BUCKET, "deploy/cart/release.json", "v-1", "01");
    let report = world
        .deployer
        .handle_source_event(&event, &invocation())
        .await
        .unwrap();
    assert!(
        matches!(&report.outcome, EventOutcome::Ignored { reason } if reason.contains("no release group is named `cart`")),
        "{report:?}"
    );
    // The version the event names is gone: bad input, not a retry.
    event["detail"]["object"]["key"] = KEY.into();
    let report = world
        .deployer
        .handle_source_event(&event, &invocation())
        .await
        .unwrap();
    assert!(
        matches!(&report.outcome, EventOutcome::Refused { error } if error.contains("was deleted before it could be read")),
        "{report:?}"
    );
    nothing_written(&world, &v7_release()).await;
}

#[tokio::test]
async fn a_dry_run_of_a_release_lists_its_calls_and_writes_nothing() {
    let world = world("stop");
    pushed_v7(&world);
    let body = format!(
        r#"{{"images": {{"web": "{r}/web:v7", "worker": "{r}/worker:v7"}}}}"#,
        r = registry()
    );
    let event = upload(&world, "v-1", &body);
    let report = world.deployer.plan(&event, &invocation()).await.unwrap();
    assert!(report.dry_run);
    let groups = groups_of(report);
    assert_eq!(groups[0].state, RunState::Queued);
    assert_eq!(
        groups[0].actions,
        [
            format!("RegisterTaskDefinition web with {}", v7_release()["web"]),
            format!("RegisterTaskDefinition worker with {}", v7_release()["worker"]),
            "RunTask migrate: web's new revision, app running [\"./manage\", \"migrate\"], to exit 0 within 15m".to_string(),
            "UpdateService worker to its new revision".to_string(),
            "UpdateService web to its new revision".to_string(),
        ]
    );
    let why = groups[0].why.as_deref().unwrap();
    assert!(
        why.contains("dry run, nothing written") && why.contains("would start at once"),
        "{why}"
    );
    nothing_written(&world, &v7_release()).await;
}

#[tokio::test]
async fn a_dry_run_of_a_push_that_releases_a_group_writes_nothing() {
    let world = super::group_tests::world_with("stop", "web");
    world
        .deployer
        .registry
        .push(ACCOUNT, "web", Some("v2"), &digest('c'));
    let push = ecr_push("e-1", "web", Some("v2"), &digest('c'));
    let report = world.deployer.plan(&push, &invocation()).await.unwrap();
    let groups = groups_of(report);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].state, RunState::Queued);
    assert!(groups[0]
        .actions
        .iter()
        .any(|a| a.starts_with("RunTask migrate")));
    assert!(world
        .deployer
        .ledger
        .group_line("shop")
        .await
        .unwrap()
        .is_none());
    assert!(world.tasks.started().is_empty());
    assert_eq!(world.deployer.ecs.registers(), 0);
}

/// Two uploads of one key whose events S3 delivered newest first: the older never runs,
/// however often it comes; delivered in order, the newer waits for the older's run.
#[tokio::test]
async fn an_older_upload_whose_event_came_second_never_runs() {
    let world = world("stop");
    pushed_v7(&world);
    let r = registry();
    let v7 = format!(r#"{{"images": {{"web": "{r}/web:v7", "worker": "{r}/worker:v7"}}}}"#);
    let v8 = format!(
        r#"{{"images": {{"web": "{r}/web@{}", "worker": "{r}/worker@{}"}}}}"#,
        digest('c'),
        digest('d')
    );
    let older = upload_in_order(&world, "v-1", "0062E5F4C2B5D6E810", &v7);
    let newer = upload_in_order(&world, "v-2", "0062E5F4C2B5D6E820", &v8);
    let deliver = |event: Value| {
        let deployer = &world.deployer;
        async move {
            let report = deployer
                .handle_source_event(&event, &invocation())
                .await
                .unwrap();
            groups_of(report).remove(0)
        }
    };
    assert_eq!(deliver(newer.clone()).await.state, RunState::Running);
    for _ in 0..2 {
        let late = deliver(older.clone()).await;
        assert_eq!(late.state, RunState::Superseded, "{late:?}");
        assert!(
            late.why
                .as_deref()
                .unwrap_or_default()
                .contains("is older than one the group already took"),
            "{late:?}"
        );
    }
    let started = world.tasks.started();
    assert_eq!(
        started.len(),
        1,
        "only the newer upload's migration: {started:?}"
    );
    let line = world.line().await;
    assert!(
        line.waiting.is_empty(),
        "the older upload never queued: {line:?}"
    );

    // In order: the newer upload waits for the older one's run, as any release does.
    let world = super::group_tests::world("stop");
    pushed_v7(&world);
    let older = upload_in_order(&world, "v-1", "0062E5F4C2B5D6E810", &v7);
    let newer = upload_in_order(&world, "v-2", "0062E5F4C2B5D6E820", &v8);
    for (event, state) in [(older, RunState::Running), (newer, RunState::Queued)] {
        let report = world
            .deployer
            .handle_source_event(&event, &invocation())
            .await
            .unwrap();
        assert_eq!(groups_of(report)[0].state, state);
    }
}
