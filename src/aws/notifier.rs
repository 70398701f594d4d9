//! Notifications: SNS for the approvers' email, Slack's Web API for chat. Slack calls go
//! to `SLIPWAY_SLACK_API_URL` (default `https://slack.com/api`), which tests and the demo
//! point at a local listener.

use std::time::Duration;

use serde_json::{json, Value};

use crate::model::deployment::SlackMessage;
use crate::notify::SlackPayload;
use crate::ports::{Notifier, NotifyError};

pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";

/// Sends through SNS and Slack; either may be off.
#[derive(Clone)]
pub struct AwsNotifier {
    topic: Option<SnsTopic>,
    slack: Option<SlackApi>,
}

/// The SNS topic approval requests are published to (approvers subscribe their email).
#[derive(Clone)]
pub struct SnsTopic {
    pub client: aws_sdk_sns::Client,
    pub arn: String,
}

/// Slack's Web API with a bot token (`chat:write`).
#[derive(Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    api_url: String,
    bot_token: String,
}

impl SlackApi {
    pub fn new(api_url: &str, bot_token: String) -> SlackApi {
        SlackApi {
            // Slack wants an answer to a button click within 3 s; a slow Slack API must
            // not hold a deployment for long either.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a TLS client can be built"),
            api_url: api_url.trim_end_matches('/').to_string(),
            bot_token,
        }
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, NotifyError> {
        let url = format!("{}/{method}", self.api_url);
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.bot_token)
            .json(&body)
            .send()
            .await
            .map_err(|err| slack_error(method, err.to_string(), true))?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(slack_error(method, format!("HTTP {status}"), true));
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|err| slack_error(method, format!("unreadable answer: {err}"), true))?;
        if answer["ok"] != json!(true) {
            let error = answer["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string();
            let transient = matches!(
                error.as_str(),
                "ratelimited"
                    | "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
            );
            return Err(slack_error(
                method,
                format!("Slack said `{error}` (check the bot token, its chat:write scope and that the bot is in the channel)"),
                transient,
            ));
        }
        Ok(answer)
    }
}

fn slack_error(method: &str, message: String, transient: bool) -> NotifyError {
    NotifyError {
        channel: "Slack",
        message: format!("{method}: {message}"),
        transient,
    }
}

impl AwsNotifier {
    pub fn new(topic: Option<SnsTopic>, slack: Option<SlackApi>) -> AwsNotifier {
        AwsNotifier { topic, slack }
    }
}

fn message_body(payload: &SlackPayload) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert("text".into(), json!(payload.text));
    body.insert("blocks".into(), payload.blocks.clone());
    body
}

impl Notifier for AwsNotifier {
    async fn publish(&self, subject: &str, text: &str) -> Result<(), NotifyError> {
        let Some(topic) = &self.topic else {
            return Ok(());
        };
        topic
            .client
            .publish()
            .topic_arn(&topic.arn)
            .subject(subject)
            .message(text)
            .send()
            .await
            .map_err(|err| {
                let err = super::errors::classify("sns:Publish", err, &[]);
                NotifyError {
                    channel: "SNS",
                    message: err.to_string(),
                    transient: err.is_transient(),
                }
            })?;
        Ok(())
    }

    async fn post_slack(
        &self,
        channel: &str,
        payload: &SlackPayload,
    ) -> Result<Option<SlackMessage>, NotifyError> {
        let Some(slack) = &self.slack else {
            return Ok(None);
        };
        let mut body = message_body(payload);
        body.insert("channel".into(), json!(channel));
        // A link preview would make Slack's unfurler fetch the approval page; it is
        // harmless (GET never acts) but noisy.
        body.insert("unfurl_links".into(), json!(false));
        body.insert("unfurl_media".into(), json!(false));
        let answer = slack.call("chat.postMessage", Value::Object(body)).await?;
        Ok(Some(SlackMessage {
            channel: answer["channel"].as_str().unwrap_or(channel).to_string(),
            ts: answer["ts"].as_str().unwrap_or_default().to_string(),
        }))
    }

    async fn update_slack(
        &self,
        message: &SlackMessage,
        payload: &SlackPayload,
    ) -> Result<(), NotifyError> {
        let Some(slack) = &self.slack else {
            return Ok(());
        };
        let mut body = message_body(payload);
        body.insert("channel".into(), json!(message.channel));
        body.insert("ts".into(), json!(message.ts));
        slack.call("chat.update", Value::Object(body)).await?;
        Ok(())
    }

    async fn respond_slack(
        &self,
        response_url: &str,
        payload: &SlackPayload,
    ) -> Result<(), NotifyError> {
        let Some(slack) = &self.slack else {
            return Ok(());
        };
        let mut body = message_body(payload);
        body.insert("replace_original".into(), json!(payload.replace_original));
        if !payload.replace_original {
            body.insert("response_type".into(), json!("ephemeral"));
        }
        let response = slack
            .http
            .post(response_url)
            .json(&body)
            .send()
            .await
            .map_err(|err| slack_error("response_url", err.to_string(), true))?;
        if !response.status().is_success() {
            return Err(slack_error(
                "response_url",
                format!("HTTP {}", response.status()),
                response.status().is_server_error(),
            ));
        }
        Ok(())
    }
}
