//! approval: the confirm page behind approval links and Slack's interactivity endpoint,
//! served through API Gateway's HTTP API; also the roll jobs a Slack approval hands the
//! function itself. Wiring only: `slipway::web` decides.

use std::sync::Arc;

use slipway::aws::http::ApprovalFunction;
use slipway::web::later::RollLater;
use slipway::web::ApprovalApp;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    slipway::telemetry::init();
    let (deployer, slack) = slipway::aws::slipway_from_env()
        .await
        .inspect_err(|err| tracing::error!("approval cannot start: {err}"))?;
    let later = slipway::aws::self_invoke::from_env().await;
    let app = ApprovalApp {
        deployer: Arc::new(deployer),
        slack_signing_secret: slack.map(|s| s.signing_secret.into_bytes()),
        later: later.map(|l| Arc::new(l) as Arc<dyn RollLater>),
    };
    ApprovalFunction::new(app).serve().await
}
