//! `taskdef.json` documents, read with the SDK's own ECS JSON codec.
//!
//! A task definition has well over a hundred fields, and AWS adds more. Rather than map
//! them by hand (and silently drop the ones we forgot), we hand the document to the SDK's
//! DescribeTaskDefinition deserializer through an in-memory connector, offline. The
//! result is the same `FullTaskDefinition` a real Describe gives, so registering it goes
//! through the one carry-over path. Then the RegisterTaskDefinition request it would
//! send is captured the same way and compared with the document: any field of the
//! document that did not survive is unknown to ECS (a typo, or a read-only field pasted
//! from `describe-task-definition`) and is refused by name.

use std::sync::{Arc, Mutex};

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::error::DisplayErrorContext;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Value};

use super::revision::{registration, summarize, FullTaskDefinition};
use crate::ports::DescribedTaskDefinition;

/// Answers every request with the same body and keeps the last request body.
#[derive(Debug, Clone)]
struct InMemory {
    response: Arc<Vec<u8>>,
    last_request: Arc<Mutex<Option<Vec<u8>>>>,
}

impl HttpConnector for InMemory {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().map(<[u8]>::to_vec);
        *self.last_request.lock().expect("not poisoned") = body;
        let status = StatusCode::try_from(200).expect("200 is a status");
        let response = HttpResponse::new(status, SdkBody::from(self.response.as_slice()));
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for InMemory {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.clone().into_shared()
    }
}

fn offline_client(response: Vec<u8>) -> (aws_sdk_ecs::Client, Arc<Mutex<Option<Vec<u8>>>>) {
    let connector = InMemory {
        response: Arc::new(response),
        last_request: Arc::default(),
    };
    let last_request = connector.last_request.clone();
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "offline", "offline", None, None, "offline",
        ))
        .endpoint_url("http://offline.invalid")
        .http_client(connector)
        .build();
    (aws_sdk_ecs::Client::from_conf(config), last_request)
}

/// Reads a `taskdef.json` (the RegisterTaskDefinition JSON shape, `tags` included).
pub async fn parse(
    document: &Value,
) -> Result<DescribedTaskDefinition<FullTaskDefinition>, String> {
    let mut definition = document.clone();
    let tags = definition
        .as_object_mut()
        .and_then(|fields| fields.remove("tags"))
        .unwrap_or_else(|| json!([]));
    let response = json!({"taskDefinition": definition, "tags": tags}).to_string();
    let (client, _) = offline_client(response.into_bytes());
    let output = client
        .describe_task_definition()
        .task_definition("taskdef.json")
        .send()
        .await
        .map_err(|err| {
            format!(
                "not a task definition ECS can read: {}",
                DisplayErrorContext(&err)
            )
        })?;
    let full = FullTaskDefinition {
        definition: output
            .task_definition
            .unwrap_or_else(|| aws_sdk_ecs::types::TaskDefinition::builder().build()),
        tags: output.tags.unwrap_or_default(),
    };

    let (client, sent) = offline_client(b"{}".to_vec());
    // The response does not matter; only the request the SDK would send.
    let _ = registration(&client, &full, &Vec::new(), "taskdef.json")
        .send()
        .await;
    let sent: Value = sent
        .lock()
        .expect("not poisoned")
        .as_deref()
        .and_then(|body| serde_json::from_slice(body).ok())
        .unwrap_or(Value::Null);
    let unknown = missing_from(document, &sent, String::new());
    if !unknown.is_empty() {
        return Err(format!(
            "ECS does not know {}: remove or correct {}",
            unknown.join(", "),
            if unknown.len() == 1 { "it" } else { "them" }
        ));
    }
    Ok(DescribedTaskDefinition {
        summary: summarize(&full),
        full,
    })
}

/// The paths of object fields in `document` that `echo` does not have.
fn missing_from(document: &Value, echo: &Value, path: String) -> Vec<String> {
    match (document, echo) {
        (Value::Object(fields), Value::Object(echoed)) => fields
            .iter()
            .flat_map(|(name, value)| {
                let here = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match echoed.get(name) {
                    Some(echoed_value) => missing_from(value, echoed_value, here),
                    // An explicit null is the same as leaving a field out.
                    None if value.is_null() => vec![],
                    None => vec![format!("`{here}`")],
                }
            })
            .collect(),
        (Value::Array(items), Value::Array(echoed)) => items
            .iter()
            .zip(echoed)
            .enumerate()
            .flat_map(|(index, (item, echoed_item))| {
                missing_from(item, echoed_item, format!("{path}[{index}]"))
            })
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taskdef() -> Value {
        json!({
            "family": "web",
            "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
            "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "512",
            "memory": "1024",
            "containerDefinitions": [{
                "name": "app",
                "image": "<IMAGE>",
                "essential": true,
                "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
                "environment": [{"name": "PORT", "value": "3000"}],
                "secrets": [{"name": "DATABASE_URL", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}},
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:3000/health"], "interval": 30}
            }],
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "tags": [{"key": "Project", "value": "slipway"}]
        })
    }

    #[tokio::test]
    async fn a_taskdef_reads_into_the_described_form_with_every_field() {
        let described = parse(&taskdef()).await.unwrap();
        let td = &described.full.definition;
        assert_eq!(td.family(), Some("web"));
        assert_eq!(td.cpu(), Some("512"));
        let app = &td.container_definitions()[0];
        assert_eq!(app.image(), Some("<IMAGE>"));
        assert_eq!(app.health_check().unwrap().interval(), Some(30));
        assert_eq!(app.secrets()[0].name(), "DATABASE_URL");
        assert_eq!(described.full.tags.len(), 1);
        assert_eq!(described.summary.containers[0].environment_names, ["PORT"]);
    }

    #[tokio::test]
    async fn unknown_and_misspelt_fields_are_named() {
        let mut doc = taskdef();
        doc["memroy"] = json!("2048");
        doc["containerDefinitions"][0]["enviroment"] = json!([]);
        doc["revision"] = json!(7);
        let err = parse(&doc).await.unwrap_err();
        assert!(err.contains("`memroy`"), "{err}");
        assert!(
            err.contains("`containerDefinitions[0].enviroment`"),
            "{err}"
        );
        assert!(err.contains("`revision`"), "{err}");
    }

    #[tokio::test]
    async fn wrong_types_are_refused() {
        let mut doc = taskdef();
        doc["containerDefinitions"][0]["portMappings"] = json!("3000");
        assert!(parse(&doc).await.is_err());
    }
}
