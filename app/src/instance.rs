//! The task's unique instance id, so a health-check log line says which task answered.
//!
//! On ECS it is the task id (the last part of the task ARN, as the console and
//! `aws ecs describe-tasks` show it), read from the task metadata endpoint v4. Anywhere else,
//! or if the endpoint does not answer in time, a random id: still unique per process, and
//! the log says where the id came from.

use serde::Deserialize;
use std::time::Duration;

/// The metadata endpoint is link-local and answers in milliseconds; a task must not wait
/// long for a log label.
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub source: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("the task metadata endpoint did not answer: {0}")]
    Request(#[from] reqwest::Error),
    #[error("the task ARN `{0}` has no task id after its last `/`")]
    Arn(String),
}

#[derive(Deserialize)]
struct TaskMetadata {
    #[serde(rename = "TaskARN")]
    task_arn: String,
}

impl Instance {
    /// Asks ECS when `metadata_uri` is set; falls back to a random id (and logs why).
    pub async fn discover(metadata_uri: Option<&str>) -> Self {
        if let Some(uri) = metadata_uri {
            match task_id(uri).await {
                Ok(id) => {
                    return Instance {
                        id,
                        source: "ecs-task-metadata",
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "using a random instance id instead of the ECS task id")
                }
            }
        }
        Instance {
            id: uuid::Uuid::new_v4().to_string(),
            source: "random",
        }
    }
}

async fn task_id(metadata_uri: &str) -> Result<String, MetadataError> {
    let client = reqwest::Client::builder()
        .timeout(METADATA_TIMEOUT)
        .build()?;
    let task: TaskMetadata = client
        .get(format!("{}/task", metadata_uri.trim_end_matches('/')))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    task_id_from_arn(&task.task_arn)
}

/// `arn:aws:ecs:eu-west-1:123456789012:task/shop-prod/0f9e…` → `0f9e…`.
pub fn task_id_from_arn(arn: &str) -> Result<String, MetadataError> {
    match arn.rsplit_once('/') {
        Some((_, id)) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(MetadataError::Arn(arn.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_id_is_the_last_part_of_the_arn() {
        let arn =
            "arn:aws:ecs:eu-west-1:123456789012:task/shop-prod/158d1c8083dd49d6b527399fd6414f5c";
        assert_eq!(
            task_id_from_arn(arn).unwrap(),
            "158d1c8083dd49d6b527399fd6414f5c"
        );
        // The old ARN format had no cluster segment.
        assert_eq!(
            task_id_from_arn("arn:aws:ecs:eu-west-1:123456789012:task/abc").unwrap(),
            "abc"
        );
        assert!(task_id_from_arn("arn:aws:ecs:eu-west-1:123456789012:task/").is_err());
        assert!(task_id_from_arn("not-an-arn").is_err());
    }

    #[tokio::test]
    async fn without_ecs_the_id_is_random_and_says_so() {
        let first = Instance::discover(None).await;
        let second = Instance::discover(None).await;
        assert_eq!(first.source, "random");
        assert_ne!(first.id, second.id);
    }
}
