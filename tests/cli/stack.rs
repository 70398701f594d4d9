//! The local stack the command line runs against.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use slipway::deployer::TargetOutcome;
use slipway::web::ApprovalApp;

use super::common::api_gateway::{ApiGateway, Principal};
use super::common::web::TestFunction;
use super::common::*;

pub const ENVIRONMENT: &str = "test";

/// Alice may call every operator action and decide prod-web's approvals.
pub const ALICE: (&str, &str) = ("AKIDALICE0000000001", "alice-secret");
pub const ALICE_ARN: &str = "arn:aws:sts::123456789012:assumed-role/release-managers/alice";
/// Bob may call every action too, but is not among prod-web's IAM approvers.
pub const BOB: (&str, &str) = ("AKIDBOB000000000002", "bob-secret");
pub const BOB_ARN: &str = "arn:aws:sts::123456789012:assumed-role/developers/bob";
/// Carol's IAM policy allows only `freeze`.
pub const CAROL: (&str, &str) = ("AKIDCAROL0000000003", "carol-secret");

pub fn targets_config() -> String {
    config(&[
        target_json("web", "web", r#"{"glob": "v*"}"#, "auto"),
        target_json_with(
            "prod-web",
            "web-prod",
            r#"{"glob": "v*"}"#,
            "approval",
            serde_json::json!({"approval": {"iam_approvers": ["arn:aws:sts::123456789012:assumed-role/release-managers/*"]}}),
        ),
    ])
}

/// The world, the deployer, the operator endpoint, and the settings the binary reads.
pub struct Stack {
    pub world: World,
    pub deployer: Arc<TestDeployer>,
    pub gateway: ApiGateway,
    /// image-push's dead-letter queue.
    pub dead_letters: String,
    /// The targets config the functions and the command line read.
    pub config: String,
}

impl Stack {
    pub async fn new() -> Stack {
        Stack::with_config(targets_config()).await
    }

    /// A stack whose functions and command line run with `config`.
    pub async fn with_config(config: String) -> Stack {
        let world = World::new().await;
        let running = world.push_image(Some("v1")).await;
        world.create_service("web", &image_uri(&running)).await;
        world.create_service("web-prod", &image_uri(&running)).await;
        let approvers = world.approvers().await;
        let (deployer, _) = world.approval_deployer(&config, &approvers);
        let deployer = Arc::new(deployer);
        let function = TestFunction::new(ApprovalApp {
            deployer: deployer.clone(),
            slack_signing_secret: None,
            later: None,
        });
        let principal = |(_, secret): (&str, &str), arn: &str, allowed: &[&str]| Principal {
            secret: secret.to_string(),
            arn: arn.to_string(),
            allowed: allowed.iter().map(|a| a.to_string()).collect(),
        };
        let principals = HashMap::from([
            (ALICE.0.to_string(), principal(ALICE, ALICE_ARN, &["*"])),
            (BOB.0.to_string(), principal(BOB, BOB_ARN, &["*"])),
            (
                CAROL.0.to_string(),
                principal(CAROL, "arn:aws:iam::123456789012:user/carol", &["freeze"]),
            ),
        ]);
        let gateway = ApiGateway::start(function.router(), principals, REGION).await;
        let sqs = aws_sdk_sqs::Client::new(&world.emulator.shared().await);
        let dead_letters = sqs
            .create_queue()
            .queue_name("image-push-dead-letters")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        let stack = Stack {
            world,
            deployer,
            gateway,
            dead_letters,
            config,
        };
        stack.write_settings(None).await;
        stack
    }

    /// The settings with `extra` fields added (the archive, say).
    pub async fn write_settings_with(&self, extra: Value) {
        let mut settings = self.settings();
        for (key, value) in extra.as_object().unwrap() {
            settings[key] = value.clone();
        }
        self.write_settings(Some(&settings.to_string())).await;
    }

    fn settings(&self) -> Value {
        serde_json::json!({
            "environment": ENVIRONMENT,
            "account": ACCOUNT,
            "region": REGION,
            "ledger_bucket": LEDGER_BUCKET,
            "config_s3": format!("s3://{LEDGER_BUCKET}/config/targets.json"),
            "dead_letter_queues": {"image-push": self.dead_letters},
            "functions": {},
            "operator_url": format!("{}/operator", self.gateway.endpoint),
        })
    }

    /// The config object and the SSM parameter, as infra/modules/slipway writes them.
    pub async fn write_settings(&self, value: Option<&str>) {
        let clients = &self.world.clients;
        clients
            .s3
            .put_object()
            .bucket(LEDGER_BUCKET)
            .key("config/targets.json")
            .body(self.config.clone().into_bytes().into())
            .send()
            .await
            .unwrap();
        let settings = self.settings().to_string();
        let ssm = aws_sdk_ssm::Client::new(&self.world.emulator.shared().await);
        ssm.put_parameter()
            .name(format!("/slipway/{ENVIRONMENT}/settings"))
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .value(value.unwrap_or(&settings))
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }

    /// Pushes `tag`; returns the digest and the report's outcome for `target`.
    pub async fn push(&self, tag: &str) -> (String, Vec<(String, TargetOutcome)>) {
        let digest = self.world.push_image(Some(tag)).await;
        let report = self
            .deployer
            .handle_ecr_event(
                &push_event(&format!("push-{tag}"), Some(tag), &digest),
                &invocation(&format!("push-{tag}")),
            )
            .await
            .unwrap();
        (digest, target_outcomes(&report))
    }

    /// Pushes `tag` and rolls it to web; returns the deployment id and ECS's deployment id.
    pub async fn deploy(&self, tag: &str) -> (String, String) {
        let (digest, outcomes) = self.push(tag).await;
        let Some((
            _,
            TargetOutcome::Rolling {
                ecs_deployment_id, ..
            },
        )) = outcomes.into_iter().find(|(target, _)| target == "web")
        else {
            panic!("{tag} should roll to web")
        };
        (
            format!("web.img-{}", digest.trim_start_matches("sha256:")),
            ecs_deployment_id,
        )
    }

    /// ECS says how web's rollout ended (SERVICE_DEPLOYMENT_COMPLETED or _FAILED).
    pub async fn ecs_says(&self, name: &str, ecs_deployment_id: &str) {
        let path = format!(
            "{}/events/ecs-deployment-completed.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["id"] = Value::from(format!("{name}-{ecs_deployment_id}"));
        event["resources"] =
            serde_json::json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web")]);
        event["detail"]["eventName"] = Value::from(format!("SERVICE_DEPLOYMENT_{name}"));
        event["detail"]["eventType"] = Value::from(if name == "FAILED" { "ERROR" } else { "INFO" });
        event["detail"]["deploymentId"] = Value::from(ecs_deployment_id);
        event["detail"]["updatedAt"] = Value::from(Utc::now().to_rfc3339());
        event["detail"]["reason"] =
            Value::from("ECS deployment circuit breaker: task failed to start.");
        self.deployer
            .handle_deployment_event(&event, &invocation(&format!("ecs-{name}")))
            .await
            .unwrap();
    }

    /// The binary as Alice.
    pub async fn slipway(&self, args: &[&str]) -> Ran {
        self.slipway_as(ALICE, args).await
    }

    pub async fn slipway_as(&self, (key, secret): (&str, &str), args: &[&str]) -> Ran {
        slipway_at(
            &self.world.emulator.endpoint,
            args,
            &[
                ("AWS_ACCESS_KEY_ID", key),
                ("AWS_SECRET_ACCESS_KEY", secret),
            ],
        )
        .await
    }

    /// The ledger's keys under `prefix`.
    pub async fn ledger_keys(&self, prefix: &str) -> Vec<String> {
        self.world
            .ledger_keys()
            .await
            .into_iter()
            .filter(|k| k.starts_with(prefix))
            .collect()
    }
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The JSON document printed, also written to target/cli-json/<name>.json.
    pub fn json(&self, name: &str) -> Value {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cli-json");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.json")), &self.stdout).unwrap();
        let value: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}\nstderr: {}", self.stdout, self.stderr)
        });
        assert_eq!(value["schema_version"], 1, "{value}");
        value
    }
}

/// Runs the binary as an operator would: credentials, the endpoint, the environment.
pub async fn slipway_at(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", ALICE.0)
        .env("AWS_SECRET_ACCESS_KEY", ALICE.1)
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SLIPWAY_ENV", ENVIRONMENT);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().await.unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

pub fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}
