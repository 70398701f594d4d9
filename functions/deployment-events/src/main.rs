//! deployment-events: how ECS rollouts ended ("ECS Deployment State Change" and "ECS
//! Service Action" events from EventBridge), and operators' rollback and unfreeze
//! requests (`slipway.operator` events).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use slipway::Invocation;

#[tokio::main]
async fn main() -> Result<(), Error> {
    slipway::telemetry::init();
    let deployer = slipway::aws::deployer_from_env()
        .await
        .inspect_err(|err| tracing::error!("deployment-events cannot start: {err}"))?;
    let deployer = &deployer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation::from(&event.context);
        let report = deployer
            .handle_deployment_event(&event.payload, &invocation)
            .await?;
        Ok::<_, Error>(report)
    }))
    .await
}
