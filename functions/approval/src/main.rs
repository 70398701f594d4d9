//! approval: the confirm page behind approval links and Slack's interactivity endpoint,
//! served through API Gateway's HTTP API; also the roll jobs a Slack approval hands the
//! function itself. Wiring only: `slipway::approval::web` decides.

use slipway::approval::later::RollLater;
use slipway::approval::web::ApprovalApp;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    slipway::telemetry::init();
    let (deployer, slack) = slipway::aws::slipway_from_env()
        .await
        .inspect_err(|err| tracing::error!("approval cannot start: {err}"))?;
    let later = slipway::aws::self_invoke::from_env().await;
    let app = ApprovalApp {
        deployer: &deployer,
        slack_signing_secret: slack.as_ref().map(|s| s.signing_secret.as_bytes()),
        later: later.as_ref().map(|l| l as &dyn RollLater),
    };
    slipway::aws::http::serve(&app).await
}
