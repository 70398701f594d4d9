//! A release in words, as every view shows it: what was asked for (`app:v1.4.2`, an
//! upload, a rollback) and the digest that makes it exact.

use crate::model::deployment::Deployment;
use crate::model::rollout::{release_name, GoodRelease};

/// `sha256:ab12cd34ef56…`: enough of a digest to tell releases apart in a table.
pub fn short_digest(image: &str) -> String {
    let Some((_, digest)) = image.rsplit_once('@') else {
        return String::new();
    };
    match digest.split_once(':') {
        Some((algorithm, hex)) if hex.len() > 12 => format!("{algorithm}:{}…", &hex[..12]),
        _ => digest.to_string(),
    }
}

/// `app:v1.4.2 @sha256:ab12cd34ef56…`
pub fn words(name: &str, image: &str) -> String {
    match short_digest(image) {
        digest if digest.is_empty() => name.to_string(),
        digest => format!("{name} @{digest}"),
    }
}

pub fn of_deployment(deployment: &Deployment) -> String {
    words(&release_name(deployment), &deployment.image)
}

pub fn of_good(release: &GoodRelease) -> String {
    words(&release.release, &release.image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_names_the_tag_and_the_start_of_the_digest() {
        let image = format!(
            "123.dkr.ecr.us-east-1.amazonaws.com/app@sha256:{}",
            "ab".repeat(32)
        );
        assert_eq!(
            words("app:v1.4.2", &image),
            "app:v1.4.2 @sha256:abababababab…"
        );
        assert_eq!(words("app:v1", "app:v1"), "app:v1", "no digest, no suffix");
    }
}
