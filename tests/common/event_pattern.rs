//! EventBridge's event-pattern matching, for the tests' stand-in of TestEventPattern (the
//! emulator's answers nothing). The subset Slipway's rules use, as the Amazon EventBridge
//! User Guide, "Creating Amazon EventBridge event patterns" and "Content filtering in
//! Amazon EventBridge event patterns" define it: a pattern's fields must all match; a list
//! matches if any of its values does (an event array matches if any element does);
//! objects nest; `prefix`, `anything-but` and `exists` filter.

use serde_json::Value;

pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(name, wanted)| {
        let value = event.get(name);
        match wanted {
            Value::Object(_) => value.is_some_and(|v| matches(wanted, v)),
            Value::Array(allowed) => allowed.iter().any(|rule| one(rule, value)),
            _ => false,
        }
    })
}

/// One value of a pattern's list against the event's value (absent: `None`).
fn one(rule: &Value, value: Option<&Value>) -> bool {
    if let Some(filter) = rule.as_object() {
        if let Some(exists) = filter.get("exists").and_then(Value::as_bool) {
            return value.is_some() == exists;
        }
        let Some(value) = value else { return false };
        let candidates: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        if let Some(prefix) = filter.get("prefix").and_then(Value::as_str) {
            return candidates
                .iter()
                .any(|v| v.as_str().is_some_and(|s| s.starts_with(prefix)));
        }
        if let Some(excluded) = filter.get("anything-but") {
            let excluded: Vec<&Value> = match excluded {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            return candidates.iter().all(|v| !excluded.contains(v));
        }
        return false;
    }
    match value {
        Some(Value::Array(items)) => items.contains(rule),
        Some(value) => value == rule,
        None => false,
    }
}
