//! Reading and conditionally writing a target's document: the one compare-and-set loop
//! over it, the migration from the layout before it, and the last version this process
//! saw (which saves a GET before a write, never replaces one before a decision).
use std::collections::HashMap;
use std::sync::Mutex;

use super::target_record::TargetRecord;
use super::{
    encode, head_path, legacy_source_head_path, rollouts_path, target_path, Change, LedgerError,
};
use crate::model::rollout::Rollouts;
use crate::model::target::{Head, SourceHead};
use crate::ports::{ConditionalWrite, ObjectStore};

/// A target's document as read, with the ETag that guards the next write (`None`: the
/// document does not exist yet, and the next write creates it).
#[derive(Debug, Clone, Default)]
pub struct TargetRead {
    pub record: TargetRecord,
    pub etag: Option<String>,
}

/// The last version of each target's document this process read or wrote.
#[derive(Default)]
pub(super) struct Seen(Mutex<HashMap<String, TargetRead>>);

impl Seen {
    pub(super) fn get(&self, target: &str) -> Option<TargetRead> {
        self.0.lock().ok()?.get(target).cloned()
    }

    pub(super) fn remember(&self, target: &str, read: &TargetRead) {
        if let Ok(mut seen) = self.0.lock() {
            seen.insert(target.to_string(), read.clone());
        }
    }
}

/// What [`update_target`] did.
pub enum TargetUpdate<R> {
    Written(Box<TargetRead>),
    Left(R),
}

/// Reads the target's document. A target written by the layout before it (its head and
/// rollouts in objects of their own) is read from those, once: the first write creates
/// the document from them.
pub(super) async fn read_target<S: ObjectStore>(
    store: &S,
    target: &str,
) -> Result<TargetRead, LedgerError> {
    if let Some(object) = store.get(&target_path(target)).await? {
        let record = decode(&target_path(target), &object.body)?;
        return Ok(TargetRead {
            record,
            etag: Some(object.etag),
        });
    }
    let (head_path, rollouts_path) = (head_path(target), rollouts_path(target));
    let (head, rollouts) = futures::try_join!(
        read_object::<S, Head>(store, &head_path),
        read_object::<S, Rollouts>(store, &rollouts_path),
    )?;
    let legacy = head.is_some() || rollouts.is_some();
    Ok(TargetRead {
        record: TargetRecord {
            head,
            rollouts,
            legacy,
            ..TargetRecord::default()
        },
        etag: None,
    })
}

/// A source head of the layout before the document, if the document came from it and
/// does not hold that key yet.
pub(super) async fn legacy_source_head<S: ObjectStore>(
    store: &S,
    read: &TargetRead,
    target: &str,
    key: &str,
) -> Result<Option<SourceHead>, LedgerError> {
    if !read.record.legacy || read.record.sources.contains_key(key) {
        return Ok(None);
    }
    read_object(store, &legacy_source_head_path(target, key)).await
}

/// Writes `record` if the document is still as `base` read it.
pub(super) async fn write_target<S: ObjectStore>(
    store: &S,
    target: &str,
    base: &TargetRead,
    record: TargetRecord,
) -> Result<TargetRead, LedgerError> {
    let path = target_path(target);
    let body = encode(&record);
    let written = match &base.etag {
        Some(etag) => store.replace(&path, body, etag).await?,
        None => store.create(&path, body).await?,
    };
    match written {
        ConditionalWrite::Written { etag } => Ok(TargetRead {
            record,
            etag: Some(etag),
        }),
        ConditionalWrite::Conflict => Err(LedgerError::Conflict { key: path }),
    }
}

/// The one compare-and-set loop over a target's document: decides on the document as
/// `base` holds it, writes the decision with `If-Match` (`If-None-Match: *` for a new
/// document), and on a conflict re-reads and decides again, at most `attempts` times.
pub(super) async fn update_target<S, R, E, F>(
    store: &S,
    seen: &Seen,
    target: &str,
    mut base: TargetRead,
    attempts: usize,
    mut decide: F,
) -> Result<TargetUpdate<R>, E>
where
    S: ObjectStore,
    F: FnMut(&TargetRead) -> Result<Change<TargetRecord, R>, E>,
    E: From<LedgerError>,
{
    for attempt in 1..=attempts {
        let next = match decide(&base)? {
            Change::Leave(answer) => return Ok(TargetUpdate::Left(answer)),
            Change::Write(next) => next,
        };
        match Box::pin(write_target(store, target, &base, next)).await {
            Ok(written) => {
                seen.remember(target, &written);
                return Ok(TargetUpdate::Written(Box::new(written)));
            }
            Err(LedgerError::Conflict { .. }) if attempt < attempts => {
                base = Box::pin(read_target(store, target)).await?;
                seen.remember(target, &base);
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(LedgerError::Conflict {
        key: target_path(target),
    }
    .into())
}

pub(super) async fn read_object<S: ObjectStore, T: serde::de::DeserializeOwned>(
    store: &S,
    path: &str,
) -> Result<Option<T>, LedgerError> {
    let Some(object) = store.get(path).await? else {
        return Ok(None);
    };
    decode(path, &object.body).map(Some)
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    path: &str,
    body: &[u8],
) -> Result<T, LedgerError> {
    serde_json::from_slice(body).map_err(|err| LedgerError::Corrupt {
        key: path.to_string(),
        problem: err.to_string(),
    })
}
