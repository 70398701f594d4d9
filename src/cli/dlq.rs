//! `slipway dlq list [FUNCTION]`: what the functions' dead-letter queues hold.
//!
//! Listing must not hide the messages from a redrive running meanwhile, so each receive
//! asks for a visibility timeout of 0: the message stays visible (Amazon SQS API
//! Reference, "ReceiveMessage", `VisibilityTimeout`). SQS returns a sample of the queue's
//! messages per call, so the list is read in rounds until a round brings nothing new.

use std::collections::BTreeSet;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use chrono::{DateTime, Utc};

use super::context::Context;
use super::exit::{CliError, Exit};
use super::output::Output;
use super::tables;
use crate::console::dead_letters::{read, DeadLetter, Message};

/// Rounds of ReceiveMessage without a new message before the list is taken as complete.
pub(super) const QUIET_ROUNDS: usize = 3;

pub async fn list(
    ctx: &Context,
    function: Option<&str>,
    max: usize,
    out: &Output,
) -> Result<Exit, CliError> {
    let queues = chosen_queues(ctx, function)?;
    let sqs = ctx.sqs();
    let mut letters = Vec::new();
    for (name, url) in queues {
        letters.extend(queue(&sqs, name, url, max).await?);
    }
    letters.sort_by_key(|l| l.sent_at);
    if out.json {
        out.json("dlq list", &body(&letters))?;
    } else {
        out.text(&tables::dead_letters(&letters, Utc::now()))?;
    }
    Ok(Exit::Done)
}

pub fn body(letters: &[DeadLetter]) -> serde_json::Value {
    serde_json::json!({ "messages": letters })
}

pub(super) async fn queue(
    sqs: &aws_sdk_sqs::Client,
    function: &str,
    url: &str,
    max: usize,
) -> Result<Vec<DeadLetter>, CliError> {
    let mut seen = BTreeSet::new();
    let mut letters = Vec::new();
    let mut quiet = 0;
    while quiet < QUIET_ROUNDS && letters.len() < max {
        let answer = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|err| CliError::Aws {
                operation: "sqs:ReceiveMessage",
                message: format!(
                    "{} ({url}); the credentials need sqs:ReceiveMessage and kms:Decrypt on Slipway's key",
                    aws_sdk_sqs::error::DisplayErrorContext(&err)
                ),
            })?;
        let mut new = 0;
        for message in answer.messages() {
            let id = message.message_id().unwrap_or_default();
            if !seen.insert(id.to_string()) {
                continue;
            }
            new += 1;
            let sent_at = sent_at(message);
            let error_attributes = message.message_attributes().map(|attributes| {
                let mut pairs: Vec<String> = attributes
                    .iter()
                    .filter_map(|(k, v)| Some(format!("{k}={}", v.string_value()?)))
                    .collect();
                pairs.sort();
                pairs.join(", ")
            });
            letters.push(read(&Message {
                function,
                message_id: id,
                body: message.body().unwrap_or_default(),
                sent_at,
                error_attributes: error_attributes.filter(|e| !e.is_empty()),
            }));
        }
        quiet = if new == 0 { quiet + 1 } else { 0 };
    }
    Ok(letters)
}

pub(super) fn sent_at(message: &aws_sdk_sqs::types::Message) -> Option<DateTime<Utc>> {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
}

pub(super) fn chosen_queues<'a>(
    ctx: &'a Context,
    function: Option<&str>,
) -> Result<Vec<(&'a String, &'a String)>, CliError> {
    let queues: Vec<(&String, &String)> = ctx
        .settings
        .dead_letter_queues
        .iter()
        .filter(|(name, _)| function.is_none_or(|f| f == name.as_str()))
        .collect();
    if let (Some(function), true) = (function, queues.is_empty()) {
        let known: Vec<&str> = ctx
            .settings
            .dead_letter_queues
            .keys()
            .map(String::as_str)
            .collect();
        return Err(CliError::NotFound(format!(
            "no dead-letter queue for `{function}`; the functions with one: {}",
            known.join(", ")
        )));
    }
    Ok(queues)
}
