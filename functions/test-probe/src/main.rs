//! test-probe: Slipway's own ECS Lambda lifecycle hook. ECS invokes it at
//! POST_TEST_TRAFFIC_SHIFT with the check in `hookDetails`; it GETs the test listener
//! once per call and answers IN_PROGRESS, SUCCEEDED or FAILED (`slipway::probe`). It
//! calls no AWS API: its progress travels in the answer's `hookDetails`.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use slipway::aws::HttpProber;
use slipway::input::lifecycle_hook::HookCall;

/// One GET's budget: well inside the function's timeout, and a test listener that takes
/// longer to answer is not healthy.
const GET_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Error> {
    slipway::telemetry::init();
    let prober = &HttpProber::new(GET_TIMEOUT);
    // The test listeners' origins, from Terraform (comma-separated): nothing else is GET.
    let allowed: &Vec<String> = &std::env::var("SLIPWAY_TEST_PROBE_ORIGINS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|origin| slipway::probe::origin_of(origin.trim()))
        .collect();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Read as plain JSON first: a call of another shape is answered FAILED with the
        // reason logged, not refused by the runtime with no line saying why.
        let answer = match serde_json::from_value::<HookCall>(event.payload.clone()) {
            Ok(call) => {
                slipway::probe::answer_hook(&call, prober, allowed, chrono::Utc::now()).await
            }
            Err(err) => slipway::probe::answer_unreadable(&event.payload, &err.to_string()),
        };
        Ok::<_, Error>(answer)
    }))
    .await
}
