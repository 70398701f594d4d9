//! The operator's reads of the ledger: what the pipelines write, read back without
//! changing anything. Listing is only needed for a target's history, a deployment's audit
//! entries and a group's past runs; the status of a target is the document plus a few
//! objects.

use futures::future::try_join_all;

use super::ConsoleError;
use crate::ledger::{deployments_prefix, group_runs_prefix, Ledger, TargetRead};
use crate::model::deployment::{AuditEntry, Deployment};
use crate::ports::{ObjectList, ObjectStore};

/// How many objects are read at once when a listing is read in full.
const READ_AT_ONCE: usize = 16;

pub struct Reads<S> {
    ledger: Ledger<S>,
}

impl<S: ObjectStore + ObjectList> Reads<S> {
    pub fn new(store: S) -> Self {
        Reads {
            ledger: Ledger::new(store),
        }
    }

    /// The target's document (empty when Slipway never deployed to it).
    pub async fn target(&self, target: &str) -> Result<TargetRead, ConsoleError> {
        Ok(self.ledger.target(target).await?)
    }

    /// A deployment by its id, `<target>.<key>`.
    pub async fn deployment(&self, id: &str) -> Result<Deployment, ConsoleError> {
        let (target, key) = split_id(id)?;
        match self.ledger.deployment(target, key).await? {
            Some(found) => Ok(found.value),
            None => Err(ConsoleError::NotFound(format!(
                "no deployment {id} in the ledger; `slipway history {target}` lists the target's"
            ))),
        }
    }

    /// A release group's line (`None`: no release of the group came yet).
    pub async fn group_line(
        &self,
        group: &str,
    ) -> Result<Option<crate::model::group::GroupLine>, ConsoleError> {
        Ok(self.ledger.group_line(group).await?.map(|l| l.value))
    }

    /// A run of a release group, if the ledger has it.
    pub async fn group_run(
        &self,
        group: &str,
        run: &str,
    ) -> Result<Option<crate::model::group::GroupRun>, ConsoleError> {
        Ok(self.ledger.group_run(group, run).await?.map(|r| r.value))
    }

    /// Every run of a release group the ledger keeps, newest first (by when each began).
    pub async fn group_runs(
        &self,
        group: &str,
    ) -> Result<Vec<crate::model::group::GroupRun>, ConsoleError> {
        let keys = self.ledger.store().list(&group_runs_prefix(group)).await?;
        let mut runs = Vec::new();
        for chunk in keys.chunks(READ_AT_ONCE) {
            let reads = chunk.iter().map(|path| self.object(path));
            runs.extend(try_join_all(reads).await?.into_iter().flatten());
        }
        runs.sort_by_key(|run| std::cmp::Reverse(super::group_why::began(run)));
        Ok(runs)
    }

    /// A deployment by key, if the ledger has it.
    pub async fn find(&self, target: &str, key: &str) -> Result<Option<Deployment>, ConsoleError> {
        Ok(self.ledger.deployment(target, key).await?.map(|d| d.value))
    }

    /// Every deployment of the target: those finished (their own objects) and those still
    /// in the target's document, newest first.
    pub async fn deployments(
        &self,
        target: &str,
        read: &TargetRead,
    ) -> Result<Vec<Deployment>, ConsoleError> {
        let keys = self
            .ledger
            .store()
            .list(&deployments_prefix(target))
            .await?;
        let mut found: Vec<Deployment> = read.record.live.values().cloned().collect();
        for chunk in keys.chunks(READ_AT_ONCE) {
            let reads = chunk.iter().map(|path| self.object::<Deployment>(path));
            found.extend(try_join_all(reads).await?.into_iter().flatten());
        }
        // A deployment moving to its own object may be read in both places: one row.
        found.sort_by(|a, b| a.id.cmp(&b.id).then(b.history.len().cmp(&a.history.len())));
        found.dedup_by(|a, b| a.id == b.id);
        found.sort_by_key(|d| std::cmp::Reverse(started_at(d)));
        Ok(found)
    }

    /// The audit entries of a deployment (every attempt to decide it), oldest first.
    pub async fn audit(&self, deployment: &Deployment) -> Result<Vec<AuditEntry>, ConsoleError> {
        let prefix = format!("targets/{}/audit/{}/", deployment.target, deployment.key);
        self.entries(&prefix).await
    }

    /// The audit entries of a release group run (its decision, a window override, a soak
    /// bypass, and the refused attempts), oldest first.
    pub async fn group_audit(
        &self,
        run: &crate::model::group::GroupRun,
    ) -> Result<Vec<AuditEntry>, ConsoleError> {
        self.entries(&crate::ledger::group_audit_prefix(&run.group, &run.id))
            .await
    }

    async fn entries(&self, prefix: &str) -> Result<Vec<AuditEntry>, ConsoleError> {
        let keys = self.ledger.store().list(prefix).await?;
        let reads = keys.iter().map(|path| self.object::<AuditEntry>(path));
        let mut entries: Vec<AuditEntry> =
            try_join_all(reads).await?.into_iter().flatten().collect();
        entries.sort_by_key(|entry| entry.at);
        Ok(entries)
    }

    async fn object<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ConsoleError> {
        let Some(object) = self.ledger.store().get(path).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&object.body)
            .map(Some)
            .map_err(|err| {
                ConsoleError::Ledger(crate::ledger::LedgerError::Corrupt {
                    key: path.to_string(),
                    problem: err.to_string(),
                })
            })
    }
}

/// When a deployment started: its first history entry.
pub fn started_at(deployment: &Deployment) -> Option<chrono::DateTime<chrono::Utc>> {
    deployment.history.first().map(|entry| entry.at)
}

/// `<target>.<key>` into its parts.
pub fn split_id(id: &str) -> Result<(&str, &str), ConsoleError> {
    id.split_once('.')
        .filter(|(target, key)| !target.is_empty() && !key.is_empty())
        .ok_or_else(|| {
            ConsoleError::NotFound(format!(
                "`{id}` is not a deployment id: ids look like `<target>.<key>`, e.g. web.img-ab12…"
            ))
        })
}
