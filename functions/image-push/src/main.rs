//! image-push: deploys images pushed to ECR ("ECR Image Action" events from EventBridge).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use slipway::Invocation;

#[tokio::main]
async fn main() -> Result<(), Error> {
    slipway::telemetry::init();
    // A bad config fails the cold start, loudly, instead of matching nothing later.
    let deployer = slipway::aws::deployer_from_env()
        .await
        .inspect_err(|err| tracing::error!("image-push cannot start: {err}"))?;
    let deployer = &deployer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation::from(&event.context);
        let report = deployer
            .handle_ecr_event(&event.payload, &invocation)
            .await?;
        Ok::<_, Error>(report)
    }))
    .await
}
