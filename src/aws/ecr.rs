use aws_sdk_ecr::types::ImageIdentifier;
use chrono::{DateTime, Utc};

use super::errors::classify;
use crate::ports::{AwsError, AwsErrorKind, Registry};
use crate::source::ImageReference;

pub struct EcrRegistry {
    client: aws_sdk_ecr::Client,
}

impl EcrRegistry {
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        EcrRegistry { client }
    }
}

impl Registry for EcrRegistry {
    async fn image_digest(
        &self,
        account: &str,
        repository: &str,
        reference: &ImageReference,
    ) -> Result<Option<String>, AwsError> {
        let id = match reference {
            ImageReference::Tag(tag) => ImageIdentifier::builder().image_tag(tag),
            ImageReference::Digest(digest) => ImageIdentifier::builder().image_digest(digest),
        };
        let result = self
            .client
            .describe_images()
            .registry_id(account)
            .repository_name(repository)
            .image_ids(id.build())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .image_details()
                .first()
                .and_then(|detail| detail.image_digest())
                .map(str::to_string)),
            Err(err) => {
                let err = classify(
                    "ecr:DescribeImages",
                    err,
                    &["ImageNotFoundException", "RepositoryNotFoundException"],
                );
                match err.kind {
                    AwsErrorKind::NotFound => Ok(None),
                    _ => Err(err),
                }
            }
        }
    }

    async fn image_pushed_at(
        &self,
        account: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<DateTime<Utc>>, AwsError> {
        let result = self
            .client
            .describe_images()
            .registry_id(account)
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err) => {
                let err = classify(
                    "ecr:DescribeImages",
                    err,
                    &["ImageNotFoundException", "RepositoryNotFoundException"],
                );
                return match err.kind {
                    AwsErrorKind::NotFound => Ok(None),
                    _ => Err(err),
                };
            }
        };
        Ok(output
            .image_details()
            .first()
            .and_then(|detail| detail.image_pushed_at())
            .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos())))
    }
}
