//! Events in the shapes AWS sends, made from the fixtures in `events/` (each of which a
//! test parses) with the fields a test varies.

use serde_json::Value;

/// The ECR push event from `events/`, for this digest and tag, as EventBridge sends it.
pub fn push_event(id: &str, tag: Option<&str>, digest: &str) -> Value {
    let path = format!("{}/events/ecr-push.json", env!("CARGO_MANIFEST_DIR"));
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["id"] = Value::from(id);
    event["detail"]["image-digest"] = Value::from(digest);
    match tag {
        Some(tag) => event["detail"]["image-tag"] = Value::from(tag),
        None => {
            event["detail"].as_object_mut().unwrap().remove("image-tag");
        }
    }
    event
}
