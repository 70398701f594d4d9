//! ECS's service deployments, played where the emulator cannot: moto stores an
//! UpdateService's `deploymentConfiguration` verbatim, runs nothing, answers without
//! `currentServiceDeployment`, and answers HTTP 500 to ContinueServiceDeployment and
//! DescribeServiceDeployments. This stand-in sits in the fault proxy and follows the
//! documentation:
//! - UpdateService is refused as ECS refuses it (InvalidParameterException) when a PAUSE
//!   hook names TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT (API_DeploymentLifecycleHook:
//!   "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT
//!   stages"), an AWS_LAMBDA hook comes without `hookTargetArn` or `roleArn` ("You must
//!   provide this parameter when configuring an AWS_LAMBDA lifecycle hook"), or
//!   BLUE_GREEN comes without `bakeTimeInMinutes` (API_DeploymentConfiguration);
//!   otherwise it reaches moto, and its answer gains the new service deployment's ARN
//!   (API_Service, `currentServiceDeployment`;
//!   `service-deployment/<cluster>/<service>/<id>`, Service Authorization Reference).
//! - The test moves a deployment to its pause ([`EcsDeployments::reach_pause`]) and gets
//!   the "ECS Hook State Change" event ECS would send (Developer Guide, "Amazon ECS
//!   service deployment hook state change events"), to deliver as EventBridge would.
//! - ContinueServiceDeployment (API_ContinueServiceDeployment; Developer Guide,
//!   "Continue a paused service deployment"): `serviceDeploymentArn` and `hookId` are
//!   required (InvalidParameterException), an unknown deployment is
//!   ServiceDeploymentNotFoundException, and "the pause hook must be in AWAITING_ACTION
//!   status" (AWS does not document the error otherwise; InvalidParameterException here).
//!   CONTINUE moves the hook to SUCCEEDED; ROLLBACK to FAILED and the deployment to
//!   ROLLBACK_IN_PROGRESS.
//! - DescribeServiceDeployments (API_DescribeServiceDeployments): the deployment's status
//!   and its hooks, timestamps as epoch seconds (the JSON protocol's default), and
//!   `alarms.triggeredAlarmNames` (API_ServiceDeploymentAlarms) once an alarm rolled it back.
//! - ListServiceDeployments (API_ListServiceDeployments): `service` is required, `cluster`
//!   defaults to `default`, `status` filters, `maxResults` is 1 to 100; the answer lists
//!   ServiceDeploymentBrief entries.
//! - StopServiceDeployment (API_StopServiceDeployment; Developer Guide, "Stopping Amazon
//!   ECS service deployments"): `serviceDeploymentArn` is required, `stopType` ROLLBACK or
//!   ABORT; a PENDING or IN_PROGRESS deployment goes to ROLLBACK_REQUESTED, one already
//!   stopping or rolling back "continues", and an ended one is a ConflictException
//!   ("conflict in the current state of the resource").
//! - A pause nobody answers times out (Developer Guide, "Lifecycle hooks for Amazon ECS
//!   service deployments": `timeoutConfiguration`, action ROLLBACK): the hook is TIMED_OUT,
//!   the deployment rolls back, and HOOK_TIMED_OUT is sent ([`EcsDeployments::time_out_pause`]).
//! - A deployment ends as the test says ([`EcsDeployments::end`]): SUCCESSFUL after the
//!   bake, or ROLLBACK_SUCCESSFUL naming the alarms that fired ("How CloudWatch alarms
//!   detect Amazon ECS deployment failures").

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::faults::{Call, FaultProxy};

#[derive(Clone, Default)]
pub struct EcsDeployments {
    state: Arc<Mutex<StandIn>>,
}

#[derive(Default)]
struct StandIn {
    deployments: Vec<ServiceDeployment>,
    /// Every ContinueServiceDeployment ECS accepted: (ARN, hook id, action).
    continues: Vec<(String, String, String)>,
}

struct ServiceDeployment {
    arn: String,
    cluster: String,
    service: String,
    status: String,
    /// The PAUSE hook's stage, from the UpdateService that started it.
    pause_stage: Option<String>,
    pause_minutes: i64,
    hook: Option<Hook>,
    triggered_alarms: Vec<String>,
    finished: Option<DateTime<Utc>>,
    /// The AWS_LAMBDA hook's `hookDetails`, from the UpdateService that started it.
    lambda_hook_details: Option<Value>,
    status_reason: Option<String>,
}

struct Hook {
    id: String,
    status: String,
    expires_at: DateTime<Utc>,
}

fn error(kind: &str, message: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": message}))
}

/// ECS's refusal of a deployment configuration, if it breaks a documented rule.
fn refused(configuration: &Value) -> Option<String> {
    for hook in configuration["lifecycleHooks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if hook["targetType"] == "AWS_LAMBDA"
            && (hook["hookTargetArn"].is_null() || hook["roleArn"].is_null())
        {
            return Some("an AWS_LAMBDA lifecycle hook needs hookTargetArn and roleArn".into());
        }
        if hook["targetType"] != "PAUSE" {
            continue;
        }
        for stage in hook["lifecycleStages"].as_array().into_iter().flatten() {
            if stage == "TEST_TRAFFIC_SHIFT" || stage == "PRODUCTION_TRAFFIC_SHIFT" {
                return Some(format!("PAUSE hooks cannot be configured at {stage} stage"));
            }
        }
    }
    if configuration["strategy"] == "BLUE_GREEN" && configuration["bakeTimeInMinutes"].is_null() {
        return Some("bakeTimeInMinutes is required for BLUE_GREEN".into());
    }
    None
}

impl EcsDeployments {
    /// Plays ECS's service deployments in `proxy`.
    pub fn install(proxy: &FaultProxy) -> EcsDeployments {
        let stand_in = EcsDeployments::default();
        proxy.answer(
            |call| {
                call.operation == "UpdateService"
                    && call
                        .body
                        .as_ref()
                        .and_then(|b| refused(&b["deploymentConfiguration"]))
                        .is_some()
            },
            |call| {
                let body = call.body.as_ref().unwrap();
                error(
                    "InvalidParameterException",
                    &refused(&body["deploymentConfiguration"]).unwrap(),
                )
            },
        );
        let started = stand_in.clone();
        proxy.rewrite(
            |call| call.operation == "UpdateService",
            move |call, answer| started.start(call, answer),
        );
        let answering = stand_in.clone();
        proxy.answer(
            |call| call.operation == "ContinueServiceDeployment",
            move |call| answering.continue_deployment(call),
        );
        let describing = stand_in.clone();
        proxy.answer(
            |call| call.operation == "DescribeServiceDeployments",
            move |call| describing.describe(call),
        );
        let listing = stand_in.clone();
        proxy.answer(
            |call| call.operation == "ListServiceDeployments",
            move |call| listing.list(call),
        );
        let stopping = stand_in.clone();
        proxy.answer(
            |call| call.operation == "StopServiceDeployment",
            move |call| stopping.stop(call),
        );
        stand_in
    }

    fn start(&self, call: &Call, answer: &mut Value) {
        let Some(body) = call.body.as_ref() else {
            return;
        };
        let configuration = &body["deploymentConfiguration"];
        if configuration.is_null() {
            return;
        }
        let (cluster, service) = (
            body["cluster"].as_str().unwrap_or_default().to_string(),
            body["service"].as_str().unwrap_or_default().to_string(),
        );
        let mut state = self.state.lock().unwrap();
        let arn = format!(
            "arn:aws:ecs:us-east-1:123456789012:service-deployment/{cluster}/{service}/sd{}",
            state.deployments.len() + 1
        );
        let pause = configuration["lifecycleHooks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["targetType"] == "PAUSE");
        state.deployments.push(ServiceDeployment {
            arn: arn.clone(),
            cluster,
            service,
            status: "IN_PROGRESS".into(),
            pause_stage: pause
                .and_then(|h| h["lifecycleStages"][0].as_str())
                .map(str::to_string),
            pause_minutes: pause
                .and_then(|h| h["timeoutConfiguration"]["timeoutInMinutes"].as_i64())
                .unwrap_or(1440),
            hook: None,
            triggered_alarms: Vec::new(),
            finished: None,
            lambda_hook_details: configuration["lifecycleHooks"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|h| h["targetType"] == "AWS_LAMBDA")
                .map(|h| h["hookDetails"].clone()),
            status_reason: None,
        });
        answer["service"]["currentServiceDeployment"] = json!(arn);
    }

    /// ECS reaches the newest deployment's pause: the hook awaits action. Returns the
    /// HOOK_AWAITING_ACTION event ECS sends.
    pub fn reach_pause(&self, hook_id: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let deployment = state
            .deployments
            .last_mut()
            .expect("a rollout with a pause");
        let stage = deployment
            .pause_stage
            .clone()
            .expect("the rollout has a pause");
        let expires_at = Utc::now() + chrono::Duration::minutes(deployment.pause_minutes);
        deployment.hook = Some(Hook {
            id: hook_id.to_string(),
            status: "AWAITING_ACTION".into(),
            expires_at,
        });
        hook_event(deployment, "HOOK_AWAITING_ACTION", &stage)
    }

    /// Nobody answered the newest deployment's pause in time: ECS takes the timeout's
    /// action, ROLLBACK. Returns the HOOK_TIMED_OUT event ECS sends.
    pub fn time_out_pause(&self) -> Value {
        let mut state = self.state.lock().unwrap();
        let deployment = state.deployments.last_mut().expect("a paused rollout");
        let stage = deployment
            .pause_stage
            .clone()
            .expect("the rollout has a pause");
        let hook = deployment.hook.as_mut().expect("ECS reached the pause");
        assert_eq!(
            hook.status, "AWAITING_ACTION",
            "only a waiting pause times out"
        );
        hook.status = "TIMED_OUT".into();
        deployment.status = "ROLLBACK_IN_PROGRESS".into();
        hook_event(deployment, "HOOK_TIMED_OUT", &stage)
    }

    /// The newest service deployment ends with `status`; `alarms` are the alarms whose
    /// ALARM state rolled it back.
    pub fn end(&self, status: &str, alarms: &[&str]) {
        let mut state = self.state.lock().unwrap();
        let deployment = state.deployments.last_mut().expect("a rollout");
        deployment.status = status.into();
        deployment.triggered_alarms = alarms.iter().map(|a| a.to_string()).collect();
        deployment.finished = Some(Utc::now());
    }

    /// The call ECS makes to the newest deployment's Lambda hook once test traffic moved
    /// (Developer Guide, "Lambda hooks for Amazon ECS service deployments": the payload
    /// names the service deployment and carries the hook's `hookDetails`).
    pub fn lambda_hook_call(&self) -> Value {
        let state = self.state.lock().unwrap();
        let d = state.deployments.last().expect("a rollout");
        let details = d
            .lambda_hook_details
            .clone()
            .expect("the rollout has a Lambda hook");
        let revision = |n| {
            format!(
                "arn:aws:ecs:us-east-1:123456789012:service-revision/{}/{}/{n}",
                d.cluster, d.service
            )
        };
        json!({
            "executionId": format!("exec-{}", d.arn.rsplit('/').next().unwrap()),
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "resourceArn": d.arn,
            "executionDetails": {
                "serviceArn": format!("arn:aws:ecs:us-east-1:123456789012:service/{}/{}", d.cluster, d.service),
                "targetServiceRevisionArn": revision(2),
                "testTrafficWeights": {revision(2): 100, revision(1): 0},
                "productionTrafficWeights": {},
            },
            "hookDetails": details,
        })
    }

    /// The hook answered FAILED: ECS "rolls back the deployment to the last successful
    /// service revision" (the Lambda hooks page). The status reason is the stand-in's own
    /// wording: AWS does not document ECS's.
    pub fn fail_lambda_hook(&self) {
        let mut state = self.state.lock().unwrap();
        let d = state.deployments.last_mut().expect("a rollout");
        d.status = "ROLLBACK_SUCCESSFUL".into();
        d.status_reason = Some("A lifecycle hook at POST_TEST_TRAFFIC_SHIFT failed".into());
        d.finished = Some(Utc::now());
    }

    /// How many service deployments UpdateService started.
    pub fn started(&self) -> usize {
        self.state.lock().unwrap().deployments.len()
    }

    /// The newest service deployment's ARN, as ECS named it.
    pub fn newest(&self) -> Option<String> {
        let state = self.state.lock().unwrap();
        state.deployments.last().map(|d| d.arn.clone())
    }

    pub fn continues(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().continues.clone()
    }

    fn continue_deployment(&self, call: &Call) -> (u16, Value) {
        let body = call.body.clone().unwrap_or_default();
        let (Some(arn), Some(hook_id)) = (
            body["serviceDeploymentArn"].as_str(),
            body["hookId"].as_str(),
        ) else {
            return error(
                "InvalidParameterException",
                "serviceDeploymentArn and hookId are required",
            );
        };
        let action = body["action"].as_str().unwrap_or("CONTINUE").to_string();
        if action != "CONTINUE" && action != "ROLLBACK" {
            return error(
                "InvalidParameterException",
                "action must be CONTINUE or ROLLBACK",
            );
        }
        let mut state = self.state.lock().unwrap();
        let Some(deployment) = state.deployments.iter_mut().find(|d| d.arn == arn) else {
            return error(
                "ServiceDeploymentNotFoundException",
                "The service deploy ARN that you specified in the StopServiceDeployment doesn't exist.",
            );
        };
        let awaiting = deployment
            .hook
            .as_mut()
            .filter(|h| h.id == hook_id && h.status == "AWAITING_ACTION");
        let Some(hook) = awaiting else {
            return error(
                "InvalidParameterException",
                "The pause hook must be in AWAITING_ACTION status",
            );
        };
        hook.status = if action == "CONTINUE" {
            "SUCCEEDED"
        } else {
            "FAILED"
        }
        .into();
        if action == "ROLLBACK" {
            deployment.status = "ROLLBACK_IN_PROGRESS".into();
        }
        state
            .continues
            .push((arn.to_string(), hook_id.to_string(), action));
        (200, json!({"serviceDeploymentArn": arn}))
    }

    fn list(&self, call: &Call) -> (u16, Value) {
        let body = call.body.clone().unwrap_or_default();
        let Some(service) = body["service"].as_str() else {
            return error("InvalidParameterException", "service is required");
        };
        let service = service.rsplit('/').next().unwrap_or(service);
        let cluster = body["cluster"].as_str().unwrap_or("default");
        let cluster = cluster.rsplit('/').next().unwrap_or(cluster);
        let max = body["maxResults"].as_i64().unwrap_or(20);
        if !(1..=100).contains(&max) {
            return error("InvalidParameterException", "maxResults must be 1 to 100");
        }
        let statuses: Vec<&str> = body["status"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let state = self.state.lock().unwrap();
        let briefs: Vec<Value> = state
            .deployments
            .iter()
            .filter(|d| d.cluster == cluster && d.service == service)
            .filter(|d| statuses.is_empty() || statuses.contains(&d.status.as_str()))
            .take(max as usize)
            .map(|d| {
                json!({
                    "serviceDeploymentArn": d.arn,
                    "serviceArn": format!("arn:aws:ecs:us-east-1:123456789012:service/{}/{}", d.cluster, d.service),
                    "clusterArn": format!("arn:aws:ecs:us-east-1:123456789012:cluster/{}", d.cluster),
                    "status": d.status,
                    "finishedAt": d.finished.map(|t| t.timestamp()),
                })
            })
            .collect();
        (200, json!({ "serviceDeployments": briefs }))
    }

    fn stop(&self, call: &Call) -> (u16, Value) {
        let body = call.body.clone().unwrap_or_default();
        let Some(arn) = body["serviceDeploymentArn"].as_str() else {
            return error(
                "InvalidParameterException",
                "serviceDeploymentArn is required",
            );
        };
        let stop_type = body["stopType"].as_str().unwrap_or("ROLLBACK");
        if stop_type != "ROLLBACK" && stop_type != "ABORT" {
            return error(
                "InvalidParameterException",
                "stopType must be ROLLBACK or ABORT",
            );
        }
        let mut state = self.state.lock().unwrap();
        let Some(d) = state.deployments.iter_mut().find(|d| d.arn == arn) else {
            return error(
                "ServiceDeploymentNotFoundException",
                "The service deploy ARN that you specified in the StopServiceDeployment doesn't exist.",
            );
        };
        match d.status.as_str() {
            "PENDING" | "IN_PROGRESS" => d.status = "ROLLBACK_REQUESTED".into(),
            "STOP_REQUESTED" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {}
            ended => {
                return error(
                    "ConflictException",
                    &format!("The service deployment is {ended}: there is a conflict in the current state of the resource"),
                )
            }
        }
        (200, json!({ "serviceDeploymentArn": arn }))
    }

    fn describe(&self, call: &Call) -> (u16, Value) {
        let body = call.body.clone().unwrap_or_default();
        let state = self.state.lock().unwrap();
        let mut found = Vec::new();
        let mut failures = Vec::new();
        for arn in body["serviceDeploymentArns"]
            .as_array()
            .into_iter()
            .flatten()
        {
            match state.deployments.iter().find(|d| d.arn == *arn) {
                Some(d) => found.push(json!({
                    "serviceDeploymentArn": d.arn,
                    "serviceArn": format!("arn:aws:ecs:us-east-1:123456789012:service/{}/{}", d.cluster, d.service),
                    "status": d.status,
                    "lifecycleStage": d.pause_stage,
                    "lifecycleHookDetails": d.hook.iter().map(|h| json!({
                        "hookId": h.id, "targetType": "PAUSE", "status": h.status,
                        "expiresAt": h.expires_at.timestamp(), "timeoutAction": "ROLLBACK"
                    })).collect::<Vec<_>>(),
                    "alarms": if d.triggered_alarms.is_empty() { Value::Null } else { json!({
                        "status": "TRIGGERED", "alarmNames": d.triggered_alarms,
                        "triggeredAlarmNames": d.triggered_alarms,
                    })},
                    "finishedAt": d.finished.map(|t| t.timestamp()),
                    "statusReason": d.status_reason,
                })),
                None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
            }
        }
        (
            200,
            json!({"serviceDeployments": found, "failures": failures}),
        )
    }
}

fn hook_event(deployment: &ServiceDeployment, name: &str, stage: &str) -> Value {
    let hook = deployment.hook.as_ref().unwrap();
    json!({
        "version": "0", "id": format!("hook-{}-{name}", hook.id),
        "detail-type": "ECS Hook State Change", "source": "aws.ecs",
        "account": "123456789012", "time": Utc::now().to_rfc3339(), "region": "us-east-1",
        "resources": [deployment.arn],
        "detail": {
            "eventType": "INFO", "eventName": name, "hookId": hook.id, "hookType": "PAUSE",
            "expiresAt": hook.expires_at.to_rfc3339(), "lifecycleStage": stage,
            "clusterArn": format!("arn:aws:ecs:us-east-1:123456789012:cluster/{}", deployment.cluster),
            "serviceArn": format!("arn:aws:ecs:us-east-1:123456789012:service/{}/{}", deployment.cluster, deployment.service),
            "serviceDeploymentArn": deployment.arn,
            "updatedAt": Utc::now().to_rfc3339(),
        }
    })
}
