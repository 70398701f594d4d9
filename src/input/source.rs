//! Deploys from uploaded sources: S3 "Object Created" events and the manifests they name.
//!
//! Key convention: `deploy/<target>/[any/folders/]<manifest file>`, where the manifest file
//! is one of `imagedefinitions.json`, `imageDetail.json` or `taskdef.json`; and
//! `deploy/<group>/[any/folders/]release.json`, a release group's release
//! ([`crate::input::release`]). Everything else in the bucket is ignored with a log line.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::input::event::{open_envelope, EventError, Intent};
pub use crate::model::deployment::ManifestKind;
pub use crate::model::image_ref::{ImageRef, ImageReference};

/// Manifests larger than this are refused before their body is read. Real manifests are
/// a few kilobytes; ECS itself caps a task definition at 64 KiB.
pub const MAX_MANIFEST_BYTES: i64 = 256 * 1024;

pub const KEY_PREFIX: &str = "deploy/";

/// The `detail` of an S3 "Object Created" event.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct ObjectCreated {
    pub bucket: Bucket,
    pub object: CreatedObject,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub requester: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct CreatedObject {
    pub key: String,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub etag: Option<String>,
    /// Absent when the bucket is not versioned; Slipway requires versioning.
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub sequencer: Option<String>,
}

/// A manifest uploaded for a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceUploaded {
    pub event_id: String,
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub sequencer: String,
    pub size: Option<i64>,
    /// The target the key names — or, for a `release.json`, the group.
    pub target: String,
    pub kind: ManifestKind,
    pub requester: Option<String>,
}

pub type SourceIntent = Intent<SourceUploaded>;

const S3_SOURCE: &str = "aws.s3";
const OBJECT_CREATED: &str = "Object Created";

/// Reads an EventBridge "Object Created" event and applies the key convention.
pub fn parse_source_event(raw: &Value) -> Result<SourceIntent, EventError> {
    let (id, envelope) = open_envelope::<ObjectCreated>(raw, S3_SOURCE, OBJECT_CREATED)?;
    let detail = envelope.detail;
    let ignore = |reason: String| {
        Ok(SourceIntent::Ignore {
            event_id: id.clone(),
            reason,
        })
    };
    let key = detail.object.key;
    let Some(rest) = key.strip_prefix(KEY_PREFIX) else {
        return ignore(format!("key `{key}` is outside `{KEY_PREFIX}<target>/`"));
    };
    let Some((target, path)) = rest.split_once('/') else {
        return ignore(format!(
            "key `{key}` names no target: use `{KEY_PREFIX}<target>/<manifest>`"
        ));
    };
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let Some(kind) = ManifestKind::from_file_name(file_name) else {
        return ignore(format!(
            "`{file_name}` (key `{key}`) is not a manifest: use imagedefinitions.json, imageDetail.json or taskdef.json (or a group's release.json)"
        ));
    };
    if kind == ManifestKind::Release {
        if !crate::model::group::is_group_name(target) {
            return ignore(format!(
                "key `{key}`: {target:?} cannot be a group name (1-64 letters, digits, '-' or '_')"
            ));
        }
    } else if !crate::input::config::is_target_name(target) {
        return ignore(format!(
            "key `{key}`: {target:?} cannot be a target name (1-64 of a-z, 0-9 and '-')"
        ));
    }
    let target = target.to_string();
    let Some(version_id) = detail
        .object
        .version_id
        .filter(|v| !v.is_empty() && v != "null")
    else {
        return Err(EventError::BadDetail {
            id,
            problem: format!("`{key}` has no version-id: enable versioning on the source bucket"),
        });
    };
    let Some(sequencer) = detail.object.sequencer.filter(|s| !s.is_empty()) else {
        return Err(EventError::BadDetail {
            id,
            problem: format!("`{key}` has no sequencer"),
        });
    };
    Ok(SourceIntent::Deploy(SourceUploaded {
        event_id: id,
        bucket: detail.bucket.name,
        key,
        version_id,
        sequencer,
        size: detail.object.size,
        target,
        kind,
        requester: detail.requester,
    }))
}

pub use crate::model::ordering::compare_sequencers;

/// A manifest that cannot be used; it says what is wrong and how to fix it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("{file} is not valid JSON: {problem}")]
    NotJson { file: &'static str, problem: String },
    #[error("{file}: {problem}")]
    Invalid { file: &'static str, problem: String },
}

/// A container and the image it should run, as a manifest gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerImage {
    pub container: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    /// `imagedefinitions.json`: these containers get these images.
    Images(Vec<ContainerImage>),
    /// `imageDetail.json`: the target's configured containers get this image.
    Image(String),
    /// `taskdef.json`: a whole task definition, in the RegisterTaskDefinition JSON shape.
    TaskDefinition(Value),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageDefinition {
    name: String,
    image_uri: String,
}

#[derive(Deserialize)]
struct ImageDetail {
    #[serde(rename = "ImageURI")]
    image_uri: String,
}

pub fn parse_manifest(kind: ManifestKind, body: &[u8]) -> Result<Manifest, ManifestError> {
    let file = match kind {
        ManifestKind::ImageDefinitions => "imagedefinitions.json",
        ManifestKind::ImageDetail => "imageDetail.json",
        ManifestKind::TaskDefinition => "taskdef.json",
        ManifestKind::Release => "release.json",
    };
    let invalid = |problem: String| ManifestError::Invalid { file, problem };
    let json: Value = serde_json::from_slice(body).map_err(|err| ManifestError::NotJson {
        file,
        problem: err.to_string(),
    })?;
    match kind {
        ManifestKind::ImageDefinitions => {
            let entries: Vec<ImageDefinition> = serde_json::from_value(json).map_err(|err| {
                invalid(format!(
                    "expected [{{\"name\": \"<container>\", \"imageUri\": \"<uri>\"}}, …]: {err}"
                ))
            })?;
            if entries.is_empty() {
                return Err(invalid(
                    "names no container: add {\"name\", \"imageUri\"} entries".into(),
                ));
            }
            let mut images: Vec<ContainerImage> = Vec::with_capacity(entries.len());
            for entry in entries {
                if entry.name.trim().is_empty() || entry.image_uri.trim().is_empty() {
                    return Err(invalid("an entry has an empty name or imageUri".into()));
                }
                if images.iter().any(|i| i.container == entry.name) {
                    return Err(invalid(format!(
                        "container `{}` is named twice",
                        entry.name
                    )));
                }
                images.push(ContainerImage {
                    container: entry.name,
                    image: entry.image_uri,
                });
            }
            Ok(Manifest::Images(images))
        }
        ManifestKind::ImageDetail => {
            let detail: ImageDetail = serde_json::from_value(json)
                .map_err(|err| invalid(format!("expected {{\"ImageURI\": \"<uri>\"}}: {err}")))?;
            if detail.image_uri.trim().is_empty() {
                return Err(invalid("ImageURI is empty".into()));
            }
            Ok(Manifest::Image(detail.image_uri))
        }
        // A group's release is read by `input::release`, never as a target's manifest.
        ManifestKind::Release => Err(invalid(
            "is a release group's release, not a target's manifest".into(),
        )),
        ManifestKind::TaskDefinition => {
            let containers = json
                .get("containerDefinitions")
                .and_then(Value::as_array)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    invalid("has no containerDefinitions: it names no container".into())
                })?;
            for (index, container) in containers.iter().enumerate() {
                let named = container
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty());
                let imaged = container
                    .get("image")
                    .and_then(Value::as_str)
                    .is_some_and(|i| !i.is_empty());
                if !named || !imaged {
                    return Err(invalid(format!(
                        "containerDefinitions[{index}] needs a name and an image"
                    )));
                }
            }
            if json
                .get("family")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(invalid("has no family".into()));
            }
            Ok(Manifest::TaskDefinition(json))
        }
    }
}

/// Whether an image is a placeholder such as `<IMAGE>` or `<APP_IMAGE>` (CodeDeploy's
/// convention), to be filled from what the container runs now.
pub fn is_placeholder(image: &str) -> bool {
    image.len() > 2
        && image.starts_with('<')
        && image.ends_with('>')
        && image[1..image.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;

    fn event(file: &str) -> Value {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn an_upload_under_deploy_names_its_target_and_manifest() {
        let SourceIntent::Deploy(upload) =
            parse_source_event(&event("s3-imagedefinitions.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(upload.target, "web");
        assert_eq!(upload.kind, ManifestKind::ImageDefinitions);
        assert!(!upload.version_id.is_empty());
        for (file, kind) in [
            ("s3-imagedetail.json", ManifestKind::ImageDetail),
            ("s3-taskdef.json", ManifestKind::TaskDefinition),
            ("s3-release.json", ManifestKind::Release),
        ] {
            let SourceIntent::Deploy(upload) = parse_source_event(&event(file)).unwrap() else {
                panic!("{file}")
            };
            assert_eq!(upload.kind, kind, "{file}");
        }
    }

    #[test]
    fn a_release_json_names_a_group_by_the_group_name_rule() {
        let SourceIntent::Deploy(upload) = parse_source_event(&event("s3-release.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (upload.target.as_str(), upload.kind),
            ("shop", ManifestKind::Release)
        );
        let mut raw = event("s3-release.json");
        raw["detail"]["object"]["key"] = Value::from("deploy/Shop_2/release.json");
        assert!(matches!(
            parse_source_event(&raw).unwrap(),
            SourceIntent::Deploy(SourceUploaded { ref target, .. }) if target == "Shop_2"
        ));
        // A group's name, not a target's: an imagedefinitions.json there names no target.
        raw["detail"]["object"]["key"] = Value::from("deploy/Shop_2/imagedefinitions.json");
        assert!(matches!(
            parse_source_event(&raw).unwrap(),
            SourceIntent::Ignore { .. }
        ));
        raw["detail"]["object"]["key"] = Value::from("deploy/sh op/release.json");
        assert!(matches!(
            parse_source_event(&raw).unwrap(),
            SourceIntent::Ignore { .. }
        ));
    }

    #[test]
    fn keys_with_spaces_and_plus_keep_their_folders() {
        let mut raw = event("s3-imagedefinitions.json");
        raw["detail"]["object"]["key"] =
            Value::from("deploy/web/release 7+hotfix/imagedefinitions.json");
        let SourceIntent::Deploy(upload) = parse_source_event(&raw).unwrap() else {
            panic!()
        };
        assert_eq!(
            upload.key,
            "deploy/web/release 7+hotfix/imagedefinitions.json"
        );
        assert_eq!(upload.target, "web");
    }

    #[test]
    fn other_keys_are_ignored_with_a_reason() {
        for key in [
            "readme.txt",
            "deploy/imagedefinitions.json",
            "deploy/web/notes.json",
            "deploy/web/",
        ] {
            let mut raw = event("s3-imagedefinitions.json");
            raw["detail"]["object"]["key"] = Value::from(key);
            let intent = parse_source_event(&raw).unwrap();
            assert!(
                matches!(intent, SourceIntent::Ignore { .. }),
                "{key}: {intent:?}"
            );
        }
    }

    #[test]
    fn an_unversioned_object_is_refused() {
        let mut raw = event("s3-imagedefinitions.json");
        raw["detail"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("version-id");
        let err = parse_source_event(&raw).unwrap_err();
        assert!(err.to_string().contains("enable versioning"), "{err}");
    }

    #[test]
    fn sequencers_compare_after_right_padding() {
        assert_eq!(
            compare_sequencers("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
            Ordering::Less
        );
        assert_eq!(
            compare_sequencers("0055AED6DCD9028", "0055AED6DCD90281E5"),
            Ordering::Less
        );
        assert_eq!(
            compare_sequencers("0056", "0055AED6DCD90281E5"),
            Ordering::Greater
        );
        assert_eq!(compare_sequencers("00aa", "00AA"), Ordering::Equal);
    }

    #[test]
    fn manifests_parse_and_bad_ones_say_why() {
        let images = parse_manifest(
            ManifestKind::ImageDefinitions,
            br#"[{"name": "app", "imageUri": "r/app:v1"}]"#,
        )
        .unwrap();
        assert_eq!(
            images,
            Manifest::Images(vec![ContainerImage {
                container: "app".into(),
                image: "r/app:v1".into()
            }])
        );
        assert_eq!(
            parse_manifest(ManifestKind::ImageDetail, br#"{"ImageURI": "r/app:v1"}"#).unwrap(),
            Manifest::Image("r/app:v1".into())
        );
        let cases: [(ManifestKind, &[u8], &str); 6] = [
            (
                ManifestKind::ImageDefinitions,
                b"{not json",
                "not valid JSON",
            ),
            (ManifestKind::ImageDefinitions, b"[]", "names no container"),
            (
                ManifestKind::ImageDefinitions,
                br#"[{"name": "app"}]"#,
                "imageUri",
            ),
            (
                ManifestKind::ImageDetail,
                br#"{"imageUri": "x"}"#,
                "ImageURI",
            ),
            (
                ManifestKind::TaskDefinition,
                br#"{"family": "web", "containerDefinitions": []}"#,
                "names no container",
            ),
            (
                ManifestKind::TaskDefinition,
                br#"{"containerDefinitions": [{"name": "a", "image": "b"}]}"#,
                "no family",
            ),
        ];
        for (kind, body, expected) in cases {
            let err = parse_manifest(kind, body).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{}: {err}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn placeholders_look_like_angle_bracketed_names() {
        assert!(is_placeholder("<IMAGE>"));
        assert!(is_placeholder("<APP_IMAGE>"));
        assert!(!is_placeholder("<>"));
        assert!(!is_placeholder("app:<tag>"));
    }
}
