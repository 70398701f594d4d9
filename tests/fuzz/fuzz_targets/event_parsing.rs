//! Any bytes as an event, through every parser an event-driven function uses: the ECR
//! push, the S3 upload, ECS's deployment events and operators' requests. None may panic;
//! whatever parses as a deployable push carries a well-formed digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway::input::event::{
    is_operator_request, parse_ecr_event, parse_ecs_event, parse_operator_request, Intent,
};
use slipway::input::source::parse_source_event;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(Intent::Deploy(push)) = parse_ecr_event(&raw) {
        let hex = push.digest.strip_prefix("sha256:").expect("a sha256 digest");
        assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(push.tag.is_ascii() && !push.tag.is_empty() && push.tag.len() <= 128);
    }
    let _ = parse_source_event(&raw);
    let _ = parse_ecs_event(&raw);
    if is_operator_request(&raw) {
        let _ = parse_operator_request(&raw);
    }
});
