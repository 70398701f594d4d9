//! A notifier that keeps what people would have been told.

use std::sync::Mutex;

use crate::model::deployment::SlackMessage;
use crate::notify::SlackPayload;
use crate::ports::{Notifier, NotifyError};

#[derive(Default)]
pub struct RecordingNotifier {
    /// (subject, text) of each approvals-topic message.
    pub published: Mutex<Vec<(String, String)>>,
    /// (channel, text) of each Slack post; updates and responses by their text.
    pub slack: Mutex<Vec<(String, String)>>,
}

impl RecordingNotifier {
    pub fn published(&self) -> Vec<(String, String)> {
        self.published.lock().unwrap().clone()
    }

    pub fn slack(&self) -> Vec<(String, String)> {
        self.slack.lock().unwrap().clone()
    }
}

impl Notifier for RecordingNotifier {
    async fn publish(&self, subject: &str, text: &str) -> Result<(), NotifyError> {
        self.published
            .lock()
            .unwrap()
            .push((subject.to_string(), text.to_string()));
        Ok(())
    }

    async fn post_slack(
        &self,
        channel: &str,
        payload: &SlackPayload,
    ) -> Result<Option<SlackMessage>, NotifyError> {
        let mut slack = self.slack.lock().unwrap();
        slack.push((channel.to_string(), payload.text.clone()));
        Ok(Some(SlackMessage {
            channel: channel.to_string(),
            ts: format!("1700000000.{:06}", slack.len()),
        }))
    }

    async fn update_slack(
        &self,
        message: &SlackMessage,
        payload: &SlackPayload,
    ) -> Result<(), NotifyError> {
        self.slack
            .lock()
            .unwrap()
            .push((format!("update {}", message.ts), payload.text.clone()));
        Ok(())
    }

    async fn respond_slack(
        &self,
        response_url: &str,
        payload: &SlackPayload,
    ) -> Result<(), NotifyError> {
        self.slack
            .lock()
            .unwrap()
            .push((format!("response {response_url}"), payload.text.clone()));
        Ok(())
    }
}
