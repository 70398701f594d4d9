//! approval: the confirm page behind approval links and Slack's interactivity endpoint,
//! served through a Lambda function URL. Wiring only: `slipway::approval::web` decides.

use lambda_http::{service_fn, Error, Request};
use slipway::approval::web::ApprovalApp;
use slipway::aws::http::{response, web_request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    slipway::telemetry::init();
    let (deployer, slack) = slipway::aws::slipway_from_env()
        .await
        .inspect_err(|err| tracing::error!("approval cannot start: {err}"))?;
    let app = ApprovalApp {
        deployer: &deployer,
        slack_signing_secret: slack.as_ref().map(|s| s.signing_secret.as_bytes()),
    };
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        let answer = app.handle(&web_request(request)).await;
        Ok::<_, Error>(response(answer)?)
    }))
    .await
}
