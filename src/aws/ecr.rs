use aws_sdk_ecr::types::{ImageDetail, ImageIdentifier};
use chrono::{DateTime, Utc};

use super::errors::classify;
use crate::input::source::ImageReference;
use crate::ports::{AwsError, AwsErrorKind, ListedImage, Registry};

pub struct EcrRegistry {
    client: aws_sdk_ecr::Client,
}

impl EcrRegistry {
    pub fn new(client: aws_sdk_ecr::Client) -> Self {
        EcrRegistry { client }
    }

    /// One image's details; `None` if ECR has no such image or repository.
    async fn describe(
        &self,
        account: &str,
        repository: &str,
        id: ImageIdentifier,
    ) -> Result<Option<ImageDetail>, AwsError> {
        let result = self
            .client
            .describe_images()
            .registry_id(account)
            .repository_name(repository)
            .image_ids(id)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .image_details
                .and_then(|details| details.into_iter().next())),
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
}

impl Registry for EcrRegistry {
    async fn list_images(
        &self,
        account: &str,
        repository: &str,
    ) -> Result<Vec<ListedImage>, AwsError> {
        let mut pages = self
            .client
            .describe_images()
            .registry_id(account)
            .repository_name(repository)
            .into_paginator()
            .send();
        let mut images = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify("ecr:DescribeImages", err, &[]))?;
            for detail in page.image_details() {
                let Some(digest) = detail.image_digest() else {
                    continue;
                };
                images.push(ListedImage {
                    digest: digest.to_string(),
                    tags: detail.image_tags().to_vec(),
                    pushed_at: detail
                        .image_pushed_at()
                        .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos())),
                });
            }
        }
        Ok(images)
    }

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
        let detail = self.describe(account, repository, id.build()).await?;
        Ok(detail.and_then(|detail| detail.image_digest))
    }

    async fn image_tags(
        &self,
        account: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<Vec<String>>, AwsError> {
        let id = ImageIdentifier::builder().image_digest(digest).build();
        let detail = self.describe(account, repository, id).await?;
        Ok(detail.map(|detail| detail.image_tags().to_vec()))
    }

    async fn image_pushed_at(
        &self,
        account: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<DateTime<Utc>>, AwsError> {
        let id = ImageIdentifier::builder().image_digest(digest).build();
        let detail = self.describe(account, repository, id).await?;
        Ok(detail
            .and_then(|detail| detail.image_pushed_at)
            .and_then(|at| DateTime::from_timestamp(at.secs(), at.subsec_nanos())))
    }
}
