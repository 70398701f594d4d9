//! source-upload: deploys manifests uploaded under `deploy/<target>/` in the source bucket,
//! and starts release groups' runs from `deploy/<group>/release.json` (S3 "Object
//! Created" events from EventBridge).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use slipway::Invocation;

#[tokio::main]
async fn main() -> Result<(), Error> {
    slipway::telemetry::init();
    // A bad config fails the cold start, loudly, instead of matching nothing later.
    let deployer = slipway::aws::deployer_from_env()
        .await
        .inspect_err(|err| tracing::error!("source-upload cannot start: {err}"))?;
    let deployer = &deployer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation::from(&event.context);
        let report = deployer
            .handle_source_event(&event.payload, &invocation)
            .await?;
        Ok::<_, Error>(report)
    }))
    .await
}
