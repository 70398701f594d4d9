//! `slipway why IMAGE [--target T]`: per target, the first link between the push and the
//! service that broke (crate::console::why), from ECR, the ledger and the dead-letter
//! queue. Exit 0 when every target is explained, 3 when ECR has no such image.
//! `slipway why RUN`: one run of a release group (crate::console::group_why), from its
//! record and the group's line; 3 when no such run.

use aws_sdk_ecr::types::ImageIdentifier;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::context::Context;
use super::exit::{CliError, Exit};
use super::output::Output;
use super::status::chosen;
use crate::console::group_why::{explain as explain_run, RunWhy};
use crate::console::why::{explain, Facts, Image, Why};
use crate::ledger::image_key;
use crate::model::group::is_run_of;
use crate::model::image_ref::{ImageRef, ImageReference};

pub async fn run(
    ctx: &Context,
    image: &str,
    target: Option<&str>,
    out: &Output,
) -> Result<Exit, CliError> {
    if is_run_id(image) {
        if target.is_some() {
            return Err(CliError::Usage(format!(
                "--target is for an image; `{image}` is a release group's run, which names its own targets"
            )));
        }
        return run_why(ctx, image, out).await;
    }
    let config = ctx.config().await?;
    let names: Vec<String> = target.map(str::to_string).into_iter().collect();
    let targets = chosen(&config, &names)?;
    let asked = ImageRef::parse(image).map_err(CliError::Usage)?;
    let (account, region) = asked
        .ecr_registry()
        .unwrap_or_else(|| (ctx.settings.account.clone(), ctx.settings.region.clone()));
    let Some(found) = describe(ctx, &account, &region, &asked).await? else {
        return Err(CliError::NotFound(format!(
            "ECR has no image {image} in repository {} of account {account} in {region}: it was never pushed there, or it expired or was deleted",
            asked.repository
        )));
    };
    let letters = dead_letters(ctx, &found.digest).await?;
    let rule_matches = rule_matches(ctx, &found).await?;
    let reads = ctx.reads();
    let now = Utc::now();
    let mut answers: Vec<Why> = Vec::new();
    for target in targets {
        let read = reads.target(&target.name).await?;
        let deployment = reads.find(&target.name, &image_key(&found.digest)).await?;
        answers.push(explain(
            &found,
            &Facts {
                target,
                record: &read.record,
                deployment: deployment.as_ref(),
                dead_letters: &letters,
                rule_matches,
                now,
            },
        ));
    }
    if out.json {
        out.json("why", &body(&found, &answers))?;
    } else {
        out.text(&super::tables::why(&found, &answers))?;
    }
    Ok(Exit::Done)
}

pub fn body(image: &Image, answers: &[Why]) -> serde_json::Value {
    serde_json::json!({ "image": image, "targets": answers })
}

/// An image always names a tag (`:`) or a digest (`@`); a run id names neither.
fn is_run_id(asked: &str) -> bool {
    !asked.is_empty() && !asked.contains([':', '@', '/'])
}

/// `slipway why RUN`: the run's record and its group's line, explained.
async fn run_why(ctx: &Context, id: &str, out: &Output) -> Result<Exit, CliError> {
    let config = ctx.config().await?;
    let Some(group) = config.groups.iter().find(|g| is_run_of(&g.name, id)) else {
        return Err(CliError::NotFound(format!(
            "`{id}` is no run of this config's release groups ({}): a run id is `<group>-<16 hex digits>`, as `slipway groups --runs` lists them; an image is `repo:tag` or `repo@sha256:…`",
            config.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")
        )));
    };
    let reads = ctx.reads();
    let Some(run) = reads.group_run(&group.name, id).await? else {
        return Err(CliError::NotFound(format!(
            "the ledger has no run {id} of group {}: `slipway groups {} --runs` lists its runs",
            group.name, group.name
        )));
    };
    let line = reads.group_line(&group.name).await?;
    let now = Utc::now();
    let mut why = explain_run(&run, line.as_ref(), now);
    why.audit = reads.group_audit(&run).await?;
    if out.json {
        out.json("why", &run_body(&why))?;
    } else {
        out.text(&super::group_tables::run_why(&why, out, now))?;
    }
    Ok(Exit::Done)
}

/// What `why RUN --json` prints besides the schema version and the command.
pub fn run_body(why: &RunWhy) -> serde_json::Value {
    serde_json::json!({ "run": why })
}

/// The image as ECR describes it (DescribeImages by tag or digest; ImageNotFoundException
/// and RepositoryNotFoundException mean it is not there: Amazon ECR API Reference,
/// "DescribeImages").
pub(super) async fn describe(
    ctx: &Context,
    account: &str,
    region: &str,
    asked: &ImageRef,
) -> Result<Option<Image>, CliError> {
    let id = match &asked.reference {
        ImageReference::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
        ImageReference::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
    };
    let answer = ctx
        .ecr()
        .describe_images()
        .registry_id(account)
        .repository_name(&asked.repository)
        .image_ids(id)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err)
            if err.as_service_error().is_some_and(|e| {
                e.is_image_not_found_exception() || e.is_repository_not_found_exception()
            }) =>
        {
            return Ok(None)
        }
        Err(err) => {
            return Err(CliError::Aws {
                operation: "ecr:DescribeImages",
                message: aws_sdk_ecr::error::DisplayErrorContext(&err).to_string(),
            })
        }
    };
    Ok(answer.image_details().first().map(|detail| Image {
        account: account.to_string(),
        region: region.to_string(),
        repository: asked.repository.clone(),
        digest: detail.image_digest().unwrap_or_default().to_string(),
        tags: detail.image_tags().to_vec(),
        pushed_at: detail
            .image_pushed_at()
            .and_then(|at| DateTime::<Utc>::from_timestamp(at.secs(), at.subsec_nanos())),
    }))
}

/// Whether the image-push rule's pattern matches this image's push event, as EventBridge
/// itself decides it (TestEventPattern; Amazon EventBridge API Reference,
/// "TestEventPattern"). `None` when the settings carry no pattern.
async fn rule_matches(ctx: &Context, image: &Image) -> Result<Option<bool>, CliError> {
    let Some(pattern) = &ctx.settings.push_rule_pattern else {
        return Ok(None);
    };
    let answer = aws_sdk_eventbridge::Client::new(&ctx.shared)
        .test_event_pattern()
        .event_pattern(pattern)
        .event(push_event(image).to_string())
        .send()
        .await
        .map_err(|err| CliError::Aws {
            operation: "events:TestEventPattern",
            message: aws_sdk_eventbridge::error::DisplayErrorContext(&err).to_string(),
        })?;
    Ok(Some(answer.result()))
}

/// The image-push function's dead letters about this digest.
async fn dead_letters(
    ctx: &Context,
    digest: &str,
) -> Result<Vec<crate::console::dead_letters::DeadLetter>, CliError> {
    let Some(url) = ctx.settings.dead_letter_queues.get("image-push") else {
        return Ok(vec![]);
    };
    let letters = super::dlq::queue(&ctx.sqs(), "image-push", url, 1000).await?;
    Ok(letters
        .into_iter()
        .filter(|l| l.digest.as_deref() == Some(digest))
        .collect())
}

/// The "ECR Image Action" event ECR sends for a successful push of `image` (Amazon ECR
/// User Guide, "Amazon ECR events and EventBridge"; `events/ecr-push.json`).
pub(super) fn push_event(image: &Image) -> Value {
    let mut detail = json!({
        "result": "SUCCESS",
        "repository-name": image.repository,
        "image-digest": image.digest,
        "action-type": "PUSH",
    });
    if let Some(tag) = image.tags.first() {
        detail["image-tag"] = Value::from(tag.as_str());
    }
    json!({
        "version": "0",
        "id": format!("plan-{}", image.digest.trim_start_matches("sha256:")),
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": image.account,
        "time": image.pushed_at.unwrap_or_else(chrono::Utc::now).to_rfc3339(),
        "region": image.region,
        "resources": [format!("arn:aws:ecr:{}:{}:repository/{}", image.region, image.account, image.repository)],
        "detail": detail,
    })
}
