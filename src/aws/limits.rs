//! ECS's published API rate limits, kept on the client side so that one invocation's
//! fan-out (a push matched by many targets) never spends more than the account's token
//! buckets allow, and a real account is not throttled by Slipway alone.
//!
//! The buckets belong to the account and region, shared with every other client, so this
//! cannot see what others spend: it keeps Slipway's own pace legal, and the SDK's standard
//! retry (with backoff) still answers a throttle caused by someone else. Each cold start
//! starts with full buckets, as the account's would be after a quiet period.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// (burst, refill per second) per operation, from the ECS API reference's
/// "Request throttling" table.
pub const REGISTER_TASK_DEFINITION: (u32, u32) = (20, 1);
pub const UPDATE_SERVICE: (u32, u32) = (50, 5);
pub const DESCRIBE_SERVICES: (u32, u32) = (100, 20);
pub const DESCRIBE_TASK_DEFINITION: (u32, u32) = (50, 20);

type Bucket = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

pub struct EcsRateLimits {
    pub(crate) describe_services: Bucket,
    pub(crate) describe_task_definition: Bucket,
    pub(crate) register_task_definition: Bucket,
    pub(crate) update_service: Bucket,
    /// ECS refuses concurrent registrations in one family ("Too many concurrent
    /// attempts"), so they take turns.
    families: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for EcsRateLimits {
    fn default() -> Self {
        EcsRateLimits {
            describe_services: bucket(DESCRIBE_SERVICES),
            describe_task_definition: bucket(DESCRIBE_TASK_DEFINITION),
            register_task_definition: bucket(REGISTER_TASK_DEFINITION),
            update_service: bucket(UPDATE_SERVICE),
            families: Mutex::default(),
        }
    }
}

impl EcsRateLimits {
    /// The lock a registration in `family` holds while it runs.
    pub fn family(&self, family: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        families.entry(family.to_string()).or_default().clone()
    }
}

fn bucket((burst, per_second): (u32, u32)) -> Bucket {
    let nonzero = |n: u32| NonZeroU32::new(n).expect("rate limits are positive");
    RateLimiter::direct(Quota::per_second(nonzero(per_second)).allow_burst(nonzero(burst)))
}

/// Waits until `bucket` has a token for one call, and takes it.
pub async fn take(bucket: &Bucket) {
    while let Err(not_until) = bucket.check() {
        tokio::time::sleep(not_until.wait_time_from(bucket.clock().now())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_burst_passes_at_once_and_then_the_refill_rate_holds() {
        let limiter = bucket((3, 20));
        let started = Instant::now();
        for _ in 0..3 {
            take(&limiter).await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(40),
            "the burst waited"
        );
        for _ in 0..4 {
            take(&limiter).await;
        }
        // Four more tokens at 20 per second: at least 150 ms (the first after ~50 ms).
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150), "only {waited:?}");
        assert!(waited < Duration::from_millis(1000), "{waited:?}");
    }

    #[tokio::test]
    async fn registrations_in_one_family_take_turns_and_other_families_do_not_wait() {
        let limits = EcsRateLimits::default();
        let web = limits.family("web");
        let held = web.lock().await;
        assert!(limits.family("web").try_lock().is_err());
        assert!(limits.family("worker").try_lock().is_ok());
        drop(held);
        assert!(limits.family("web").try_lock().is_ok());
    }
}
