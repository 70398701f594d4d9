//! A release group's release manifest: `deploy/<group>/[folders/]release.json` in the
//! source bucket, naming one image per target of the group — for a group whose targets
//! take different repositories, which no single push can release.
//!
//! ```json
//! {"images": {"web": "…/shop-web@sha256:…", "worker": "…/shop-worker:v7"}}
//! ```
//!
//! Every target of the group is named, and nothing else: a release that leaves one out
//! would roll the others with an image nobody released for it. Images are taken as a
//! target's upload takes them (by digest, or an ECR tag resolved at upload).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::input::source::ManifestError;
use crate::model::group::Group;

const FILE: &str = "release.json";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    images: BTreeMap<String, String>,
}

/// The images a `release.json` names, per target, checked against `group`'s targets.
pub fn parse_release(
    group: &Group,
    body: &[u8],
) -> Result<BTreeMap<String, String>, ManifestError> {
    let invalid = |problem: String| ManifestError::Invalid {
        file: FILE,
        problem,
    };
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|err| ManifestError::NotJson {
            file: FILE,
            problem: err.to_string(),
        })?;
    let raw: RawRelease = serde_json::from_value(json).map_err(|err| {
        invalid(format!(
            "expected {{\"images\": {{\"<target>\": \"<image>\", …}}}}: {err}"
        ))
    })?;
    if let Some((target, _)) = raw.images.iter().find(|(_, image)| image.trim().is_empty()) {
        return Err(invalid(format!("the image for {target} is empty")));
    }
    let targets = group.targets();
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !raw.images.contains_key(*t))
        .collect();
    let foreign: Vec<&str> = raw
        .images
        .keys()
        .map(String::as_str)
        .filter(|t| !targets.contains(t))
        .collect();
    if !missing.is_empty() || !foreign.is_empty() {
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("names no image for {}", missing.join(", ")));
        }
        if !foreign.is_empty() {
            problems.push(format!(
                "names {}, which group {} does not roll",
                foreign.join(", "),
                group.name
            ));
        }
        return Err(invalid(format!(
            "{}: a release names one image for each of {} and nothing else",
            problems.join("; "),
            targets.join(", ")
        )));
    }
    Ok(raw.images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::group::OnFailure;

    fn shop() -> Group {
        crate::model::group::spec::example("shop", OnFailure::Stop)
    }

    #[test]
    fn a_release_names_one_image_per_target() {
        let body = br#"{"images": {"web": "web@sha256:aa", "worker": "worker:v7"}}"#;
        let images = parse_release(&shop(), body).unwrap();
        assert_eq!(images["web"], "web@sha256:aa");
        assert_eq!(images["worker"], "worker:v7");
        assert_eq!(images.len(), 2);
    }

    #[test]
    fn a_release_that_leaves_a_target_out_or_adds_one_is_refused_saying_which() {
        let missing = parse_release(&shop(), br#"{"images": {"web": "web@sha256:aa"}}"#)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("names no image for worker"), "{missing}");
        let foreign = parse_release(
            &shop(),
            br#"{"images": {"web": "w@sha256:a", "worker": "k@sha256:b", "api": "a@sha256:c"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            foreign.contains("names api, which group shop does not roll"),
            "{foreign}"
        );
    }

    #[test]
    fn a_release_of_another_shape_is_refused() {
        for (body, says) in [
            (&b"not json"[..], "not valid JSON"),
            (br#"{"web": "web@sha256:aa"}"#, "expected {\"images\""),
            (
                br#"{"images": {"web": "w@sha256:a", "worker": "k@sha256:b"}, "imgaes": {}}"#,
                "unknown field",
            ),
            (
                br#"{"images": {"web": "w@sha256:a", "worker": " "}}"#,
                "the image for worker is empty",
            ),
        ] {
            let err = parse_release(&shop(), body).unwrap_err().to_string();
            assert!(
                err.contains(says),
                "{}: {err}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
