//! The operator endpoint, called as the operator: every request signed with SigV4
//! (service `execute-api`) with the operator's own credentials, so that API Gateway's IAM
//! authorization knows who asks and the ledger records that ARN (src/web/operator.rs).
//! The signing follows the IAM User Guide, "Create a signed AWS API request"; the
//! aws-sigv4 crate is the one the AWS SDK itself signs with.

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::Value;

use super::exit::{CliError, Exit};

pub struct OperatorEndpoint {
    url: String,
    region: String,
    credentials: SharedCredentialsProvider,
    http: reqwest::Client,
}

/// The endpoint's answer: its HTTP status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The exit code the answer calls for (README, "Operating Slipway").
    pub fn exit(&self) -> Exit {
        match self.status {
            200..=299 => Exit::Done,
            400 => Exit::Usage,
            403 | 409 => Exit::Refused,
            404 => Exit::NotFound,
            _ => Exit::Error,
        }
    }

    pub fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("the operator endpoint answered HTTP {}", self.status))
    }
}

impl OperatorEndpoint {
    pub fn new(url: &str, region: &str, shared: &aws_config::SdkConfig) -> Result<Self, CliError> {
        let credentials = shared.credentials_provider().ok_or_else(|| CliError::Usage(
            "no AWS credentials: the operator endpoint acts only for a signed caller (set a profile or keys)".into(),
        ))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(40))
            .build()
            .map_err(|err| CliError::Aws {
                operation: "operator endpoint",
                message: err.to_string(),
            })?;
        Ok(OperatorEndpoint {
            url: url.trim_end_matches('/').to_string(),
            region: region.to_string(),
            credentials,
            http,
        })
    }

    /// `POST <endpoint>/<action>` with `body`, signed as the caller.
    pub async fn call(&self, action: &str, body: &Value) -> Result<Answer, CliError> {
        let url = format!("{}/{action}", self.url);
        let payload = serde_json::to_vec(body).map_err(std::io::Error::other)?;
        let failed = |message: String| CliError::Aws {
            operation: "operator endpoint",
            message,
        };
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|err| failed(format!("no credentials to sign with: {err}")))?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|err| failed(err.to_string()))?
            .into();
        let headers = [("content-type", "application/json")];
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.into_iter(),
            SignableBody::Bytes(&payload),
        )
        .map_err(|err| failed(err.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|err| failed(err.to_string()))?
            .into_parts();
        let mut request = self
            .http
            .post(&url)
            .header("content-type", "application/json");
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request
            .body(payload)
            .send()
            .await
            .map_err(|err| failed(format!("{url}: {err}")))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| serde_json::json!({ "message": text.trim() }));
        Ok(Answer { status, body })
    }
}
