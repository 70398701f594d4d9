//! reconcile: on an EventBridge schedule, closes rollouts whose ending ECS reports but
//! whose event was lost, and deploys the newest image a target accepts that no push event
//! told of. Wiring only: `slipway::Deployer::reconcile` decides.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use slipway::Invocation;

#[tokio::main]
async fn main() -> Result<(), Error> {
    slipway::telemetry::init();
    let deployer = slipway::aws::deployer_from_env()
        .await
        .inspect_err(|err| tracing::error!("reconcile cannot start: {err}"))?;
    let deployer = &deployer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation::from(&event.context);
        Ok::<_, Error>(deployer.reconcile(&event.payload, &invocation).await)
    }))
    .await
}
