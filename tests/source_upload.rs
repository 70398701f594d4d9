//! The source-upload pipeline against the local AWS emulator: a versioned bucket, real
//! PutObject/GetObject, ECR tag resolution, ECS registration.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::{json, Value};
use slipway::deployer::{EventOutcome, TargetOutcome};
use slipway::ledger::source_key;
use slipway::model::deployment::{State, Trigger};

fn web_config(policy: &str) -> String {
    config(&[target_json("web", "web", r#"{"glob": "*"}"#, policy)])
}

async fn setup() -> (World, String) {
    let (world, pushed) = World::with_web_and_a_new_push().await;
    world.create_source_bucket().await;
    (world, pushed)
}

fn registry() -> String {
    format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com")
}

#[tokio::test(flavor = "multi_thread")]
async fn imagedefinitions_by_tag_deploy_the_resolved_digest_of_exactly_that_version() {
    let (world, pushed) = setup().await;
    let (deployer, calls) = world.deployer(&web_config("auto"), false);
    let manifest =
        json!([{"name": "app", "imageUri": format!("{}/app:v2", registry())}]).to_string();
    let event = world
        .upload("deploy/web/imagedefinitions.json", manifest.as_bytes(), 1)
        .await;

    let report = deployer
        .handle_source_event(&event, &invocation("r-1"))
        .await
        .unwrap();

    assert!(
        matches!(only_outcome(&report), TargetOutcome::Rolling { .. }),
        "{report:?}"
    );
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&pushed).as_str()),
        "tag resolved to digest"
    );
    assert_eq!(
        running.container_definitions()[1].image(),
        Some("public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0")
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 1);

    let version = event["detail"]["object"]["version-id"].as_str().unwrap();
    let key = source_key(SOURCE_BUCKET, "deploy/web/imagedefinitions.json", version);
    let record = deployer
        .ledger()
        .deployment("web", &key)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(record.state, State::Rolling);
    let Trigger::SourceUpload {
        bucket,
        key,
        version_id,
        ..
    } = record.trigger
    else {
        panic!()
    };
    assert_eq!(
        (bucket.as_str(), key.as_str(), version_id.as_str()),
        (SOURCE_BUCKET, "deploy/web/imagedefinitions.json", version)
    );

    // The same version delivered again deploys nothing more.
    let again = deployer
        .handle_source_event(&event, &invocation("r-1b"))
        .await
        .unwrap();
    assert!(
        matches!(only_outcome(&again), TargetOutcome::Duplicate { .. }),
        "{again:?}"
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn image_detail_sets_the_targets_containers() {
    let (world, pushed) = setup().await;
    let (deployer, _) = world.deployer(&web_config("auto"), false);
    let manifest = json!({"ImageURI": image_uri(&pushed)}).to_string();
    let event = world
        .upload("deploy/web/imageDetail.json", manifest.as_bytes(), 1)
        .await;

    let report = deployer
        .handle_source_event(&event, &invocation("r-2"))
        .await
        .unwrap();

    assert!(
        matches!(only_outcome(&report), TargetOutcome::Rolling { .. }),
        "{report:?}"
    );
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&pushed).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taskdef_is_registered_as_given_with_placeholders_filled_from_the_running_image() {
    let (world, pushed) = setup().await;
    let (before, _) = world.running("web").await;
    let (deployer, _) = world.deployer(&web_config("auto"), false);
    let taskdef = json!({
        "family": "web",
        "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/web-execution"),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "2048",
        "containerDefinitions": [
            {"name": "app", "image": "<IMAGE>", "essential": true,
             "environment": [{"name": "PORT", "value": "3000"}, {"name": "FEATURE_X", "value": "on"}]},
            {"name": "worker", "image": format!("{}/app:v2", registry()), "essential": false}
        ],
        "tags": [{"key": "Project", "value": "slipway-demo"}]
    });
    let event = world
        .upload("deploy/web/taskdef.json", taskdef.to_string().as_bytes(), 1)
        .await;

    let report = deployer
        .handle_source_event(&event, &invocation("r-3"))
        .await
        .unwrap();

    assert!(
        matches!(only_outcome(&report), TargetOutcome::Rolling { .. }),
        "{report:?}"
    );
    let (after, tags) = world.running("web").await;
    assert_eq!(after.revision(), 2);
    assert_eq!(after.memory(), Some("2048"));
    let app = &after.container_definitions()[0];
    assert_eq!(
        app.image(),
        before.container_definitions()[0].image(),
        "<IMAGE> is the running image"
    );
    let env: Vec<_> = app
        .environment()
        .iter()
        .map(|kv| kv.name().unwrap())
        .collect();
    assert_eq!(env, ["PORT", "FEATURE_X"]);
    assert_eq!(
        after.container_definitions()[1].image(),
        Some(image_uri(&pushed).as_str()),
        "tags resolve to digests"
    );
    assert_eq!(
        tags.len(),
        2,
        "the taskdef's tag and the deployment's: {tags:?}"
    );
    assert!(tags
        .iter()
        .any(|t| t.key() == Some(slipway::ports::REGISTERED_FOR_TAG)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_version_arriving_after_a_newer_one_does_not_win() {
    let (world, pushed) = setup().await;
    let (deployer, calls) = world.deployer(&web_config("auto"), false);
    let key = "deploy/web/imagedefinitions.json";
    let older = world
        .upload(
            key,
            json!([{"name": "app", "imageUri": format!("{}/app:v1", registry())}])
                .to_string()
                .as_bytes(),
            1,
        )
        .await;
    let newer = world
        .upload(
            key,
            json!([{"name": "app", "imageUri": format!("{}/app:v2", registry())}])
                .to_string()
                .as_bytes(),
            2,
        )
        .await;

    deployer
        .handle_source_event(&newer, &invocation("r-4a"))
        .await
        .unwrap();
    let late = deployer
        .handle_source_event(&older, &invocation("r-4b"))
        .await
        .unwrap();

    assert!(
        matches!(only_outcome(&late), TargetOutcome::Older { .. }),
        "{late:?}"
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 1);
    let (running, _) = world.running("web").await;
    assert_eq!(
        running.container_definitions()[0].image(),
        Some(image_uri(&pushed).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_with_spaces_and_plus_reads_the_object_that_was_written() {
    let (world, pushed) = setup().await;
    let (deployer, _) = world.deployer(&web_config("auto"), false);
    let key = "deploy/web/release 7+hotfix/imagedefinitions.json";
    let manifest = json!([{"name": "app", "imageUri": image_uri(&pushed)}]).to_string();
    let event = world.upload(key, manifest.as_bytes(), 1).await;

    let report = deployer
        .handle_source_event(&event, &invocation("r-5"))
        .await
        .unwrap();
    assert!(
        matches!(only_outcome(&report), TargetOutcome::Rolling { .. }),
        "{report:?}"
    );

    // S3's own notifications URL-encode keys; the same object version is read either way.
    let (world, pushed) = setup().await;
    let (deployer, _) = world.deployer(&web_config("auto"), false);
    let manifest = json!([{"name": "app", "imageUri": image_uri(&pushed)}]).to_string();
    let mut encoded = world.upload(key, manifest.as_bytes(), 1).await;
    encoded["detail"]["object"]["key"] =
        Value::from("deploy/web/release+7%2Bhotfix/imagedefinitions.json");
    let report = deployer
        .handle_source_event(&encoded, &invocation("r-5b"))
        .await
        .unwrap();
    assert!(
        matches!(only_outcome(&report), TargetOutcome::Rolling { .. }),
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_are_recorded_as_failed_and_never_deploy() {
    let (world, _) = setup().await;
    let (deployer, calls) = world.deployer(&web_config("auto"), false);
    let ecr = registry();
    let cases: Vec<(&str, String, &str)> = vec![
        ("deploy/web/imagedefinitions.json", "{not json".into(), "not valid JSON"),
        ("deploy/web/imagedefinitions.json", json!([{"name": "api", "imageUri": format!("{ecr}/app:v2")}]).to_string(), "`api` is not in task definition"),
        ("deploy/web/imagedefinitions.json", "[]".into(), "names no container"),
        ("deploy/web/imagedefinitions.json", json!([{"name": "app", "imageUri": format!("{ecr}/app:v404")}]).to_string(), "does not exist in ECR"),
        ("deploy/web/imagedefinitions.json", json!([{"name": "app", "imageUri": "nginx:1.27"}]).to_string(), "give it by digest"),
        ("deploy/web/taskdef.json", json!({"family": "other", "containerDefinitions": [{"name": "app", "image": "<IMAGE>"}]}).to_string(), "family `other`"),
        ("deploy/web/taskdef.json", json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "<IMAGE>"}], "memroy": "1"}).to_string(), "`memroy`"),
        ("deploy/web/taskdef.json", json!({"family": "web", "containerDefinitions": [{"name": "new", "image": "<IMAGE>"}]}).to_string(), "placeholder"),
    ];
    for (index, (key, body, expected)) in cases.iter().enumerate() {
        let event = world.upload(key, body.as_bytes(), index as u64 + 1).await;
        let report = deployer
            .handle_source_event(&event, &invocation(&format!("r-6-{index}")))
            .await
            .unwrap();
        let TargetOutcome::Failed { error } = only_outcome(&report) else {
            panic!("{body}: {report:?}")
        };
        assert!(error.contains(expected), "{body}: {error}");
        let version = event["detail"]["object"]["version-id"].as_str().unwrap();
        let record = deployer
            .ledger()
            .deployment("web", &source_key(SOURCE_BUCKET, key, version))
            .await
            .unwrap()
            .unwrap()
            .value;
        assert_eq!(record.state, State::Failed, "{body}");
        assert!(record.error.unwrap().contains(expected));
    }

    // Too large: refused from the event's size, before anything is read.
    let mut big = world
        .upload("deploy/web/imagedefinitions.json", b"[]", 100)
        .await;
    big["detail"]["object"]["size"] = Value::from(10 * 1024 * 1024);
    let TargetOutcome::Failed { error } = only_outcome(
        &deployer
            .handle_source_event(&big, &invocation("r-big"))
            .await
            .unwrap(),
    ) else {
        panic!()
    };
    assert!(error.contains("limit"), "{error}");
    // ... and from the object itself, if the event understated it.
    let body = vec![b' '; 300 * 1024];
    let mut sneaky = world
        .upload("deploy/web/imagedefinitions.json", &body, 101)
        .await;
    sneaky["detail"]["object"]["size"] = Value::from(10);
    let TargetOutcome::Failed { error } = only_outcome(
        &deployer
            .handle_source_event(&sneaky, &invocation("r-sneaky"))
            .await
            .unwrap(),
    ) else {
        panic!()
    };
    assert!(error.contains("limit"), "{error}");

    // Deleted before it was read.
    let gone = world
        .upload("deploy/web/imageDetail.json", br#"{"ImageURI": "x"}"#, 102)
        .await;
    world
        .clients
        .s3
        .delete_object()
        .bucket(SOURCE_BUCKET)
        .key("deploy/web/imageDetail.json")
        .version_id(gone["detail"]["object"]["version-id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let TargetOutcome::Failed { error } = only_outcome(
        &deployer
            .handle_source_event(&gone, &invocation("r-gone"))
            .await
            .unwrap(),
    ) else {
        panic!()
    };
    assert!(error.contains("deleted before it could be read"), "{error}");

    assert_eq!(
        (
            calls.registers.load(Ordering::SeqCst),
            calls.updates.load(Ordering::SeqCst)
        ),
        (0, 0)
    );
    assert_eq!(world.revisions("web").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_of_an_upload_writes_nothing_and_approval_waits() {
    let (world, pushed) = setup().await;
    let manifest = json!([{"name": "app", "imageUri": image_uri(&pushed)}]).to_string();
    let event = world
        .upload("deploy/web/imagedefinitions.json", manifest.as_bytes(), 1)
        .await;

    let (dry, _) = world.deployer(&web_config("auto"), true);
    let report = dry
        .handle_source_event(&event, &invocation("r-7"))
        .await
        .unwrap();
    assert!(
        matches!(only_outcome(&report), TargetOutcome::DryRun { .. }),
        "{report:?}"
    );
    assert!(world.ledger_keys().await.is_empty());

    // A dry run of a whole task definition shows every difference, names only.
    let taskdef = json!({
        "family": "web", "cpu": "512", "memory": "2048",
        "containerDefinitions": [{"name": "app", "image": "<IMAGE>",
            "environment": [{"name": "PORT", "value": "3000"}, {"name": "FEATURE_X", "value": "s3cr3t-value"}]}]
    });
    let upload = world
        .upload("deploy/web/taskdef.json", taskdef.to_string().as_bytes(), 2)
        .await;
    let report = dry
        .handle_source_event(&upload, &invocation("r-7t"))
        .await
        .unwrap();
    let TargetOutcome::DryRun { diff, .. } = only_outcome(&report) else {
        panic!("{report:?}")
    };
    for expected in [
        "whole task definition is replaced",
        "memory: 1024 -> 2048",
        "environment FEATURE_X added",
        "environment RUST_LOG removed",
        "secret DATABASE_URL removed",
        "container log-router: removed",
    ] {
        assert!(
            diff.iter().any(|line| line.contains(expected)),
            "{expected}: {diff:#?}"
        );
    }
    assert!(
        !format!("{diff:?}").contains("s3cr3t-value"),
        "values are never shown"
    );
    assert!(world.ledger_keys().await.is_empty());

    let (approval, calls) = world.deployer(&web_config("approval"), false);
    let report = approval
        .handle_source_event(&event, &invocation("r-7b"))
        .await
        .unwrap();
    assert!(
        matches!(
            only_outcome(&report),
            TargetOutcome::AwaitingApproval { .. }
        ),
        "{report:?}"
    );
    assert_eq!(calls.registers.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_outside_the_convention_are_ignored() {
    let (world, _) = setup().await;
    let (deployer, _) = world.deployer(&web_config("auto"), false);
    for key in [
        "notes/readme.txt",
        "deploy/web/notes.json",
        "deploy/unknown-target/imagedefinitions.json",
    ] {
        let event = world.upload(key, b"[]", 1).await;
        let report = deployer
            .handle_source_event(&event, &invocation("r-8"))
            .await
            .unwrap();
        assert!(
            matches!(report.outcome, EventOutcome::Ignored { .. }),
            "{key}: {report:?}"
        );
    }
    assert!(world.ledger_keys().await.is_empty());
}
