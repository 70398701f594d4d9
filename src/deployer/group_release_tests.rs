//! A push as a release group's release, over the in-memory adapters: one image for every
//! target of the group starts the group's run, once however often it is delivered.

use super::group_tests::world_with;
use super::pipeline_tests::invocation;
use super::*;
use crate::memory::{ecr_push, ACCOUNT};
use crate::model::group::RunState;

#[tokio::test]
async fn a_push_every_target_of_a_group_takes_starts_the_groups_run_once() {
    let world = world_with("stop", "web");
    let digest = format!("sha256:{}", "c".repeat(64));
    world
        .deployer
        .registry
        .push(ACCOUNT, "web", Some("v2"), &digest);
    let push = ecr_push("e-1", "web", Some("v2"), &digest);
    for delivery in 0..3 {
        let report = world
            .deployer
            .handle_ecr_event(&push, &invocation())
            .await
            .unwrap();
        let EventOutcome::Targets { targets, groups } = report.outcome else {
            panic!("{report:?}")
        };
        assert!(targets.is_empty(), "web and worker move with the group");
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].group, "shop");
        assert_eq!(groups[0].state, RunState::Running);
        if delivery == 0 {
            assert_eq!(
                groups[0].actions,
                ["RegisterTaskDefinition web", "RunTask migrate"]
            );
        }
    }
    let started = world.tasks.started();
    assert_eq!(started.len(), 1, "one migration for three deliveries");
    let run = world
        .deployer
        .ledger
        .group_run("shop", started[0].started_by.split('/').nth(1).unwrap())
        .await
        .unwrap()
        .unwrap()
        .value;
    for target in ["web", "worker"] {
        assert!(
            run.release[target].ends_with(&format!("/web@{digest}")),
            "{target} takes the pushed digest: {:?}",
            run.release
        );
    }
    assert_eq!(
        world.deployer.ecs.updates(),
        0,
        "nothing rolls before the migration"
    );
}

#[tokio::test]
async fn a_push_whose_tag_the_rule_refuses_starts_no_run() {
    let world = world_with("stop", "web");
    let digest = format!("sha256:{}", "d".repeat(64));
    world
        .deployer
        .registry
        .push(ACCOUNT, "web", Some("latest"), &digest);
    let report = world
        .deployer
        .handle_ecr_event(
            &ecr_push("e-2", "web", Some("latest"), &digest),
            &invocation(),
        )
        .await
        .unwrap();
    let EventOutcome::Targets { groups, .. } = report.outcome else {
        panic!("{report:?}")
    };
    assert!(groups.is_empty());
    assert!(world.tasks.started().is_empty());
}

#[tokio::test]
async fn an_older_push_whose_event_comes_late_never_runs_after_a_newer_one() {
    let world = world_with("stop", "web");
    let (older, newer) = (
        format!("sha256:{}", "1".repeat(64)),
        format!("sha256:{}", "2".repeat(64)),
    );
    // ECR receives v2 and then v3; their events arrive the other way round.
    let registry = &world.deployer.registry;
    let at = |minute| {
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 7, 10, minute, 0).unwrap()
    };
    registry.push_at(ACCOUNT, "web", Some("v2"), &older, at(2));
    registry.push_at(ACCOUNT, "web", Some("v3"), &newer, at(3));
    let deliver = |id: &'static str, tag: &'static str, digest: &str| {
        let event = ecr_push(id, "web", Some(tag), digest);
        let world = &world;
        async move {
            let report = world
                .deployer
                .handle_ecr_event(&event, &invocation())
                .await
                .unwrap();
            let EventOutcome::Targets { mut groups, .. } = report.outcome else {
                panic!("{report:?}")
            };
            groups.remove(0)
        }
    };

    let taken = deliver("e-3", "v3", &newer).await;
    assert_eq!(taken.state, RunState::Running);
    // The dry run of the late push says what the line will do with it, and writes nothing.
    let planned = super::PLANNING
        .scope(
            true,
            world
                .deployer
                .handle_ecr_event(&ecr_push("e-2", "web", Some("v2"), &older), &invocation()),
        )
        .await
        .unwrap();
    let EventOutcome::Targets { groups, .. } = planned.outcome else {
        panic!("{planned:?}")
    };
    let said = groups[0].why.clone().unwrap_or_default();
    assert!(
        said.contains("would be superseded at once") && said.contains("older than the push of v3"),
        "{said}"
    );
    assert!(world
        .deployer
        .ledger
        .group_run("shop", &groups[0].run_id)
        .await
        .unwrap()
        .is_none());
    let late = deliver("e-2", "v2", &older).await;

    assert_eq!(late.state, RunState::Superseded, "{late:?}");
    let why = late.why.unwrap_or_default();
    assert!(
        why.contains("this push of v2 is older than the push of v3"),
        "{why}"
    );
    assert_eq!(world.tasks.started().len(), 1, "v3's migration only");
    // Delivered again, it stays what it became.
    assert_eq!(
        deliver("e-2", "v2", &older).await.state,
        RunState::Superseded
    );
    assert_eq!(world.tasks.started().len(), 1);
}
