//! Where a function reads the targets config at cold start.
//!
//! On AWS: one object in the ledger bucket, pinned by version (`SLIPWAY_CONFIG_S3` =
//! `s3://<bucket>/<key>`, `SLIPWAY_CONFIG_VERSION`), which Terraform writes. A Lambda
//! function's environment variables are 4 KB in all (Lambda Developer Guide, "Working with
//! Lambda environment variables"): about a dozen targets inline would not fit. Pinning
//! the version keeps every sandbox of one function version on the config Terraform
//! applied with it; a new config is a new version id in the environment, so Lambda starts
//! fresh sandboxes instead of mixing old and new.
//!
//! Locally and in tests the config may still be given inline (`SLIPWAY_CONFIG`) or as a
//! file (`SLIPWAY_CONFIG_FILE`). Whatever the source, an invalid config stops the cold
//! start, and the log says which config was loaded.

use sha2::{Digest, Sha256};
use tracing::info;

use super::StartupError;
use crate::input::config::{Config, Home};

/// The largest config object read (far above any real config; a wrong key pointing at a
/// big object must not fill the function's memory).
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

pub async fn load(s3: &aws_sdk_s3::Client, home: &Home) -> Result<Config, StartupError> {
    let Some(uri) = std::env::var("SLIPWAY_CONFIG_S3")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        let config = Config::from_env(home)?;
        info!(
            source = "environment",
            targets = config.targets.len(),
            "config loaded from SLIPWAY_CONFIG / SLIPWAY_CONFIG_FILE"
        );
        return Ok(config);
    };
    let version = std::env::var("SLIPWAY_CONFIG_VERSION")
        .ok()
        .filter(|v| !v.is_empty());
    config_from_object(s3, home, &uri, version).await
}

/// Reads and validates the config object at `uri` (`s3://<bucket>/<key>`), exactly
/// `version` when given.
pub async fn config_from_object(
    s3: &aws_sdk_s3::Client,
    home: &Home,
    uri: &str,
    version: Option<String>,
) -> Result<Config, StartupError> {
    let uri = uri.to_string();
    let (bucket, key) = parse_uri(&uri).ok_or_else(|| StartupError::ConfigObject {
        uri: uri.clone(),
        message: "SLIPWAY_CONFIG_S3 must look like s3://<bucket>/<key>".into(),
    })?;
    let failed = |message: String| StartupError::ConfigObject {
        uri: uri.clone(),
        message,
    };
    let answer = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.clone())
        .send()
        .await
        .map_err(|err| {
            failed(format!(
                "{}; check that Terraform wrote it and that the function may s3:GetObjectVersion it",
                aws_sdk_s3::error::DisplayErrorContext(&err)
            ))
        })?;
    if answer.content_length().unwrap_or_default() as usize > MAX_CONFIG_BYTES {
        return Err(failed(format!(
            "the object is larger than {MAX_CONFIG_BYTES} bytes: not a targets config"
        )));
    }
    let loaded_version = answer.version_id().map(str::to_string).or(version);
    let body = answer
        .body
        .collect()
        .await
        .map_err(|err| failed(format!("reading it: {err}")))?
        .into_bytes();
    let text = std::str::from_utf8(&body).map_err(|_| failed("it is not UTF-8 text".into()))?;
    let config = Config::from_json(text, home)?;
    info!(
        source = uri,
        version = loaded_version.as_deref().unwrap_or("(unversioned)"),
        sha256 = &hex::encode(Sha256::digest(&body))[..12],
        targets = config.targets.len(),
        "config loaded"
    );
    Ok(config)
}

fn parse_uri(uri: &str) -> Option<(&str, &str)> {
    let (bucket, key) = uri.strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_uri_names_a_bucket_and_a_key() {
        assert_eq!(
            parse_uri("s3://slipway-ledger-1/config/targets.json"),
            Some(("slipway-ledger-1", "config/targets.json"))
        );
        for bad in [
            "slipway/config.json",
            "s3://bucket",
            "s3:///key",
            "s3://bucket/",
        ] {
            assert_eq!(parse_uri(bad), None, "{bad}");
        }
    }
}
