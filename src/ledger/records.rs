//! Where each record lives, and its compare-and-set there: a part of the target's
//! document (compared part by part, so that a write to another part is no conflict), or
//! an object of its own; and the move of a finished deployment to its own object.
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use super::document::{legacy_source_head, TargetUpdate};
use super::{
    awaiting_path, deployment_path, encode, group_line_path, group_run_path, target_path,
    waiting_path, Change, Home, Ledger, LedgerError, Part, Record, TargetRead, Versioned,
};
use crate::model::deployment::Deployment;
use crate::ports::{ConditionalWrite, ObjectStore};

impl Record<'_> {
    /// The object the record lives in (for a deployment: once finished).
    pub fn path(&self) -> String {
        match *self {
            Record::Deployment { target, key } => deployment_path(target, key),
            Record::Awaiting { target } => awaiting_path(target),
            Record::Waiting { target } => waiting_path(target),
            Record::GroupRun { group, run } => group_run_path(group, run),
            Record::GroupLine { group } => group_line_path(group),
            Record::Head { target }
            | Record::Rollouts { target }
            | Record::Source { target, .. } => target_path(target),
        }
    }

    fn in_target(&self) -> Option<(&str, Part<'_>)> {
        match *self {
            Record::Head { target } => Some((target, Part::Head)),
            Record::Rollouts { target } => Some((target, Part::Rollouts)),
            Record::Source { target, key } => Some((target, Part::Source(key))),
            Record::Deployment { target, key } => Some((target, Part::Deployment(key))),
            Record::Awaiting { .. }
            | Record::Waiting { .. }
            | Record::GroupRun { .. }
            | Record::GroupLine { .. } => None,
        }
    }
}

/// How often a part's write re-reads the document when another part changed meanwhile.
const PART_ATTEMPTS: usize = 10;

impl<S: ObjectStore> Ledger<S> {
    /// The record as it stands. A deployment is looked for in its own object first (where
    /// it is once finished), then in the target's document.
    pub(super) async fn read<T: DeserializeOwned>(
        &self,
        record: Record<'_>,
    ) -> Result<Option<Versioned<T>>, LedgerError> {
        if matches!(
            record,
            Record::Deployment { .. }
                | Record::Awaiting { .. }
                | Record::Waiting { .. }
                | Record::GroupRun { .. }
                | Record::GroupLine { .. }
        ) {
            if let Some(own) = Box::pin(self.read_own(&record.path())).await? {
                return Ok(Some(own));
            }
        }
        let Some((target, part)) = record.in_target() else {
            return Ok(None);
        };
        let read = self.target(target).await?;
        let value = match self.current_part(&read, target, part).await? {
            Some(value) => value,
            // It may have moved to its own object between the two reads.
            None if matches!(record, Record::Deployment { .. }) => {
                return Box::pin(self.read_own(&record.path())).await
            }
            None => return Ok(None),
        };
        let value = serde_json::from_value(value).map_err(|err| LedgerError::Corrupt {
            key: target_path(target),
            problem: err.to_string(),
        })?;
        Ok(Some(Versioned::in_target(value, &read)))
    }

    /// Writes `value` if the record is still what `read` holds (`None`: still absent).
    pub(super) async fn compare_and_set<T: Serialize>(
        &self,
        record: Record<'_>,
        read: Option<&Versioned<T>>,
        value: T,
    ) -> Result<Versioned<T>, LedgerError> {
        let own = match (record, read) {
            (
                Record::Awaiting { .. }
                | Record::Waiting { .. }
                | Record::GroupRun { .. }
                | Record::GroupLine { .. },
                _,
            ) => true,
            (Record::Deployment { .. }, Some(read)) => read.home == Home::Object,
            _ => false,
        };
        if own {
            return Box::pin(self.set_own(&record.path(), read, value)).await;
        }
        let (target, part) = record.in_target().expect(
            "only the pointers and group runs have none, and they are objects of their own",
        );
        let written = Box::pin(self.set_part(target, part, read, &value)).await?;
        if let Part::Deployment(key) = part {
            let finished: Deployment =
                serde_json::from_value(to_json(&value)).map_err(|err| LedgerError::Corrupt {
                    key: target_path(target),
                    problem: err.to_string(),
                })?;
            if finished.state.is_terminal() {
                let before = read.map(|r| to_json(&r.value));
                return Box::pin(self.move_to_own(target, key, before, value, written)).await;
            }
        }
        Ok(Versioned::in_target(value, &written))
    }

    /// The part as the document holds it; for a document migrated from the earlier
    /// layout, a source head not moved into it yet is read from its own object.
    async fn current_part(
        &self,
        read: &TargetRead,
        target: &str,
        part: Part<'_>,
    ) -> Result<Option<Value>, LedgerError> {
        if let Some(value) = read.record.get(part) {
            return Ok(Some(value));
        }
        match part {
            Part::Source(key) => Ok(legacy_source_head(&self.store, read, target, key)
                .await?
                .map(|head| to_json(&head))),
            _ => Ok(None),
        }
    }

    /// The part's compare-and-set: the document is written with `If-Match`, and when it
    /// changed meanwhile, the write is tried again on the new version as long as this part
    /// is still what the caller read.
    async fn set_part<T: Serialize>(
        &self,
        target: &str,
        part: Part<'_>,
        read: Option<&Versioned<T>>,
        value: &T,
    ) -> Result<TargetRead, LedgerError> {
        let expected = read.map(|r| to_json(&r.value));
        let next = to_json(value);
        let base = match read.and_then(|r| self.seen_at(target, &r.etag)) {
            Some(seen) => seen,
            None => self.target(target).await?,
        };
        let legacy = match part {
            Part::Source(_) => self.current_part(&base, target, part).await?,
            _ => None,
        };
        let conflict = || LedgerError::Conflict {
            key: target_path(target),
        };
        let updated = self
            .update_target(target, Some(base), PART_ATTEMPTS, |base| {
                let current = base.record.get(part).or_else(|| legacy.clone());
                if current != expected {
                    return Err(conflict());
                }
                let mut record = base.record.clone();
                record
                    .set(part, next.clone())
                    .map_err(|err| LedgerError::Corrupt {
                        key: target_path(target),
                        problem: err.to_string(),
                    })?;
                Ok(Change::<_, ()>::Write(record))
            })
            .await?;
        match updated {
            TargetUpdate::Written(written) => Ok(*written),
            TargetUpdate::Left(()) => Err(conflict()),
        }
    }

    /// A deployment just written in its final state (in the document, `written`) moves to
    /// its own object, and the document remembers it as finished. Readers look in the
    /// object first, so an attempt that stops between the writes leaves nothing they could
    /// read wrong; one that fails on a store error has still made its change (the document
    /// holds it), and the move happens with the deployment's next change.
    async fn move_to_own<T: Serialize>(
        &self,
        target: &str,
        key: &str,
        before: Option<Value>,
        value: T,
        written: TargetRead,
    ) -> Result<Versioned<T>, LedgerError> {
        let moved = to_json(&value);
        let etag = match Box::pin(self.put_own(target, key, before, &moved)).await {
            Ok(etag) => etag,
            Err(LedgerError::Store(_)) => return Ok(Versioned::in_target(value, &written)),
            Err(err) => return Err(err),
        };
        // Best effort: a deployment left in the document is found in its object first.
        let _ = self
            .update_target(target, None, PART_ATTEMPTS, |read| {
                // A change made to the document's copy since is moved by its own writer.
                if read.record.get(Part::Deployment(key)).as_ref() != Some(&moved) {
                    return Ok::<_, LedgerError>(Change::Leave(()));
                }
                let mut record = read.record.clone();
                record.retire(key);
                Ok(Change::Write(record))
            })
            .await;
        Ok(Versioned {
            value,
            etag,
            home: Home::Object,
        })
    }

    /// Creates the deployment's own object; one that exists already (left by a move that
    /// stopped before retiring the document's copy, or made by a writer of the same change
    /// meanwhile) is replaced only if it still holds what this change started from.
    async fn put_own(
        &self,
        target: &str,
        key: &str,
        before: Option<Value>,
        moved: &Value,
    ) -> Result<String, LedgerError> {
        let path = deployment_path(target, key);
        let body = serde_json::to_vec_pretty(moved).expect("ledger records serialize");
        if let ConditionalWrite::Written { etag } = self.store.create(&path, body.clone()).await? {
            return Ok(etag);
        }
        let conflict = || LedgerError::Conflict { key: path.clone() };
        let existing = self.store.get(&path).await?.ok_or_else(conflict)?;
        let held: Value = super::document::decode(&path, &existing.body)?;
        if held == *moved {
            return Ok(existing.etag);
        }
        if Some(&held) != before.as_ref() {
            return Err(conflict());
        }
        match self.store.replace(&path, body, &existing.etag).await? {
            ConditionalWrite::Written { etag } => Ok(etag),
            ConditionalWrite::Conflict => Err(conflict()),
        }
    }

    pub(super) async fn read_own<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<Versioned<T>>, LedgerError> {
        let Some(object) = self.store.get(path).await? else {
            return Ok(None);
        };
        let value = super::document::decode(path, &object.body)?;
        Ok(Some(Versioned {
            value,
            etag: object.etag,
            home: Home::Object,
        }))
    }

    async fn set_own<T: Serialize>(
        &self,
        path: &str,
        read: Option<&Versioned<T>>,
        value: T,
    ) -> Result<Versioned<T>, LedgerError> {
        let written = match read {
            Some(current) => {
                self.store
                    .replace(path, encode(&value), &current.etag)
                    .await?
            }
            None => self.store.create(path, encode(&value)).await?,
        };
        match written {
            ConditionalWrite::Written { etag } => Ok(Versioned {
                value,
                etag,
                home: Home::Object,
            }),
            ConditionalWrite::Conflict => Err(LedgerError::Conflict {
                key: path.to_string(),
            }),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    // Serializing these plain structs cannot fail.
    serde_json::to_value(value).expect("ledger records serialize")
}
