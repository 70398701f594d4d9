//! `slipway plan --event FILE | --image REPO:TAG [--detailed-exitcode]`: the dry run,
//! server side — the approval function takes the event through the same pipeline as the
//! real one, stopped before its first write — so the plan is made with the function's
//! permissions against what runs now: per target the task-definition diff and the calls
//! it would make. With `--detailed-exitcode`, exit 10 when some target would change (as
//! `terraform plan -detailed-exitcode` and `argocd app diff` do).

use serde_json::{json, Value};

use super::context::Context;
use super::exit::{CliError, Exit};
use super::output::Output;
use crate::console::why::Image;
use crate::model::image_ref::ImageRef;

pub async fn run(
    ctx: &Context,
    event: Option<&std::path::Path>,
    image: Option<&str>,
    detailed_exitcode: bool,
    out: &Output,
) -> Result<Exit, CliError> {
    let event = match (event, image) {
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| CliError::Usage(format!("cannot read {}: {err}", path.display())))?;
            serde_json::from_str::<Value>(&text)
                .map_err(|err| CliError::Usage(format!("{} is not JSON: {err}", path.display())))?
        }
        (None, Some(image)) => super::why::push_event(&resolve(ctx, image).await?),
        _ => {
            return Err(CliError::Usage(
                "give --event FILE or --image REPO:TAG".into(),
            ))
        }
    };
    let answer = ctx
        .endpoint()?
        .call("plan", &json!({ "event": event }))
        .await?;
    if answer.exit() != Exit::Done {
        eprintln!("slipway: plan refused: {}", answer.message());
        return Ok(answer.exit());
    }
    let report = answer.body.get("answer").cloned().unwrap_or(Value::Null);
    let changes = has_changes(&report);
    if out.json {
        out.json("plan", &json!({ "report": report, "changes": changes }))?;
    } else {
        out.text(&super::tables::plan(&report))?;
    }
    Ok(if detailed_exitcode && changes {
        Exit::PlanHasChanges
    } else {
        Exit::Done
    })
}

/// Whether some target would roll (or ask for approval to roll).
pub fn has_changes(report: &Value) -> bool {
    report["targets"]
        .as_array()
        .is_some_and(|targets| targets.iter().any(|t| t["result"] == "dry-run"))
}

async fn resolve(ctx: &Context, image: &str) -> Result<Image, CliError> {
    let asked = ImageRef::parse(image).map_err(CliError::Usage)?;
    let (account, region) = asked
        .ecr_registry()
        .unwrap_or_else(|| (ctx.settings.account.clone(), ctx.settings.region.clone()));
    super::why::describe(ctx, &account, &region, &asked)
        .await?
        .ok_or_else(|| {
            CliError::NotFound(format!(
                "ECR has no image {image} in account {account}, {region}"
            ))
        })
}
