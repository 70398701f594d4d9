//! The ledger: a durable record per target and deployment, kept in S3.
//!
//! Every event may arrive twice, late or out of order, and several invocations may handle
//! the same one at once. The ledger is what makes that safe: every write is conditional —
//! `If-None-Match: *` to create, `If-Match: <etag>` to change — so of two invocations that
//! read the same version only one can write the next, and a deployment moves only through
//! its small state machine.
//!
//! Layout in the bucket:
//! - `targets/<target>/target.json` — the [`TargetRecord`]: the target's head (the newest
//!   image accepted, which orders concurrent pushes), its rollouts (which ECS deployment
//!   ids are whose, the last good releases, the freeze), the newest version accepted per
//!   source object, and the deployments that have not finished. An automatic deploy reads
//!   it once, claims its deployment and the head in one write, and records the rollout in
//!   one write after UpdateService: three calls (BENCHMARKS.md, "Ledger calls").
//! - `targets/<target>/deployments/<key>.json` — one finished [`Deployment`], moved here
//!   from the document when it reaches a final state (a reader looks here first). For an
//!   image push the key is `img-<digest hex>`, so the same image is claimed once per target.
//! - `targets/<target>/awaiting-approval.json` — the [`AwaitingPointer`]: the one open
//!   approval request, superseded when a newer one is asked for.
//! - `targets/<target>/waiting-for-window.json` — the same pointer for the one release
//!   waiting for the target's deployment window (a newer one supersedes it).
//! - `targets/<target>/audit/<key>/<time>-<hash>.json` — one write-once [`AuditEntry`] per
//!   attempt to approve, reject, expire or supersede; `groups/<group>/audit/<run>/…` the
//!   same for a release group run's decision, window override and soak bypass.
//!
//! A bucket written before `target.json` existed keeps working: a target without the
//! document is read from its `head.json` and `rollouts.json` (and a source head from
//! `sources/<hash>.json`), the first write creates the document from them, and
//! deployments already in their own objects stay there.

mod document;
mod records;
pub mod target_record;

use serde::{Deserialize, Serialize};

use crate::model::deployment::{AuditEntry, Deployment, TransitionError};
use crate::model::group::{GroupLine, GroupRun};
use crate::model::rollout::Rollouts;
use crate::model::target::{AwaitingPointer, Head, SourceHead};
use crate::ports::{AwsError, ConditionalWrite, ObjectStore};
pub use document::{TargetRead, TargetUpdate};
pub use target_record::{Part, TargetRecord};

/// A value read from the ledger with the ETag that guards the next write.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: String,
    /// Where the value lives: an object of its own, or a part of the target's document
    /// (then `etag` is the document's).
    pub home: Home,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Home {
    #[default]
    Object,
    Target,
}

impl<T> Versioned<T> {
    /// A part of the target's document as `read` holds it.
    pub fn in_target(value: T, read: &TargetRead) -> Self {
        Versioned {
            value,
            etag: read.etag.clone().unwrap_or_default(),
            home: Home::Target,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger: {0}")]
    Store(#[from] AwsError),
    #[error("ledger object {key} is not a valid record ({problem}); inspect or remove it")]
    Corrupt { key: String, problem: String },
    #[error("ledger object {key} was changed by another invocation; re-read and decide again")]
    Conflict { key: String },
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// The result of trying to claim a deployment.
pub enum Claim {
    /// This invocation created the record and owns it.
    Claimed(Versioned<Deployment>),
    /// The record already exists: a duplicate, a retry, or a second tag for the same image.
    Exists(Versioned<Deployment>),
}

/// A record the pipelines read and change by compare-and-set.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    Deployment { target: &'a str, key: &'a str },
    Head { target: &'a str },
    Rollouts { target: &'a str },
    Source { target: &'a str, key: &'a str },
    Awaiting { target: &'a str },
    Waiting { target: &'a str },
    GroupRun { group: &'a str, run: &'a str },
    GroupLine { group: &'a str },
}

pub fn target_path(target: &str) -> String {
    format!("targets/{target}/target.json")
}

pub fn deployment_path(target: &str, key: &str) -> String {
    format!("targets/{target}/deployments/{key}.json")
}

/// Where [`deployment_path`] puts a target's finished deployments.
pub fn deployments_prefix(target: &str) -> String {
    format!("targets/{target}/deployments/")
}

/// Where the layout before `target.json` kept the head.
pub fn head_path(target: &str) -> String {
    format!("targets/{target}/head.json")
}

/// Where the layout before `target.json` kept the rollouts.
pub fn rollouts_path(target: &str) -> String {
    format!("targets/{target}/rollouts.json")
}

/// Where the layout before `target.json` kept a source object's head.
pub fn legacy_source_head_path(target: &str, key: &str) -> String {
    format!("targets/{target}/sources/{}.json", short_hash(key))
}

pub fn awaiting_path(target: &str) -> String {
    format!("targets/{target}/awaiting-approval.json")
}

pub fn group_run_path(group: &str, run: &str) -> String {
    format!("{}{run}.json", group_runs_prefix(group))
}

/// Where [`group_run_path`] puts every run of a group.
pub fn group_runs_prefix(group: &str) -> String {
    format!("groups/{group}/runs/")
}

/// Which run of the group holds its line, and which wait (`model::group::line`).
pub fn group_line_path(group: &str) -> String {
    format!("groups/{group}/line.json")
}

pub fn waiting_path(target: &str) -> String {
    format!("targets/{target}/waiting-for-window.json")
}
/// The key of a source upload's deployment: one per bucket, key and version.
pub fn source_key(bucket: &str, key: &str, version_id: &str) -> String {
    format!(
        "src-{}",
        short_hash(&format!("{bucket}\n{key}\n{version_id}"))
    )
}

pub fn audit_path(target: &str, key: &str, entry: &AuditEntry) -> String {
    format!("targets/{target}/audit/{key}/{}.json", entry_name(entry))
}

/// Where the audit entries of a release group run are kept (beside, not under, its runs:
/// listing the runs reads no entry).
pub fn group_audit_prefix(group: &str, run: &str) -> String {
    format!("groups/{group}/audit/{run}/")
}

/// One write-once object per attempt: when, and a hash of who did what with what result.
fn entry_name(entry: &AuditEntry) -> String {
    let at = entry.at.format("%Y%m%dT%H%M%S%.9fZ");
    let who = short_hash(&format!(
        "{}\n{:?}\n{:?}\n{}",
        entry.actor, entry.channel, entry.action, entry.outcome
    ));
    format!("{at}-{who}")
}

fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

/// The key of an operator's rollback: one per request event, so a redelivery is a duplicate.
pub fn rollback_key(event_id: &str) -> String {
    format!("rb-{}", short_hash(event_id))
}

/// The key of a deployment ECS reported that Slipway did not start.
pub fn external_key(ecs_deployment_id: &str) -> String {
    format!("ext-{}", short_hash(ecs_deployment_id))
}

/// The key of an image push's deployment: one per digest and target.
pub fn image_key(digest: &str) -> String {
    format!("img-{}", digest.trim_start_matches("sha256:"))
}

pub struct Ledger<S> {
    store: S,
    seen: document::Seen,
}

/// What an [`Ledger::update`] decides on the record it read: write this value, or leave
/// the record as it is and answer `R`.
pub enum Change<T, R> {
    Write(T),
    Leave(R),
}

/// What an [`Ledger::update`] did: wrote the record (as written), or left it.
pub enum Updated<T, R> {
    Written(Versioned<T>),
    Left(R),
}

impl<S: ObjectStore> Ledger<S> {
    /// The object store the records live in.
    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn new(store: S) -> Self {
        Ledger {
            store,
            seen: document::Seen::default(),
        }
    }

    /// The target's document, read now.
    pub async fn target(&self, target: &str) -> Result<TargetRead, LedgerError> {
        // Boxed, as every store call of the ledger: the AWS SDK's futures are large, and
        // nested unboxed in the pipelines' they overflow a thread's stack in debug builds.
        let read = Box::pin(document::read_target(&self.store, target)).await?;
        self.seen.remember(target, &read);
        Ok(read)
    }

    /// The target's document at version `etag`, if it is the version this process saw last
    /// (a GET saved before a write; never in place of a read before a decision).
    pub fn seen_at(&self, target: &str, etag: &str) -> Option<TargetRead> {
        self.seen
            .get(target)
            .filter(|seen| seen.etag.as_deref().unwrap_or_default() == etag)
    }

    /// Changes the target's document by compare-and-set, starting from `base` (`None`: a
    /// read now), re-reading on a conflict.
    pub async fn update_target<R, E, F>(
        &self,
        target: &str,
        base: Option<TargetRead>,
        attempts: usize,
        decide: F,
    ) -> Result<TargetUpdate<R>, E>
    where
        F: FnMut(&TargetRead) -> Result<Change<TargetRecord, R>, E>,
        E: From<LedgerError>,
    {
        let base = match base {
            Some(base) => base,
            None => self.target(target).await?,
        };
        Box::pin(document::update_target(
            &self.store,
            &self.seen,
            target,
            base,
            attempts,
            decide,
        ))
        .await
    }

    /// Creates the deployment's record, which only one invocation can do: in the target's
    /// document while it runs, unless it exists already (there or in its own object).
    pub async fn claim(&self, deployment: Deployment) -> Result<Claim, LedgerError> {
        let (target, key) = (deployment.target.clone(), deployment.key.clone());
        let path = deployment_path(&target, &key);
        if let Some(existing) = self.read_own::<Deployment>(&path).await? {
            return Ok(Claim::Exists(existing));
        }
        let base = self.target(&target).await?;
        let claimed = self
            .update_target(&target, Some(base), CLAIM_ATTEMPTS, |read| {
                if let Some(existing) = read.record.live.get(&key) {
                    return Ok::<_, LedgerError>(Change::Leave(Some(Versioned::in_target(
                        existing.clone(),
                        read,
                    ))));
                }
                if read.record.has_finished(&key) {
                    return Ok(Change::Leave(None));
                }
                let mut next = read.record.clone();
                next.live.insert(key.clone(), deployment.clone());
                Ok(Change::Write(next))
            })
            .await?;
        match claimed {
            TargetUpdate::Written(written) => {
                Ok(Claim::Claimed(Versioned::in_target(deployment, &written)))
            }
            TargetUpdate::Left(Some(existing)) => Ok(Claim::Exists(existing)),
            // It finished and moved to its own object between the two reads.
            TargetUpdate::Left(None) => match self.read_own(&path).await? {
                Some(existing) => Ok(Claim::Exists(existing)),
                None => Err(LedgerError::Conflict { key: path }),
            },
        }
    }

    /// Records a deployment that never ran (superseded before its claim) straight in its
    /// own object; one that exists already is left as it is.
    pub async fn record_finished(&self, deployment: Deployment) -> Result<Claim, LedgerError> {
        let path = deployment_path(&deployment.target, &deployment.key);
        match self.store.create(&path, encode(&deployment)).await? {
            ConditionalWrite::Written { etag } => Ok(Claim::Claimed(Versioned {
                value: deployment,
                etag,
                home: Home::Object,
            })),
            ConditionalWrite::Conflict => match self.read_own(&path).await? {
                Some(existing) => Ok(Claim::Exists(existing)),
                None => Err(LedgerError::Conflict { key: path }),
            },
        }
    }

    pub async fn deployment(
        &self,
        target: &str,
        key: &str,
    ) -> Result<Option<Versioned<Deployment>>, LedgerError> {
        self.read(Record::Deployment { target, key }).await
    }

    /// Compare-and-set: fails with [`LedgerError::Conflict`] if anyone wrote in between.
    pub async fn save(
        &self,
        current: &Versioned<Deployment>,
        next: Deployment,
    ) -> Result<Versioned<Deployment>, LedgerError> {
        let (target, key) = (next.target.clone(), next.key.clone());
        let record = Record::Deployment {
            target: &target,
            key: &key,
        };
        self.compare_and_set(record, Some(current), next).await
    }

    /// Appends to the audit trail: one write-once object per attempt, so auditing never
    /// contends with the compare-and-set moves of the deployment record itself.
    pub async fn append_audit(
        &self,
        target: &str,
        key: &str,
        entry: &AuditEntry,
    ) -> Result<(), LedgerError> {
        self.create_entry(&audit_path(target, key, entry), entry)
            .await
    }

    /// [`Self::append_audit`] for an attempt on release group run `run`.
    pub async fn append_group_audit(
        &self,
        group: &str,
        run: &str,
        entry: &AuditEntry,
    ) -> Result<(), LedgerError> {
        let path = format!(
            "{}{}.json",
            group_audit_prefix(group, run),
            entry_name(entry)
        );
        self.create_entry(&path, entry).await
    }

    async fn create_entry(&self, path: &str, entry: &AuditEntry) -> Result<(), LedgerError> {
        match self.store.create(path, encode(entry)).await? {
            // The same attempt written twice (a retried request) is one entry.
            ConditionalWrite::Written { .. } | ConditionalWrite::Conflict => Ok(()),
        }
    }

    pub async fn head(&self, target: &str) -> Result<Option<Versioned<Head>>, LedgerError> {
        self.read(Record::Head { target }).await
    }

    /// Sets the head if it is still what the caller read (`None`: still absent).
    pub async fn set_head(
        &self,
        target: &str,
        read: Option<&Versioned<Head>>,
        head: Head,
    ) -> Result<Versioned<Head>, LedgerError> {
        self.compare_and_set(Record::Head { target }, read, head)
            .await
    }

    pub async fn awaiting(
        &self,
        target: &str,
    ) -> Result<Option<Versioned<AwaitingPointer>>, LedgerError> {
        self.read(Record::Awaiting { target }).await
    }

    pub async fn set_awaiting(
        &self,
        target: &str,
        read: Option<&Versioned<AwaitingPointer>>,
        pointer: AwaitingPointer,
    ) -> Result<Versioned<AwaitingPointer>, LedgerError> {
        self.compare_and_set(Record::Awaiting { target }, read, pointer)
            .await
    }

    /// The release waiting for the target's window, if one is.
    pub async fn waiting(
        &self,
        target: &str,
    ) -> Result<Option<Versioned<AwaitingPointer>>, LedgerError> {
        self.read(Record::Waiting { target }).await
    }

    pub async fn set_waiting(
        &self,
        target: &str,
        read: Option<&Versioned<AwaitingPointer>>,
        pointer: AwaitingPointer,
    ) -> Result<Versioned<AwaitingPointer>, LedgerError> {
        self.compare_and_set(Record::Waiting { target }, read, pointer)
            .await
    }

    pub async fn group_run(
        &self,
        group: &str,
        run: &str,
    ) -> Result<Option<Versioned<GroupRun>>, LedgerError> {
        self.read(Record::GroupRun { group, run }).await
    }

    /// Writes the run if it is still what the caller read (`None`: creates it, once).
    pub async fn set_group_run(
        &self,
        read: Option<&Versioned<GroupRun>>,
        run: GroupRun,
    ) -> Result<Versioned<GroupRun>, LedgerError> {
        let (group, id) = (run.group.clone(), run.id.clone());
        self.compare_and_set(
            Record::GroupRun {
                group: &group,
                run: &id,
            },
            read,
            run,
        )
        .await
    }

    pub async fn group_line(
        &self,
        group: &str,
    ) -> Result<Option<Versioned<GroupLine>>, LedgerError> {
        self.read(Record::GroupLine { group }).await
    }

    /// Writes the line if it is still what the caller read (`None`: creates it, once).
    pub async fn set_group_line(
        &self,
        group: &str,
        read: Option<&Versioned<GroupLine>>,
        line: GroupLine,
    ) -> Result<Versioned<GroupLine>, LedgerError> {
        self.compare_and_set(Record::GroupLine { group }, read, line)
            .await
    }

    pub async fn rollouts(&self, target: &str) -> Result<Option<Versioned<Rollouts>>, LedgerError> {
        self.read(Record::Rollouts { target }).await
    }

    pub async fn set_rollouts(
        &self,
        target: &str,
        read: Option<&Versioned<Rollouts>>,
        rollouts: Rollouts,
    ) -> Result<Versioned<Rollouts>, LedgerError> {
        self.compare_and_set(Record::Rollouts { target }, read, rollouts)
            .await
    }

    pub async fn source_head(
        &self,
        target: &str,
        key: &str,
    ) -> Result<Option<Versioned<SourceHead>>, LedgerError> {
        self.read(Record::Source { target, key }).await
    }

    pub async fn set_source_head(
        &self,
        target: &str,
        read: Option<&Versioned<SourceHead>>,
        head: SourceHead,
    ) -> Result<Versioned<SourceHead>, LedgerError> {
        let key = head.key.clone();
        self.compare_and_set(Record::Source { target, key: &key }, read, head)
            .await
    }

    /// The compare-and-set loop over one record: decides on the record as last read
    /// (`read`; `None`: absent), writes the decision conditionally, and on a conflict
    /// re-reads and decides again, at most `attempts` times in all. `decide` may wait or
    /// act (it is a future), but writes nothing to this record itself.
    pub async fn update<T, R, E, F, Fut>(
        &self,
        record: Record<'_>,
        mut read: Option<Versioned<T>>,
        attempts: usize,
        mut decide: F,
    ) -> Result<Updated<T, R>, E>
    where
        T: Serialize + for<'de> Deserialize<'de> + Clone,
        F: FnMut(Option<Versioned<T>>) -> Fut,
        Fut: std::future::Future<Output = Result<Change<T, R>, E>>,
        E: From<LedgerError>,
    {
        for attempt in 1..=attempts {
            let next = match decide(read.clone()).await? {
                Change::Leave(answer) => return Ok(Updated::Left(answer)),
                Change::Write(next) => next,
            };
            match self.compare_and_set(record, read.as_ref(), next).await {
                Ok(written) => return Ok(Updated::Written(written)),
                Err(LedgerError::Conflict { .. }) if attempt < attempts => {
                    read = self.read(record).await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(LedgerError::Conflict { key: record.path() }.into())
    }
}

/// How often a claim re-reads the target's document when other writes got in first.
const CLAIM_ATTEMPTS: usize = 10;

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    serde_json::to_vec_pretty(value).expect("ledger records serialize")
}

#[cfg(test)]
mod tests;
