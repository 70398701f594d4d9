//! Golden tests of `slipway groups`: a group whose run is at its migration with a release
//! waiting behind it, one whose migration failed, one whose run awaits its approval, and
//! one no release came to yet
//! (tests/cli/golden/groups.{txt,json}).

use std::collections::BTreeMap;

use super::golden_tests::{at, digest, golden, golden_json, now, PLAIN};
use super::{groups as groups_cmd, tables};
use crate::console::groups::{group_status, GroupStatus};
use crate::model::group::{run_id, Group, GroupLine, GroupRun, OnFailure};

fn group(name: &str) -> Group {
    crate::model::group::spec::example(name, OnFailure::Stop)
}

fn release(n: u8) -> BTreeMap<String, String> {
    let registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    BTreeMap::from([
        ("web".to_string(), format!("{registry}/web@{}", digest(n))),
        (
            "worker".to_string(),
            format!("{registry}/worker@{}", digest(n + 1)),
        ),
    ])
}

/// A run of `spec` taking release `n`, holding the line, its migration started at minute
/// 110 as task 3.
fn migrating(spec: &Group, n: u8) -> GroupRun {
    let release = release(n);
    let mut run = GroupRun::begin(&run_id(&spec.name, &release), spec, release, false);
    run.admitted().unwrap();
    run.task_started(0, "arn:aws:ecs:us-east-1:123456789012:task/prod/3", at(110))
        .unwrap();
    run
}

fn statuses() -> Vec<GroupStatus> {
    let shop = group("shop");
    let holder = migrating(&shop, 1);
    let queued = {
        let release = release(5);
        GroupRun::begin(&run_id("shop", &release), &shop, release, false)
    };
    let line = GroupLine {
        holder: Some(holder.id.clone()),
        waiting: vec![queued.id.clone()],
        passed_over: Vec::new(),
        sources: Default::default(),
    };
    let runs = BTreeMap::from([(holder.id.clone(), holder), (queued.id.clone(), queued)]);
    let shop = group_status(&shop, Some(&line), &runs);

    let billing = group("billing");
    let mut failed = migrating(&billing, 7);
    failed
        .step_failed(0, "migrate exited 1 (container app)", at(112))
        .unwrap();
    let line = GroupLine {
        holder: Some(failed.id.clone()),
        ..GroupLine::default()
    };
    let runs = BTreeMap::from([(failed.id.clone(), failed)]);
    let billing = group_status(&billing, Some(&line), &runs);

    let checkout = group("checkout");
    let asked = {
        let release = release(9);
        let mut run = GroupRun::begin(&run_id("checkout", &release), &checkout, release, true);
        run.admitted().unwrap();
        run.ask(at(100), at(340)).unwrap();
        run.told(at(100), None, vec![]).unwrap();
        run
    };
    let line = GroupLine {
        holder: Some(asked.id.clone()),
        ..GroupLine::default()
    };
    let runs = BTreeMap::from([(asked.id.clone(), asked)]);
    let checkout = group_status(&checkout, Some(&line), &runs);

    let empty = group_status(&group("search"), None, &BTreeMap::new());
    vec![shop, billing, checkout, empty]
}

#[test]
fn groups_table_and_json() {
    let statuses = statuses();
    let text = tables::groups(&statuses, &PLAIN, now());
    // What the table must say, whatever its layout.
    for says in [
        "group shop: migrate → worker → web",
        "migrate: started, task 3, deadline 2026-12-01 12:05:00Z (in 5m00s)",
        "waits",
        "queued",
        "migrate: failed",
        "migrate exited 1 (container app)",
        "awaiting-approval",
        "approval: asked, expires 2026-12-01 15:40:00Z (in 3h40m)",
        "group search: migrate → worker → web\nno release yet",
    ] {
        assert!(text.contains(says), "{says:?} is missing from:\n{text}");
    }
    golden("groups.txt", &(text + "\n"));
    golden_json("groups.json", "groups", groups_cmd::body(&statuses));
}

#[test]
fn no_group_in_the_config_says_so() {
    assert_eq!(
        tables::groups(&[], &PLAIN, now()),
        "no release groups in the config"
    );
}
