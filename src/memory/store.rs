//! The ledger's object store in memory, with S3's conditional writes: `If-None-Match: *`
//! creates only a missing object, `If-Match` replaces only the version read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::ports::{AwsError, ConditionalWrite, ObjectList, ObjectStore, StoredObject};

#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<HashMap<String, (Vec<u8>, u64)>>,
    next_etag: AtomicU64,
    calls: AtomicUsize,
    log: Mutex<Vec<(u64, String)>>,
}

impl MemoryStore {
    /// Every call so far (reads and writes): what BENCHMARKS.md counts as ledger calls.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Every call so far, in order: when ([`super::tick`]) and what (`GET key`,
    /// `PUT key If-None-Match`, `PUT key If-Match`).
    pub fn log(&self) -> Vec<(u64, String)> {
        self.log.lock().unwrap().clone()
    }

    /// The keys stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.objects.lock().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// An object's body as JSON.
    pub fn json(&self, key: &str) -> Option<serde_json::Value> {
        let objects = self.objects.lock().unwrap();
        let (body, _) = objects.get(key)?;
        serde_json::from_slice(body).ok()
    }

    fn etag(&self) -> String {
        self.next_etag.fetch_add(1, Ordering::SeqCst).to_string()
    }

    fn counted(&self, call: String) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push((super::tick(), call));
    }
}

impl ObjectList for MemoryStore {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        self.counted(format!("LIST {prefix}"));
        Ok(self
            .keys()
            .into_iter()
            .filter(|key| key.starts_with(prefix))
            .collect())
    }
}

impl ObjectStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, AwsError> {
        self.counted(format!("GET {key}"));
        let objects = self.objects.lock().unwrap();
        Ok(objects.get(key).map(|(body, etag)| StoredObject {
            body: body.clone(),
            etag: etag.to_string(),
        }))
    }

    async fn create(&self, key: &str, body: Vec<u8>) -> Result<ConditionalWrite, AwsError> {
        self.counted(format!("PUT {key} If-None-Match"));
        let mut objects = self.objects.lock().unwrap();
        if objects.contains_key(key) {
            return Ok(ConditionalWrite::Conflict);
        }
        let etag = self.etag();
        objects.insert(key.to_string(), (body, etag.parse().unwrap()));
        Ok(ConditionalWrite::Written { etag })
    }

    async fn replace(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> Result<ConditionalWrite, AwsError> {
        self.counted(format!("PUT {key} If-Match"));
        let mut objects = self.objects.lock().unwrap();
        match objects.get(key) {
            Some((_, current)) if current.to_string() == etag => {
                let etag = self.etag();
                objects.insert(key.to_string(), (body, etag.parse().unwrap()));
                Ok(ConditionalWrite::Written { etag })
            }
            _ => Ok(ConditionalWrite::Conflict),
        }
    }
}

/// One store behind two deployers — another Slipway's ledger, which this one reads as a
/// remote upstream's (`Deployer::with_remote_ledger`) — as two accounts read one bucket.
impl<S: ObjectStore> ObjectStore for std::sync::Arc<S> {
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, AwsError> {
        (**self).get(key).await
    }

    async fn create(&self, key: &str, body: Vec<u8>) -> Result<ConditionalWrite, AwsError> {
        (**self).create(key, body).await
    }

    async fn replace(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> Result<ConditionalWrite, AwsError> {
        (**self).replace(key, body, etag).await
    }
}
