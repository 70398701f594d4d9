//! Telling people on every channel a target has, each independently: a failed SNS
//! publish must not keep the Slack message from being posted, nor the other way round.
//! Each channel's result is recorded on the deployment (`Delivery`); only when every
//! channel failed is the step an error (and retried when that is worth it), because then
//! nobody was told.

use chrono::Utc;
use tracing::warn;

use super::{Deployer, StepError};
use crate::model::deployment::{Delivery, SlackMessage};
use crate::notify::SlackPayload;
use crate::ports::{Adapters, Notifier, NotifyError};

/// What was sent, and where the Slack message lives if one was posted.
pub(super) struct Told {
    pub slack: Option<SlackMessage>,
    pub deliveries: Vec<Delivery>,
}

impl<A: Adapters> Deployer<A> {
    /// Publishes `email` to the approvals topic and posts `slack` (channel, payload), at
    /// once and independently.
    pub(super) async fn tell(
        &self,
        deployment_id: &str,
        email: (&str, &str),
        slack: Option<(&str, &SlackPayload)>,
    ) -> Result<Told, StepError> {
        let (subject, body) = email;
        let (published, posted) = futures::join!(self.notifier.publish(subject, body), async {
            match slack {
                Some((channel, payload)) => Some(self.notifier.post_slack(channel, payload).await),
                None => None,
            }
        });
        let now = Utc::now();
        let mut deliveries = vec![Delivery::of("email", &published, now)];
        let mut failures: Vec<NotifyError> = published.err().into_iter().collect();
        let mut message = None;
        if let Some(posted) = posted {
            deliveries.push(Delivery::of("slack", &posted, now));
            match posted {
                Ok(posted) => message = posted,
                Err(err) => failures.push(err),
            }
        }
        if failures.len() == deliveries.len() {
            // Nobody was told: the step fails (a transient failure first, so it is retried).
            failures.sort_by_key(|f| !f.transient);
            return Err(failures.remove(0).into());
        }
        for failed in &failures {
            warn!(
                deployment_id,
                decision = "notify-failed",
                "{failed}; the other channel was told, so this one is recorded and not retried"
            );
        }
        Ok(Told {
            slack: message,
            deliveries,
        })
    }
}
