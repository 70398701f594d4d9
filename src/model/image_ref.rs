//! The one image-reference type: `[registry/]repository[:tag][@digest]`, as Docker and
//! OCI write them (the OCI distribution spec's name, tag and digest). Every part of
//! Slipway that splits an image reference does it here, so `app:v1@sha256:…` is the
//! repository `app` pinned to a digest everywhere, never a repository named `app:v1`.
//! Plain data: imports nothing from the rest of the crate.

/// The parts of a reference, borrowed from it: the name (registry and repository), and the
/// tag and digest if it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits without validating (see [`ImageRef::parse`] for that): a digest follows `@`;
/// a colon after the last slash separates the tag (a colon before it is a registry port).
pub fn split(uri: &str) -> Parts<'_> {
    let (rest, digest) = match uri.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (uri, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(colon) => Parts {
            name: &rest[..slash + colon],
            tag: Some(&rest[slash + colon + 1..]),
            digest,
        },
        None => Parts {
            name: rest,
            tag: None,
            digest,
        },
    }
}

/// The digest a reference is pinned to, if any.
pub fn digest_of(uri: &str) -> Option<&str> {
    split(uri).digest
}

/// A `sha256:` digest as registries write it: 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// An image reference, split so that a tag can be resolved to a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub reference: ImageReference,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageReference {
    Tag(String),
    Digest(String),
}

impl ImageRef {
    pub fn parse(uri: &str) -> Result<ImageRef, String> {
        let Parts { name, tag, digest } = split(uri);
        let reference = match (digest, tag) {
            (Some(digest), _) if !is_sha256_digest(digest) => {
                return Err(format!("`{uri}`: `{digest}` is not a sha256 digest"))
            }
            // With both, the digest decides which image runs; the tag is a label.
            (Some(digest), _) => ImageReference::Digest(digest.to_string()),
            (None, Some(tag)) => ImageReference::Tag(tag.to_string()),
            (None, None) => ImageReference::Tag("latest".to_string()),
        };
        let (registry, repository) = name
            .split_once('/')
            .filter(|(registry, _)| registry.contains('.') || registry.contains(':'))
            .map(|(r, p)| (r.to_string(), p.to_string()))
            .unwrap_or_else(|| ("docker.io".to_string(), name.to_string()));
        if repository.is_empty() {
            return Err(format!("`{uri}` names no repository"));
        }
        Ok(ImageRef {
            registry,
            repository,
            reference,
        })
    }

    /// `(account, region)` when the registry is a private ECR registry.
    pub fn ecr_registry(&self) -> Option<(String, String)> {
        let rest = self.registry.strip_suffix(".amazonaws.com")?;
        let (account, region) = rest.split_once(".dkr.ecr.")?;
        (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
            .then(|| (account.to_string(), region.to_string()))
    }

    pub fn pinned(&self, digest: &str) -> String {
        format!("{}/{}@{}", self.registry, self.repository, digest)
    }
}

/// An ECR repository, fully qualified so that a push from another account or region with
/// the same repository name never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryRef {
    pub account: String,
    pub region: String,
    pub name: String,
}

impl RepositoryRef {
    /// The registry host, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`.
    pub fn registry(&self) -> String {
        format!("{}.dkr.ecr.{}.amazonaws.com", self.account, self.region)
    }

    /// The immutable reference a task definition should run: `<registry>/<name>@<digest>`.
    pub fn image_uri(&self, digest: &str) -> String {
        format!("{}/{}@{}", self.registry(), self.name, digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_registry_repository_and_tag_or_digest() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let ecr = ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1.4.2")
            .unwrap();
        assert_eq!(ecr.repository, "team/app");
        assert_eq!(ecr.reference, ImageReference::Tag("v1.4.2".into()));
        assert_eq!(
            ecr.ecr_registry(),
            Some(("123456789012".into(), "us-east-1".into()))
        );
        let pinned = ImageRef::parse(&format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{digest}"
        ))
        .unwrap();
        assert_eq!(pinned.reference, ImageReference::Digest(digest.clone()));
        let port = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!(
            (port.registry.as_str(), port.reference),
            ("localhost:5000", ImageReference::Tag("latest".into()))
        );
        assert_eq!(ImageRef::parse("nginx:1.27").unwrap().ecr_registry(), None);
        assert!(ImageRef::parse("app@sha256:short").is_err());
    }

    #[test]
    fn a_tag_and_a_digest_together_name_the_repository_pinned_to_the_digest() {
        let digest = format!("sha256:{}", "b".repeat(64));
        let uri = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1@{digest}");
        let image = ImageRef::parse(&uri).unwrap();
        assert_eq!(image.repository, "app");
        assert_eq!(image.reference, ImageReference::Digest(digest.clone()));
        assert_eq!(
            split(&uri),
            Parts {
                name: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
                tag: Some("v1"),
                digest: Some(digest.as_str()),
            }
        );
        assert_eq!(digest_of(&uri), Some(digest.as_str()));
        assert_eq!(digest_of("localhost:5000/app:v1"), None);
        assert_eq!(split("localhost:5000/app").name, "localhost:5000/app");
    }
}
