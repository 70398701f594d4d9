use aws_sdk_s3::primitives::ByteStream;

use super::errors::classify;
use crate::ports::{
    AwsError, AwsErrorKind, ConditionalWrite, ObjectList, ObjectStore, SourceBucket, SourceObject,
    StoredObject,
};

/// The ledger bucket, with S3's conditional writes as compare-and-set.
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        S3Store { client, bucket }
    }
}

/// ListObjectsV2 returns keys in ascending UTF-8 binary order, 1,000 a page, and a
/// continuation token while more remain (Amazon S3 API Reference, "ListObjectsV2").
/// Needs `s3:ListBucket` on the bucket: the operator's, never a function's grant.
impl ObjectList for S3Store {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify("s3:ListObjectsV2", err, &[]))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_string)),
            );
        }
        Ok(keys)
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, AwsError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err) => {
                let err = classify("s3:GetObject", err, &["NoSuchKey"]);
                return match err.kind {
                    AwsErrorKind::NotFound => Ok(None),
                    _ => Err(err),
                };
            }
        };
        let etag = output.e_tag().unwrap_or_default().to_string();
        let body = output.body.collect().await.map_err(|err| AwsError {
            operation: "s3:GetObject",
            message: format!("reading the body of {key}: {err}"),
            kind: AwsErrorKind::Transient,
        })?;
        Ok(Some(StoredObject {
            body: body.into_bytes().to_vec(),
            etag,
        }))
    }

    /// A 409 ConditionalRequestConflict means another conditional write to the key was in
    /// flight and says nothing about ours: S3 asks for the upload to be retried (S3 API
    /// Reference, PutObject, `If-None-Match`). Taking it as "exists" would let an audit
    /// entry or a claim that was never written count as written.
    async fn create(&self, key: &str, body: Vec<u8>) -> Result<ConditionalWrite, AwsError> {
        for attempt in 0..IN_FLIGHT_ATTEMPTS {
            let request = self.put(key, body.clone()).if_none_match("*");
            match conditional_result(request.send().await)? {
                Conditional::Written(etag) => return Ok(ConditionalWrite::Written { etag }),
                Conditional::Failed => return Ok(ConditionalWrite::Conflict),
                Conditional::InFlight => {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await
                }
            }
        }
        Err(AwsError {
            operation: "s3:PutObject",
            message: format!(
                "{key}: S3 kept answering 409 ConditionalRequestConflict (another write to it in flight); retry later"
            ),
            kind: AwsErrorKind::Transient,
        })
    }

    async fn replace(
        &self,
        key: &str,
        body: Vec<u8>,
        etag: &str,
    ) -> Result<ConditionalWrite, AwsError> {
        let request = self.put(key, body).if_match(etag);
        // On a 409 S3 asks to "fetch the object's ETag and retry" (PutObject, `If-Match`):
        // a conflict is exactly that for the callers, who re-read and decide again.
        Ok(match conditional_result(request.send().await)? {
            Conditional::Written(etag) => ConditionalWrite::Written { etag },
            Conditional::Failed | Conditional::InFlight => ConditionalWrite::Conflict,
        })
    }
}

/// Attempts at an `If-None-Match` write that S3 answers with 409.
const IN_FLIGHT_ATTEMPTS: u32 = 4;

/// What S3 answered a conditional PutObject.
enum Conditional {
    Written(String),
    /// 412 PreconditionFailed: the condition does not hold.
    Failed,
    /// 409 ConditionalRequestConflict: another conditional write was in flight.
    InFlight,
}

impl S3Store {
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
    }
}

/// 412 PreconditionFailed and 409 ConditionalRequestConflict are not modeled errors in
/// the SDK: they are read from the status code.
fn conditional_result(
    result: Result<
        aws_sdk_s3::operation::put_object::PutObjectOutput,
        aws_sdk_s3::error::SdkError<
            aws_sdk_s3::operation::put_object::PutObjectError,
            aws_sdk_ecs::config::http::HttpResponse,
        >,
    >,
) -> Result<Conditional, AwsError> {
    match result {
        Ok(output) => Ok(Conditional::Written(
            output.e_tag().unwrap_or_default().to_string(),
        )),
        Err(err) => match err.raw_response().map(|r| r.status().as_u16()) {
            Some(412) => Ok(Conditional::Failed),
            Some(409) => Ok(Conditional::InFlight),
            _ => Err(classify("s3:PutObject", err, &[])),
        },
    }
}

/// The source bucket: reads exactly the object version an event names.
pub struct S3Sources {
    client: aws_sdk_s3::Client,
}

impl S3Sources {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Sources { client }
    }

    async fn read(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        max_bytes: i64,
    ) -> Result<SourceObject, AwsError> {
        const OPERATION: &str = "s3:GetObject";
        let result = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .version_id(version_id)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err) => {
                let err = classify(OPERATION, err, &["NoSuchKey", "NoSuchVersion"]);
                return match err.kind {
                    AwsErrorKind::NotFound => Ok(SourceObject::Missing),
                    _ => Err(err),
                };
            }
        };
        // The size is known from the headers: refuse before reading the body.
        let size = output.content_length().unwrap_or(0);
        if size > max_bytes {
            return Ok(SourceObject::TooLarge { size });
        }
        let body = output.body.collect().await.map_err(|err| AwsError {
            operation: OPERATION,
            message: format!("reading s3://{bucket}/{key}: {err}"),
            kind: AwsErrorKind::Transient,
        })?;
        Ok(SourceObject::Found {
            body: body.into_bytes().to_vec(),
        })
    }
}

impl SourceBucket for S3Sources {
    async fn read_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
        max_bytes: i64,
    ) -> Result<SourceObject, AwsError> {
        let found = self.read(bucket, key, version_id, max_bytes).await?;
        // S3's own notifications URL-encode keys ("red flower.json" arrives as
        // "red+flower.json"). If the key as given does not exist but its decoded form
        // does, that is the object that was written: same version id, so the same bytes.
        let decoded = percent_encoding::percent_decode_str(&key.replace('+', " "))
            .decode_utf8()
            .map(|k| k.into_owned());
        match (found, decoded) {
            (SourceObject::Missing, Ok(decoded)) if decoded != key => {
                self.read(bucket, &decoded, version_id, max_bytes).await
            }
            (found, _) => Ok(found),
        }
    }
}
