//! Where the command line finds everything: one SSM parameter per environment,
//! `/slipway/<environment>/settings`, which Slipway's Terraform writes
//! (infra/modules/slipway/operator.tf). Nothing is configured locally, so nothing drifts:
//! the same `--env` gives every operator the buckets, queues and functions Terraform
//! applied. GetParameter answers ParameterNotFound for a name that does not exist (AWS
//! Systems Manager API Reference, "GetParameter").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::exit::CliError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub environment: String,
    pub account: String,
    pub region: String,
    pub ledger_bucket: String,
    /// `s3://<bucket>/<key>` of the targets config the functions read.
    pub config_s3: String,
    #[serde(default)]
    pub config_version: Option<String>,
    /// The dead-letter queue's URL, by function.
    #[serde(default)]
    pub dead_letter_queues: BTreeMap<String, String>,
    /// The function's ARN, by function.
    #[serde(default)]
    pub functions: BTreeMap<String, String>,
    #[serde(default)]
    pub approval_url: Option<String>,
    /// Where the operator endpoint is (`POST <url>/<action>`, IAM-authorised).
    #[serde(default)]
    pub operator_url: Option<String>,
    /// The EventBridge archive of the events that wake Slipway, the bus they arrive on, and
    /// Slipway's rules there (what `slipway replay` sends them to).
    #[serde(default)]
    pub archive_arn: Option<String>,
    #[serde(default)]
    pub event_bus_arn: Option<String>,
    #[serde(default)]
    pub replay_rule_arns: Vec<String>,
    /// The image-push rule's event pattern (what `slipway why` tests a push against).
    #[serde(default)]
    pub push_rule_pattern: Option<String>,
}

pub fn parameter_name(environment: &str) -> String {
    format!("/slipway/{environment}/settings")
}

pub async fn load(ssm: &aws_sdk_ssm::Client, environment: &str) -> Result<Settings, CliError> {
    let parameter = parameter_name(environment);
    let answer = ssm.get_parameter().name(&parameter).send().await;
    let value = match answer {
        Ok(answer) => answer
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default()
            .to_string(),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            return Err(CliError::NoSuchEnvironment {
                environment: environment.to_string(),
                parameter,
            })
        }
        Err(err) => {
            return Err(CliError::Settings {
                parameter,
                message: format!(
                    "{}; the credentials need ssm:GetParameter on it",
                    aws_sdk_ssm::error::DisplayErrorContext(&err)
                ),
            })
        }
    };
    serde_json::from_str(&value).map_err(|err| CliError::Settings {
        parameter,
        message: format!("it is not Slipway's settings document ({err}); re-apply the Terraform"),
    })
}
