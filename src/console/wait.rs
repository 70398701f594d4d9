//! `slipway wait ID`: follow a deployment until it reaches a final state, reading the
//! ledger with a backoff (1 s, 2 s, 4 s, then every 10 s) so that a long wait costs few
//! calls, and never past the deadline: a wait of `T` makes at most `5 + T / 10 s` reads.

use std::future::Future;
use std::time::Duration;

use super::ConsoleError;
use crate::model::deployment::{Deployment, State};

pub const FIRST_DELAY: Duration = Duration::from_secs(1);
pub const LONGEST_DELAY: Duration = Duration::from_secs(10);

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Succeeded,
    /// A final state other than success: failed, rolled back, rejected, expired or
    /// superseded.
    Badly(State),
    /// The deadline passed first; the deployment was last seen in this state.
    TimedOut(State),
}

impl Ended {
    pub fn of(state: State) -> Option<Ended> {
        match state {
            State::Succeeded => Some(Ended::Succeeded),
            state if state.is_terminal() => Some(Ended::Badly(state)),
            _ => None,
        }
    }
}

/// The delay after `delay`: doubled, up to [`LONGEST_DELAY`].
pub fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(LONGEST_DELAY)
}

/// What a wait reads the time from and sleeps on: tokio's clock, or a test's (so that the
/// tests need no paused tokio runtime, whose `test-util` feature would rebuild the SDK).
pub trait Clock {
    /// Time since the clock started.
    fn elapsed(&self) -> Duration;
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;
}

pub struct TokioClock(tokio::time::Instant);

impl Clock for TokioClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }
}

/// Reads the deployment until it ends or `timeout` passes, calling `changed` once per
/// state it is seen in (the first read included).
pub async fn follow<R, Fut>(
    read: R,
    timeout: Duration,
    changed: impl FnMut(&Deployment),
) -> Result<(Deployment, Ended), ConsoleError>
where
    R: FnMut() -> Fut,
    Fut: Future<Output = Result<Deployment, ConsoleError>>,
{
    let clock = TokioClock(tokio::time::Instant::now());
    follow_on(&clock, read, timeout, changed).await
}

/// [`follow`] on a given clock.
pub async fn follow_on<R, Fut>(
    clock: &impl Clock,
    mut read: R,
    timeout: Duration,
    mut changed: impl FnMut(&Deployment),
) -> Result<(Deployment, Ended), ConsoleError>
where
    R: FnMut() -> Fut,
    Fut: Future<Output = Result<Deployment, ConsoleError>>,
{
    let deadline = clock.elapsed() + timeout;
    let mut delay = FIRST_DELAY;
    let mut seen: Option<State> = None;
    loop {
        let deployment = read().await?;
        if seen != Some(deployment.state) {
            seen = Some(deployment.state);
            changed(&deployment);
        }
        if let Some(ended) = Ended::of(deployment.state) {
            return Ok((deployment, ended));
        }
        let now = clock.elapsed();
        if now >= deadline {
            let state = deployment.state;
            return Ok((deployment, Ended::TimedOut(state)));
        }
        clock.sleep(delay.min(deadline - now)).await;
        delay = next_delay(delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::deployment::example;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Time moves only when the wait sleeps.
    #[derive(Default)]
    struct TestClock(Mutex<Duration>);

    impl Clock for TestClock {
        fn elapsed(&self) -> Duration {
            *self.0.lock().unwrap()
        }

        async fn sleep(&self, duration: Duration) {
            *self.0.lock().unwrap() += duration;
        }
    }

    #[tokio::test]
    async fn a_wait_that_times_out_reads_a_bounded_number_of_times() {
        let reads = AtomicUsize::new(0);
        let rolling = {
            let mut d = example();
            d.state = State::Rolling;
            d
        };
        let clock = TestClock::default();
        let (_, ended) = follow_on(
            &clock,
            || {
                reads.fetch_add(1, Ordering::SeqCst);
                let d = rolling.clone();
                async move { Ok(d) }
            },
            Duration::from_secs(60),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(ended, Ended::TimedOut(State::Rolling));
        // t = 0, 1, 3, 7, 15, 25, 35, 45, 55, 60
        assert_eq!(reads.load(Ordering::SeqCst), 10);
        assert!(reads.load(Ordering::SeqCst) <= 5 + 60 / 10);
        assert_eq!(
            clock.elapsed(),
            Duration::from_secs(60),
            "never past the deadline"
        );
    }

    #[tokio::test]
    async fn each_state_is_told_once_and_a_final_one_ends_the_wait() {
        let states = std::sync::Mutex::new(vec![State::Rolling, State::Rolling, State::Failed]);
        let mut told = Vec::new();
        let (_, ended) = follow_on(
            &TestClock::default(),
            || {
                let mut d = example();
                d.state = states.lock().unwrap().remove(0);
                async move { Ok(d) }
            },
            Duration::from_secs(600),
            |d| told.push(d.state),
        )
        .await
        .unwrap();
        assert_eq!(told, vec![State::Rolling, State::Failed]);
        assert_eq!(ended, Ended::Badly(State::Failed));
    }
}
