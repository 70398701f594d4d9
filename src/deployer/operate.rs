//! Operators' requests through the operator endpoint, where the caller is verified (the
//! IAM caller API Gateway authenticated): rollback, freeze and unfreeze, answered with
//! the deployment they started and how it stands. The same steps as the EventBridge path
//! (`operator`), which records its sender only as "claimed by …".

use chrono::Utc;
use serde::Serialize;
use tracing::Instrument;

use super::outcomes::Handled;
use super::{
    decision_span, log_decision, log_warning, Deployer, Invocation, StepError, TargetOutcome,
};
use crate::input::config::Target;
use crate::input::event::{OperatorAction, OperatorRequest};
use crate::ports::Adapters;

/// What an operator's request did.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorAnswer {
    pub target: String,
    /// The deployment the request started or concerned (a rollback's own, the failed
    /// release an unfreeze thawed), when there is one.
    pub deployment_id: Option<String>,
    pub outcome: TargetOutcome,
}

/// Why an operator's request was not done. The kind decides the answer: unknown (404),
/// refused by Slipway's rules (409), or failed (503 when trying again may help, else 500).
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("no target named `{name}`; the targets are: {known}")]
    UnknownTarget { name: String, known: String },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(StepError),
}

impl OperatorError {
    pub fn is_transient(&self) -> bool {
        matches!(self, OperatorError::Failed(err) if err.is_transient())
    }
}

impl From<StepError> for OperatorError {
    fn from(err: StepError) -> OperatorError {
        match err {
            StepError::Rejected(why) => OperatorError::Refused(why),
            StepError::Unrollable(refused) => OperatorError::Refused(refused.reason),
            err => OperatorError::Failed(err),
        }
    }
}

impl<A: Adapters> Deployer<A> {
    /// Does a verified operator's request.
    pub async fn operate(
        &self,
        request: OperatorRequest,
        invocation: &Invocation,
    ) -> Result<OperatorAnswer, OperatorError> {
        let target = self.config.target(&request.target).ok_or_else(|| {
            let known: Vec<&str> = self
                .config
                .targets
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            OperatorError::UnknownTarget {
                name: request.target.clone(),
                known: known.join(", "),
            }
        })?;
        let span = decision_span(&request.event_id, &target.name, "", "");
        async {
            let handled = self.operator_step(target, &request, invocation).await;
            if let Err(err) = &handled {
                log_warning(
                    "failed",
                    &format!(
                        "{:?} by {} refused: {err}",
                        request.action, request.requested_by
                    ),
                );
            }
            let handled = handled?;
            Ok(OperatorAnswer {
                target: target.name.clone(),
                deployment_id: Some(handled.deployment_id).filter(|id| !id.is_empty()),
                outcome: handled.outcome,
            })
        }
        .instrument(span)
        .await
    }

    /// One request's step, whichever way it came.
    pub(super) async fn operator_step(
        &self,
        target: &Target,
        request: &OperatorRequest,
        invocation: &Invocation,
    ) -> Result<Handled, StepError> {
        match request.action {
            OperatorAction::Unfreeze => self.unfreeze(target, request).await,
            OperatorAction::Freeze => self.freeze(target, request).await,
            OperatorAction::Rollback => Box::pin(self.roll_back(target, request, invocation)).await,
        }
    }

    /// Pauses automatic deploys to the target until an unfreeze or `until`.
    async fn freeze(
        &self,
        target: &Target,
        request: &OperatorRequest,
    ) -> Result<Handled, StepError> {
        let reason = request
            .reason
            .clone()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| StepError::Rejected("a freeze needs a reason, for the record and for whoever finds the target frozen".into()))?;
        if target.policy != crate::input::config::Policy::Auto {
            return Err(StepError::Rejected(format!(
                "`{}` deploys only what a person approves (policy {:?}): nothing deploys by itself to freeze; reject its requests instead",
                target.name, target.policy
            )));
        }
        if request.until.is_some_and(|until| until <= Utc::now()) {
            return Err(StepError::Rejected(
                "`until` is in the past: give a time to come".into(),
            ));
        }
        self.update_rollouts(&target.name, |r| {
            r.freeze_by(&request.requested_by, &reason, request.until, Utc::now())
        })
        .await?;
        log_decision(
            "frozen",
            &format!("{} froze the target: {reason}", request.requested_by),
        );
        Ok(Handled {
            deployment_id: String::new(),
            image: String::new(),
            outcome: TargetOutcome::Frozen {
                reason: format!("frozen by {}: {reason}", request.requested_by),
            },
        })
    }
}
