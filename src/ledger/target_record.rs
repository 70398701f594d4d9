//! The target's document, `targets/<target>/target.json`: everything a deploy reads and
//! writes about its target, so that one GET, one conditional PUT before UpdateService
//! and one after it are all the ledger calls an automatic deploy makes.
use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::deployment::Deployment;
use crate::model::rollout::Rollouts;
use crate::model::target::{Head, SourceHead};

/// How many finished deployments' keys the document remembers: a delivery of one of them
/// is a duplicate without a read of its own object. An older one is stopped by the
/// ordering rule (it is older than the head) before it could claim anything.
pub const FINISHED_REMEMBERED: usize = 256;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The newest image accepted: what `head.json` held.
    #[serde(default)]
    pub head: Option<Head>,
    /// Which ECS deployment ids are whose, the last good releases, the freeze: what
    /// `rollouts.json` held.
    #[serde(default)]
    pub rollouts: Option<Rollouts>,
    /// The newest version accepted per source object, by object key: what
    /// `sources/<hash>.json` held.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceHead>,
    /// The target's deployments that have not finished, by key. A deployment moves to its
    /// own object, `deployments/<key>.json`, when it reaches a final state.
    #[serde(default)]
    pub live: BTreeMap<String, Deployment>,
    /// The keys of the deployments that moved to their own object lately, oldest first.
    #[serde(default)]
    pub finished: VecDeque<String>,
    /// Built from the layout before this document (`head.json`, `rollouts.json`): a source
    /// head not in `sources` may still be in its own object.
    #[serde(default)]
    pub legacy: bool,
}

/// One part of the document, addressed by the records the pipelines know.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    Head,
    Rollouts,
    Source(&'a str),
    Deployment(&'a str),
}

impl TargetRecord {
    /// The part as JSON (`None`: absent), which is what a compare-and-set compares.
    pub fn get(&self, part: Part) -> Option<Value> {
        let value = match part {
            Part::Head => serde_json::to_value(self.head.as_ref()?),
            Part::Rollouts => serde_json::to_value(self.rollouts.as_ref()?),
            Part::Source(key) => serde_json::to_value(self.sources.get(key)?),
            Part::Deployment(key) => serde_json::to_value(self.live.get(key)?),
        };
        value.ok()
    }

    /// Replaces the part; fails only if `value` is not a valid record of its kind.
    pub fn set(&mut self, part: Part, value: Value) -> Result<(), serde_json::Error> {
        match part {
            Part::Head => self.head = Some(serde_json::from_value(value)?),
            Part::Rollouts => self.rollouts = Some(serde_json::from_value(value)?),
            Part::Source(key) => {
                self.sources
                    .insert(key.to_string(), serde_json::from_value(value)?);
            }
            Part::Deployment(key) => {
                self.live
                    .insert(key.to_string(), serde_json::from_value(value)?);
            }
        }
        Ok(())
    }

    /// The deployment has its own object now: it leaves `live` and is remembered as
    /// finished.
    pub fn retire(&mut self, key: &str) {
        self.live.remove(key);
        if !self.finished.iter().any(|k| k == key) {
            self.finished.push_back(key.to_string());
        }
        while self.finished.len() > FINISHED_REMEMBERED {
            self.finished.pop_front();
        }
    }

    pub fn has_finished(&self, key: &str) -> bool {
        self.finished.iter().any(|k| k == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finished_keys_are_bounded_and_a_retired_deployment_leaves_live() {
        let mut record = TargetRecord::default();
        for n in 0..FINISHED_REMEMBERED + 10 {
            record.retire(&format!("k{n}"));
        }
        assert_eq!(record.finished.len(), FINISHED_REMEMBERED);
        assert!(!record.has_finished("k0"));
        assert!(record.has_finished(&format!("k{}", FINISHED_REMEMBERED + 9)));
        record.retire("k300");
        assert_eq!(
            record.finished.iter().filter(|k| *k == "k300").count(),
            1,
            "a key is remembered once"
        );
    }
}
