//! `slipway dlq redrive [FUNCTION] [--dry-run]`: each dead-lettered message's body, as it
//! is (both shapes: the functions open an invocation record themselves,
//! src/input/redrive.rs), re-invoked asynchronously (Lambda Invoke, `InvocationType:
//! Event`: Lambda answers 202 once it has queued the event; Lambda API Reference,
//! "Invoke"), and deleted only after that — SQS's own redrive cannot move messages whose
//! source is EventBridge or Lambda (README, "Dead letters and redrive"). A message whose
//! invoke is not accepted stays, visible again at once. Exit 0 when every message was
//! redriven, 1 when one failed.

use std::collections::BTreeSet;

use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::context::Context;
use super::dlq::{chosen_queues, queue, sent_at, QUIET_ROUNDS};
use super::exit::{CliError, Exit};
use super::output::Output;
use crate::console::dead_letters::{read, Message, Redriven};

/// How long a message being redriven stays hidden from another redrive (or a listing with
/// a visibility timeout): longer than one asynchronous Invoke takes to be accepted.
const REDRIVE_VISIBILITY_SECONDS: i32 = 120;

/// Redrives the chosen queues (see the module's documentation).
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

async fn redrive_queue(
    sqs: &aws_sdk_sqs::Client,
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    url: &str,
    arn: &str,
    max: usize,
) -> Result<Vec<Redriven>, CliError> {
    let mut kept = Vec::new();
    let results = redrive_messages(sqs, lambda, function, url, arn, max, &mut kept).await;
    // What could not be redriven (or was received but not reached) is visible again at
    // once, for the next try — also when the pass stopped on an error.
    for handle in kept {
        let _ = sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await;
    }
    results
}

/// Receives in rounds until SQS has brought nothing new for [`QUIET_ROUNDS`] long polls
/// (a short poll of a small queue may answer empty while messages remain: Amazon SQS
/// Developer Guide, "Amazon SQS short and long polling"); each message is tried once per
/// pass, even if it comes back.
async fn redrive_messages(
    sqs: &aws_sdk_sqs::Client,
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    url: &str,
    arn: &str,
    max: usize,
    kept: &mut Vec<String>,
) -> Result<Vec<Redriven>, CliError> {
    let mut results = Vec::new();
    let mut attempted = BTreeSet::new();
    let mut quiet = 0;
    while quiet < QUIET_ROUNDS {
        let answer = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(REDRIVE_VISIBILITY_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|err| sqs_error("sqs:ReceiveMessage", url, &err))?;
        let mut new = 0;
        for message in answer.messages() {
            let id = message.message_id().unwrap_or_default();
            let handle = message.receipt_handle().unwrap_or_default().to_string();
            if results.len() >= max || !attempted.insert(id.to_string()) {
                kept.push(handle);
                continue;
            }
            new += 1;
            let body = message.body().unwrap_or_default();
            let letter = read(&Message {
                function,
                message_id: id,
                body,
                sent_at: sent_at(message),
                error_attributes: None,
            });
            let result = match invoke(lambda, arn, body).await {
                Ok(()) => match sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(&handle)
                    .send()
                    .await
                {
                    Ok(_) => "redriven".to_string(),
                    // Invoked: a later redrive of it is a duplicate, which the ledger
                    // answers as one.
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
        if results.len() >= max {
            break;
        }
        quiet = if new == 0 { quiet + 1 } else { 0 };
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
