//! The ledger: a durable record per target and deployment, kept in S3.
//!
//! Every event may arrive twice, late or out of order, and several invocations may handle
//! the same one at once. The ledger is what makes that safe: a deployment is *claimed* by
//! creating its record with `If-None-Match: *` (only one invocation can), and every later
//! move is a compare-and-set with `If-Match: <etag>` through a small state machine.
//!
//! Layout in the bucket:
//! - `targets/<target>/deployments/<key>.json` — one [`Deployment`]; for an image push the
//!   key is `img-<digest hex>`, so the same image can only ever be claimed once per target.
//! - `targets/<target>/head.json` — the [`Head`]: the newest image Slipway has accepted for
//!   the target, which orders concurrent pushes of different images.
//! - `targets/<target>/awaiting-approval.json` — the [`AwaitingPointer`]: the one open
//!   approval request, superseded when a newer one is asked for.
//! - `targets/<target>/audit/<key>/<time>-<hash>.json` — one write-once [`AuditEntry`] per
//!   attempt to approve, reject, expire or supersede.
//! - `targets/<target>/rollouts.json` — the [`Rollouts`]: which ECS deployment ids are
//!   whose, the last known good release, and the freeze after a failure.

use serde::{Deserialize, Serialize};

use crate::model::deployment::{AuditEntry, Deployment, TransitionError};
use crate::model::target::{AwaitingPointer, Head, SourceHead};
use crate::ports::{AwsError, ConditionalWrite, ObjectStore};

/// A value read from the ledger with the ETag that guards the next write.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: String,
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

pub fn deployment_path(target: &str, key: &str) -> String {
    format!("targets/{target}/deployments/{key}.json")
}

pub fn head_path(target: &str) -> String {
    format!("targets/{target}/head.json")
}

pub fn rollouts_path(target: &str) -> String {
    format!("targets/{target}/rollouts.json")
}

pub fn awaiting_path(target: &str) -> String {
    format!("targets/{target}/awaiting-approval.json")
}

/// The key of a source upload's deployment: one per bucket, key and version.
pub fn source_key(bucket: &str, key: &str, version_id: &str) -> String {
    format!(
        "src-{}",
        short_hash(&format!("{bucket}\n{key}\n{version_id}"))
    )
}

pub fn audit_path(target: &str, key: &str, entry: &AuditEntry) -> String {
    let at = entry.at.format("%Y%m%dT%H%M%S%.9fZ");
    let who = short_hash(&format!(
        "{}\n{:?}\n{:?}\n{}",
        entry.actor, entry.channel, entry.action, entry.outcome
    ));
    format!("targets/{target}/audit/{key}/{at}-{who}.json")
}

pub fn source_head_path(target: &str, key: &str) -> String {
    format!("targets/{target}/sources/{}.json", short_hash(key))
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
        Ledger { store }
    }

    pub async fn claim(&self, deployment: Deployment) -> Result<Claim, LedgerError> {
        let path = deployment_path(&deployment.target, &deployment.key);
        match self.store.create(&path, encode(&deployment)).await? {
            ConditionalWrite::Written { etag } => Ok(Claim::Claimed(Versioned {
                value: deployment,
                etag,
            })),
            ConditionalWrite::Conflict => {
                let existing = self
                    .read::<Deployment>(&path)
                    .await?
                    .ok_or(LedgerError::Conflict { key: path })?;
                Ok(Claim::Exists(existing))
            }
        }
    }

    pub async fn deployment(
        &self,
        target: &str,
        key: &str,
    ) -> Result<Option<Versioned<Deployment>>, LedgerError> {
        self.read(&deployment_path(target, key)).await
    }

    /// Compare-and-set: fails with [`LedgerError::Conflict`] if anyone wrote in between.
    pub async fn save(
        &self,
        current: &Versioned<Deployment>,
        next: Deployment,
    ) -> Result<Versioned<Deployment>, LedgerError> {
        let path = deployment_path(&next.target, &next.key);
        self.replace(&path, &current.etag, next).await
    }

    /// Appends to the audit trail: one write-once object per attempt, so auditing never
    /// contends with the compare-and-set moves of the deployment record itself.
    pub async fn append_audit(
        &self,
        target: &str,
        key: &str,
        entry: &AuditEntry,
    ) -> Result<(), LedgerError> {
        let path = audit_path(target, key, entry);
        match self.store.create(&path, encode(entry)).await? {
            // The same attempt written twice (a retried request) is one entry.
            ConditionalWrite::Written { .. } | ConditionalWrite::Conflict => Ok(()),
        }
    }

    pub async fn head(&self, target: &str) -> Result<Option<Versioned<Head>>, LedgerError> {
        self.read(&head_path(target)).await
    }

    /// Sets the head if it is still what the caller read (`None`: still absent).
    pub async fn set_head(
        &self,
        target: &str,
        read: Option<&Versioned<Head>>,
        head: Head,
    ) -> Result<Versioned<Head>, LedgerError> {
        self.compare_and_set(&head_path(target), read, head).await
    }

    pub async fn awaiting(
        &self,
        target: &str,
    ) -> Result<Option<Versioned<AwaitingPointer>>, LedgerError> {
        self.read(&awaiting_path(target)).await
    }

    pub async fn set_awaiting(
        &self,
        target: &str,
        read: Option<&Versioned<AwaitingPointer>>,
        pointer: AwaitingPointer,
    ) -> Result<Versioned<AwaitingPointer>, LedgerError> {
        self.compare_and_set(&awaiting_path(target), read, pointer)
            .await
    }

    pub async fn rollouts(
        &self,
        target: &str,
    ) -> Result<Option<Versioned<crate::model::rollout::Rollouts>>, LedgerError> {
        self.read(&rollouts_path(target)).await
    }

    pub async fn set_rollouts(
        &self,
        target: &str,
        read: Option<&Versioned<crate::model::rollout::Rollouts>>,
        rollouts: crate::model::rollout::Rollouts,
    ) -> Result<Versioned<crate::model::rollout::Rollouts>, LedgerError> {
        self.compare_and_set(&rollouts_path(target), read, rollouts)
            .await
    }

    pub async fn source_head(
        &self,
        target: &str,
        key: &str,
    ) -> Result<Option<Versioned<SourceHead>>, LedgerError> {
        self.read(&source_head_path(target, key)).await
    }

    pub async fn set_source_head(
        &self,
        target: &str,
        read: Option<&Versioned<SourceHead>>,
        head: SourceHead,
    ) -> Result<Versioned<SourceHead>, LedgerError> {
        let path = source_head_path(target, &head.key);
        self.compare_and_set(&path, read, head).await
    }

    /// The one compare-and-set loop: decides on the record as last read (`read`; `None`:
    /// absent), writes the decision with `If-Match` (or `If-None-Match: *`), and on a
    /// conflict re-reads and decides again, at most `attempts` times in all. `decide` may
    /// wait or act (it is a future), but writes nothing to this record itself.
    pub async fn update<T, R, E, F, Fut>(
        &self,
        path: &str,
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
            match self.compare_and_set(path, read.as_ref(), next).await {
                Ok(written) => return Ok(Updated::Written(written)),
                Err(LedgerError::Conflict { .. }) if attempt < attempts => {
                    read = self.read(path).await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(LedgerError::Conflict {
            key: path.to_string(),
        }
        .into())
    }

    async fn compare_and_set<T: Serialize>(
        &self,
        path: &str,
        read: Option<&Versioned<T>>,
        value: T,
    ) -> Result<Versioned<T>, LedgerError> {
        match read {
            Some(current) => self.replace(path, &current.etag, value).await,
            None => match self.store.create(path, encode(&value)).await? {
                ConditionalWrite::Written { etag } => Ok(Versioned { value, etag }),
                ConditionalWrite::Conflict => Err(LedgerError::Conflict {
                    key: path.to_string(),
                }),
            },
        }
    }

    async fn replace<T: Serialize>(
        &self,
        path: &str,
        etag: &str,
        value: T,
    ) -> Result<Versioned<T>, LedgerError> {
        match self.store.replace(path, encode(&value), etag).await? {
            ConditionalWrite::Written { etag } => Ok(Versioned { value, etag }),
            ConditionalWrite::Conflict => Err(LedgerError::Conflict {
                key: path.to_string(),
            }),
        }
    }

    async fn read<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
    ) -> Result<Option<Versioned<T>>, LedgerError> {
        let Some(object) = self.store.get(path).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&object.body).map_err(|err| LedgerError::Corrupt {
            key: path.to_string(),
            problem: err.to_string(),
        })?;
        Ok(Some(Versioned {
            value,
            etag: object.etag,
        }))
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    serde_json::to_vec_pretty(value).expect("ledger records serialize")
}

/// An in-memory [`ObjectStore`] with S3's conditional-write semantics, for unit tests of
/// the decisions. Integration tests use real S3 conditional writes on the emulator.
#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::memory::MemoryStore;
    use crate::model::deployment::{Action, Actor, Channel, State, Trigger};

    fn deployment() -> Deployment {
        let trigger = Trigger::EcrPush {
            event_id: "e1".into(),
            repository: "app".into(),
            tag: "v1".into(),
            digest: "sha256:ab".into(),
            pushed_at: None,
        };
        Deployment {
            image: "app@sha256:ab".into(),
            from_task_definition: "td:1".into(),
            ..Deployment::new("web", "prod", "web", "img-ab", trigger)
        }
    }

    #[tokio::test]
    async fn only_one_claim_wins_and_stale_writes_are_refused() {
        let ledger = Ledger::new(MemoryStore::default());
        let Claim::Claimed(mine) = ledger.claim(deployment()).await.unwrap() else {
            panic!("first claim wins")
        };
        let Claim::Exists(theirs) = ledger.claim(deployment()).await.unwrap() else {
            panic!("second claim loses")
        };
        assert_eq!(theirs.value, mine.value);

        let mut next = mine.value.clone();
        next.advance(State::Rolling, "rolled", Utc::now()).unwrap();
        let saved = ledger.save(&mine, next.clone()).await.unwrap();
        // A second writer holding the old ETag loses.
        assert!(matches!(
            ledger.save(&mine, next).await,
            Err(LedgerError::Conflict { .. })
        ));
        let read = ledger.deployment("web", "img-ab").await.unwrap().unwrap();
        assert_eq!(read.value.state, State::Rolling);
        assert_eq!(read.etag, saved.etag);
    }

    #[test]
    fn an_unsettled_head_holds_others_back_until_its_lease_ends() {
        let now = Utc::now();
        let mut head = Head {
            deployment_id: "a".into(),
            digest: "sha256:a".into(),
            pushed_at: None,
            version: None,
            settled: false,
            lease_until: Some(now + chrono::Duration::seconds(30)),
            updated_at: now,
        };
        assert!(head.holds_back_others(now));
        assert!(!head.holds_back_others(now + chrono::Duration::seconds(31)));
        head.settled = true;
        assert!(!head.holds_back_others(now));
    }

    #[tokio::test]
    async fn the_head_is_compare_and_set() {
        let ledger = Ledger::new(MemoryStore::default());
        let head = Head {
            deployment_id: "a".into(),
            digest: "sha256:a".into(),
            pushed_at: None,
            version: None,
            settled: true,
            lease_until: None,
            updated_at: Utc::now(),
        };
        let first = ledger.set_head("web", None, head.clone()).await.unwrap();
        assert!(matches!(
            ledger.set_head("web", None, head.clone()).await,
            Err(LedgerError::Conflict { .. })
        ));
        ledger
            .set_head(
                "web",
                Some(&first),
                Head {
                    deployment_id: "b".into(),
                    ..head.clone()
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            ledger.set_head("web", Some(&first), head).await,
            Err(LedgerError::Conflict { .. })
        ));
        assert_eq!(
            ledger
                .head("web")
                .await
                .unwrap()
                .unwrap()
                .value
                .deployment_id,
            "b"
        );
    }

    #[test]
    fn two_attempts_on_one_deployment_are_audited_under_two_keys() {
        let d = deployment();
        let at = Utc::now();
        let alice = Actor {
            id: "alice".into(),
            channel: Channel::Web,
            source: None,
        };
        let first = d.attempt(Action::Approve, &alice, "taken", at);
        let second = d.attempt(Action::Approve, &alice, "refused: already approved", at);
        assert_ne!(
            audit_path("web", "k", &first),
            audit_path("web", "k", &second)
        );
    }
}
