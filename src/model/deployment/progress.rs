//! Where a rollout under ECS's blue/green, canary or linear strategy stands: the service
//! deployment ECS runs it as, the PAUSE hook waiting for a person, the hooks already
//! answered (so a duplicate event or a second click answers nothing twice), and when each
//! lifecycle stage was reached.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::progressive::Stage;
use crate::model::service_deployment::HookAction;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// In words: "canary 10% for 5 min".
    pub strategy: String,
    /// `arn:aws:ecs:…:service-deployment/<cluster>/<service>/<id>`: what hook events name.
    #[serde(default)]
    pub service_deployment_arn: Option<String>,
    /// The PAUSE hook ECS waits on, while it waits.
    #[serde(default)]
    pub pause: Option<PausedAt>,
    #[serde(default)]
    pub answered: Vec<AnsweredHook>,
    #[serde(default)]
    pub stages: Vec<StageReached>,
    /// With `ask_each_step`: the requests of the steps decided before the current one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_approvals: Vec<super::ApprovalRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedAt {
    pub hook_id: String,
    pub stage: Stage,
    /// When ECS takes the hook's timeout action (ROLLBACK) by itself.
    pub expires_at: Option<DateTime<Utc>>,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsweredHook {
    pub hook_id: String,
    pub action: HookAction,
    /// Who decided: a person's id, or `slipway` for a step it continues itself.
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageReached {
    /// ECS's name (`POST_TEST_TRAFFIC_SHIFT`).
    pub stage: String,
    pub at: DateTime<Utc>,
}

impl Progress {
    pub fn new(strategy: String, service_deployment_arn: Option<String>) -> Progress {
        Progress {
            strategy,
            service_deployment_arn,
            pause: None,
            answered: vec![],
            stages: vec![],
            earlier_approvals: vec![],
        }
    }

    pub fn answered(&self, hook_id: &str) -> Option<&AnsweredHook> {
        self.answered.iter().find(|a| a.hook_id == hook_id)
    }

    /// Records that ECS reached `stage` (once per stage and time).
    pub fn reached(&mut self, stage: &str, at: DateTime<Utc>) {
        if !self.stages.iter().any(|s| s.stage == stage && s.at == at) {
            self.stages.push(StageReached {
                stage: stage.to_string(),
                at,
            });
            self.stages.sort_by_key(|s| s.at);
        }
    }

    /// "POST_TEST_TRAFFIC_SHIFT 4m 12s, PRE_PRODUCTION_TRAFFIC_SHIFT 10s": how long each
    /// stage lasted, up to `end`.
    pub fn phases(&self, end: DateTime<Utc>) -> String {
        let mut out = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            let until = self.stages.get(i + 1).map_or(end, |next| next.at);
            let secs = (until - stage.at).num_seconds().max(0);
            out.push(format!("{} {}m {}s", stage.stage, secs / 60, secs % 60));
        }
        out.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_say_how_long_each_stage_lasted() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut progress = Progress::new("canary 10% for 5 min".into(), None);
        progress.reached(
            "POST_TEST_TRAFFIC_SHIFT",
            t0 + chrono::Duration::seconds(252),
        );
        progress.reached("POST_SCALE_UP", t0);
        progress.reached("POST_SCALE_UP", t0);
        assert_eq!(progress.stages.len(), 2);
        assert_eq!(
            progress.phases(t0 + chrono::Duration::seconds(262)),
            "POST_SCALE_UP 4m 12s, POST_TEST_TRAFFIC_SHIFT 0m 10s"
        );
    }
}
