//! `slipway history TARGET`: one row per deployment, newest first.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::reads::started_at;
use super::release;
use crate::model::deployment::{Deployment, State, Trigger};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub id: String,
    /// `push`, `upload`, `rollback` or `external`.
    pub trigger: &'static str,
    pub release: String,
    pub state: State,
    pub started_at: Option<DateTime<Utc>>,
    /// From the start to the final state (or to now, while it runs).
    pub took_seconds: Option<i64>,
    /// Who approved or rejected it, or asked for it (a rollback).
    pub decided_by: Option<String>,
    /// Why it failed, when it did before reaching ECS or ECS said so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn trigger_kind(trigger: &Trigger) -> &'static str {
    match trigger {
        Trigger::EcrPush { .. } => "push",
        Trigger::SourceUpload { .. } => "upload",
        Trigger::Rollback { .. } => "rollback",
        Trigger::GroupStep { .. } => "group",
        Trigger::External { .. } => "external",
    }
}

/// When the deployment reached its final state, if it did.
pub fn ended_at(deployment: &Deployment) -> Option<DateTime<Utc>> {
    if !deployment.state.is_terminal() {
        return None;
    }
    deployment
        .ended_at
        .or_else(|| deployment.history.last().map(|entry| entry.at))
}

pub fn decided_by(deployment: &Deployment) -> Option<String> {
    if let Some(decision) = deployment
        .approval
        .as_ref()
        .and_then(|a| a.decision.as_ref())
    {
        let channel = serde_json::to_value(decision.channel)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return Some(format!("{} ({channel})", decision.actor));
    }
    match &deployment.trigger {
        Trigger::Rollback { requested_by, .. } => Some(requested_by.clone()),
        _ => None,
    }
}

pub fn row(deployment: &Deployment, now: DateTime<Utc>) -> HistoryRow {
    let started = started_at(deployment);
    let took = started.map(|start| (ended_at(deployment).unwrap_or(now) - start).num_seconds());
    HistoryRow {
        id: deployment.id.clone(),
        trigger: trigger_kind(&deployment.trigger),
        release: release::of_deployment(deployment),
        state: deployment.state,
        started_at: started,
        took_seconds: took,
        decided_by: decided_by(deployment),
        error: deployment
            .error
            .clone()
            .filter(|_| matches!(deployment.state, State::Failed | State::RolledBack)),
    }
}

pub fn rows(deployments: &[Deployment], now: DateTime<Utc>) -> Vec<HistoryRow> {
    deployments.iter().map(|d| row(d, now)).collect()
}
