//! Scenario 9, a release group under faults: migrate (a one-off task of web's new revision), then
//! worker, then web — one push of one image every target takes — delivered again and
//! again while a fifth of all calls fail, then its task's STOPPED event and the services'
//! rollouts' ends delivered more than once. Exactly one task starts, and one
//! UpdateService per service, worker before web.
//!
//! moto 5.2.5 ignores RunTask's `clientToken` and never ends a task on its own, so the
//! one-off tasks are played by [`TaskStandIn`] in the fault proxy, as the API reference
//! documents them: RunTask with a token already used in the cluster answers with the task
//! it started (ECS_Idempotency: "the same client token … returns the same response"),
//! DescribeTasks says RUNNING until the test ends the task, then STOPPED with its
//! container's exit code (API_DescribeTasks, API_Container), and the STOPPED event is the
//! one ECS sends (Developer Guide, "Amazon ECS task state change events";
//! `events/ecs-task-stopped-exit-0.json`). Everything else — the ledger in S3,
//! RegisterTaskDefinition, UpdateService, DescribeServices — is moto's, behind the faults.
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html>

use std::sync::{Arc, Mutex};

use common::faults::Call;
use slipway::aws::EcsTasks;
use slipway::model::group::{run_id, RunState};

use super::*;

/// The one-off tasks RunTask started, by client token.
#[derive(Clone, Default)]
pub(super) struct TaskStandIn {
    tasks: Arc<Mutex<Vec<StandInTask>>>,
}

#[derive(Clone)]
pub(super) struct StandInTask {
    token: String,
    pub(super) arn: String,
    started_by: String,
    container: String,
    exit_code: Option<i32>,
    /// ECS could not start it (`TaskFailedToStart`): stopped without an exit code.
    never_started: bool,
}

impl TaskStandIn {
    fn install(proxy: &FaultProxy) -> TaskStandIn {
        let stand_in = TaskStandIn::default();
        let run = stand_in.clone();
        proxy.answer(
            |call| call.operation == "RunTask",
            move |call| (200, run.run_task(call.body.as_ref().unwrap())),
        );
        let describe = stand_in.clone();
        proxy.answer(
            |call| call.operation == "DescribeTasks",
            move |call| (200, describe.describe(call.body.as_ref().unwrap())),
        );
        let stop = stand_in.clone();
        proxy.answer(
            |call| call.operation == "StopTask",
            move |call| (200, stop.stop(call.body.as_ref().unwrap())),
        );
        stand_in
    }

    fn run_task(&self, body: &Value) -> Value {
        let mut tasks = self.tasks.lock().unwrap();
        let token = body["clientToken"].as_str().unwrap_or_default().to_string();
        let known = tasks.iter().find(|t| !token.is_empty() && t.token == token);
        let task = match known {
            Some(task) => task.clone(),
            None => {
                let task = StandInTask {
                    token,
                    arn: format!(
                        "arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/{:032x}",
                        tasks.len() + 1
                    ),
                    started_by: body["startedBy"].as_str().unwrap_or_default().into(),
                    container: body["overrides"]["containerOverrides"][0]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .into(),
                    exit_code: None,
                    never_started: false,
                };
                tasks.push(task.clone());
                task
            }
        };
        json!({"tasks": [{"taskArn": task.arn, "taskDefinitionArn": body["taskDefinition"],
                          "startedBy": task.started_by, "lastStatus": "PROVISIONING",
                          "desiredStatus": "RUNNING"}], "failures": []})
    }

    fn describe(&self, body: &Value) -> Value {
        let tasks = self.tasks.lock().unwrap();
        let wanted = body["tasks"][0].as_str().unwrap_or_default();
        match tasks.iter().find(|t| t.arn == wanted) {
            None => json!({"tasks": [], "failures": [{"arn": wanted, "reason": "MISSING"}]}),
            Some(task) => json!({"tasks": [task.as_described()], "failures": []}),
        }
    }

    fn stop(&self, body: &Value) -> Value {
        let wanted = body["task"].as_str().unwrap_or_default().to_string();
        let mut tasks = self.tasks.lock().unwrap();
        let task = tasks.iter_mut().find(|t| t.arn == wanted).unwrap();
        // SIGTERM, then SIGKILL: 137 when the container ignored the first.
        task.exit_code.get_or_insert(137);
        json!({"task": task.as_described()})
    }

    /// The task's container exits with `code`: the STOPPED event ECS sends.
    pub(super) fn exit(&self, arn: &str, code: i32, event_id: &str) -> Value {
        let mut tasks = self.tasks.lock().unwrap();
        let task = tasks.iter_mut().find(|t| t.arn == arn).unwrap();
        task.exit_code = Some(code);
        let mut event: Value =
            serde_json::from_str(include_str!("../../events/ecs-task-stopped-exit-0.json"))
                .unwrap();
        event["id"] = json!(event_id);
        event["account"] = json!(ACCOUNT);
        event["region"] = json!(REGION);
        event["resources"] = json!([task.arn]);
        let detail = &mut event["detail"];
        detail["clusterArn"] = json!(format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"));
        detail["taskArn"] = json!(task.arn);
        detail["startedBy"] = json!(task.started_by);
        detail["containers"] = json!([{"name": task.container, "exitCode": code,
                                       "lastStatus": "STOPPED", "taskArn": task.arn}]);
        event
    }

    /// ECS could not start the task (its image could not be pulled): the STOPPED event,
    /// `stopCode` TaskFailedToStart and no exit code (events/ecs-task-stopped-never-started.json,
    /// Amazon ECS Developer Guide, "Amazon ECS task state change events").
    pub(super) fn never_started(&self, arn: &str, event_id: &str) -> Value {
        let mut tasks = self.tasks.lock().unwrap();
        let task = tasks.iter_mut().find(|t| t.arn == arn).unwrap();
        task.never_started = true;
        let mut event: Value = serde_json::from_str(include_str!(
            "../../events/ecs-task-stopped-never-started.json"
        ))
        .unwrap();
        event["id"] = json!(event_id);
        event["resources"] = json!([task.arn]);
        let detail = &mut event["detail"];
        detail["clusterArn"] = json!(format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"));
        detail["taskArn"] = json!(task.arn);
        detail["startedBy"] = json!(task.started_by);
        detail["containers"][0]["taskArn"] = json!(task.arn);
        event
    }

    pub(super) fn started(&self) -> Vec<StandInTask> {
        self.tasks.lock().unwrap().clone()
    }
}

impl StandInTask {
    fn as_described(&self) -> Value {
        if self.never_started {
            return json!({"taskArn": self.arn, "startedBy": self.started_by,
                          "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                          "stopCode": "TaskFailedToStart",
                          "stoppedReason": "CannotPullContainerError: not found",
                          "containers": [{"name": self.container, "lastStatus": "STOPPED"}]});
        }
        match self.exit_code {
            None => json!({"taskArn": self.arn, "startedBy": self.started_by,
                           "lastStatus": "RUNNING", "desiredStatus": "RUNNING"}),
            Some(code) => json!({"taskArn": self.arn, "startedBy": self.started_by,
                                 "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                                 "stopCode": "EssentialContainerExited",
                                 "stoppedReason": "Essential container in task exited",
                                 "containers": [{"name": self.container, "exitCode": code,
                                                 "lastStatus": "STOPPED"}]}),
        }
    }
}

/// ECS's "ECS Deployment State Change" `name` (COMPLETED, FAILED) for the step's rollout.
async fn rollout_event(inspector: &TestDeployer, service: &str, key: &str, name: &str) -> Value {
    let deployment = inspector
        .ledger()
        .deployment(service, key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no deployment {key} of {service}"))
        .value;
    let ecs_id = deployment.ecs_deployment_id.unwrap();
    let mut event: Value =
        serde_json::from_str(include_str!("../../events/ecs-deployment-completed.json")).unwrap();
    event["id"] = json!(format!("e-{service}-{name}"));
    event["account"] = json!(ACCOUNT);
    event["region"] = json!(REGION);
    event["resources"] = json!([format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/{service}"
    )]);
    event["detail"]["eventName"] = json!(format!("SERVICE_DEPLOYMENT_{name}"));
    event["detail"]["deploymentId"] = json!(ecs_id);
    event["detail"]["reason"] = json!(format!("ECS deployment {ecs_id} {name}"));
    event
}

/// deployment-events, as Lambda invokes it (an attempt that fails is tried twice more),
/// `times` times — and again until one delivery is handled, as EventBridge retries a
/// target for up to 24 hours.
pub(super) async fn deliver_ecs_event(deployer: &TestDeployer, event: &Value, times: usize) {
    let mut handled = 0;
    let mut delivery = 0;
    while delivery < times || handled == 0 {
        assert!(delivery < times + 20, "event {} never handled", event["id"]);
        for attempt in 0..3 {
            let invocation = Invocation {
                request_id: format!("{}-{delivery}-{attempt}-{}", event["id"], fastrand::u64(..)),
                deadline: Utc::now() + chrono::Duration::from_std(FUNCTION_TIMEOUT).unwrap(),
            };
            let answer = tokio::time::timeout(
                FUNCTION_TIMEOUT,
                Box::pin(deployer.handle_deployment_event(event, &invocation)),
            )
            .await;
            if matches!(answer, Ok(Ok(_))) {
                handled += 1;
                break;
            }
        }
        delivery += 1;
    }
}

/// The UpdateService calls the emulator applied, in order: the services they rolled.
pub(super) fn services_rolled(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "UpdateService" && matches!(c.fault, None | Some(Fault::Slow)))
        .map(|c| c.body.unwrap()["service"].as_str().unwrap().to_string())
        .collect()
}

/// moto and the fault proxy with services web and worker running v1, v2 pushed, and group
/// `shop` (migrate on web's revision, then worker, then web) over both.
pub(super) struct GroupRig {
    pub(super) rig: Rig,
    pub(super) stand_in: TaskStandIn,
    pub(super) deployer: TestDeployer,
    pub(super) inspector: TestDeployer,
    pushed: String,
    pub(super) run: String,
    /// The config the deployers were made from, for one more (a test's own clock).
    pub(super) config: String,
}

impl GroupRig {
    pub(super) async fn new(seed: u64) -> GroupRig {
        let rig = Rig::new(seed).await;
        let running = rig.world.push_image(Some("v1")).await;
        for service in ["web", "worker"] {
            rig.world
                .create_service(service, &image_uri(&running))
                .await;
        }
        let pushed = rig.world.push_image(Some("v2")).await;
        let mut config: Value = serde_json::from_str(&config(&[
            target_json("web", "web", r#"{"glob": "v*"}"#, "auto"),
            target_json("worker", "worker", r#"{"glob": "v*"}"#, "auto"),
        ]))
        .unwrap();
        config["groups"] = json!([{"name": "shop", "steps": [
            {"task": {"name": "migrate", "target": "web", "container": "app",
                      "command": ["./manage", "migrate"], "timeout": "15m"}},
            {"service": "worker"},
            {"service": "web"}
        ]}]);
        let config = config.to_string();
        let stand_in = TaskStandIn::install(&rig.proxy);
        let deployer = rig
            .deployer(&config)
            .with_tasks(Arc::new(EcsTasks::new(rig.via_proxy.ecs.clone())));
        let inspector = rig.inspector(&config);
        let run = run_id(
            "shop",
            &std::collections::BTreeMap::from([
                ("web".to_string(), image_uri(&pushed)),
                ("worker".to_string(), image_uri(&pushed)),
            ]),
        );
        GroupRig {
            rig,
            stand_in,
            deployer,
            inspector,
            pushed,
            run,
            config,
        }
    }

    pub(super) fn push(&self) -> Value {
        push_event("e-release", Some("v2"), &self.pushed)
    }

    async fn rollout_ends(&self, service: &str, step: usize) -> Value {
        let key = format!("grp-{}-{step}", self.run);
        rollout_event(&self.inspector, service, &key, "COMPLETED").await
    }

    pub(super) async fn run_state(&self) -> RunState {
        let run = self.inspector.ledger().group_run("shop", &self.run).await;
        run.unwrap().unwrap().value.state
    }

    /// Why the run ended where it did, as its record says.
    pub(super) async fn run_why(&self) -> String {
        let run = self.inspector.ledger().group_run("shop", &self.run).await;
        run.unwrap().unwrap().value.why.unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_9_a_release_group_under_faults_runs_one_task_and_rolls_each_service_once_in_order(
) {
    let deliveries = if full_size() { 100 } else { 12 };
    let group = GroupRig::new(8).await;
    let (rig, stand_in, deployer) = (&group.rig, &group.stand_in, &group.deployer);
    let lambda = rig.lambda(deployer);
    let push = group.push();
    rig.proxy.reset_calls();
    rig.proxy.inject(0.2, &Fault::ALL, None);

    let started = Instant::now();
    let pushes: Vec<Delivery> = futures::stream::iter(0..deliveries)
        .map(|_| lambda.deliver(&push))
        .buffer_unordered(10)
        .collect()
        .await;
    let tasks = stand_in.started();
    assert_eq!(tasks.len(), 1, "one migration for {deliveries} deliveries");
    let run_tokens: Vec<String> = rig
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "RunTask")
        .map(|c| {
            c.body.as_ref().unwrap()["clientToken"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        run_tokens.iter().all(|t| *t == tasks[0].token),
        "every RunTask, retries included, carries the run's token: {run_tokens:?}"
    );
    assert!(
        services_rolled(&rig.proxy).is_empty(),
        "nothing rolls before the migration exits 0"
    );

    // ECS sends events at least once: the STOPPED event three times, each rollout's end twice.
    let stopped = stand_in.exit(&tasks[0].arn, 0, "e-task-stopped");
    deliver_ecs_event(deployer, &stopped, 3).await;
    deliver_ecs_event(deployer, &group.rollout_ends("worker", 1).await, 2).await;
    deliver_ecs_event(deployer, &group.rollout_ends("web", 2).await, 2).await;
    let elapsed = started.elapsed();
    rig.proxy.calm();

    let state = group.run_state().await;
    let rolled = services_rolled(&rig.proxy);
    let dead_lettered = pushes
        .iter()
        .filter(|d| matches!(d.ending, Ending::DeadLettered(_)))
        .count();
    record_figures(
        "scenario-9-release-group",
        &json!({
            "deliveries": deliveries, "concurrency": 10, "fault_rate": 0.2,
            "faults_injected": rig.proxy.faults_injected(),
            "tasks_started": stand_in.started().len(), "run_task_calls": run_tokens.len(),
            "update_service": rolled, "dead_lettered": dead_lettered,
            "run": state.to_string(), "seconds": elapsed.as_secs_f64(),
        }),
    );
    assert_eq!(
        rolled,
        ["worker", "web"],
        "one UpdateService per service, worker first"
    );
    assert_eq!(stand_in.started().len(), 1);
    assert_eq!(state, RunState::Succeeded);
    for service in ["web", "worker"] {
        assert_eq!(rig.running_image(service).await, image_uri(&group.pushed));
    }
}

/// How long a killed attempt had: its lease, which the retry waits out.
const KILLED_AFTER: Duration = Duration::from_secs(3);

/// One event handled as Lambda would, with a crash armed: the attempt that makes the
/// crashing call is killed (dropped, as SIGKILL would leave it: nothing after the call),
/// and the retry comes after its deadline.
async fn handle_with_crash(
    group: &GroupRig,
    event: &Value,
    crashed: &mut Option<tokio::sync::oneshot::Receiver<Call>>,
    killed: &mut Vec<String>,
) {
    for attempt in 0..6 {
        let started = Instant::now();
        let invocation = Invocation {
            request_id: format!("{}-{attempt}", event["id"]),
            deadline: Utc::now() + chrono::Duration::from_std(KILLED_AFTER).unwrap(),
        };
        let handled = async {
            if event["source"] == "aws.ecr" {
                Box::pin(group.deployer.handle_ecr_event(event, &invocation))
                    .await
                    .is_ok()
            } else {
                Box::pin(group.deployer.handle_deployment_event(event, &invocation))
                    .await
                    .is_ok()
            }
        };
        let crash = async {
            match crashed.as_mut() {
                Some(receiver) => receiver.await.ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ok = handled => if ok { return },
            call = crash => {
                *crashed = None;
                killed.push(call.map(|c| describe(&c)).unwrap_or_default());
                tokio::time::sleep(KILLED_AFTER.saturating_sub(started.elapsed())).await;
            }
        }
    }
    panic!("event {} never handled", event["id"]);
}

/// The release from its push to web's rollout's end, each event once, a crash armed.
async fn play_release(
    group: &GroupRig,
    mut crashed: Option<tokio::sync::oneshot::Receiver<Call>>,
) -> Vec<String> {
    let mut killed = Vec::new();
    handle_with_crash(group, &group.push(), &mut crashed, &mut killed).await;
    let task = group.stand_in.started()[0].arn.clone();
    let stopped = group.stand_in.exit(&task, 0, "e-task-stopped");
    handle_with_crash(group, &stopped, &mut crashed, &mut killed).await;
    let worker = group.rollout_ends("worker", 1).await;
    handle_with_crash(group, &worker, &mut crashed, &mut killed).await;
    let web = group.rollout_ends("web", 2).await;
    handle_with_crash(group, &web, &mut crashed, &mut killed).await;
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_9_killed_after_any_write_a_release_group_converges_without_duplicates() {
    // The writes of an uninterrupted release, in order: the crash points.
    let whole = GroupRig::new(81).await;
    whole.rig.proxy.reset_calls();
    play_release(&whole, None).await;
    let writes: Vec<String> = whole
        .rig
        .proxy
        .calls()
        .iter()
        .filter(|c| c.is_write())
        .map(describe)
        .collect();
    drop(whole);
    for expected in [
        "ecs:RunTask",
        "ecs:UpdateService",
        "ecs:RegisterTaskDefinition",
    ] {
        assert!(
            writes.iter().any(|w| w == expected),
            "no crash point after {expected}: {writes:?}"
        );
    }
    // Full size: every write; make test: RunTask and the first UpdateService (the calls a
    // repeat would duplicate).
    let chosen: Vec<usize> = if full_size() {
        (0..writes.len()).collect()
    } else {
        ["ecs:RunTask", "ecs:UpdateService"]
            .iter()
            .filter_map(|w| writes.iter().position(|x| x.starts_with(w)))
            .collect()
    };
    let mut points = Vec::new();
    for &k in &chosen {
        let write = writes[k].clone();
        let group = GroupRig::new(81).await;
        let earlier = writes[..k].iter().filter(|w| **w == write).count();
        let point = write.clone();
        let crashed = group
            .rig
            .proxy
            .crash_after(move |c| c.is_write() && describe(c) == point, earlier);
        let killed = play_release(&group, Some(crashed)).await;
        points.push(json!({
            "killed_after": write, "killed": killed,
            "tasks_started": group.stand_in.started().len(),
            "update_service": services_rolled(&group.rig.proxy),
            "duplicate_revisions": group.rig.duplicate_revisions("web").await + group.rig.duplicate_revisions("worker").await,
            "run": group.run_state().await.to_string(),
        }));
    }
    record_figures(
        "scenario-9-crash-points",
        &json!({"crash_points": writes.len(), "played": chosen.len(), "points": points}),
    );
    assert!(!points.is_empty());
    for point in &points {
        assert_eq!(point["killed"], json!([point["killed_after"]]), "{point}");
        assert_eq!(point["tasks_started"], 1, "{point}");
        assert_eq!(point["update_service"], json!(["worker", "web"]), "{point}");
        assert_eq!(point["duplicate_revisions"], 0, "{point}");
        assert_eq!(point["run"], "succeeded", "{point}");
    }
}
