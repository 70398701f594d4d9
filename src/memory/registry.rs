//! ECR's images and the source bucket's object versions, in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::model::image_ref::ImageReference;
use crate::ports::{AwsError, ListedImage, Registry, SourceBucket, SourceObject};

#[derive(Default)]
pub struct MemoryRegistry {
    /// (account, repository) → images, oldest first.
    images: Mutex<HashMap<(String, String), Vec<ListedImage>>>,
}

impl MemoryRegistry {
    /// Pushes `digest` to `repository` in `account`, tagged `tag` (moving the tag from any
    /// other image, as ECR does for a mutable tag).
    pub fn push(&self, account: &str, repository: &str, tag: Option<&str>, digest: &str) {
        self.push_at(account, repository, tag, digest, Utc::now());
    }

    /// [`Self::push`], ECR receiving a new digest at `at` (a re-tag keeps the first time,
    /// as ECR does).
    pub fn push_at(
        &self,
        account: &str,
        repository: &str,
        tag: Option<&str>,
        digest: &str,
        at: DateTime<Utc>,
    ) {
        let mut images = self.images.lock().unwrap();
        let listed = images
            .entry((account.to_string(), repository.to_string()))
            .or_default();
        if let Some(tag) = tag {
            for image in listed.iter_mut() {
                image.tags.retain(|t| t != tag);
            }
        }
        match listed.iter_mut().find(|i| i.digest == digest) {
            Some(image) => image.tags.extend(tag.map(str::to_string)),
            None => listed.push(ListedImage {
                digest: digest.to_string(),
                tags: tag.map(str::to_string).into_iter().collect(),
                pushed_at: Some(at),
            }),
        }
    }

    fn find(
        &self,
        account: &str,
        repository: &str,
        matches: impl Fn(&ListedImage) -> bool,
    ) -> Option<ListedImage> {
        let images = self.images.lock().unwrap();
        images
            .get(&(account.to_string(), repository.to_string()))?
            .iter()
            .find(|image| matches(image))
            .cloned()
    }
}

impl Registry for MemoryRegistry {
    async fn image_digest(
        &self,
        account: &str,
        repository: &str,
        reference: &ImageReference,
    ) -> Result<Option<String>, AwsError> {
        let found = match reference {
            ImageReference::Tag(tag) => self.find(account, repository, |i| i.tags.contains(tag)),
            ImageReference::Digest(digest) => {
                self.find(account, repository, |i| &i.digest == digest)
            }
        };
        Ok(found.map(|image| image.digest))
    }

    async fn list_images(
        &self,
        account: &str,
        repository: &str,
    ) -> Result<Vec<ListedImage>, AwsError> {
        let images = self.images.lock().unwrap();
        Ok(images
            .get(&(account.to_string(), repository.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    async fn image_tags(
        &self,
        account: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<Vec<String>>, AwsError> {
        Ok(self
            .find(account, repository, |i| i.digest == digest)
            .map(|image| image.tags))
    }

    async fn image_pushed_at(
        &self,
        account: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<DateTime<Utc>>, AwsError> {
        Ok(self
            .find(account, repository, |i| i.digest == digest)
            .and_then(|image| image.pushed_at))
    }
}

/// The source bucket's object versions.
#[derive(Default)]
pub struct MemorySources {
    versions: Mutex<HashMap<(String, String, String), Vec<u8>>>,
}

impl MemorySources {
    pub fn put(&self, bucket: &str, key: &str, version_id: &str, body: &[u8]) {
        self.versions.lock().unwrap().insert(
            (bucket.to_string(), key.to_string(), version_id.to_string()),
            body.to_vec(),
        );
    }
}

impl SourceBucket for MemorySources {
    async fn read_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        max_bytes: i64,
    ) -> Result<SourceObject, AwsError> {
        let versions = self.versions.lock().unwrap();
        Ok(
            match versions.get(&(bucket.to_string(), key.to_string(), version_id.to_string())) {
                None => SourceObject::Missing,
                Some(body) if body.len() as i64 > max_bytes => SourceObject::TooLarge {
                    size: body.len() as i64,
                },
                Some(body) => SourceObject::Found { body: body.clone() },
            },
        )
    }
}
