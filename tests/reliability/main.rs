//! Reliability scenarios (README, "Reliability"; RELIABILITY.md): duplicates, races,
//! injected faults, crashes and an emulator that stops answering — each against moto,
//! with Slipway's AWS clients behind the fault proxy (tests/common/faults.rs), and each
//! printing its figures (`make reliability` collects them into RELIABILITY.md).
//!
//! Lambda is played by [`Lambda`]: an invocation has a deadline and is dropped when it
//! passes; a failed one is retried twice, each retry after the last attempt's deadline
//! (Lambda waits a minute, then two, and the functions' timeout is 60 s); an event that
//! fails all three goes to the dead-letter queue, an SQS queue in the emulator.
//!
//! `SLIPWAY_RELIABILITY=full` runs the sizes the README states; otherwise (make test) the
//! scenarios run smaller where that saves minutes, and say so in their figures.

#[path = "../common/mod.rs"]
mod common;
mod group_failures;
mod groups;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::faults::{Call, Fault, FaultProxy};
use common::runtime;
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use slipway::aws::{CallTimeouts, Clients};
use slipway::ledger::image_key;
use slipway::{Invocation, Report};

/// The clients' limits in these tests: short, so that a held answer costs a second, not
/// the production six. The proxy holds a `Slow` answer past the attempt limit.
const TIMEOUTS: CallTimeouts = CallTimeouts {
    connect: Duration::from_millis(500),
    attempt: Duration::from_millis(800),
    operation: Duration::from_secs(4),
};
const SLOW_FOR: Duration = Duration::from_millis(1200);
/// The invocation timeout Lambda enforces here (60 s in infra/, scaled down).
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(8);

fn full_size() -> bool {
    std::env::var("SLIPWAY_RELIABILITY").as_deref() == Ok("full")
}

/// moto and the fault proxy in front of it; Slipway's clients talk to the proxy, the
/// test's own (setup, checks) to moto directly.
struct Rig {
    world: World,
    proxy: FaultProxy,
    via_proxy: Clients,
    dead_letters: String,
}

impl Rig {
    async fn new(seed: u64) -> Rig {
        let world = World::new().await;
        let proxy = FaultProxy::start(&world.emulator.endpoint, SLOW_FOR, seed).await;
        let via_proxy = clients_at(&proxy.endpoint, TIMEOUTS).await;
        let sqs = aws_sdk_sqs::Client::new(&world.emulator.shared().await);
        let dead_letters = sqs
            .create_queue()
            .queue_name("image-push-dead-letters")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        Rig {
            world,
            proxy,
            via_proxy,
            dead_letters,
        }
    }

    fn deployer(&self, config: &str) -> TestDeployer {
        self.world
            .deployer_with_clients(config, false, None, &self.via_proxy)
            .0
    }

    /// A deployer that reads the ledger straight from the emulator, for the checks.
    fn inspector(&self, config: &str) -> TestDeployer {
        self.world.deployer(config, false).0
    }

    fn lambda<'a>(&'a self, deployer: &'a TestDeployer) -> Lambda<'a> {
        Lambda {
            deployer,
            rig: self,
            retries: 2,
        }
    }

    async fn repository(&self, name: &str) {
        self.world
            .clients
            .ecr
            .create_repository()
            .repository_name(name)
            .send()
            .await
            .unwrap();
    }

    /// Targets `web0`… each deploying from its own repository `app0`… (tags `build-*`) to
    /// its own service, which runs a `base` image; returns the targets' config entries.
    async fn targets(&self, count: usize) -> Vec<String> {
        let mut configs = Vec::new();
        for t in 0..count {
            let (name, repository) = (format!("web{t}"), format!("app{t}"));
            self.repository(&repository).await;
            let running = self.push(&repository, "base").await;
            self.world
                .create_service(
                    &name,
                    &format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}@{running}"),
                )
                .await;
            configs.push(target(&name, &repository, r#"{"glob": "build-*"}"#));
        }
        configs
    }

    /// Puts a distinct image into `repository` under `tag`; returns its digest.
    async fn push(&self, repository: &str, tag: &str) -> String {
        self.world.push_image_to(repository, Some(tag)).await
    }

    /// The events in the dead-letter queue, taken out of Lambda's on-failure records.
    async fn dead_lettered(&self) -> Vec<Value> {
        self.dead_letter_records()
            .await
            .iter()
            .map(|record| slipway::input::redrive::event_of(record).0.clone())
            .collect()
    }

    /// The queue's messages as Lambda's on-failure destination writes them.
    async fn dead_letter_records(&self) -> Vec<Value> {
        let bodies = self.world.drain_queue(&self.dead_letters).await;
        bodies
            .iter()
            .map(|body| {
                let record: Value = serde_json::from_str(body).unwrap();
                assert!(
                    slipway::input::redrive::event_of(&record).1.is_some(),
                    "not an on-failure record: {record}"
                );
                record
            })
            .collect()
    }

    /// Puts the queue's messages back as the operator finds them (reading drained it).
    async fn requeue(&self, records: &[Value]) {
        let sqs = aws_sdk_sqs::Client::new(&self.world.emulator.shared().await);
        for record in records {
            sqs.send_message()
                .queue_url(&self.dead_letters)
                .message_body(record.to_string())
                .send()
                .await
                .unwrap();
        }
    }

    /// How many messages the dead-letter queue holds (visible or not).
    async fn queue_depth(&self) -> usize {
        let sqs = aws_sdk_sqs::Client::new(&self.world.emulator.shared().await);
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&self.dead_letters)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let count = |name| {
            attributes
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }

    /// `slipway dlq redrive image-push`, the operator's command, run for real: it reads the
    /// queue in the emulator and invokes the function through a played Invoke API
    /// (tests/common/lambda_invoke.rs), whose events `lambda` delivers. With `refuse_one`,
    /// every invoke of the first event is refused (the SDK's own retries included).
    /// Returns the command's exit code, its JSON and each accepted event's report.
    async fn redrive_with_cli(
        &self,
        lambda: &Lambda<'_>,
        refuse_one: bool,
    ) -> (i32, Value, Vec<Value>) {
        let settings = json!({
            "environment": "reliability", "account": ACCOUNT, "region": REGION,
            "ledger_bucket": LEDGER_BUCKET, "config_s3": format!("s3://{LEDGER_BUCKET}/config.json"),
            "dead_letter_queues": {"image-push": self.dead_letters},
            "functions": {"image-push": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:image-push")},
        });
        aws_sdk_ssm::Client::new(&self.world.emulator.shared().await)
            .put_parameter()
            .name("/slipway/reliability/settings")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .value(settings.to_string())
            .overwrite(true)
            .send()
            .await
            .unwrap();
        let (api, mut invoked) = common::lambda_invoke::LambdaInvokeApi::start().await;
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_slipway"));
        command
            .args([
                "--env",
                "reliability",
                "dlq",
                "redrive",
                "image-push",
                "--json",
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &self.world.emulator.endpoint)
            // Service-specific endpoints (AWS SDKs and Tools Reference Guide,
            // "Service-specific endpoints"): Lambda's calls go to the played Invoke API.
            .env("AWS_ENDPOINT_URL_LAMBDA", &api.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        let run = command.output();
        tokio::pin!(run);
        let mut refused: Option<Value> = None;
        let mut reports = Vec::new();
        let output = loop {
            tokio::select! {
                output = &mut run => break output.unwrap(),
                Some(call) = invoked.recv() => {
                    assert_eq!(call.function, "image-push");
                    let id = call.payload["requestPayload"]["id"].clone();
                    if refuse_one && refused.get_or_insert_with(|| id.clone()) == &id {
                        let _ = call.accept.send(false);
                        continue;
                    }
                    let delivery = lambda.deliver(&call.payload).await;
                    let Ending::Acknowledged(report) = &delivery.ending else {
                        panic!("a redriven event failed again after the faults stopped: {}", call.payload)
                    };
                    reports.push(serde_json::to_value(report).unwrap());
                    let _ = call.accept.send(true);
                }
            }
        };
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let printed: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
            panic!(
                "dlq redrive printed no JSON ({err}): {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().unwrap_or(-1), printed, reports)
    }

    /// Every revision of `family` and the image of its `app` container.
    async fn revisions(&self, family: &str) -> Vec<(String, String)> {
        let mut arns = Vec::new();
        let mut pages = self
            .world
            .clients
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            arns.extend(page.unwrap().task_definition_arns().iter().cloned());
        }
        let mut revisions = Vec::new();
        for arn in arns {
            let (definition, _) = self.world.task_definition(&arn).await;
            let image = definition.container_definitions()[0]
                .image()
                .unwrap_or_default()
                .to_string();
            revisions.push((arn, image));
        }
        revisions
    }

    /// How many images have more than one revision in `family`.
    async fn duplicate_revisions(&self, family: &str) -> usize {
        let mut per_image: HashMap<String, usize> = HashMap::new();
        for (_, image) in self.revisions(family).await {
            *per_image.entry(image).or_default() += 1;
        }
        per_image.values().filter(|n| **n > 1).count()
    }

    async fn running_image(&self, service: &str) -> String {
        let (definition, _) = self.world.running(service).await;
        definition.container_definitions()[0]
            .image()
            .unwrap()
            .to_string()
    }
}

/// How one event ended, as Lambda would see it.
#[derive(Debug)]
enum Ending {
    Acknowledged(Report),
    DeadLettered(String),
}

struct Delivery {
    ending: Ending,
    attempts: usize,
    /// Attempts that ended in an error (a retryable one) or ran out of time.
    failed_attempts: usize,
}

/// Lambda's asynchronous invocation, played in the test.
struct Lambda<'a> {
    deployer: &'a TestDeployer,
    rig: &'a Rig,
    retries: usize,
}

impl Lambda<'_> {
    async fn deliver(&self, event: &Value) -> Delivery {
        let mut failed_attempts = 0;
        let mut last_error = String::new();
        for attempt in 0..=self.retries {
            let invocation = Invocation {
                request_id: format!(
                    "{}-{attempt}-{}",
                    event["id"].as_str().unwrap_or("no-id"),
                    fastrand::u64(..)
                ),
                deadline: Utc::now() + chrono::Duration::from_std(FUNCTION_TIMEOUT).unwrap(),
            };
            let started = Instant::now();
            match tokio::time::timeout(
                FUNCTION_TIMEOUT,
                self.deployer.handle_ecr_event(event, &invocation),
            )
            .await
            {
                Ok(Ok(report)) => {
                    return Delivery {
                        ending: Ending::Acknowledged(report),
                        attempts: attempt + 1,
                        failed_attempts,
                    }
                }
                Ok(Err(err)) => last_error = err.to_string(),
                Err(_) => last_error = "timed out: Lambda stopped the invocation".into(),
            }
            failed_attempts += 1;
            // Lambda's retry comes after the failed attempt's deadline.
            if attempt < self.retries {
                tokio::time::sleep(FUNCTION_TIMEOUT.saturating_sub(started.elapsed())).await;
            }
        }
        // What Lambda's on-failure destination writes (not the raw event: that is what
        // EventBridge's target dead-letter queue writes when it cannot invoke at all).
        let record = slipway::input::redrive::invocation_record(
            event,
            &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:image-push"),
            &last_error,
            (self.retries + 1) as u64,
        );
        let sqs = aws_sdk_sqs::Client::new(&self.rig.world.emulator.shared().await);
        sqs.send_message()
            .queue_url(&self.rig.dead_letters)
            .message_body(record.to_string())
            .send()
            .await
            .unwrap();
        Delivery {
            ending: Ending::DeadLettered(last_error),
            attempts: self.retries + 1,
            failed_attempts,
        }
    }
}

fn push_of(repository: &str, id: &str, tag: &str, digest: &str) -> Value {
    let mut event = push_event(id, Some(tag), digest);
    event["detail"]["repository-name"] = Value::from(repository);
    event
}

fn target(name: &str, repository: &str, tags: &str) -> String {
    target_json_with(
        name,
        name,
        tags,
        "auto",
        serde_json::json!({ "repository": repository }),
    )
}

fn ecs_writes(proxy: &FaultProxy) -> (usize, usize) {
    (
        proxy.applied("RegisterTaskDefinition"),
        proxy.applied("UpdateService"),
    )
}

/// The ledger's view of one deployment after everything settled: its state, and whether
/// anything was left half-written (a lease, an unsettled head, a starting marker).
async fn ledger_state(inspector: &TestDeployer, target: &str, digest: &str) -> Value {
    let ledger = inspector.ledger();
    let deployment = ledger
        .deployment(target, &image_key(digest))
        .await
        .unwrap()
        .map(|d| d.value);
    let rollouts = ledger
        .rollouts(target)
        .await
        .unwrap()
        .map(|r| r.value)
        .unwrap_or_default();
    let head = ledger.head(target).await.unwrap().map(|h| h.value);
    let ecs_id = deployment
        .as_ref()
        .and_then(|d| d.ecs_deployment_id.clone());
    json!({
        "state": deployment.as_ref().map(|d| d.state.to_string()),
        "lease_left": deployment.as_ref().is_some_and(|d| d.lease.is_some()),
        "error_recorded": deployment.as_ref().is_some_and(|d| d.error.is_some()),
        "ecs_deployment_known": ecs_id.as_ref().is_some_and(|id| rollouts.started.iter().any(|s| &s.ecs_deployment_id == id)),
        "starting_marker_left": rollouts.starting.is_some(),
        "head_is_ours": head.as_ref().is_some_and(|h| h.digest == digest),
        "head_settled": head.as_ref().is_some_and(|h| h.settled),
    })
}

// ---------------------------------------------------------------------------------------
// 1. Duplicate deliveries
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_1_a_hundred_deliveries_of_one_push_deploy_once() {
    let rig = Rig::new(1).await;
    let running = rig.world.push_image(Some("v1")).await;
    rig.world.create_service("web", &image_uri(&running)).await;
    let pushed = rig.world.push_image(Some("v2")).await;
    let config = config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]);
    let deployer = rig.deployer(&config);
    let lambda = rig.lambda(&deployer);
    let event = push_event("e-dup", Some("v2"), &pushed);
    rig.proxy.reset_calls();

    let started = Instant::now();
    let deliveries: Vec<Delivery> = futures::stream::iter(0..100)
        .map(|_| lambda.deliver(&event))
        .buffer_unordered(20)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut results: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in &deliveries {
        let name = match &delivery.ending {
            Ending::Acknowledged(report) => report_results(report).join(","),
            Ending::DeadLettered(_) => "dead-lettered".into(),
        };
        *results.entry(name).or_default() += 1;
    }
    let (registers, updates) = ecs_writes(&rig.proxy);
    let state = ledger_state(&rig.inspector(&config), "web", &pushed).await;
    record_figures(
        "scenario-1-duplicates",
        &json!({
            "deliveries": 100, "concurrency": 20,
            "register_task_definition": registers, "update_service": updates,
            "results": results, "seconds": elapsed.as_secs_f64(),
            "runs_pushed_image": rig.running_image("web").await == image_uri(&pushed),
            "ledger": state,
        }),
    );
    assert_eq!((registers, updates), (1, 1));
    assert_eq!(rig.running_image("web").await, image_uri(&pushed));
    assert_eq!(results.get("rolling"), Some(&1), "{results:?}");
    assert_eq!(state["state"], "rolling");
}

// ---------------------------------------------------------------------------------------
// 2. Out-of-order deliveries
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_2_twenty_digests_in_random_order_end_on_the_newest_and_never_step_back() {
    let rig = Rig::new(2).await;
    let first = rig.world.push_image(Some("1.0.0")).await;
    rig.world.create_service("web", &image_uri(&first)).await;
    let mut digests = Vec::new();
    for n in 1..=20 {
        digests.push(rig.world.push_image(Some(&format!("1.0.{n}"))).await);
    }
    let config = config(&[target_json("web", "web", r#"{"semver": ">=1"}"#, "auto")]);
    let deployer = rig.deployer(&config);
    let lambda = rig.lambda(&deployer);
    let mut order: Vec<usize> = (0..20).collect();
    fastrand::Rng::with_seed(2).shuffle(&mut order);
    rig.proxy.reset_calls();

    let deliveries: Vec<Delivery> = futures::stream::iter(order.clone())
        .map(|i| {
            let event = push_event(
                &format!("e-{i}"),
                Some(&format!("1.0.{}", i + 1)),
                &digests[i],
            );
            let lambda = &lambda;
            async move { lambda.deliver(&event).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    // Which version each UpdateService rolled onto, in the order ECS received them.
    let revisions: HashMap<String, String> = rig.revisions("web").await.into_iter().collect();
    let version_of = |image: &str| digests.iter().position(|d| image_uri(d) == image);
    let rolled: Vec<usize> = rig
        .proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "UpdateService")
        .filter_map(|c| c.body_field("taskDefinition"))
        .filter_map(|arn| revisions.get(&arn).and_then(|image| version_of(image)))
        .collect();
    let steps_back = rolled.windows(2).filter(|w| w[1] < w[0]).count();
    let registered = rig.revisions("web").await.len() - 1;
    let dead = deliveries
        .iter()
        .filter(|d| matches!(d.ending, Ending::DeadLettered(_)))
        .count();
    let final_image = rig.running_image("web").await;
    record_figures(
        "scenario-2-out-of-order",
        &json!({
            "digests": 20, "delivery_order": order.iter().map(|i| format!("1.0.{}", i + 1)).collect::<Vec<_>>(),
            "concurrency": 8, "revisions_registered": registered,
            "update_service_sequence": rolled.iter().map(|i| format!("1.0.{}", i + 1)).collect::<Vec<_>>(),
            "steps_back": steps_back, "dead_lettered": dead,
            "ends_on_newest": final_image == image_uri(&digests[19]),
        }),
    );
    assert_eq!(final_image, image_uri(&digests[19]));
    assert_eq!(steps_back, 0, "{rolled:?}");
    assert!(registered <= 20, "{registered} revisions");
    assert_eq!(dead, 0);
    assert_eq!(rig.duplicate_revisions("web").await, 0);
}

// ---------------------------------------------------------------------------------------
// 3. Injected faults with Lambda's retries
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_3_a_fifth_of_all_calls_failing_loses_nothing_and_duplicates_nothing() {
    let (targets, pushes_per_target) = if full_size() { (5, 10) } else { (5, 4) };
    let rig = Rig::new(3).await;
    let configs = rig.targets(targets).await;
    // ECR's push time orders pushes without a version; the emulator keeps whole seconds.
    let mut pushes: Vec<(usize, usize, String)> = Vec::new();
    for round in 0..pushes_per_target {
        tokio::time::sleep(Duration::from_millis(1050)).await;
        for t in 0..targets {
            let digest = rig
                .push(&format!("app{t}"), &format!("build-{round}"))
                .await;
            pushes.push((t, round, digest));
        }
    }
    let config = config(&configs);
    let deployer = rig.deployer(&config);
    let lambda = rig.lambda(&deployer);
    fastrand::Rng::with_seed(3).shuffle(&mut pushes);
    rig.proxy.reset_calls();
    rig.proxy.inject(0.2, &Fault::ALL, None);

    let started = Instant::now();
    let deliveries: Vec<(usize, usize, String, Delivery)> = futures::stream::iter(pushes.clone())
        .map(|(t, round, digest)| {
            let event = push_of(
                &format!("app{t}"),
                &format!("e-{t}-{round}"),
                &format!("build-{round}"),
                &digest,
            );
            let lambda = &lambda;
            async move { (t, round, digest, lambda.deliver(&event).await) }
        })
        .buffer_unordered(10)
        .collect()
        .await;
    let elapsed = started.elapsed();
    rig.proxy.calm();

    let calls = rig.proxy.calls();
    let mut by_fault: BTreeMap<String, usize> = BTreeMap::new();
    for call in &calls {
        if let Some(fault) = call.fault {
            *by_fault.entry(format!("{fault:?}")).or_default() += 1;
        }
    }
    let dead_lettered = rig.dead_lettered().await;
    let inspector = rig.inspector(&config);
    let mut per_target = Vec::new();
    let mut lost = 0;
    let mut duplicates = 0;
    let mut half_written = 0;
    for t in 0..targets {
        let name = format!("web{t}");
        let newest = pushes
            .iter()
            .filter(|(pt, _, _)| *pt == t)
            .max_by_key(|(_, round, _)| *round)
            .unwrap()
            .2
            .clone();
        let running = rig.running_image(&name).await;
        let on_newest = running.ends_with(&newest);
        let newest_dead = dead_lettered
            .iter()
            .any(|e| e["detail"]["image-digest"] == newest.as_str());
        let newest_record = ledger_state(&inspector, &name, &newest).await;
        if !on_newest && !newest_dead {
            lost += 1;
        }
        duplicates += rig.duplicate_revisions(&name).await;
        // A deployment left planned must belong to a dead-lettered event (which a redrive
        // completes, scenario 3's second test): acknowledged pushes end somewhere.
        for (_, _, digest) in pushes.iter().filter(|(pt, _, _)| *pt == t) {
            let state = ledger_state(&inspector, &name, digest).await;
            let dead = dead_lettered
                .iter()
                .any(|e| e["detail"]["image-digest"] == digest.as_str());
            if state["state"] == "planned" && !dead {
                half_written += 1;
            }
        }
        per_target.push(json!({
            "target": name, "ends_on_newest": on_newest, "newest_dead_lettered": newest_dead,
            "newest_in_ledger": newest_record["state"],
        }));
    }
    let attempts: usize = deliveries.iter().map(|(_, _, _, d)| d.attempts).sum();
    let retried = deliveries
        .iter()
        .filter(|(_, _, _, d)| d.failed_attempts > 0)
        .count();
    let dead = deliveries
        .iter()
        .filter(|(_, _, _, d)| matches!(d.ending, Ending::DeadLettered(_)))
        .count();
    record_figures(
        "scenario-3-faults",
        &json!({
            "size": if full_size() { "full" } else { "make test (smaller)" },
            "targets": targets, "pushes": pushes.len(), "fault_rate": 0.2,
            "calls": calls.len(), "faults_injected": by_fault,
            "invocations": attempts, "events_retried_by_lambda": retried,
            "events_dead_lettered": dead, "dead_letter_queue_messages": dead_lettered.len(),
            "duplicate_revisions": duplicates, "pushes_lost_without_record": lost,
            "acknowledged_but_left_planned": half_written,
            "dead_letter_reasons": deliveries.iter().filter_map(|(_, _, _, d)| match &d.ending {
                Ending::DeadLettered(error) => Some(error.chars().take(300).collect::<String>()),
                Ending::Acknowledged(_) => None,
            }).collect::<Vec<_>>(),
            "per_target": per_target, "seconds": elapsed.as_secs_f64(),
        }),
    );
    // What the scenario claims to survive must have happened: faults injected, and (at
    // full size: 50 pushes, about 7 retried) events that needed Lambda's retry. At make
    // test's size the SDK's own retries may absorb every fault.
    let injected: usize = by_fault.values().sum();
    assert!(
        injected > calls.len() / 10,
        "{injected} faults in {} calls",
        calls.len()
    );
    if full_size() {
        assert!(retried > 0, "no event needed a retry: {by_fault:?}");
    }
    assert_eq!(duplicates, 0);
    assert_eq!(lost, 0, "{per_target:?}");
    assert_eq!(dead, dead_lettered.len());
    assert_eq!(half_written, 0);
}

/// The dead-letter path: faults that outlast Lambda's retries. Every event that fails
/// all three attempts is in the dead-letter queue and its deployment (if it got that far)
/// says why; redriven once the faults stop, every target ends on its newest push.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_3_faults_that_outlast_the_retries_end_in_the_dead_letter_queue_and_redrive_cleanly(
) {
    const TARGETS: usize = 5;
    let rig = Rig::new(31).await;
    let config = config(&rig.targets(TARGETS).await);
    let mut pushes = Vec::new();
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(1050)).await;
        for t in 0..TARGETS {
            let digest = rig
                .push(&format!("app{t}"), &format!("build-{round}"))
                .await;
            let event = push_of(
                &format!("app{t}"),
                &format!("e-{t}-{round}"),
                &format!("build-{round}"),
                &digest,
            );
            pushes.push((t, round, digest, event));
        }
    }
    let deployer = rig.deployer(&config);
    let lambda = rig.lambda(&deployer);
    rig.proxy.reset_calls();
    rig.proxy.inject(0.6, &Fault::ALL, None);
    let deliveries: Vec<Delivery> = futures::stream::iter(pushes.iter())
        .map(|(_, _, _, event)| lambda.deliver(event))
        .buffer_unordered(10)
        .collect()
        .await;
    rig.proxy.calm();
    let faults = rig.proxy.faults_injected();
    let calls = rig.proxy.calls().len();

    let records = rig.dead_letter_records().await;
    let dead_lettered: Vec<Value> = records
        .iter()
        .map(|record| slipway::input::redrive::event_of(record).0.clone())
        .collect();
    let inspector = rig.inspector(&config);
    let mut dead_with_reason = 0;
    let mut dead_unclaimed = 0;
    // The error is written with the lease release, best effort: under these faults that
    // write fails too, sometimes, and a Lambda timeout writes nothing. The queue holds
    // every such event either way.
    let mut dead_without_reason = 0;
    for event in &dead_lettered {
        let t: usize = event["detail"]["repository-name"].as_str().unwrap()[3..]
            .parse()
            .unwrap();
        let digest = event["detail"]["image-digest"].as_str().unwrap();
        let record = inspector
            .ledger()
            .deployment(&format!("web{t}"), &image_key(digest))
            .await
            .unwrap();
        match record.map(|r| r.value) {
            None => dead_unclaimed += 1,
            Some(d)
                if d.error.is_some() || d.state != slipway::model::deployment::State::Planned =>
            {
                dead_with_reason += 1
            }
            Some(_) => dead_without_reason += 1,
        }
    }
    // An operator redrives the dead-letter queue once AWS is healthy again — later than
    // the last attempt's deadline (until then its lease stands, and a copy of the event is
    // answered as a duplicate delivery).
    tokio::time::sleep(FUNCTION_TIMEOUT).await;
    // `slipway dlq redrive` invokes the function with each message body as it is (the
    // on-failure record, which the function opens: src/input/redrive.rs) and deletes a
    // message only once the invoke was accepted. The first try has one invoke refused:
    // that message stays, and the second try converges.
    rig.requeue(&records).await;
    let (first_exit, first, first_reports) = rig.redrive_with_cli(&lambda, true).await;
    assert_eq!(
        first_exit, 1,
        "a refused invoke fails the redrive: {first:#}"
    );
    assert_eq!(first["failed"], 1, "{first:#}");
    assert_eq!(
        rig.queue_depth().await,
        1,
        "the message whose invoke failed stays"
    );
    let (second_exit, second, reports) = rig.redrive_with_cli(&lambda, false).await;
    assert_eq!(second_exit, 0, "{second:#}");
    assert_eq!(rig.queue_depth().await, 0, "the queue converged");
    let redriven: Vec<Value> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["messages"].as_array().unwrap())
        .map(|m| json!({"event": m["event_id"], "result": m["result"]}))
        .collect();
    let redriven_once = redriven
        .iter()
        .filter(|r| r["result"] == "redriven")
        .count();
    assert_eq!(
        redriven_once,
        dead_lettered.len(),
        "every dead-lettered event redriven once: {redriven:?}"
    );
    assert_eq!(
        first_reports.len() + reports.len(),
        redriven_once,
        "each accepted invoke ran the function once"
    );
    let mut on_newest = 0;
    let mut duplicates = 0;
    let mut half_written = 0;
    for t in 0..TARGETS {
        let name = format!("web{t}");
        let newest = &pushes.iter().rfind(|(pt, ..)| *pt == t).unwrap().2;
        if rig.running_image(&name).await.ends_with(newest.as_str()) {
            on_newest += 1;
        }
        duplicates += rig.duplicate_revisions(&name).await;
        for (_, _, digest, _) in pushes.iter().filter(|(pt, ..)| *pt == t) {
            let state = ledger_state(&inspector, &name, digest).await;
            if state["state"] == "planned" || state["lease_left"] == true {
                half_written += 1;
            }
        }
    }
    let dead = deliveries
        .iter()
        .filter(|d| matches!(d.ending, Ending::DeadLettered(_)))
        .count();
    record_figures(
        "scenario-3-dead-letters",
        &json!({
            "targets": TARGETS, "pushes": pushes.len(), "fault_rate": 0.6, "calls": calls,
            "faults_injected": faults, "events_dead_lettered": dead,
            "dead_letter_queue_messages": dead_lettered.len(),
            "dead_lettered_with_their_error_in_the_ledger": dead_with_reason,
            "dead_lettered_before_any_record": dead_unclaimed,
            "dead_lettered_planned_without_error": dead_without_reason,
            "after_redrive_targets_on_newest": on_newest,
            "after_redrive_duplicate_revisions": duplicates,
            "after_redrive_left_planned": half_written,
            "redrive_first_exit": first_exit,
            "redrive_first_failed": first["failed"],
            "redrive_second_exit": second_exit,
            "redriven": redriven,
        }),
    );
    assert!(dead > 0, "the fault rate should outlast some retries");
    assert_eq!(dead, dead_lettered.len());
    // Each says why: in its deployment when that best-effort write got through, and always
    // in the queue's record (the function's error, as Lambda's on-failure record keeps it).
    for record in &records {
        let error = record["responsePayload"]["errorMessage"]
            .as_str()
            .unwrap_or_default();
        assert!(
            error.contains("transient AWS error") || error.contains("timed out"),
            "a dead-lettered event without its reason: {record}"
        );
    }
    assert_eq!(on_newest, TARGETS);
    assert_eq!(duplicates, 0);
    assert_eq!(half_written, 0);
}

/// A push that fails every attempt (UpdateService throttled throughout) is dead-lettered
/// with its error in the ledger, and a redrive once ECS answers again completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_3_a_push_that_fails_every_retry_leaves_its_error_in_the_ledger() {
    let (rig, pushed, config) = crash_rig().await;
    let deployer = rig.deployer(&config);
    let lambda = rig.lambda(&deployer);
    rig.proxy.inject(
        1.0,
        &[Fault::Throttling],
        Some(Box::new(|c: &Call| c.operation == "UpdateService")),
    );
    let event = push_event("e-throttled", Some("v2"), &pushed);
    let delivery = lambda.deliver(&event).await;
    rig.proxy.calm();
    let inspector = rig.inspector(&config);
    let record = inspector
        .ledger()
        .deployment("web", &image_key(&pushed))
        .await
        .unwrap()
        .unwrap()
        .value;
    let dead = rig.dead_lettered().await;
    let redriven = lambda.deliver(&dead[0]).await;
    let after = ledger_state(&inspector, "web", &pushed).await;
    record_figures(
        "scenario-3-error-recorded",
        &json!({
            "attempts": delivery.attempts,
            "dead_lettered": matches!(delivery.ending, Ending::DeadLettered(_)),
            "state_while_dead_lettered": record.state.to_string(),
            "error_in_the_ledger": record.error,
            "lease_left": record.lease.is_some(),
            "after_redrive": after,
            "revisions": rig.revisions("web").await.len(),
        }),
    );
    assert!(matches!(delivery.ending, Ending::DeadLettered(_)));
    assert!(record
        .error
        .as_deref()
        .is_some_and(|e| e.contains("ThrottlingException")));
    assert!(record.lease.is_none());
    assert!(matches!(redriven.ending, Ending::Acknowledged(_)));
    assert_eq!(after["state"], "rolling");
    assert_eq!(after["error_recorded"], false);
    assert_eq!(rig.duplicate_revisions("web").await, 0);
}

// ---------------------------------------------------------------------------------------
// 4. Crash points
// ---------------------------------------------------------------------------------------

/// One service, one push: the usual start for a crash.
async fn crash_rig() -> (Rig, String, String) {
    let rig = Rig::new(4).await;
    let running = rig.world.push_image(Some("v1")).await;
    rig.world.create_service("web", &image_uri(&running)).await;
    let pushed = rig.world.push_image(Some("v2")).await;
    let config = config(&[target_json("web", "web", r#"{"glob": "v*"}"#, "auto")]);
    (rig, pushed, config)
}

fn describe(call: &Call) -> String {
    match call.service.as_str() {
        "s3" => format!(
            "{} {}",
            call.operation,
            call.path.split_once('/').map_or("", |(_, key)| key)
        ),
        _ => format!("{}:{}", call.service, call.operation),
    }
}

/// How long the killed attempt had: its lease, which the replay waits out.
const KILLED_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// What Lambda and Terraform put in image-push's environment, pointed at the proxy.
fn function_env(rig: &Rig, config: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", rig.proxy.endpoint.clone()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("SLIPWAY_ACCOUNT_ID", ACCOUNT.to_string()),
        ("SLIPWAY_LEDGER_BUCKET", LEDGER_BUCKET.to_string()),
        ("SLIPWAY_CONFIG", config.to_string()),
    ]
}

/// The image-push binary, killed (SIGKILL) the moment the emulator has applied one of the
/// writes of a deploy, then the event replayed by a fresh process after the killed
/// attempt's deadline, as Lambda's retry would.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_4_killed_after_any_write_the_replay_converges_without_duplicates() {
    let binary = runtime::function_binary("image-push");
    // The writes of an uninterrupted deploy, in order: the crash points.
    let (rig, pushed, config) = crash_rig().await;
    rig.proxy.reset_calls();
    let event = push_event("e-crash", Some("v2"), &pushed);
    let env = function_env(&rig, &config);
    let mut whole =
        runtime::Invocation::start(&binary, &env, "r-whole", event, FUNCTION_TIMEOUT).await;
    assert!(matches!(whole.wait().await, runtime::Ended::Response(_)));
    let writes: Vec<String> = rig
        .proxy
        .calls()
        .iter()
        .filter(|c| c.is_write())
        .map(describe)
        .collect();
    drop((whole, rig));
    // The crash points must be the deploy's writes, or the loop below proves nothing.
    for expected in [
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "PutObject targets/web/target.json",
    ] {
        assert!(
            writes.iter().any(|w| w == expected),
            "no crash point after {expected}: {writes:?}"
        );
    }

    let mut points = Vec::new();
    for (k, write) in writes.iter().enumerate() {
        let (rig, pushed, config) = crash_rig().await;
        let event = push_event("e-crash", Some("v2"), &pushed);
        let env = function_env(&rig, &config);
        // The target's document is written twice (the claim, the record of the rollout):
        // the point is named by the write and how many of its kind came before.
        let earlier = writes[..k].iter().filter(|w| *w == write).count();
        let point = write.clone();
        let crashed = rig
            .proxy
            .crash_after(move |c| c.is_write() && describe(c) == point, earlier);
        let started = Instant::now();
        let mut attempt = runtime::Invocation::start(
            &binary,
            &env,
            "r-killed",
            event.clone(),
            KILLED_ATTEMPT_TIMEOUT,
        )
        .await;
        tokio::select! {
            call = crashed => {
                attempt.kill().await;
                assert_eq!(&describe(&call.unwrap()), write);
            }
            ended = attempt.wait() => {
                panic!("the invocation ended before crash point {k} ({write}): {ended:?}");
            }
        }
        // Lambda retries after the killed attempt's deadline.
        tokio::time::sleep(KILLED_ATTEMPT_TIMEOUT.saturating_sub(started.elapsed())).await;
        let mut replay =
            runtime::Invocation::start(&binary, &env, "r-replay", event, FUNCTION_TIMEOUT).await;
        let replayed = match tokio::time::timeout(FUNCTION_TIMEOUT, replay.wait()).await {
            Ok(runtime::Ended::Response(report)) => report_value_results(&report).join(","),
            Ok(other) => format!("{other:?}"),
            Err(_) => "timed out".into(),
        };
        let (registers, updates) = ecs_writes(&rig.proxy);
        let state = ledger_state(&rig.inspector(&config), "web", &pushed).await;
        let on_pushed = rig.running_image("web").await == image_uri(&pushed);
        let duplicates = rig.duplicate_revisions("web").await;
        points.push(json!({
            "killed_after": write, "replay": replayed,
            "register_task_definition": registers, "update_service": updates,
            "runs_pushed_image": on_pushed, "duplicate_revisions": duplicates, "ledger": state,
        }));
    }
    record_figures(
        "scenario-4-crash-points",
        &json!({"crash_points": writes.len(), "points": points}),
    );
    assert_eq!(points.len(), writes.len(), "every crash point was played");
    for point in &points {
        assert_eq!(point["runs_pushed_image"], true, "{point}");
        assert_eq!(point["duplicate_revisions"], 0, "{point}");
        assert_eq!(point["register_task_definition"], 1, "{point}");
        assert_eq!(point["ledger"]["state"], "rolling", "{point}");
        assert_eq!(point["ledger"]["ecs_deployment_known"], true, "{point}");
        assert_eq!(point["ledger"]["starting_marker_left"], false, "{point}");
        assert_eq!(point["ledger"]["lease_left"], false, "{point}");
    }
}

/// The ambiguous failure behind the first crash point, without a crash: every
/// RegisterTaskDefinition is applied but answered only after the client gave up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_4_a_registration_whose_answer_is_lost_is_found_not_repeated() {
    let (rig, pushed, config) = crash_rig().await;
    let deployer = rig.deployer(&config);
    rig.proxy.reset_calls();
    rig.proxy.inject(
        1.0,
        &[Fault::Slow],
        Some(Box::new(|c: &Call| c.operation == "RegisterTaskDefinition")),
    );
    let delivery = rig
        .lambda(&deployer)
        .deliver(&push_event("e-lost", Some("v2"), &pushed))
        .await;
    let (registers, updates) = ecs_writes(&rig.proxy);
    let lookups = rig.proxy.applied("ListTaskDefinitions");
    let state = ledger_state(&rig.inspector(&config), "web", &pushed).await;
    record_figures(
        "scenario-4-lost-registration",
        &json!({
            "attempts": delivery.attempts, "register_task_definition": registers,
            "list_task_definitions": lookups, "update_service": updates,
            "duplicate_revisions": rig.duplicate_revisions("web").await, "ledger": state,
        }),
    );
    assert!(matches!(delivery.ending, Ending::Acknowledged(_)));
    assert_eq!(registers, 1, "the lost answer's revision is reused");
    assert_eq!(rig.duplicate_revisions("web").await, 0);
    assert_eq!(rig.running_image("web").await, image_uri(&pushed));
    assert_eq!(state["state"], "rolling");
}

/// The same lost answer, and the search for its revision fails too (ListTaskDefinitions
/// throttled through the SDK's three attempts): registering again then could only
/// duplicate what the lost call
/// registered, so the attempt stops, and the retry searches before it registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_4_a_lost_registration_whose_search_fails_is_not_repeated() {
    let (rig, pushed, config) = crash_rig().await;
    let deployer = rig.deployer(&config);
    rig.proxy.reset_calls();
    rig.proxy.inject(
        1.0,
        &[Fault::Slow],
        Some(Box::new(|c: &Call| c.operation == "RegisterTaskDefinition")),
    );
    // The SDK's standard retry mode (src/aws/mod.rs) tries each call three times.
    const SDK_ATTEMPTS: usize = 3;
    let searches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = searches.clone();
    rig.proxy.inject(
        1.0,
        &[Fault::Throttling],
        Some(Box::new(move |c: &Call| {
            c.operation == "ListTaskDefinitions"
                && counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < SDK_ATTEMPTS
        })),
    );
    let delivery = rig
        .lambda(&deployer)
        .deliver(&push_event("e-lost-search", Some("v2"), &pushed))
        .await;
    let (registers, _) = ecs_writes(&rig.proxy);
    assert!(
        searches.load(std::sync::atomic::Ordering::SeqCst) > SDK_ATTEMPTS,
        "the search was refused through one attempt and tried again in the next"
    );
    assert!(matches!(delivery.ending, Ending::Acknowledged(_)));
    assert_eq!(
        registers, 1,
        "never registered while the search could not answer"
    );
    assert_eq!(rig.duplicate_revisions("web").await, 0);
    assert!(delivery.attempts >= 2, "the first attempt stopped");
    assert_eq!(rig.running_image("web").await, image_uri(&pushed));
}

// ---------------------------------------------------------------------------------------
// 7. The emulator stops answering mid-run
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_7_an_emulator_stopped_mid_run_gives_retryable_errors_and_nothing_half_written() {
    const TARGETS: usize = 3;
    let rig = Rig::new(7).await;
    let configs = rig.targets(TARGETS).await;
    let mut events = Vec::new();
    for t in 0..TARGETS {
        let (name, repository) = (format!("web{t}"), format!("app{t}"));
        let digest = rig.push(&repository, "build-1").await;
        events.push((
            name,
            push_of(&repository, &format!("e-{t}"), "build-1", &digest),
            digest,
        ));
    }
    let config = config(&configs);
    let deployer = rig.deployer(&config);
    rig.proxy.reset_calls();

    // The first attempts start; once they are under way the emulator is stopped for
    // longer than a call may take.
    let outage = Duration::from_secs(6);
    let first_attempts = futures::future::join_all(events.iter().map(|(_, event, _)| {
        let deployer = &deployer;
        async move {
            let invocation = Invocation {
                request_id: format!("{}-first", event["id"]),
                deadline: Utc::now() + chrono::Duration::from_std(FUNCTION_TIMEOUT).unwrap(),
            };
            let started = Instant::now();
            let result = tokio::time::timeout(
                FUNCTION_TIMEOUT,
                deployer.handle_ecr_event(event, &invocation),
            )
            .await;
            (result, started.elapsed())
        }
    }));
    let stop = async {
        while rig.proxy.calls().len() < 6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let calls_before = rig.proxy.calls().len();
        rig.world.emulator.pause();
        tokio::time::sleep(outage).await;
        rig.world.emulator.resume();
        calls_before
    };
    let (first, calls_before_stop) = tokio::join!(first_attempts, stop);

    let mut returned: BTreeMap<String, usize> = BTreeMap::new();
    let mut seconds = Vec::new();
    for (result, elapsed) in &first {
        let kind = match result {
            Ok(Ok(report)) => format!("acknowledged: {}", report_results(report).join(",")),
            Ok(Err(_)) => "retryable error".to_string(),
            Err(_) => "still running at its deadline".to_string(),
        };
        *returned.entry(kind).or_default() += 1;
        seconds.push(elapsed.as_secs_f64());
    }

    // Lambda retries each failed event after its deadline; the emulator is back.
    tokio::time::sleep(FUNCTION_TIMEOUT.saturating_sub(outage) + Duration::from_millis(200)).await;
    let lambda = rig.lambda(&deployer);
    let mut retried = Vec::new();
    for ((name, event, _), (result, _)) in events.iter().zip(&first) {
        if !matches!(result, Ok(Ok(_))) {
            retried.push(name.clone());
            let delivery = lambda.deliver(event).await;
            assert!(matches!(delivery.ending, Ending::Acknowledged(_)), "{name}");
        }
    }
    let inspector = rig.inspector(&config);
    let mut per_target = Vec::new();
    let mut half_written = 0;
    let mut duplicates = 0;
    for (name, _, digest) in &events {
        let state = ledger_state(&inspector, name, digest).await;
        let on_pushed = rig.running_image(name).await.ends_with(digest.as_str());
        if state["state"] != "rolling"
            || state["lease_left"] == true
            || state["starting_marker_left"] == true
            || state["ecs_deployment_known"] != true
        {
            half_written += 1;
        }
        duplicates += rig.duplicate_revisions(name).await;
        per_target.push(json!({"target": name, "runs_pushed_image": on_pushed, "ledger": state}));
    }
    record_figures(
        "scenario-7-emulator-stopped",
        &json!({
            "targets": TARGETS, "stopped_after_calls": calls_before_stop,
            "stopped_for_seconds": outage.as_secs_f64(),
            "first_attempts": returned, "first_attempt_seconds": seconds,
            "retried_by_lambda": retried, "half_written_after_retry": half_written,
            "duplicate_revisions": duplicates, "per_target": per_target,
        }),
    );
    assert!(
        !returned.keys().any(|k| k.starts_with("still running")),
        "{returned:?}"
    );
    // The outage reached the first attempts, and each one it reached went back to Lambda as
    // retryable: none was acknowledged as a failure, which Lambda would not retry.
    assert!(returned.contains_key("retryable error"), "{returned:?}");
    assert!(
        !returned
            .keys()
            .any(|k| k.starts_with("acknowledged") && k.contains("failed")),
        "{returned:?}"
    );
    for target in &per_target {
        assert_eq!(target["runs_pushed_image"], true, "{target}");
    }
    assert_eq!(half_written, 0, "{per_target:?}");
    assert_eq!(duplicates, 0);
}

// ---------------------------------------------------------------------------------------
// 5. Hostile input (the fuzz targets are tests/fuzz; `make fuzz`)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_5_every_invalid_event_is_refused_clearly_acknowledged_and_writes_nothing() {
    let rig = Rig::new(5).await;
    let running = rig.world.push_image(Some("v1")).await;
    rig.world.create_service("web", &image_uri(&running)).await;
    let config = config(&[target_json("web", "web", r#"{"glob": "*"}"#, "auto")]);
    let deployer = rig.deployer(&config);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/invalid");
    let mut rows = Vec::new();
    for function in ["image-push", "source-upload", "deployment-events"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(function))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|err| panic!("{}: not JSON: {err}", path.display()));
            let invocation = invocation(&path.display().to_string());
            rig.proxy.reset_calls();
            let handled = match function {
                "image-push" => deployer.handle_ecr_event(&raw, &invocation).await,
                "source-upload" => deployer.handle_source_event(&raw, &invocation).await,
                _ => deployer.handle_deployment_event(&raw, &invocation).await,
            };
            let calls = rig.proxy.calls();
            let report = serde_json::to_value(
                handled.unwrap_or_else(|err| panic!("{}: not acknowledged: {err}", path.display())),
            )
            .unwrap();
            let message = report["error"]
                .as_str()
                .or(report["reason"].as_str())
                .unwrap_or("")
                .to_string();
            rows.push(json!({
                "function": function,
                "event": path.file_name().unwrap().to_string_lossy(),
                "outcome": report["outcome"],
                "message": message.chars().take(200).collect::<String>(),
                "aws_calls": calls.len(),
                "aws_writes": calls.iter().filter(|c| c.is_write()).count(),
            }));
        }
    }
    let refused = rows.iter().filter(|r| r["outcome"] == "refused").count();
    record_figures(
        "scenario-5-invalid-events",
        &json!({"events": rows.len(), "refused": refused, "rows": rows}),
    );
    assert!(rows.len() >= 30);
    for row in &rows {
        assert!(
            row["outcome"] == "refused" || row["outcome"] == "ignored",
            "{row}"
        );
        assert!(row["message"].as_str().unwrap().len() > 20, "{row}");
        assert_eq!(row["aws_writes"], 0, "{row}");
    }
    assert!(rig.world.ledger_keys().await.is_empty());
}
