//! Targets configs for the tests, built as JSON values (never by editing strings).

use serde_json::{json, Value};

/// One target: `service` in cluster `prod`, container `app` from repository `app`, with
/// the tag rule `tags` (JSON, e.g. `{"glob": "v*"}`) and `policy`.
pub fn target_value(name: &str, service: &str, tags: &str, policy: &str) -> Value {
    let tags: Value = serde_json::from_str(tags).expect("the tag rule is JSON");
    json!({
        "name": name, "cluster": "prod", "service": service, "containers": ["app"],
        "repository": "app", "tags": tags, "policy": policy,
    })
}

/// [`target_value`] as text, for [`config`].
pub fn target_json(name: &str, service: &str, tags: &str, policy: &str) -> String {
    target_value(name, service, tags, policy).to_string()
}

/// [`target_json`] with some fields set or replaced (`extra` is a JSON object).
pub fn target_json_with(
    name: &str,
    service: &str,
    tags: &str,
    policy: &str,
    extra: Value,
) -> String {
    let mut target = target_value(name, service, tags, policy);
    let fields = target.as_object_mut().unwrap();
    for (key, value) in extra.as_object().expect("extra fields are an object") {
        fields.insert(key.clone(), value.clone());
    }
    target.to_string()
}

/// The config document with these targets (each a JSON object as text).
pub fn config(targets: &[String]) -> String {
    let targets: Vec<Value> = targets
        .iter()
        .map(|t| serde_json::from_str(t).expect("each target is JSON"))
        .collect();
    json!({ "targets": targets }).to_string()
}
