//! Any bytes as each kind of deploy manifest (imagedefinitions.json, imageDetail.json,
//! taskdef.json): an error or a manifest, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway::input::source::{parse_manifest, ManifestKind};

fuzz_target!(|data: &[u8]| {
    for kind in [
        ManifestKind::ImageDefinitions,
        ManifestKind::ImageDetail,
        ManifestKind::TaskDefinition,
    ] {
        let _ = parse_manifest(kind, data);
    }
});
