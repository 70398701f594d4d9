//! Golden tests of `slipway groups`: a group whose run is at its migration with a release
//! waiting behind it, one whose migration failed, one whose run awaits its approval, and
//! one no release came to yet
//! (tests/cli/golden/groups.{txt,json}).

use std::collections::BTreeMap;

use super::golden_tests::{at, digest, golden, golden_json, now, PLAIN};
use super::{group_tables, groups as groups_cmd};
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
        ..GroupLine::default()
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
    let text = group_tables::groups(&statuses, &PLAIN, now());
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
        group_tables::groups(&[], &PLAIN, now()),
        "no release groups in the config"
    );
}

/// A run of shop whose migration exited 0 and whose worker rolls now.
fn rolling_worker() -> GroupRun {
    let shop = group("shop");
    let mut run = migrating(&shop, 1);
    run.began_at = Some(at(109));
    run.task_stopped(
        &crate::model::group::TaskStopped {
            task_arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/3".into(),
            started_by: None,
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            stopped_at: Some(at(113)),
            containers: vec![crate::model::group::ContainerExit {
                name: "app".into(),
                exit_code: Some(0),
                reason: None,
            }],
        },
        at(113),
    )
    .unwrap();
    run.service_started(
        1,
        "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:6",
        at(114),
    )
    .unwrap();
    run
}

#[test]
fn why_run_table_and_json() {
    let run = rolling_worker();
    let why = crate::console::group_why::explain(&run, None, now());
    let text = super::group_tables::run_why(&why, &PLAIN, now());
    for says in [
        &format!("{} (group shop)", run.id),
        "began",
        "2026-12-01 11:49:00Z",
        &format!(
            "why: at step 2 of 3 (worker): service worker rolls (deployment worker.grp-{}-1)",
            run.id
        ),
        "migrate",
        "succeeded",
        "task 3",
        "ended 2026-12-01 11:53:00Z",
        &format!("deployment worker.grp-{}-1", run.id),
        "pending",
    ] {
        assert!(text.contains(says), "{says:?} is missing from:\n{text}");
    }
    golden("why-run.txt", &(text + "\n"));
    golden_json("why-run.json", "why", super::why::run_body(&why));
}

/// What an approver opened on a run is part of its story: the evidence (the soak marked
/// bypassed), who bypassed it, who let the run through its window, and why.
#[test]
fn why_run_shows_the_gates_an_approver_opened() {
    use crate::model::deployment::{SoakBypass, WindowOverride};
    let mut run = rolling_worker();
    run.gates.promotion = true;
    run.gates.windows = true;
    run.gates.evidence = vec![crate::model::promotion::Evidence {
        upstream: "dev-web".into(),
        deployment_id: "dev-web.img-0101".into(),
        succeeded_at: at(60),
        ecs_deployment_id: Some("ecs-svc/1234".into()),
        soaked_seconds: 1500,
        soak_seconds: 7200,
        alarms_ok: vec!["web-5xx".into()],
        soak_bypassed_by: Some("arn:aws:sts::123456789012:assumed-role/release/ada".into()),
    }];
    run.gates.soak_bypass = Some(SoakBypass {
        by: "arn:aws:sts::123456789012:assumed-role/release/ada".into(),
        reason: "hotfix for incident 4711".into(),
        at: at(85),
    });
    run.gates.window_override = Some(WindowOverride {
        by: "arn:aws:sts::123456789012:assumed-role/release/bo".into(),
        reason: "the fix cannot wait for Monday".into(),
        at: at(109),
    });
    let mut why = crate::console::group_why::explain(&run, None, now());
    let actor = |id: &str| crate::model::deployment::Actor {
        id: id.into(),
        channel: crate::model::deployment::Channel::Iam,
        source: None,
    };
    let bypass = crate::model::deployment::Action::BypassSoak;
    why.audit = vec![
        run.attempt(
            bypass,
            &actor("arn:aws:sts::123456789012:assumed-role/developers/bob"),
            "refused: bob is not among the IAM approvers of web (approval.iam_approvers)",
            at(84),
        ),
        run.attempt(
            bypass,
            &actor("arn:aws:sts::123456789012:assumed-role/release/ada"),
            "taken: hotfix for incident 4711",
            at(85),
        ),
    ];
    let text = super::group_tables::run_why(&why, &PLAIN, now());
    for says in [
        "AUDIT",
        "bypasssoak",
        "refused: bob is not among the IAM approvers",
        "promotion",
        "succeeded on dev-web",
        "soaked 25m",
        "the soak bypassed by arn:aws:sts::123456789012:assumed-role/release/ada",
        "soak bypassed",
        "hotfix for incident 4711",
        "window overridden",
        "by arn:aws:sts::123456789012:assumed-role/release/bo",
        "the fix cannot wait for Monday",
    ] {
        assert!(text.contains(says), "{says:?} is missing from:\n{text}");
    }
    let body = super::why::run_body(&why);
    assert_eq!(
        body["run"]["soak_bypass"]["reason"],
        serde_json::json!("hotfix for incident 4711")
    );
    assert_eq!(
        body["run"]["window_override"]["by"],
        serde_json::json!("arn:aws:sts::123456789012:assumed-role/release/bo")
    );
    golden("why-run-opened.txt", &(text + "\n"));
}

#[test]
fn groups_with_runs_lists_them_newest_first() {
    let shop = group("shop");
    let older = {
        let mut run = migrating(&shop, 3);
        run.began_at = Some(at(20));
        run.step_failed(0, "migrate exited 1 (container app)", at(25))
            .unwrap();
        run
    };
    let newer = rolling_worker();
    let line = GroupLine {
        holder: Some(newer.id.clone()),
        ..GroupLine::default()
    };
    let held = BTreeMap::from([(newer.id.clone(), newer.clone())]);
    let mut status = group_status(&shop, Some(&line), &held);
    status.runs = Some(
        [&newer, &older]
            .into_iter()
            .map(crate::console::groups::run_view)
            .collect(),
    );

    let text = group_tables::groups(std::slice::from_ref(&status), &PLAIN, now());

    let listed = text.split("runs (newest first").nth(1).expect(&text);
    let (newer_at, older_at) = (
        listed.find(&newer.id).expect(&text),
        listed.find(&older.id).expect(&text),
    );
    assert!(newer_at < older_at, "newest first:\n{text}");
    assert!(listed.contains("failed"), "{text}");
    golden("groups-runs.txt", &(text + "\n"));
    golden_json("groups-runs.json", "groups", groups_cmd::body(&[status]));
}
