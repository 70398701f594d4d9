//! `slipway show ID`: one deployment — the record, its history, the audit entries of every
//! attempt to decide it, and the diff an approver was shown.

use serde::Serialize;

use super::history::{row, HistoryRow};
use crate::model::deployment::{AuditEntry, Deployment};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    pub summary: HistoryRow,
    pub target: String,
    pub cluster: String,
    pub service: String,
    pub image: String,
    pub from_task_definition: String,
    pub to_task_definition: Option<String>,
    pub ecs_deployment_id: Option<String>,
    pub diff: Vec<String>,
    pub history: Vec<crate::model::deployment::HistoryEntry>,
    pub audit: Vec<AuditEntry>,
    /// The ledger record as stored, for anything the summary leaves out.
    pub record: Deployment,
}

pub fn show(
    deployment: Deployment,
    audit: Vec<AuditEntry>,
    now: chrono::DateTime<chrono::Utc>,
) -> Shown {
    Shown {
        summary: row(&deployment, now),
        target: deployment.target.clone(),
        cluster: deployment.cluster.clone(),
        service: deployment.service.clone(),
        image: deployment.image.clone(),
        from_task_definition: deployment.from_task_definition.clone(),
        to_task_definition: deployment.to_task_definition.clone(),
        ecs_deployment_id: deployment.ecs_deployment_id.clone(),
        diff: deployment.diff.clone(),
        history: deployment.history.clone(),
        audit,
        record: deployment,
    }
}
