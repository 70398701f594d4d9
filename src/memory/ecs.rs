//! ECS in memory: services, task-definition revisions tagged with the deployment they
//! were registered for, and rollouts. Calls are counted; failures can be queued.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::Utc;

use super::{ACCOUNT, REGION};
use crate::model::plan::{ContainerSummary, ImageChanges, TaskDefinitionSummary};
use crate::model::progressive::DeploymentSettings;
use crate::model::service_deployment::{HookAction, ServiceDeploymentState};
use crate::ports::{
    AwsError, AwsErrorKind, DescribedTaskDefinition, Ecs, EcsDeployment, Registered, ServiceState,
    Started, REGISTERED_FOR_TAG,
};

#[derive(Default)]
pub struct MemoryEcs {
    state: Mutex<State>,
    registers: AtomicUsize,
    updates: AtomicUsize,
    update_ticks: Mutex<Vec<u64>>,
}

#[derive(Default)]
struct State {
    services: HashMap<(String, String), ServiceState>,
    definitions: BTreeMap<String, TaskDefinitionSummary>,
    next_deployment: u64,
    failing_updates: VecDeque<AwsErrorKind>,
    /// UpdateService calls whose answer is lost after ECS applied them (a timeout).
    lost_answers: usize,
    /// Service deployments started with a deployment configuration, by ARN, with what
    /// the UpdateService sent.
    service_deployments: BTreeMap<String, (ServiceDeploymentState, DeploymentSettings)>,
    /// Every ContinueServiceDeployment: (ARN, hook id, action).
    continues: Vec<(String, String, HookAction)>,
}

impl MemoryEcs {
    /// What UpdateService sent for each progressive rollout, oldest first.
    pub fn sent_settings(&self) -> Vec<DeploymentSettings> {
        let state = self.state.lock().unwrap();
        state
            .service_deployments
            .values()
            .map(|(_, settings)| settings.clone())
            .collect()
    }

    /// ECS ends a service deployment: `status` as DescribeServiceDeployments reports it,
    /// with the alarms that fired.
    pub fn end_service_deployment(&self, arn: &str, status: &str, alarms: &[&str]) {
        let mut state = self.state.lock().unwrap();
        let (described, _) = state
            .service_deployments
            .get_mut(arn)
            .expect("a service deployment this ECS started");
        described.status = status.to_string();
        described.triggered_alarms = alarms.iter().map(|a| a.to_string()).collect();
        described.finished_at = Some(Utc::now());
    }

    /// Every ContinueServiceDeployment so far: (ARN, hook id, action).
    pub fn continues(&self) -> Vec<(String, String, HookAction)> {
        self.state.lock().unwrap().continues.clone()
    }

    /// A service `cluster/service` running revision 1 of `family`, whose containers run
    /// the given images, rolled out and COMPLETED.
    pub fn with_service(
        self,
        cluster: &str,
        service: &str,
        family: &str,
        images: &[(&str, &str)],
    ) -> Self {
        {
            let mut state = self.state.lock().unwrap();
            let definition = TaskDefinitionSummary {
                arn: arn(family, 1),
                family: family.to_string(),
                revision: 1,
                containers: images
                    .iter()
                    .map(|(name, image)| ContainerSummary {
                        name: name.to_string(),
                        image: image.to_string(),
                        environment_names: vec![],
                        secret_names: vec![],
                    })
                    .collect(),
                cpu: Some("256".into()),
                memory: Some("512".into()),
                task_role_arn: None,
                execution_role_arn: None,
                tags: BTreeMap::new(),
            };
            let deployment = state.deployment_id();
            state
                .definitions
                .insert(definition.arn.clone(), definition.clone());
            state.services.insert(
                (cluster.to_string(), service.to_string()),
                ServiceState {
                    arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{service}"),
                    status: "ACTIVE".into(),
                    task_definition: definition.arn.clone(),
                    primary_deployment: Some(deployment.clone()),
                    controller: "ECS".into(),
                    strategy: Some("ROLLING".into()),
                    circuit_breaker: Some(true),
                    deployments: vec![EcsDeployment {
                        id: deployment,
                        status: "PRIMARY".into(),
                        task_definition: definition.arn,
                        rollout_state: Some("COMPLETED".into()),
                        rollout_state_reason: None,
                        updated_at: Some(Utc::now()),
                    }],
                },
            );
        }
        self
    }

    /// The next UpdateService fails with an error of `kind` (after ECS refused it: nothing
    /// changed).
    pub fn fail_next_update(&self, kind: AwsErrorKind) {
        self.state.lock().unwrap().failing_updates.push_back(kind);
    }

    /// The next UpdateService is applied by ECS, and its answer lost (a timeout): the
    /// caller sees a transient error.
    pub fn lose_next_update_answer(&self) {
        self.state.lock().unwrap().lost_answers += 1;
    }

    /// The task definition `cluster/service` runs.
    pub fn running(&self, cluster: &str, service: &str) -> TaskDefinitionSummary {
        let state = self.state.lock().unwrap();
        let service = &state.services[&(cluster.to_string(), service.to_string())];
        state.definitions[&service.task_definition].clone()
    }

    /// RegisterTaskDefinition calls that registered a revision.
    pub fn registers(&self) -> usize {
        self.registers.load(Ordering::SeqCst)
    }

    /// When ([`super::tick`]) each UpdateService call was made, including refused ones.
    pub fn update_ticks(&self) -> Vec<u64> {
        self.update_ticks.lock().unwrap().clone()
    }

    /// UpdateService calls, including refused ones.
    pub fn updates(&self) -> usize {
        self.updates.load(Ordering::SeqCst)
    }
}

impl State {
    fn deployment_id(&mut self) -> String {
        self.next_deployment += 1;
        format!("ecs-svc/{:019}", self.next_deployment)
    }
}

fn arn(family: &str, revision: i32) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}")
}

fn not_found(operation: &'static str, what: &str) -> AwsError {
    AwsError {
        operation,
        message: format!("{what} not found (in memory)"),
        kind: AwsErrorKind::NotFound,
    }
}

impl Ecs for MemoryEcs {
    type TaskDefinition = TaskDefinitionSummary;

    async fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<ServiceState, AwsError> {
        let state = self.state.lock().unwrap();
        state
            .services
            .get(&(cluster.to_string(), service.to_string()))
            .cloned()
            .ok_or_else(|| {
                not_found(
                    "ecs:DescribeServices",
                    &format!("service {cluster}/{service}"),
                )
            })
    }

    async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<DescribedTaskDefinition<TaskDefinitionSummary>, AwsError> {
        let state = self.state.lock().unwrap();
        let summary = state
            .definitions
            .get(arn)
            .cloned()
            .ok_or_else(|| not_found("ecs:DescribeTaskDefinition", arn))?;
        Ok(DescribedTaskDefinition {
            full: summary.clone(),
            summary,
        })
    }

    async fn parse_task_definition(
        &self,
        document: &serde_json::Value,
    ) -> Result<DescribedTaskDefinition<TaskDefinitionSummary>, String> {
        let family = document["family"]
            .as_str()
            .ok_or("taskdef.json has no family")?;
        let containers = document["containerDefinitions"]
            .as_array()
            .ok_or("taskdef.json has no containerDefinitions")?
            .iter()
            .map(|c| ContainerSummary {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                image: c["image"].as_str().unwrap_or_default().to_string(),
                environment_names: vec![],
                secret_names: vec![],
            })
            .collect();
        let summary = TaskDefinitionSummary {
            arn: String::new(),
            family: family.to_string(),
            revision: 0,
            containers,
            cpu: document["cpu"].as_str().map(str::to_string),
            memory: document["memory"].as_str().map(str::to_string),
            task_role_arn: None,
            execution_role_arn: None,
            tags: BTreeMap::new(),
        };
        Ok(DescribedTaskDefinition {
            full: summary.clone(),
            summary,
        })
    }

    async fn register_with_images(
        &self,
        base: &TaskDefinitionSummary,
        changes: &ImageChanges,
        deployment_id: &str,
    ) -> Result<Registered, AwsError> {
        self.registers.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        let revision = state
            .definitions
            .values()
            .filter(|d| d.family == base.family)
            .map(|d| d.revision)
            .max()
            .unwrap_or(0)
            + 1;
        let mut next = base.clone();
        next.revision = revision;
        next.arn = arn(&base.family, revision);
        for container in &mut next.containers {
            if let Some(change) = changes.iter().find(|c| c.container == container.name) {
                container.image = change.to.clone();
            }
        }
        next.tags
            .insert(REGISTERED_FOR_TAG.into(), deployment_id.into());
        state.definitions.insert(next.arn.clone(), next.clone());
        Ok(Registered {
            arn: next.arn,
            revision,
        })
    }

    async fn find_registered(
        &self,
        base: &TaskDefinitionSummary,
        deployment_id: &str,
    ) -> Result<Option<Registered>, AwsError> {
        let state = self.state.lock().unwrap();
        Ok(state
            .definitions
            .values()
            .filter(|d| d.family == base.family)
            .filter(|d| d.tags.get(REGISTERED_FOR_TAG).map(String::as_str) == Some(deployment_id))
            .max_by_key(|d| d.revision)
            .map(|d| Registered {
                arn: d.arn.clone(),
                revision: d.revision,
            }))
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        settings: Option<&DeploymentSettings>,
    ) -> Result<Started, AwsError> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        self.update_ticks.lock().unwrap().push(super::tick());
        let mut state = self.state.lock().unwrap();
        if let Some(kind) = state.failing_updates.pop_front() {
            return Err(AwsError {
                operation: "ecs:UpdateService",
                message: format!("{kind:?} failure (queued in memory)"),
                kind,
            });
        }
        if !state.definitions.contains_key(task_definition) {
            return Err(not_found("ecs:UpdateService", task_definition));
        }
        let id = state.deployment_id();
        let running = state
            .services
            .get_mut(&(cluster.to_string(), service.to_string()))
            .ok_or_else(|| {
                not_found("ecs:UpdateService", &format!("service {cluster}/{service}"))
            })?;
        for deployment in &mut running.deployments {
            if deployment.status == "PRIMARY" {
                deployment.status = "ACTIVE".into();
            }
        }
        running.deployments.insert(
            0,
            EcsDeployment {
                id: id.clone(),
                status: "PRIMARY".into(),
                task_definition: task_definition.to_string(),
                rollout_state: Some("IN_PROGRESS".into()),
                rollout_state_reason: None,
                updated_at: Some(Utc::now()),
            },
        );
        running.task_definition = task_definition.to_string();
        running.primary_deployment = Some(id.clone());
        let service_deployment_arn = settings.map(|settings| {
            let arn = format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/{service}/{}",
                id.trim_start_matches("ecs-svc/")
            );
            let described = ServiceDeploymentState {
                arn: arn.clone(),
                status: "IN_PROGRESS".into(),
                status_reason: None,
                lifecycle_stage: None,
                triggered_alarms: vec![],
                rollback_reason: None,
                finished_at: None,
                awaiting: vec![],
            };
            state
                .service_deployments
                .insert(arn.clone(), (described, settings.clone()));
            arn
        });
        if state.lost_answers > 0 {
            state.lost_answers -= 1;
            return Err(AwsError {
                operation: "ecs:UpdateService",
                message: "the answer was lost after ECS applied the call (queued in memory)".into(),
                kind: AwsErrorKind::Transient,
            });
        }
        Ok(Started {
            ecs_deployment_id: id,
            service_deployment_arn,
        })
    }

    async fn continue_service_deployment(
        &self,
        service_deployment_arn: &str,
        hook_id: &str,
        action: HookAction,
    ) -> Result<(), AwsError> {
        let mut state = self.state.lock().unwrap();
        if !state
            .service_deployments
            .contains_key(service_deployment_arn)
        {
            return Err(not_found(
                "ecs:ContinueServiceDeployment",
                service_deployment_arn,
            ));
        }
        // ECS answers a hook only while it is AWAITING_ACTION: once.
        if state.continues.iter().any(|(_, hook, _)| hook == hook_id) {
            return Err(AwsError {
                operation: "ecs:ContinueServiceDeployment",
                message:
                    "InvalidParameterException: The pause hook must be in AWAITING_ACTION status"
                        .into(),
                kind: AwsErrorKind::Permanent,
            });
        }
        state.continues.push((
            service_deployment_arn.to_string(),
            hook_id.to_string(),
            action,
        ));
        Ok(())
    }

    async fn describe_service_deployment(
        &self,
        service_deployment_arn: &str,
    ) -> Result<Option<ServiceDeploymentState>, AwsError> {
        let state = self.state.lock().unwrap();
        Ok(state
            .service_deployments
            .get(service_deployment_arn)
            .map(|(described, _)| described.clone()))
    }
}
