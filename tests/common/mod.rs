//! The local AWS for integration tests: a moto server of the test's own on a free
//! loopback port, and the ECS/ECR/S3 setup a deployment needs.

#![allow(dead_code, unused_imports)]

pub mod api_gateway;
pub mod configs;
pub mod ecs_deployments;
pub mod event_pattern;
pub mod events;
pub mod faults;
pub mod lambda_invoke;
pub mod reports;
pub mod runtime;
pub mod serve;
pub mod web;

pub use configs::{config, target_json, target_json_with};
pub use events::push_event;
pub use reports::{
    only_outcome, report_results, report_value_results, result_name, target_outcomes,
};

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver, NetworkMode, PortMapping,
    Secret, Tag, TaskDefinition,
};
use serde_json::Value;
use slipway::approval::{ApprovalLinks, SigningKey, SigningKeys};
use slipway::aws::{
    AwsNotifier, Clients, EcrRegistry, EcsService, FullTaskDefinition, S3Sources, S3Store, SlackApi,
};
use slipway::input::config::{Config, Home};
use slipway::model::plan::ImageChanges;
use slipway::ports::{AwsError, DescribedTaskDefinition, Ecs, Registered, ServiceState};
use slipway::{Deployer, Invocation};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const LEDGER_BUCKET: &str = "slipway-ledger";

/// A moto server, stopped when dropped.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
}

impl Emulator {
    pub fn start() -> Emulator {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let server = std::env::var_os("SLIPWAY_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".tools/venv/bin/moto_server"));
        assert!(
            server.exists(),
            "{} is missing: run `make tools` (or `make test`, which installs it)",
            server.display()
        );
        // moto binds a free port itself and says which (werkzeug: "Running on
        // http://127.0.0.1:<port>"). Choosing a port here and handing it over would leave a
        // window in which a test running beside this one takes it: its emulator would then
        // answer for this one's.
        let mut child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", server.display()));
        let mut log = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut port = None;
        let mut line = String::new();
        while port.is_none() {
            line.clear();
            let read = std::io::BufRead::read_line(&mut log, &mut line).unwrap_or(0);
            assert!(read > 0, "moto exited before it said where it listens");
            port = line
                .split("Running on http://127.0.0.1:")
                .nth(1)
                .and_then(|rest| rest.trim().parse::<u16>().ok());
        }
        // Its request log goes on to stderr: read it, or the pipe fills and moto stops.
        std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
        let address: SocketAddr = format!("127.0.0.1:{}", port.unwrap()).parse().unwrap();
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start on {address}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Emulator {
            child,
            endpoint: format!("http://{address}"),
        }
    }

    pub async fn shared(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await
    }

    pub async fn clients(&self) -> Clients {
        Clients::new(&self.shared().await)
    }

    /// Stops the emulator's process (SIGSTOP): it keeps its state and accepts
    /// connections, but answers nothing until [`Emulator::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed");
    }
}

/// Clients whose calls go to `endpoint` (a proxy in front of the emulator) with the
/// given time limits.
pub async fn clients_at(endpoint: &str, timeouts: slipway::aws::CallTimeouts) -> Clients {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await;
    Clients::with_timeouts(&shared, timeouts)
}

/// Prints a scenario's figures and keeps them in `target/reliability/<name>.json`, from
/// which `make reliability` writes RELIABILITY.md.
pub fn record_figures(name: &str, figures: &Value) {
    println!(
        "FIGURES {name}: {}",
        serde_json::to_string_pretty(figures).unwrap()
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/reliability");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(figures).unwrap(),
    )
    .unwrap();
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts the calls that change ECS, passing every call through to the emulator.
#[derive(Default)]
pub struct EcsCalls {
    pub registers: AtomicUsize,
    pub updates: AtomicUsize,
    /// How many UpdateService calls still fail with a throttling error (injected).
    pub failing_updates: AtomicUsize,
    /// How many UpdateService calls still fail with AccessDenied (injected): permanent.
    pub denied_updates: AtomicUsize,
}

pub struct CountingEcs {
    pub inner: EcsService,
    pub calls: Arc<EcsCalls>,
    /// Holds up the registration of revisions that run this image, to open race windows.
    pub slow_image: Option<(String, Duration)>,
}

impl Ecs for CountingEcs {
    type TaskDefinition = FullTaskDefinition;

    async fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<ServiceState, AwsError> {
        self.inner.describe_service(cluster, service).await
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<DescribedTaskDefinition<FullTaskDefinition>, AwsError> {
        self.inner.describe_task_definition(arn).await
    }

    async fn parse_task_definition(
        &self,
        document: &Value,
    ) -> Result<DescribedTaskDefinition<FullTaskDefinition>, String> {
        self.inner.parse_task_definition(document).await
    }

    async fn register_with_images(
        &self,
        base: &FullTaskDefinition,
        changes: &ImageChanges,
        deployment_id: &str,
    ) -> Result<Registered, AwsError> {
        self.calls.registers.fetch_add(1, Ordering::SeqCst);
        if let Some((image, delay)) = &self.slow_image {
            if changes.iter().any(|c| &c.to == image) {
                tokio::time::sleep(*delay).await;
            }
        }
        self.inner
            .register_with_images(base, changes, deployment_id)
            .await
    }

    async fn find_registered(
        &self,
        base: &FullTaskDefinition,
        deployment_id: &str,
    ) -> Result<Option<Registered>, AwsError> {
        self.inner.find_registered(base, deployment_id).await
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        settings: Option<&slipway::model::progressive::DeploymentSettings>,
    ) -> Result<slipway::ports::Started, AwsError> {
        self.calls.updates.fetch_add(1, Ordering::SeqCst);
        let failing = self.calls.failing_updates.load(Ordering::SeqCst);
        if failing > 0 {
            self.calls
                .failing_updates
                .store(failing - 1, Ordering::SeqCst);
            return Err(AwsError {
                operation: "ecs:UpdateService",
                message: "ThrottlingException: Rate exceeded (injected)".into(),
                kind: slipway::ports::AwsErrorKind::Transient,
            });
        }
        let denied = self.calls.denied_updates.load(Ordering::SeqCst);
        if denied > 0 {
            self.calls
                .denied_updates
                .store(denied - 1, Ordering::SeqCst);
            return Err(AwsError {
                operation: "ecs:UpdateService",
                message:
                    "AccessDeniedException: not authorized to perform ecs:UpdateService (injected)"
                        .into(),
                kind: slipway::ports::AwsErrorKind::Permanent,
            });
        }
        self.inner
            .update_service(cluster, service, task_definition, settings)
            .await
    }

    async fn continue_service_deployment(
        &self,
        service_deployment_arn: &str,
        hook_id: &str,
        action: slipway::model::service_deployment::HookAction,
    ) -> Result<(), AwsError> {
        self.inner
            .continue_service_deployment(service_deployment_arn, hook_id, action)
            .await
    }

    async fn describe_service_deployment(
        &self,
        service_deployment_arn: &str,
    ) -> Result<Option<slipway::model::service_deployment::ServiceDeploymentState>, AwsError> {
        self.inner
            .describe_service_deployment(service_deployment_arn)
            .await
    }
}

pub type TestDeployer = Deployer<TestAdapters>;

/// The adapters the integration tests run on: the AWS ones against the emulator, ECS
/// counted.
pub type TestAdapters = (CountingEcs, EcrRegistry, S3Store, S3Sources, AwsNotifier);

/// Where test approval links point (never contacted: tests call the handler directly).
pub const APPROVAL_URL: &str = "http://approvals.test/lambda-url/approval";
pub const SLACK_SIGNING_SECRET: &str = "slack-signing-secret-for-tests-0123456789";

pub fn test_key(id: &str) -> SigningKey {
    SigningKey::new(
        id,
        format!("{id}-secret-for-tests-0123456789abcdef").into_bytes(),
    )
    .unwrap()
}

/// The keys test deployers sign with: `k2` current, `k1` previous.
pub fn test_keys() -> SigningKeys {
    SigningKeys {
        current: test_key("k2"),
        previous: Some(test_key("k1")),
    }
}

/// Where approvals are sent in a test: an SNS topic with an SQS queue subscribed (to
/// read what was published), and a Slack stand-in.
pub struct Approvers {
    pub topic_arn: String,
    pub queue_url: String,
    pub slack: SlackStandIn,
}

/// A local HTTP listener standing in for Slack's Web API and for `response_url`s: it
/// records every call and answers like Slack.
pub struct SlackStandIn {
    pub url: String,
    pub calls: Arc<std::sync::Mutex<Vec<(String, Value)>>>,
    server: tokio::task::JoinHandle<()>,
}

impl SlackStandIn {
    pub async fn start() -> SlackStandIn {
        use axum::extract::{Path, State};
        use axum::routing::post;
        use axum::Json;
        type Calls = Arc<std::sync::Mutex<Vec<(String, Value)>>>;
        async fn record(
            State(calls): State<Calls>,
            Path(path): Path<String>,
            Json(body): Json<Value>,
        ) -> Json<Value> {
            let mut calls = calls.lock().unwrap();
            calls.push((path.clone(), body.clone()));
            let ts = format!("1700000000.{:06}", calls.len());
            Json(match path.as_str() {
                "api/chat.postMessage" => {
                    serde_json::json!({"ok": true, "channel": body["channel"], "ts": ts})
                }
                _ => serde_json::json!({"ok": true}),
            })
        }
        let calls: Calls = Arc::default();
        let app = axum::Router::new()
            .route("/{*path}", post(record))
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            serve::serve(listener, app).await;
        });
        SlackStandIn { url, calls, server }
    }

    pub fn calls_to(&self, path: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    pub fn response_url(&self, name: &str) -> String {
        format!("{}/response/{name}", self.url)
    }
}

impl Drop for SlackStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One emulator with an ECR repository `app`, a ledger bucket, and services to deploy to.
pub struct World {
    pub emulator: Emulator,
    pub clients: Clients,
    pushes: AtomicUsize,
}

impl World {
    pub async fn new() -> World {
        let emulator = Emulator::start();
        let clients = emulator.clients().await;
        clients
            .ecs
            .create_cluster()
            .cluster_name("prod")
            .send()
            .await
            .unwrap();
        clients
            .ecr
            .create_repository()
            .repository_name("app")
            .send()
            .await
            .unwrap();
        clients
            .s3
            .create_bucket()
            .bucket(LEDGER_BUCKET)
            .send()
            .await
            .unwrap();
        World {
            emulator,
            clients,
            pushes: AtomicUsize::new(0),
        }
    }

    /// The usual start: service `web` running `app:v1` by digest, and `app:v2` just pushed.
    /// Returns the world and the digest of `v2`.
    pub async fn with_web_and_a_new_push() -> (World, String) {
        let world = World::new().await;
        let running = world.push_image(Some("v1")).await;
        world.create_service("web", &image_uri(&running)).await;
        let pushed = world.push_image(Some("v2")).await;
        (world, pushed)
    }

    /// Puts a distinct image manifest into ECR's `app` under `tag` and returns its digest.
    pub async fn push_image(&self, tag: Option<&str>) -> String {
        self.push_image_to("app", tag).await
    }

    /// The same, into `repository`.
    pub async fn push_image_to(&self, repository: &str, tag: Option<&str>) -> String {
        let n = self.pushes.fetch_add(1, Ordering::SeqCst);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100,
                       "digest": format!("sha256:{:064x}", n + 1)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1000,
                        "digest": format!("sha256:{:064x}", n + 1000)}],
        });
        let output = self
            .clients
            .ecr
            .put_image()
            .repository_name(repository)
            .image_manifest(manifest.to_string())
            .set_image_tag(tag.map(str::to_string))
            .send()
            .await
            .unwrap();
        output
            .image()
            .unwrap()
            .image_id()
            .unwrap()
            .image_digest()
            .unwrap()
            .to_string()
    }

    /// Tags the image `digest` of ECR's `app` with `tag` as well, as CI re-tags a release:
    /// its own manifest put again under the new tag (Amazon ECR User Guide, "Retagging an
    /// image in Amazon ECR"), so the digest is the same.
    pub async fn tag_again(&self, digest: &str, tag: &str) {
        let ecr = &self.clients.ecr;
        let found = ecr
            .batch_get_image()
            .repository_name("app")
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(digest)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let manifest = found.images()[0].image_manifest().unwrap();
        ecr.put_image()
            .repository_name("app")
            .image_manifest(manifest)
            .image_tag(tag)
            .send()
            .await
            .unwrap();
    }

    /// A service whose task definition has the `app` container (running `app_image`) and
    /// a sidecar, with env, secrets, roles, cpu/memory, logging and tags set.
    pub async fn create_service(&self, name: &str, app_image: &str) -> String {
        let app = ContainerDefinition::builder()
            .name("app")
            .image(app_image)
            .essential(true)
            .port_mappings(PortMapping::builder().container_port(3000).build())
            .environment(
                KeyValuePair::builder()
                    .name("RUST_LOG")
                    .value("info")
                    .build(),
            )
            .environment(KeyValuePair::builder().name("PORT").value("3000").build())
            .secrets(
                Secret::builder()
                    .name("DATABASE_URL")
                    .value_from("arn:aws:ssm:us-east-1:123456789012:parameter/db")
                    .build()
                    .unwrap(),
            )
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", format!("/ecs/{name}"))
                    .options("awslogs-region", REGION)
                    .build()
                    .unwrap(),
            )
            .build();
        let sidecar = ContainerDefinition::builder()
            .name("log-router")
            .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0")
            .essential(false)
            .memory_reservation(50)
            .build();
        let registered = self
            .clients
            .ecs
            .register_task_definition()
            .family(name)
            .task_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{name}-task"))
            .execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{name}-execution"))
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("512")
            .memory("1024")
            .container_definitions(app)
            .container_definitions(sidecar)
            .tags(Tag::builder().key("Project").value("slipway-demo").build())
            .tags(Tag::builder().key("Environment").value("prod").build())
            .send()
            .await
            .unwrap();
        let arn = registered
            .task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_string();
        self.clients
            .ecs
            .create_service()
            .cluster("prod")
            .service_name(name)
            .task_definition(&arn)
            .desired_count(2)
            .send()
            .await
            .unwrap();
        arn
    }

    pub fn deployer(&self, config: &str, dry_run: bool) -> (TestDeployer, Arc<EcsCalls>) {
        self.deployer_with_slow_image(config, dry_run, None)
    }

    pub fn deployer_with_slow_image(
        &self,
        config: &str,
        dry_run: bool,
        slow_image: Option<(String, Duration)>,
    ) -> (TestDeployer, Arc<EcsCalls>) {
        self.deployer_with_clients(config, dry_run, slow_image, &self.clients)
    }

    /// A deployer whose AWS calls go through `clients` (e.g. through a fault proxy).
    pub fn deployer_with_clients(
        &self,
        config: &str,
        dry_run: bool,
        slow_image: Option<(String, Duration)>,
        clients: &Clients,
    ) -> (TestDeployer, Arc<EcsCalls>) {
        let config = Config::from_json(
            config,
            &Home {
                account: ACCOUNT.into(),
                region: REGION.into(),
            },
        )
        .unwrap();
        let calls = Arc::new(EcsCalls::default());
        let ecs = CountingEcs {
            inner: EcsService::new(clients.ecs.clone()),
            calls: calls.clone(),
            slow_image,
        };
        let deployer = Deployer::new(
            config,
            ecs,
            EcrRegistry::new(clients.ecr.clone()),
            S3Store::new(clients.s3.clone(), LEDGER_BUCKET.into()),
            S3Sources::new(clients.s3.clone()),
            dry_run,
        )
        .with_approvals(
            Some(ApprovalLinks::new(APPROVAL_URL, test_keys())),
            AwsNotifier::new(None, None),
        );
        (deployer, calls)
    }

    /// An SNS topic with an SQS queue subscribed, and a Slack stand-in.
    pub async fn approvers(&self) -> Approvers {
        let sqs = aws_sdk_sqs::Client::new(&self.emulator.shared().await);
        let topic_arn = self
            .clients
            .sns()
            .create_topic()
            .name("slipway-approvals")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name("approvals-inbox")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:approvals-inbox");
        self.clients
            .sns()
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        Approvers {
            topic_arn,
            queue_url,
            slack: SlackStandIn::start().await,
        }
    }

    /// A deployer that asks `approvers` (SNS and Slack).
    pub fn approval_deployer(
        &self,
        config: &str,
        approvers: &Approvers,
    ) -> (TestDeployer, Arc<EcsCalls>) {
        self.approval_deployer_at(config, approvers, APPROVAL_URL)
    }

    /// The same, with links pointing at `approval_url`.
    pub fn approval_deployer_at(
        &self,
        config: &str,
        approvers: &Approvers,
        approval_url: &str,
    ) -> (TestDeployer, Arc<EcsCalls>) {
        self.approval_deployer_with_clients(config, approvers, approval_url, &self.clients)
    }

    /// The same, its deployer's calls going through `clients` (e.g. a fault proxy).
    pub fn approval_deployer_with_clients(
        &self,
        config: &str,
        approvers: &Approvers,
        approval_url: &str,
        clients: &Clients,
    ) -> (TestDeployer, Arc<EcsCalls>) {
        let (deployer, calls) = self.deployer_with_clients(config, false, None, clients);
        let notifier = AwsNotifier::new(
            Some(slipway::aws::SnsTopic {
                client: self.clients.sns(),
                arn: approvers.topic_arn.clone(),
            }),
            Some(SlackApi::new(
                &format!("{}/api", approvers.slack.url),
                "xoxb-test".into(),
            )),
        );
        let deployer = deployer.with_approvals(
            Some(ApprovalLinks::new(approval_url, test_keys())),
            notifier,
        );
        (deployer, calls)
    }

    /// The messages published to the approvals topic so far (read from the queue).
    pub async fn published(&self, approvers: &Approvers) -> Vec<String> {
        self.drain_queue(&approvers.queue_url).await
    }

    /// Every message in an SQS queue of the emulator, deleted as read.
    pub async fn drain_queue(&self, queue_url: &str) -> Vec<String> {
        let sqs = aws_sdk_sqs::Client::new(&self.emulator.shared().await);
        let mut bodies = Vec::new();
        loop {
            let answer = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = answer.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for message in messages {
                bodies.push(message.body.unwrap_or_default());
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// The task definition the service runs now, as ECS describes it.
    pub async fn running(&self, service: &str) -> (TaskDefinition, Vec<Tag>) {
        let services = self
            .clients
            .ecs
            .describe_services()
            .cluster("prod")
            .services(service)
            .send()
            .await
            .unwrap();
        let arn = services.services()[0]
            .task_definition()
            .unwrap()
            .to_string();
        self.task_definition(&arn).await
    }

    pub async fn task_definition(&self, arn: &str) -> (TaskDefinition, Vec<Tag>) {
        let described = self
            .clients
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .unwrap();
        (
            described.task_definition.unwrap(),
            described.tags.unwrap_or_default(),
        )
    }

    pub async fn revisions(&self, family: &str) -> usize {
        let listed = self
            .clients
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .send()
            .await
            .unwrap();
        listed.task_definition_arns().len()
    }

    pub async fn ledger_keys(&self) -> Vec<String> {
        let listed = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(LEDGER_BUCKET)
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }
}

pub fn image_uri(digest: &str) -> String {
    format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app@{digest}")
}

pub fn invocation(request_id: &str) -> Invocation {
    Invocation {
        request_id: request_id.into(),
        deadline: chrono::Utc::now() + chrono::Duration::seconds(60),
    }
}

pub const SOURCE_BUCKET: &str = "slipway-source";

impl World {
    /// A versioned source bucket, as Slipway requires.
    pub async fn create_source_bucket(&self) {
        self.clients
            .s3
            .create_bucket()
            .bucket(SOURCE_BUCKET)
            .send()
            .await
            .unwrap();
        self.clients
            .s3
            .put_bucket_versioning()
            .bucket(SOURCE_BUCKET)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Uploads `body` to the source bucket and returns the "Object Created" event that
    /// S3 would send through EventBridge (the emulator sends none), with `sequencer`.
    pub async fn upload(&self, key: &str, body: &[u8], sequencer: u64) -> Value {
        let put = self
            .clients
            .s3
            .put_object()
            .bucket(SOURCE_BUCKET)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
        let path = format!(
            "{}/events/s3-imagedefinitions.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["id"] = Value::from(format!("upload-{sequencer}"));
        event["detail"]["bucket"]["name"] = Value::from(SOURCE_BUCKET);
        event["detail"]["object"] = serde_json::json!({
            "key": key,
            "size": body.len(),
            "etag": put.e_tag().unwrap().trim_matches('"'),
            "version-id": put.version_id().unwrap(),
            "sequencer": format!("{sequencer:018X}"),
        });
        event
    }
}

/// Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`.
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}
