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
use crate::console::dead_letters::{read, DeadLetter, Message, Redriven};

/// Rounds of ReceiveMessage without a new message before the list is taken as complete.
const QUIET_ROUNDS: usize = 3;

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
            let sent_at = message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(DateTime::<Utc>::from_timestamp_millis);
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

/// How long a message being redriven stays hidden from another redrive (or a listing with
/// a visibility timeout): longer than one asynchronous Invoke takes to be accepted.
const REDRIVE_VISIBILITY_SECONDS: i32 = 120;

/// `slipway dlq redrive [FUNCTION] [--dry-run]`: each message's body, as it is (both shapes:
/// the functions open an invocation record themselves, src/input/redrive.rs), re-invoked
/// asynchronously (Lambda Invoke, `InvocationType: Event`: Lambda answers 202 once it has
/// queued the event; Lambda API Reference, "Invoke"), and deleted only after that — SQS's
/// own redrive cannot move messages whose source is EventBridge or Lambda (README, "Dead
/// letters and redrive"). A message whose invoke is not accepted stays, visible again at
/// once. Exit 0 when every message was redriven, 1 when one failed.
pub async fn redrive(
    ctx: &Context,
    function: Option<&str>,
    dry_run: bool,
    max: usize,
    out: &Output,
) -> Result<Exit, CliError> {
    let queues = chosen_queues(ctx, function)?;
    let sqs = ctx.sqs();
    let lambda = aws_sdk_lambda::Client::new(&ctx.shared);
    let mut results = Vec::new();
    for (name, url) in queues {
        let Some(arn) = ctx.settings.functions.get(name) else {
            return Err(CliError::NotFound(format!("the settings name no function `{name}` to redrive to; re-apply Slipway's Terraform")));
        };
        if dry_run {
            let letters = queue(&sqs, name, url, max).await?;
            results.extend(letters.into_iter().map(|letter| Redriven {
                letter,
                result: "would-redrive".into(),
            }));
        } else {
            results.extend(redrive_queue(&sqs, &lambda, name, url, arn, max).await?);
        }
    }
    let failed = results
        .iter()
        .filter(|r| r.result.starts_with("failed"))
        .count();
    if out.json {
        let body = serde_json::json!({ "dry_run": dry_run, "failed": failed, "messages": results });
        out.json("dlq redrive", &body)?;
    } else {
        out.text(&super::tables::redriven(&results))?;
    }
    Ok(if failed == 0 { Exit::Done } else { Exit::Error })
}

fn chosen_queues<'a>(
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

async fn redrive_queue(
    sqs: &aws_sdk_sqs::Client,
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    url: &str,
    arn: &str,
    max: usize,
) -> Result<Vec<Redriven>, CliError> {
    let mut results = Vec::new();
    let mut kept = Vec::new();
    while results.len() < max {
        let answer = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(REDRIVE_VISIBILITY_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|err| sqs_error("sqs:ReceiveMessage", url, &err))?;
        if answer.messages().is_empty() {
            break;
        }
        for message in answer.messages() {
            let body = message.body().unwrap_or_default();
            let letter = read(&Message {
                function,
                message_id: message.message_id().unwrap_or_default(),
                body,
                sent_at: message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|ms| ms.parse::<i64>().ok())
                    .and_then(DateTime::<Utc>::from_timestamp_millis),
                error_attributes: None,
            });
            let handle = message.receipt_handle().unwrap_or_default().to_string();
            let result = match invoke(lambda, arn, body).await {
                Ok(()) => match sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(&handle)
                    .send()
                    .await
                {
                    Ok(_) => "redriven".to_string(),
                    // Invoked: a second redrive of it later is a duplicate, which the
                    // ledger answers as one.
                    Err(err) => format!(
                        "redriven (not deleted: {}; a later redrive is a harmless duplicate)",
                        aws_sdk_sqs::error::DisplayErrorContext(&err)
                    ),
                },
                Err(why) => {
                    kept.push(handle);
                    format!("failed: {why}; the message stays")
                }
            };
            results.push(Redriven { letter, result });
        }
    }
    // What could not be redriven is visible again at once, for the next try.
    for handle in kept {
        let _ = sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await;
    }
    Ok(results)
}

/// One asynchronous invoke with the message body as the event; accepted means 202.
async fn invoke(lambda: &aws_sdk_lambda::Client, arn: &str, body: &str) -> Result<(), String> {
    let answer = lambda
        .invoke()
        .function_name(arn)
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            body.as_bytes().to_vec(),
        ))
        .send()
        .await
        .map_err(|err| {
            format!(
                "lambda:Invoke failed: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&err)
            )
        })?;
    match answer.status_code() {
        202 => Ok(()),
        status => Err(format!(
            "lambda:Invoke answered {status}, not 202 (accepted)"
        )),
    }
}

fn sqs_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    url: &str,
    err: &aws_sdk_sqs::error::SdkError<E, R>,
) -> CliError {
    CliError::Aws {
        operation,
        message: format!(
            "{} ({url}); the credentials need sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and kms:Decrypt on Slipway's key",
            aws_sdk_sqs::error::DisplayErrorContext(err)
        ),
    }
}
