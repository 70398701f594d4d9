use chrono::Duration;
use serde_json::{json, Value};

use crate::input::config::{Config, ConfigError, Home};
use crate::model::group::{OnFailure, Step};

fn target(name: &str) -> Value {
    json!({"name": name, "cluster": "prod", "service": name, "containers": ["app"],
           "repository": name, "tags": {"glob": "v*"}, "policy": "auto"})
}

fn with_groups(groups: Value) -> Result<Config, ConfigError> {
    let doc = json!({"targets": [target("web"), target("worker")], "groups": groups});
    let home = Home {
        account: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    Config::from_json(&doc.to_string(), &home)
}

fn migrate(changes: Value) -> Value {
    let mut task = json!({"name": "migrate", "target": "web", "container": "app",
                          "command": ["./manage", "migrate"], "timeout": "15m"});
    for (k, v) in changes.as_object().unwrap() {
        task[k] = v.clone();
    }
    json!({"task": task})
}

fn shop(steps: Value) -> Value {
    json!([{"name": "shop", "steps": steps}])
}

fn refused(groups: Value) -> String {
    with_groups(groups).unwrap_err().to_string()
}

#[test]
fn a_group_reads_as_ordered_steps_that_stop_on_failure_by_default() {
    let config = with_groups(shop(
        json!([migrate(json!({})), {"service": "worker"}, {"service": "web"}]),
    ))
    .unwrap();
    let group = &config.groups[0];
    assert_eq!(group.on_failure, OnFailure::Stop);
    assert_eq!(
        group.steps[0],
        Step::Task {
            name: "migrate".into(),
            target: "web".into(),
            container: "app".into(),
            command: vec!["./manage".into(), "migrate".into()],
            timeout: Duration::minutes(15),
        }
    );
    assert_eq!(group.steps[1].name(), "worker");
    assert_eq!(group.targets(), ["web", "worker"]);
    let rollback = with_groups(json!([{"name": "shop", "on_failure": "rollback-completed",
                                       "steps": [{"service": "web"}]}]))
    .unwrap();
    assert_eq!(rollback.groups[0].on_failure, OnFailure::RollbackCompleted);
}

#[test]
fn a_config_without_groups_has_none() {
    let doc = json!({"targets": [target("web")]});
    let home = Home {
        account: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    assert!(Config::from_json(&doc.to_string(), &home)
        .unwrap()
        .groups
        .is_empty());
}

#[test]
fn steps_must_name_targets_of_the_config_and_a_container_the_release_replaces() {
    assert!(refused(shop(json!([{"service": "billing"}])))
        .contains("field `groups[0].steps[0].service`: `billing` is not a target of this config"));
    assert!(
        refused(shop(json!([migrate(json!({"target": "nope"}))]))).contains("steps[0].task.target")
    );
    let err = refused(shop(json!([migrate(json!({"container": "sidecar"}))])));
    assert!(
        err.contains("`sidecar` is not one of web's containers (app)"),
        "{err}"
    );
}

#[test]
fn a_service_is_rolled_once_by_one_group() {
    let twice = refused(shop(json!([{"service": "web"}, {"service": "web"}])));
    assert!(twice.contains("groups[0].steps[1]"), "{twice}");
    let task_named_like_a_service = refused(shop(
        json!([migrate(json!({"name": "web"})), {"service": "web"}]),
    ));
    assert!(
        task_named_like_a_service.contains("earlier step's name"),
        "{task_named_like_a_service}"
    );
    let two_groups = refused(json!([
        {"name": "a", "steps": [{"service": "web"}]},
        {"name": "b", "steps": [{"service": "web"}]}
    ]));
    assert!(
        two_groups.contains("service web is already rolled by group a"),
        "{two_groups}"
    );
    let same_name = refused(json!([
        {"name": "a", "steps": [{"service": "web"}]},
        {"name": "a", "steps": [{"service": "worker"}]}
    ]));
    assert!(same_name.contains("groups[1].name"), "{same_name}");
}

#[test]
fn a_task_needs_a_command_and_a_timeout_from_a_minute_to_a_day() {
    for timeout in ["30s", "25h", "soon", ""] {
        let err = refused(shop(json!([migrate(json!({"timeout": timeout}))])));
        assert!(
            err.contains("task.timeout") && err.contains("from 1m to 24h"),
            "{timeout}: {err}"
        );
    }
    for timeout in ["1m", "24h", "1h 30m"] {
        assert!(
            with_groups(shop(json!([migrate(json!({"timeout": timeout}))]))).is_ok(),
            "{timeout}"
        );
    }
    assert!(refused(shop(json!([migrate(json!({"command": []}))]))).contains("task.command"));
    let long = vec!["x".repeat(100); 90];
    assert!(refused(shop(json!([migrate(json!({"command": long}))]))).contains("8192"));
}

#[test]
fn a_group_name_fits_run_ids_and_started_by() {
    for name in ["", "has space", "ü", &"g".repeat(65)] {
        let err = refused(json!([{"name": name, "steps": [{"service": "web"}]}]));
        assert!(err.contains("groups[0].name"), "{name}: {err}");
    }
    assert!(refused(json!([{"name": "shop", "steps": []}]))
        .contains("field `groups[0].steps`: is empty"));
    assert!(
        refused(json!([{"name": "shop", "steps": [{"service": "web"}], "order": 1}]))
            .contains("unknown field")
    );
}

#[test]
fn a_target_with_windows_or_a_promotion_gate_joins_a_group_whose_run_passes_them() {
    for extra in [
        json!({"windows": {"time_zone": "Europe/Berlin", "deny": ["FR 16:00 -> MO 08:00"]}}),
        json!({"promotion": {"from": ["web"]}}),
    ] {
        let mut worker = target("worker");
        for (k, v) in extra.as_object().unwrap() {
            worker[k] = v.clone();
        }
        let doc = json!({"targets": [target("web"), worker],
                         "groups": [{"name": "shop", "steps": [{"service": "worker"}]}]});
        let home = Home {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let config = Config::from_json(&doc.to_string(), &home).unwrap();
        assert_eq!(config.groups.len(), 1, "{extra}");
    }
}

#[test]
fn an_approval_target_joins_a_group_whose_run_then_asks_once() {
    let mut worker = target("worker");
    worker["policy"] = json!("approval");
    worker["approval"] = json!({"expires_after_hours": 4});
    let doc = json!({"targets": [target("web"), worker],
                     "groups": [{"name": "shop", "steps": [{"service": "worker"}, {"service": "web"}]}]});
    let home = Home {
        account: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    let config = Config::from_json(&doc.to_string(), &home).unwrap();
    assert_eq!(config.groups[0].steps.len(), 2);
}
