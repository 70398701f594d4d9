//! A release group's gates over the in-memory adapters: a closed window holds the whole
//! run before anything starts and lets it start at the opening; a target's promotion gate
//! holds the run until its image succeeded upstream (the evidence kept on the run), and
//! ends it, nothing started, when it never will.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::group_tests::{release, world_from, World};
use super::pipeline_tests::invocation;

use crate::ledger::image_key;
use crate::memory::{ecr_push, ecs_deployment_event, ACCOUNT, REGION};
use crate::model::deployment::{Deployment, State};
use crate::model::group::{run_id, Gate, RunState};
use crate::ports::Notifier;

/// The shop group (migrate on web, then worker, then web), `web` carrying `extra`, and
/// dev-web (web's upstream: main-* builds of the web repository).
pub(super) fn shop_with(extra: serde_json::Value) -> World {
    let target = |name: &str, repository: &str, tags: &str| {
        json!({"name": name, "cluster": "prod", "service": name, "containers": ["app"],
               "repository": repository, "tags": {"glob": tags}, "policy": "auto"})
    };
    let mut web = target("web", "web", "v*");
    for (key, value) in extra.as_object().unwrap() {
        web[key] = value.clone();
    }
    world_from(json!({
        "targets": [web, target("worker", "worker", "v*"), target("dev-web", "web", "main-*")],
        "groups": [{"name": "shop", "steps": [
            {"task": {"name": "migrate", "target": "web", "container": "app",
                      "command": ["./manage", "migrate"], "timeout": "15m"}},
            {"service": "worker"},
            {"service": "web"}
        ]}]
    }))
}

pub(super) fn set_now<N: Notifier>(world: &World<N>, at: chrono::DateTime<Utc>) {
    *world.now.lock().unwrap() = at;
}

pub(super) async fn run_of<N: Notifier>(world: &World<N>) -> crate::model::group::GroupRun {
    world
        .deployer
        .ledger
        .group_run("shop", &run_id("shop", &release()))
        .await
        .unwrap()
        .unwrap()
        .value
}

#[tokio::test]
async fn a_closed_window_holds_the_run_before_anything_starts_and_it_starts_at_the_opening() {
    let world = shop_with(
        json!({"windows": {"time_zone": "Europe/Berlin", "deny": ["FR 16:00 -> MO 08:00"]}}),
    );
    // Friday 4 December 2026, 17:00 in Berlin (16:00 UTC): the weekend freeze.
    set_now(&world, Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap());

    let held = world.start().await;

    assert_eq!(held.state, RunState::Running, "{held:?}");
    let why = held.why.clone().unwrap();
    assert!(why.contains("web's deployment window is closed"), "{why}");
    assert!(
        why.contains("2026-12-07 07:00 UTC"),
        "Monday 08:00 in Berlin: {why}"
    );
    assert!(
        world.tasks.started().is_empty(),
        "no migration inside the freeze"
    );
    let run = run_of(&world).await;
    assert_eq!(
        run.gates.waiting.as_ref().map(|w| w.gate),
        Some(Gate::Window)
    );
    assert!(run.nothing_started());
    let opening = Utc.with_ymd_and_hms(2026, 12, 7, 7, 0, 0).unwrap();
    assert!(
        world.wake_ups.scheduled().iter().any(|w| w.at == opening),
        "{:?}",
        world.wake_ups.scheduled()
    );

    // Delivered again inside the freeze: still held, nothing written twice.
    let again = world.start().await;
    assert!(again.why.unwrap().contains("window is closed"));
    assert!(world.tasks.started().is_empty());

    // Monday 08:00 Berlin: the reconciler drives the run holding the line.
    set_now(&world, opening);
    world.deployer.reconcile(&json!({}), &invocation()).await;

    assert_eq!(
        world.tasks.started().len(),
        1,
        "the migration starts at the opening"
    );
    let run = run_of(&world).await;
    assert_eq!(run.gates.window_open_at, Some(opening));
    assert_eq!(run.gates.waiting, None);
}

#[tokio::test]
async fn a_window_that_closes_mid_run_does_not_hold_it() {
    let world =
        shop_with(json!({"windows": {"time_zone": "UTC", "deny": ["FR 16:00 -> MO 08:00"]}}));
    set_now(
        &world,
        Utc.with_ymd_and_hms(2026, 12, 4, 15, 50, 0).unwrap(),
    );
    world.start().await;
    assert_eq!(world.tasks.started().len(), 1);

    // The freeze begins while the migration runs; it exits 0 inside it.
    set_now(&world, Utc.with_ymd_and_hms(2026, 12, 4, 16, 5, 0).unwrap());
    let exited = world
        .tasks
        .exit(&format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/1"), 0);
    let report = world.task_event(exited).await.unwrap();

    assert!(
        report.actions.iter().any(|a| a.contains("worker")),
        "a run half-way goes on: {report:?}"
    );
}

/// dev-web deploys web's image of the release (a `main-1` build) and ECS reports how it
/// ended (`COMPLETED`, `FAILED`), or it still rolls (`None`).
pub(super) async fn dev_deploys<N: Notifier>(world: &World<N>, digest: &str, ends: Option<&str>) {
    world
        .deployer
        .registry
        .push(ACCOUNT, "web", Some("main-1"), digest);
    world
        .deployer
        .handle_ecr_event(
            &ecr_push("dev-1", "web", Some("main-1"), digest),
            &invocation(),
        )
        .await
        .unwrap();
    let Some(name) = ends else { return };
    let id = Deployment::id_for("dev-web", &image_key(digest));
    let ecs_id = world
        .deployer
        .deployment(&id)
        .await
        .unwrap()
        .value
        .ecs_deployment_id
        .unwrap();
    let event = ecs_deployment_event(
        &format!("dev-{name}"),
        ACCOUNT,
        "prod",
        "dev-web",
        &ecs_id,
        name,
    );
    world
        .deployer
        .handle_deployment_event(&event, &invocation())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_promoting_target_holds_the_run_until_its_image_succeeded_upstream() {
    let world = shop_with(json!({"promotion": {"from": ["dev-web"]}}));
    let web_digest = format!("sha256:{}", "a".repeat(64));
    dev_deploys(&world, &web_digest, None).await;

    let held = world.start().await;

    let why = held.why.clone().unwrap();
    assert!(why.starts_with("waiting for upstream: web:"), "{why}");
    assert!(
        world.tasks.started().is_empty(),
        "nothing starts before dev-web succeeded"
    );
    assert_eq!(
        run_of(&world).await.gates.waiting.map(|w| w.gate),
        Some(Gate::Upstream)
    );

    dev_deploys(&world, &web_digest, Some("COMPLETED")).await;
    world.deployer.reconcile(&json!({}), &invocation()).await;

    assert_eq!(
        world.tasks.started().len(),
        1,
        "the migration starts once dev-web succeeded"
    );
    let run = run_of(&world).await;
    assert_eq!(run.gates.evidence.len(), 1);
    assert_eq!(run.gates.evidence[0].upstream, "dev-web");
    assert_eq!(
        run.gates.evidence[0].deployment_id,
        Deployment::id_for("dev-web", &image_key(&web_digest))
    );
    assert!(
        world
            .deployer
            .deployment(&Deployment::id_for("dev-web", &image_key(&web_digest)))
            .await
            .unwrap()
            .value
            .state
            == State::Succeeded
    );
}

#[tokio::test]
async fn a_release_whose_image_never_ran_upstream_ends_not_promoted_with_nothing_started() {
    let world = shop_with(json!({"promotion": {"from": ["dev-web"]}}));
    // web's image of the release was never deployed on dev-web, and no tag of it is one
    // dev-web takes: it never will be.

    let ended = world.start().await;

    assert_eq!(ended.state, RunState::Failed, "{ended:?}");
    let run = run_of(&world).await;
    assert!(
        run.why
            .as_deref()
            .unwrap_or_default()
            .starts_with("not promoted: web:"),
        "{:?}",
        run.why
    );
    assert!(run.nothing_started());
    assert!(world.tasks.started().is_empty());
    // The line is free: the next release of the group runs (and is judged in turn).
    let line = world.line().await;
    assert_eq!(line.holder, None, "{line:?}");
}

#[tokio::test]
async fn the_approval_is_asked_only_once_the_images_are_available_and_shows_the_evidence() {
    let keys = crate::approval::SigningKeys {
        current: crate::approval::SigningKey::new("k1", vec![7u8; 32]).unwrap(),
        previous: None,
    };
    let world =
        shop_with(json!({"policy": "approval", "promotion": {"from": ["dev-web"]}})).approving(
            crate::approval::ApprovalLinks::new("https://approve.example/", keys),
        );
    let web_digest = format!("sha256:{}", "a".repeat(64));
    dev_deploys(&world, &web_digest, None).await;

    let held = world.start().await;

    assert_eq!(held.state, RunState::AwaitingApproval, "{held:?}");
    assert!(held.why.unwrap().starts_with("waiting for upstream"));
    assert!(
        world.deployer.notifier().published().is_empty(),
        "nobody is asked before the images are available"
    );

    dev_deploys(&world, &web_digest, Some("COMPLETED")).await;
    world.deployer.reconcile(&json!({}), &invocation()).await;

    let emails = world.deployer.notifier().published();
    let asked: Vec<&String> = emails
        .iter()
        .filter(|(subject, _)| subject.starts_with("Approve release of group shop"))
        .map(|(_, body)| body)
        .collect();
    assert_eq!(asked.len(), 1, "{emails:?}");
    assert!(
        asked[0].contains("Promotion (read from each upstream's ledger record):")
            && asked[0].contains("succeeded on dev-web"),
        "{}",
        asked[0]
    );
    assert!(
        world.tasks.started().is_empty(),
        "still nothing before the approval"
    );
}

#[tokio::test]
async fn a_dry_run_says_what_the_gates_would_do_and_writes_nothing() {
    let world = shop_with(json!({
        "windows": {"time_zone": "Europe/Berlin", "deny": ["FR 16:00 -> MO 08:00"]},
        "promotion": {"from": ["dev-web"]}
    }));
    set_now(&world, Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap());

    let planned = super::PLANNING
        .scope(
            true,
            world
                .deployer
                .start_group_run("shop", release(), &invocation()),
        )
        .await
        .unwrap();

    let why = planned.why.unwrap();
    assert!(why.starts_with("dry run, nothing written"), "{why}");
    assert!(
        why.contains("promotion: it would end not promoted, nothing started: web:"),
        "web's image never ran on dev-web: {why}"
    );
    assert!(
        why.contains("web's deployment window is closed")
            && why.contains("it would not start before 2026-12-07 07:00 UTC"),
        "{why}"
    );
    assert!(world
        .deployer
        .ledger
        .group_run("shop", &run_id("shop", &release()))
        .await
        .unwrap()
        .is_none());
    assert!(world.wake_ups.scheduled().is_empty());
}
