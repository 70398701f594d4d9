//! Release groups over the in-memory adapters: a run's steps in order, once each, however
//! often its events arrive, and each way a step fails. `MemoryTasks` plays ECS's one-off
//! tasks as ECS documents them (moto ignores RunTask's token and never exits non-zero).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;
use crate::input::config::Home;
use crate::input::task_event::TaskStoppedEvent;
use crate::memory::{
    MemoryEcs, MemoryRegistry, MemorySources, MemoryStore, MemoryTasks, ACCOUNT, REGION,
};
use crate::model::group::{RunState, TaskStopped};
use crate::ports::{Silent, TaskRunner, TaskStatus};

type GroupDeployer<N = Silent> =
    Deployer<(MemoryEcs, MemoryRegistry, MemoryStore, MemorySources, N)>;

pub(super) const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

pub(super) struct World<N: crate::ports::Notifier + 'static = Silent> {
    pub(super) deployer: GroupDeployer<N>,
    pub(super) tasks: Arc<MemoryTasks>,
    pub(super) wake_ups: Arc<crate::memory::MemoryWakeUps>,
    pub(super) now: Arc<Mutex<DateTime<Utc>>>,
}

/// Targets web and worker (auto), and group `shop`: migrate (a task on web's revision,
/// 15 minutes at most), then worker, then web.
pub(super) fn world(on_failure: &str) -> World {
    world_with(on_failure, "worker")
}

/// [`world`] with worker's image from `worker_repository` (`web`: one image for both).
pub(super) fn world_with(on_failure: &str, worker_repository: &str) -> World {
    let target = |name: &str, repository: &str| {
        json!({"name": name, "cluster": "prod", "service": name, "containers": ["app"],
               "repository": repository, "tags": {"glob": "v*"}, "policy": "auto"})
    };
    world_from(json!({
        "targets": [target("web", "web"), target("worker", worker_repository)],
        "groups": [{"name": "shop", "on_failure": on_failure, "steps": [
            {"task": {"name": "migrate", "target": "web", "container": "app",
                      "command": ["./manage", "migrate"], "timeout": "15m"}},
            {"service": "worker"},
            {"service": "web"}
        ]}]
    }))
}

/// A world over `config` (whose targets are web and worker on cluster prod).
pub(super) fn world_from(config: serde_json::Value) -> World {
    let home = Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let config = Config::from_json(&config.to_string(), &home).unwrap();
    let ecs = MemoryEcs::default()
        .with_service(
            "prod",
            "web",
            "web",
            &[("app", &format!("{REGISTRY}/web:v1"))],
        )
        .with_service(
            "prod",
            "worker",
            "worker",
            &[("app", &format!("{REGISTRY}/worker:v1"))],
        )
        // An upstream of web for the groups whose targets promote (group_gates_tests).
        .with_service(
            "prod",
            "dev-web",
            "dev-web",
            &[("app", &format!("{REGISTRY}/web:v1"))],
        );
    let tasks = Arc::new(MemoryTasks::default());
    let now = Arc::new(Mutex::new(Utc::now()));
    let clock = now.clone();
    let deployer = Deployer::new(
        config,
        ecs,
        MemoryRegistry::default(),
        MemoryStore::default(),
        MemorySources::default(),
        false,
    )
    .with_tasks(tasks.clone())
    .with_clock(Arc::new(move || *clock.lock().unwrap()));
    let wake_ups = Arc::new(crate::memory::MemoryWakeUps::default());
    let deployer = deployer.with_wake_ups(wake_ups.clone());
    World {
        deployer,
        tasks,
        wake_ups,
        now,
    }
}

pub(super) fn release() -> BTreeMap<String, String> {
    release_with('a', 'b')
}

/// A release of `shop`: web's and worker's digests, each one hex digit repeated.
pub(super) fn release_with(web: char, worker: char) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "web".to_string(),
            format!("{REGISTRY}/web@sha256:{}", web.to_string().repeat(64)),
        ),
        (
            "worker".to_string(),
            format!("{REGISTRY}/worker@sha256:{}", worker.to_string().repeat(64)),
        ),
    ])
}

fn invocation() -> Invocation {
    super::pipeline_tests::invocation()
}

/// The ARN `MemoryTasks` gives the `n`th task it starts.
pub(super) fn task_arn(n: usize) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/{n}")
}

/// ECS's STOPPED event for `task`, from `account` (this one's, or another).
fn stopped_event(task: TaskStopped, account: &str) -> TaskStoppedEvent {
    TaskStoppedEvent {
        event_id: "t-1".into(),
        account: Some(account.into()),
        region: Some(REGION.into()),
        cluster_arn: format!("arn:aws:ecs:{REGION}:{account}:cluster/prod"),
        version: Some(3),
        task,
    }
}

impl World {
    /// The same world, asking approvers through `links` and a notifier that keeps what
    /// it was told.
    pub(super) fn approving(
        self,
        links: crate::approval::ApprovalLinks,
    ) -> World<crate::memory::RecordingNotifier> {
        World {
            deployer: self
                .deployer
                .with_approvals(Some(links), crate::memory::RecordingNotifier::default()),
            tasks: self.tasks,
            wake_ups: self.wake_ups,
            now: self.now,
        }
    }
}

impl<N: crate::ports::Notifier + 'static> World<N> {
    pub(super) async fn start(&self) -> GroupRunReport {
        self.start_release(&release()).await
    }

    pub(super) async fn start_release(&self, release: &BTreeMap<String, String>) -> GroupRunReport {
        self.deployer
            .start_group_run("shop", release.clone(), &invocation())
            .await
            .unwrap()
    }

    /// ECS's STOPPED event for the task, as the deployment-events function reads it.
    pub(super) async fn task_event(&self, task: TaskStopped) -> Option<GroupRunReport> {
        let event = stopped_event(task, ACCOUNT);
        self.deployer
            .handle_task_stopped(&event, &invocation())
            .await
            .unwrap()
    }

    /// The only task the run started.
    fn migrate_task(&self) -> String {
        let started = self.tasks.started();
        assert_eq!(started.len(), 1, "one task: {started:?}");
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/1")
    }

    /// ECS reports `name` (COMPLETED or FAILED) for the rollout of `service` the group's
    /// step started (`back`: its rollback).
    async fn rollout_ends(&self, service: &str, step: usize, back: bool, name: &str) {
        self.rollout_of(&release(), service, step, back, name).await
    }

    /// [`World::rollout_ends`] for the run of `release`.
    pub(super) async fn rollout_of(
        &self,
        release: &BTreeMap<String, String>,
        service: &str,
        step: usize,
        back: bool,
        name: &str,
    ) {
        let run = crate::model::group::run_id("shop", release);
        let key = format!("grp-{run}-{step}{}", if back { "-back" } else { "" });
        let deployment = self
            .deployer
            .ledger
            .deployment(service, &key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no deployment {key} of {service}"));
        let ecs_id = deployment.value.ecs_deployment_id.clone().unwrap();
        let event = crate::memory::ecs_deployment_event(
            &format!("e-{run}-{service}-{name}-{back}"),
            ACCOUNT,
            "prod",
            service,
            &ecs_id,
            name,
        );
        self.deployer
            .handle_deployment_event(&event, &invocation())
            .await
            .unwrap();
    }

    /// migrate exits 0, worker's rollout completes, web's fails.
    async fn migrated_worker_rolled_and_web_failed(&self) {
        self.start().await;
        let exited = self.tasks.exit(&self.migrate_task(), 0);
        self.task_event(exited).await;
        self.rollout_ends("worker", 1, false, "COMPLETED").await;
        self.rollout_ends("web", 2, false, "FAILED").await;
    }

    async fn run(&self) -> crate::model::group::GroupRun {
        self.run_of(&release()).await
    }

    pub(super) async fn run_of(
        &self,
        release: &BTreeMap<String, String>,
    ) -> crate::model::group::GroupRun {
        let id = crate::model::group::run_id("shop", release);
        self.deployer
            .ledger
            .group_run("shop", &id)
            .await
            .unwrap()
            .unwrap()
            .value
    }

    /// Group shop's line as the ledger keeps it (written once any release came).
    pub(super) async fn line(&self) -> crate::model::group::GroupLine {
        self.deployer
            .ledger
            .group_line("shop")
            .await
            .unwrap()
            .unwrap()
            .value
    }
}

#[tokio::test]
async fn a_release_migrates_then_rolls_worker_then_web_each_once() {
    let world = world("stop");
    let first = world.start().await;
    assert_eq!(
        first.actions,
        ["RegisterTaskDefinition web", "RunTask migrate"]
    );
    assert_eq!(first.state, RunState::Running);
    assert_eq!(
        world.deployer.ecs.updates(),
        0,
        "nothing rolls before the migration exits 0"
    );
    let started = &world.tasks.started()[0];
    assert_eq!(started.command, ["./manage", "migrate"]);
    assert_eq!(started.container, "app");
    assert!(
        started.task_definition.starts_with("arn:aws:ecs:")
            && started.task_definition.contains("web:2")
    );

    let exited = world.tasks.exit(&world.migrate_task(), 0);
    let after_migrate = world.task_event(exited).await.unwrap();
    assert_eq!(
        after_migrate.actions,
        ["RegisterTaskDefinition worker", "UpdateService worker"]
    );
    assert_eq!(world.deployer.ecs.updates(), 1, "web waits for worker");

    world.rollout_ends("worker", 1, false, "COMPLETED").await;
    assert_eq!(world.deployer.ecs.updates(), 2);
    world.rollout_ends("web", 2, false, "COMPLETED").await;
    let run = world.run().await;
    assert_eq!(run.state, RunState::Succeeded, "{run:?}");
    assert!(world.deployer.ecs.running("prod", "web").containers[0]
        .image
        .ends_with(&"a".repeat(64)));
    assert!(world.deployer.ecs.running("prod", "worker").containers[0]
        .image
        .ends_with(&"b".repeat(64)));
}

#[tokio::test]
async fn a_hundred_deliveries_of_one_release_run_one_task_and_one_update_per_service() {
    let world = world("stop");
    for _ in 0..100 {
        world.start().await;
    }
    assert_eq!(world.tasks.started().len(), 1);
    let exited = world.tasks.exit(&world.migrate_task(), 0);
    for _ in 0..3 {
        // ECS sends events at least once.
        world.task_event(exited.clone()).await;
    }
    for _ in 0..100 {
        world.start().await;
    }
    world.rollout_ends("worker", 1, false, "COMPLETED").await;
    world.rollout_ends("worker", 1, false, "COMPLETED").await;
    for _ in 0..10 {
        world.start().await;
    }
    world.rollout_ends("web", 2, false, "COMPLETED").await;
    assert_eq!(world.tasks.started().len(), 1);
    assert_eq!(
        world.deployer.ecs.updates(),
        2,
        "one UpdateService per service"
    );
    assert_eq!(world.deployer.ecs.registers(), 2, "one revision per target");
    assert_eq!(world.run().await.state, RunState::Succeeded);
}

#[tokio::test]
async fn a_migration_that_exits_1_stops_the_group_before_any_service_rolls() {
    let world = world("rollback-completed");
    world.start().await;
    let exited = world.tasks.exit(&world.migrate_task(), 1);
    let report = world.task_event(exited).await.unwrap();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(report.why.as_deref(), Some("migrate failed: app exited 1"));
    assert_eq!(world.deployer.ecs.updates(), 0);
}

#[tokio::test]
async fn a_task_that_never_starts_stops_the_group_with_ecs_reason() {
    let world = world("stop");
    world.start().await;
    let never = world
        .tasks
        .fail_to_start(&world.migrate_task(), "CannotPullContainerError: not found");
    let report = world.task_event(never).await.unwrap();
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(
        report.why.as_deref(),
        Some("migrate failed: the task never started (TaskFailedToStart: CannotPullContainerError: not found)")
    );
    assert_eq!(world.deployer.ecs.updates(), 0);
}

#[tokio::test]
async fn a_task_past_its_timeout_is_stopped_and_stops_the_group() {
    let world = world("stop");
    world.start().await;
    let id = crate::model::group::run_id("shop", &release());
    *world.now.lock().unwrap() += Duration::minutes(15) - Duration::seconds(1);
    let early = world
        .deployer
        .drive_group_run("shop", &id, &invocation())
        .await
        .unwrap();
    assert!(early.actions.is_empty(), "{early:?}");
    assert_eq!(
        world
            .tasks
            .describe_task("prod", &world.migrate_task())
            .await
            .unwrap(),
        TaskStatus::Running
    );

    *world.now.lock().unwrap() += Duration::seconds(1);
    let report = world
        .deployer
        .drive_group_run("shop", &id, &invocation())
        .await
        .unwrap();
    assert_eq!(report.actions, ["StopTask migrate"]);
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(
        report.why.as_deref(),
        Some("migrate failed: did not exit within 15m: stopped")
    );
    let TaskStatus::Stopped(stopped) = world
        .tasks
        .describe_task("prod", &world.migrate_task())
        .await
        .unwrap()
    else {
        panic!("the task is stopped")
    };
    assert_eq!(stopped.stop_code.as_deref(), Some("UserInitiated"));
    // Its STOPPED event comes after: nothing moves.
    let late = world.task_event(stopped).await.unwrap();
    assert!(late.actions.is_empty());
    assert_eq!(world.deployer.ecs.updates(), 0);
}

#[tokio::test]
async fn rollback_completed_puts_worker_back_when_web_fails_and_never_undoes_the_migration() {
    let world = world("rollback-completed");
    let worker_before = world.deployer.ecs.running("prod", "worker").arn;
    world.migrated_worker_rolled_and_web_failed().await;
    let run = world.run().await;
    assert_eq!(run.state, RunState::RollingBack, "{run:?}");
    assert_eq!(
        world.deployer.ecs.updates(),
        3,
        "worker, web, and worker back"
    );
    assert_eq!(
        world.deployer.ecs.running("prod", "worker").arn,
        worker_before
    );

    world.rollout_ends("worker", 1, true, "COMPLETED").await;
    let run = world.run().await;
    assert_eq!(run.state, RunState::RolledBack);
    assert!(
        run.why.as_deref().unwrap().starts_with("web failed: "),
        "{run:?}"
    );
    assert_eq!(
        world.tasks.started().len(),
        1,
        "the migration ran once and is not undone"
    );
}

#[tokio::test]
async fn a_task_event_from_another_account_moves_nothing() {
    let world = world("stop");
    world.start().await;
    let exited = world.tasks.exit(&world.migrate_task(), 0);
    let event = stopped_event(exited, "999999999999");
    let handled = world
        .deployer
        .handle_task_stopped(&event, &invocation())
        .await
        .unwrap();
    assert!(handled.is_none());
    assert_eq!(
        world.run().await.steps[0].state,
        crate::model::group::StepState::Started
    );
    assert_eq!(world.deployer.ecs.updates(), 0);
}

#[tokio::test]
async fn an_update_service_whose_answer_was_lost_is_recorded_on_the_retry_not_sent_again() {
    let world = world("stop");
    world.start().await;
    let exited = world.tasks.exit(&world.migrate_task(), 0);
    world.deployer.ecs.lose_next_update_answer();
    let event = stopped_event(exited.clone(), ACCOUNT);
    let first = world
        .deployer
        .handle_task_stopped(&event, &invocation())
        .await;
    assert!(
        matches!(&first, Err(err) if err.is_transient()),
        "{first:?}"
    );
    assert_eq!(world.deployer.ecs.updates(), 1);
    // Lambda retries the event.
    world.task_event(exited).await;
    assert_eq!(
        world.deployer.ecs.updates(),
        1,
        "no second UpdateService of worker"
    );
    assert_eq!(
        world.run().await.steps[1].state,
        crate::model::group::StepState::Started
    );
    world.rollout_ends("worker", 1, false, "COMPLETED").await;
    world.rollout_ends("web", 2, false, "COMPLETED").await;
    assert_eq!(world.run().await.state, RunState::Succeeded);
    assert_eq!(world.deployer.ecs.updates(), 2);
}

#[tokio::test]
async fn a_task_that_exited_0_and_whose_event_was_lost_counts_at_its_deadline() {
    let world = world("stop");
    world.start().await;
    world.tasks.exit(&world.migrate_task(), 0);
    let id = crate::model::group::run_id("shop", &release());
    *world.now.lock().unwrap() += Duration::minutes(15);
    let report = world
        .deployer
        .drive_group_run("shop", &id, &invocation())
        .await
        .unwrap();
    assert_eq!(
        report.actions,
        [
            "DescribeTasks migrate",
            "RegisterTaskDefinition worker",
            "UpdateService worker"
        ]
    );
    assert_eq!(report.state, RunState::Running);
}

#[tokio::test]
async fn a_task_ecs_forgot_fails_its_step_at_the_deadline_without_stop_task() {
    let world = world("stop");
    world.start().await;
    let task = world.migrate_task();
    world.tasks.exit(&task, 0);
    world.tasks.forget(&task);
    let id = crate::model::group::run_id("shop", &release());
    *world.now.lock().unwrap() += Duration::minutes(15);
    let report = world
        .deployer
        .drive_group_run("shop", &id, &invocation())
        .await
        .unwrap();
    assert_eq!(report.state, RunState::Failed);
    assert!(report.why.unwrap().contains("ECS no longer knows the task"));
    assert_eq!(world.deployer.ecs.updates(), 0);
}

#[tokio::test]
async fn a_run_task_ecs_refuses_for_good_fails_the_step_instead_of_every_delivery() {
    let world = world("stop");
    world.tasks.refuse_next_run("MISSING");
    let report = world.start().await;
    assert_eq!(report.state, RunState::Failed);
    assert_eq!(
        report.why.as_deref(),
        Some("migrate failed: RunTask failed: ECS did not start the task: MISSING")
    );
    let again = world.start().await;
    assert!(again.actions.is_empty(), "{again:?}");
    assert_eq!(world.tasks.run_task_calls(), 1);
    assert_eq!(world.deployer.ecs.updates(), 0);
}

#[tokio::test]
async fn a_push_to_a_target_the_group_rolls_does_not_deploy_it_on_its_own() {
    let world = world("stop");
    let digest = format!("sha256:{}", "c".repeat(64));
    world
        .deployer
        .registry
        .push(ACCOUNT, "worker", Some("v2"), &digest);
    let report = world
        .deployer
        .handle_ecr_event(
            &crate::memory::ecr_push("e-9", "worker", Some("v2"), &digest),
            &invocation(),
        )
        .await
        .unwrap();
    let EventOutcome::Targets { targets, groups } = report.outcome else {
        panic!("{report:?}")
    };
    assert!(targets.is_empty(), "{targets:?}");
    assert!(
        groups.is_empty(),
        "web takes another repository: no release of the group: {groups:?}"
    );
    assert_eq!(world.deployer.ecs.updates(), 0);
    assert!(world.tasks.started().is_empty());
}

#[tokio::test]
async fn a_services_rollback_is_recorded_with_the_image_it_puts_back() {
    let world = world("rollback-completed");
    world.migrated_worker_rolled_and_web_failed().await;
    let run = crate::model::group::run_id("shop", &release());
    let back = world
        .deployer
        .ledger
        .deployment("worker", &format!("grp-{run}-1-back"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.value.image, format!("{REGISTRY}/worker:v1"));
}
