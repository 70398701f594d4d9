//! A deployment ECS reports that Slipway did not start (a console change, another
//! tool): recorded as an external deployment, so that the target's record says what runs
//! and ECS's later events for it are followed like any other.

use tracing::info;

use super::{Deployer, StepError};
use crate::input::config::Target;
use crate::input::event::DeploymentChanged;
use crate::ledger::{external_key, Claim};
use crate::model::deployment::{Deployment, HistoryEntry, State, Trigger};
use crate::model::rollout::{RolloutKind, StartedRollout};
use crate::ports::{Adapters, Ecs};

impl<A: Adapters> Deployer<A> {
    /// Records a deployment ECS reported that Slipway did not start, so the ledger shows
    /// what really runs. What it runs is read from the service now.
    pub(super) async fn record_external(
        &self,
        target: &Target,
        event: &DeploymentChanged,
    ) -> Result<StartedRollout, StepError> {
        let service = self
            .ecs
            .describe_service(&target.cluster, &target.service)
            .await?;
        let running = self
            .ecs
            .describe_task_definition(&service.task_definition)
            .await?;
        let image = running
            .summary
            .containers
            .iter()
            .find(|c| target.containers.contains(&c.name))
            .map(|c| c.image.clone())
            .unwrap_or_default();
        let key = external_key(&event.ecs_deployment_id);
        let trigger = Trigger::External {
            event_id: event.event_id.clone(),
            ecs_deployment_id: event.ecs_deployment_id.clone(),
        };
        let record = Deployment {
            state: State::Rolling,
            image,
            to_task_definition: Some(service.task_definition.clone()),
            ecs_deployment_id: Some(event.ecs_deployment_id.clone()),
            history: vec![HistoryEntry {
                at: event.updated_at,
                state: State::Rolling,
                note: format!(
                    "ECS reported deployment {} of {}, which Slipway did not start; the service runs {}",
                    event.ecs_deployment_id, target.service, service.task_definition
                ),
            }],
            ..Deployment::new(&target.name, &target.cluster, &target.service, key.clone(), trigger)
        };
        let (deployment_id, claimed) = match self.ledger.claim(record).await? {
            Claim::Claimed(record) => (record.value.id, true),
            Claim::Exists(record) => (record.value.id, false),
        };
        if claimed {
            info!(
                event_id = event.event_id,
                target = target.name,
                deployment_id,
                decision = "external",
                "recorded ECS deployment {} as external: Slipway did not start it",
                event.ecs_deployment_id
            );
        }
        let entry = StartedRollout {
            ecs_deployment_id: event.ecs_deployment_id.clone(),
            deployment_id,
            key,
            kind: RolloutKind::External,
            at: event.updated_at,
        };
        let remembered = entry.clone();
        self.update_rollouts(&target.name, move |r| {
            r.remember(remembered.clone());
            true
        })
        .await?;
        Ok(entry)
    }
}
