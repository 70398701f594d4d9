//! test-probe: Slipway's own ECS Lambda lifecycle hook. ECS invokes it at
//! POST_TEST_TRAFFIC_SHIFT with the check in `hookDetails`; it GETs the test listener
//! once per call and answers IN_PROGRESS, SUCCEEDED or FAILED (`slipway::probe`). It
//! calls no AWS API: its progress travels in the answer's `hookDetails`.

use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use slipway::aws::HttpProber;
use slipway::input::lifecycle_hook::HookCall;

/// One GET's budget: well inside the function's timeout, and a test listener that takes
/// longer to answer is not healthy.
const GET_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Error> {
    slipway::telemetry::init();
    let prober = &HttpProber::new(GET_TIMEOUT);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<HookCall>| async move {
        let answer = slipway::probe::answer_hook(&event.payload, prober, chrono::Utc::now()).await;
        Ok::<_, Error>(answer)
    }))
    .await
}
