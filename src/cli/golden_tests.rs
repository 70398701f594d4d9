//! Golden tests: every command's table and JSON document, drawn at a fixed time from ledger
//! states like those the integration scenarios leave (an auto target rolling a newer
//! release over its last good one; an approval target with a pending request; a target
//! frozen after ECS's circuit breaker rolled a release back; a service changed by hand).
//! The files are in tests/cli/golden/; `SLIPWAY_UPDATE_GOLDEN=1` rewrites them, and
//! `make cli-schema` checks the JSON ones against src/cli/schema.json.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::output::{document, Output};
use super::{dlq, history as history_cmd, status as status_cmd, tables, wait as wait_cmd};
use crate::console::dead_letters::{read, Message};
use crate::console::status::{status, Inputs};
use crate::console::wait::Ended;
use crate::console::{history, show};
use crate::input::config::{Config, Home};
use crate::ledger::TargetRecord;
use crate::model::deployment::{
    Action, ApprovalRequest, AuditEntry, Channel, Decision, Deployment, HistoryEntry, State,
    Trigger, Verdict,
};
use crate::model::rollout::{Freeze, GoodRelease, RolloutKind, Rollouts, StartedRollout};
use crate::model::target::Head;
use crate::ports::ServiceState;

pub(super) const PLAIN: Output = Output {
    json: false,
    colour: false,
};

pub(super) fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + Duration::minutes(minutes)
}

pub(super) fn now() -> DateTime<Utc> {
    at(120)
}

pub(super) fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

fn td(service: &str, revision: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:{revision}")
}

fn push(
    target: &str,
    service: &str,
    tag: &str,
    n: u8,
    states: &[(State, i64, &str)],
) -> Deployment {
    let digest = digest(n);
    let trigger = Trigger::EcrPush {
        event_id: format!("push-{tag}"),
        repository: "app".into(),
        tag: tag.into(),
        digest: digest.clone(),
        pushed_at: Some(at(states[0].1)),
    };
    let key = format!("img-{}", digest.trim_start_matches("sha256:"));
    let mut d = Deployment::new(target, "prod", service, key, trigger);
    d.image = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app@{digest}");
    d.from_task_definition = td(service, u32::from(n) + 9);
    d.diff = vec!["containers[app].image".into()];
    for (state, minute, note) in states {
        d.state = *state;
        d.history.push(HistoryEntry {
            at: at(*minute),
            state: *state,
            note: note.to_string(),
        });
        if *state == State::Rolling {
            d.to_task_definition = Some(td(service, u32::from(n) + 10));
            d.ecs_deployment_id = Some(format!("ecs-svc/{n:019}"));
        }
        if state.is_terminal() {
            d.ended_at = Some(at(*minute));
        }
    }
    d
}

fn good(d: &Deployment, minute: i64) -> GoodRelease {
    GoodRelease {
        deployment_id: d.id.clone(),
        key: d.key.clone(),
        release: crate::model::rollout::release_name(d),
        image: d.image.clone(),
        version: None,
        task_definition: d.to_task_definition.clone().unwrap(),
        ecs_deployment_id: d.ecs_deployment_id.clone().unwrap(),
        completed_at: at(minute),
    }
}

fn started(d: &Deployment, minute: i64) -> StartedRollout {
    StartedRollout {
        ecs_deployment_id: d.ecs_deployment_id.clone().unwrap(),
        deployment_id: d.id.clone(),
        key: d.key.clone(),
        kind: RolloutKind::Slipway,
        at: at(minute),
    }
}

fn head(d: &Deployment) -> Head {
    Head {
        deployment_id: d.id.clone(),
        digest: d.image.rsplit_once('@').unwrap().1.to_string(),
        pushed_at: None,
        version: None,
        settled: true,
        lease_until: None,
        updated_at: d.history[0].at,
    }
}

fn service(task_definition: &str) -> ServiceState {
    ServiceState {
        arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
        status: "ACTIVE".into(),
        task_definition: task_definition.into(),
        primary_deployment: None,
        controller: "ECS".into(),
        strategy: None,
        circuit_breaker: Some(true),
        deployments: vec![],
    }
}

fn config() -> Config {
    let text = serde_json::json!({"targets": [
        {"name": "web", "cluster": "prod", "service": "web", "containers": ["app"],
         "repository": "app", "tags": {"glob": "v*"}, "policy": "auto"},
        {"name": "prod-web", "cluster": "prod", "service": "web-prod", "containers": ["app"],
         "repository": "app", "tags": {"glob": "v*"}, "policy": "approval"},
        {"name": "api", "cluster": "prod", "service": "api", "containers": ["app"],
         "repository": "app", "tags": {"glob": "v*"}, "policy": "auto",
         "freeze_after_failure": "until-unfrozen"},
    ]});
    let home = Home {
        account: "123456789012".into(),
        region: "us-east-1".into(),
    };
    Config::from_json(&text.to_string(), &home).unwrap()
}

/// web: v1.4.1 succeeded (last good), v1.4.2 rolling.
fn web() -> (TargetRecord, Vec<Deployment>) {
    let v141 = push(
        "web",
        "web",
        "v1.4.1",
        1,
        &[
            (State::Planned, 0, "planned"),
            (State::Rolling, 1, "UpdateService"),
            (State::Succeeded, 6, "ECS: SERVICE_DEPLOYMENT_COMPLETED"),
        ],
    );
    let v142 = push(
        "web",
        "web",
        "v1.4.2",
        2,
        &[
            (State::Planned, 100, "planned"),
            (State::Rolling, 101, "UpdateService"),
        ],
    );
    let rollouts = Rollouts {
        started: vec![started(&v141, 1), started(&v142, 101)],
        last_good: Some(good(&v141, 6)),
        ..Rollouts::default()
    };
    let mut record = TargetRecord {
        head: Some(head(&v142)),
        rollouts: Some(rollouts),
        ..TargetRecord::default()
    };
    record.live.insert(v142.key.clone(), v142.clone());
    (record, vec![v142, v141])
}

/// prod-web: v1.4.1 approved and succeeded; v1.4.2 awaiting approval.
fn prod_web() -> (TargetRecord, Vec<Deployment>) {
    let mut v141 = push(
        "prod-web",
        "web-prod",
        "v1.4.1",
        1,
        &[
            (State::Planned, 0, "planned"),
            (State::AwaitingApproval, 0, "asked the approvers"),
            (State::Approved, 20, "approved by alice on the page"),
            (State::Rolling, 20, "UpdateService"),
            (State::Succeeded, 26, "ECS: SERVICE_DEPLOYMENT_COMPLETED"),
        ],
    );
    v141.approval = Some(ApprovalRequest {
        step: 0,
        requested_at: at(0),
        expires_at: at(24 * 60),
        decision: Some(Decision {
            verdict: Verdict::Approve,
            actor: "alice".into(),
            channel: Channel::Web,
            at: at(20),
            reason: None,
        }),
        slack: None,
        notified_at: Some(at(0)),
        deliveries: vec![],
    });
    let mut v142 = push(
        "prod-web",
        "web-prod",
        "v1.4.2",
        2,
        &[
            (State::Planned, 100, "planned"),
            (State::AwaitingApproval, 100, "asked the approvers"),
        ],
    );
    v142.approval = Some(ApprovalRequest {
        step: 0,
        requested_at: at(100),
        expires_at: at(100 + 24 * 60),
        decision: None,
        slack: None,
        notified_at: Some(at(100)),
        deliveries: vec![],
    });
    let rollouts = Rollouts {
        started: vec![started(&v141, 20)],
        last_good: Some(good(&v141, 26)),
        ..Rollouts::default()
    };
    let mut record = TargetRecord {
        head: Some(head(&v142)),
        rollouts: Some(rollouts),
        ..TargetRecord::default()
    };
    record.live.insert(v142.key.clone(), v142.clone());
    (record, vec![v142, v141])
}

/// api: v2.0.0 rolled back by the circuit breaker, frozen; a service changed by hand.
fn api() -> (TargetRecord, Vec<Deployment>) {
    let v1 = push(
        "api",
        "api",
        "v1.9.0",
        3,
        &[
            (State::Planned, 0, "planned"),
            (State::Rolling, 1, "UpdateService"),
            (State::Succeeded, 5, "ECS: SERVICE_DEPLOYMENT_COMPLETED"),
        ],
    );
    let mut v2 = push(
        "api",
        "api",
        "v2.0.0",
        4,
        &[
            (State::Planned, 60, "planned"),
            (State::Rolling, 61, "UpdateService"),
            (State::Failed, 70, "ECS: SERVICE_DEPLOYMENT_FAILED"),
            (
                State::RolledBack,
                71,
                "ECS's circuit breaker rolled back to app:v1.9.0",
            ),
        ],
    );
    v2.error = Some("ECS deployment circuit breaker: task failed to start.".into());
    v2.rolled_back_to = Some("app:v1.9.0".into());
    let freeze = Freeze {
        since: at(71),
        deployment_id: v2.id.clone(),
        release: "app:v2.0.0".into(),
        digest: Some(digest(4)),
        version: None,
        reason: "app:v2.0.0 was rolled back by ECS's circuit breaker".into(),
    };
    let rollouts = Rollouts {
        started: vec![started(&v1, 1), started(&v2, 61)],
        last_good: Some(good(&v1, 5)),
        freeze: Some(freeze),
        ..Rollouts::default()
    };
    let record = TargetRecord {
        head: Some(head(&v2)),
        rollouts: Some(rollouts),
        ..TargetRecord::default()
    };
    (record, vec![v2, v1])
}

fn statuses() -> Vec<crate::console::status::TargetStatus> {
    let config = config();
    let states = [
        (web(), service(&td("web", 12))),
        (prod_web(), service(&td("web-prod", 11))),
        (api(), service(&td("api", 99))),
    ];
    config
        .targets
        .iter()
        .zip(states.iter())
        .map(|(target, ((record, deployments), service))| {
            status(&Inputs {
                target,
                record,
                deployments,
                service: Ok(service),
                now: now(),
            })
        })
        .collect()
}

pub(super) fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/golden")
        .join(name);
    if std::env::var_os("SLIPWAY_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; SLIPWAY_UPDATE_GOLDEN=1 writes it",
            path.display()
        )
    });
    assert_eq!(actual, expected, "{name} differs from its golden file (SLIPWAY_UPDATE_GOLDEN=1 rewrites it after a deliberate change)");
}

pub(super) fn golden_json(name: &str, command: &str, body: serde_json::Value) {
    let document = document(command, &body).unwrap();
    golden(
        name,
        &(serde_json::to_string_pretty(&document).unwrap() + "\n"),
    );
}

#[test]
fn status_table_and_json() {
    let statuses = statuses();
    golden(
        "status.txt",
        &(tables::status(&statuses, &PLAIN, now()) + "\n"),
    );
    golden_json("status.json", "status", status_cmd::body(&statuses));
}

#[test]
fn history_table_and_json() {
    let rows = history::rows(&prod_web().1, now());
    golden(
        "history.txt",
        &(tables::history(&rows, &PLAIN, now()) + "\n"),
    );
    golden_json(
        "history.json",
        "history",
        history_cmd::history_body("prod-web", &rows),
    );
    let rows = history::rows(&api().1, now());
    golden(
        "history-rolled-back.txt",
        &(tables::history(&rows, &PLAIN, now()) + "\n"),
    );
}

#[test]
fn show_table_and_json() {
    let deployment = prod_web().1.remove(1);
    let audit = vec![
        AuditEntry {
            at: at(12),
            deployment_id: deployment.id.clone(),
            actor: "U0BOB (bob)".into(),
            channel: Channel::Slack,
            source: Some("T0TEAM".into()),
            action: Action::Approve,
            image: deployment.image.clone(),
            outcome: "refused: U0BOB is not among the target's Slack approvers".into(),
        },
        AuditEntry {
            at: at(20),
            deployment_id: deployment.id.clone(),
            actor: "alice".into(),
            channel: Channel::Web,
            source: Some("203.0.113.7 Mozilla/5.0".into()),
            action: Action::Approve,
            image: deployment.image.clone(),
            outcome: "taken".into(),
        },
    ];
    let shown = show::show(deployment, audit, now());
    golden("show.txt", &(tables::show(&shown, &PLAIN, now()) + "\n"));
    golden_json("show.json", "show", history_cmd::show_body(&shown));
}

#[test]
fn wait_text_and_json() {
    let (_, deployments) = api();
    let failed = &deployments[0];
    let seen = [State::Rolling, State::Failed, State::RolledBack];
    let ended = Ended::Badly(State::RolledBack);
    let timeout = std::time::Duration::from_secs(900);
    golden(
        "wait.txt",
        &(wait_cmd::text(failed, ended, timeout, &PLAIN) + "\n"),
    );
    golden_json("wait.json", "wait", wait_cmd::body(failed, ended, &seen));
    let rolling = &web().1[0];
    let timed_out = Ended::TimedOut(State::Rolling);
    golden(
        "wait-timed-out.txt",
        &(wait_cmd::text(rolling, timed_out, timeout, &PLAIN) + "\n"),
    );
}

#[test]
fn dlq_list_table_and_json() {
    let event = serde_json::json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "ECR Image Action",
        "source": "aws.ecr", "account": "123456789012", "time": "2026-12-01T11:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"result": "SUCCESS", "repository-name": "app", "image-digest": digest(2),
        "action-type": "PUSH", "image-tag": "v1.4.2"}});
    let record = serde_json::json!({
        "version": "1.0", "timestamp": "2026-12-01T11:03:00.000Z",
        "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:slipway-prod-image-push:$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "ecs:UpdateService failed: AccessDeniedException", "errorType": "DeployError"}});
    let raw = event.to_string();
    let record = record.to_string();
    let letters = vec![
        read(&Message {
            function: "image-push",
            message_id: "0f3c8a52-0001",
            body: &raw,
            sent_at: Some(at(61)),
            error_attributes: Some(
                "ERROR_CODE=SDK_CLIENT_ERROR, ERROR_MESSAGE=Unable to invoke Lambda function"
                    .into(),
            ),
        }),
        read(&Message {
            function: "image-push",
            message_id: "0f3c8a52-0002",
            body: &record,
            sent_at: Some(at(63)),
            error_attributes: None,
        }),
    ];
    golden(
        "dlq-list.txt",
        &(tables::dead_letters(&letters, now()) + "\n"),
    );
    golden_json("dlq-list.json", "dlq list", dlq::body(&letters));
    let results = vec![
        crate::console::dead_letters::Redriven {
            letter: letters[0].clone(),
            result: "redriven".into(),
        },
        crate::console::dead_letters::Redriven {
            letter: letters[1].clone(),
            result: "failed: lambda:Invoke answered 500, not 202 (accepted); the message stays"
                .into(),
        },
    ];
    golden("dlq-redrive.txt", &(tables::redriven(&results) + "\n"));
    golden_json(
        "dlq-redrive.json",
        "dlq redrive",
        serde_json::json!({ "dry_run": false, "failed": 1, "messages": results }),
    );
}

#[test]
fn colour_is_only_added_when_asked_for() {
    let statuses = statuses();
    let coloured = Output {
        json: false,
        colour: true,
    };
    assert!(tables::status(&statuses, &coloured, now()).contains('\u{1b}'));
    assert!(!tables::status(&statuses, &PLAIN, now()).contains('\u{1b}'));
}

#[test]
fn why_table_and_json() {
    use crate::console::why::{explain, Facts, Image};
    let config = config();
    let image = Image {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        repository: "app".into(),
        digest: digest(2),
        tags: vec!["v1.4.2".into()],
        pushed_at: Some(at(99)),
    };
    let (web_record, web_deployments) = web();
    let (prod_record, prod_deployments) = prod_web();
    let (api_record, _) = api();
    let answers = vec![
        explain(
            &image,
            &Facts {
                target: &config.targets[0],
                record: &web_record,
                deployment: Some(&web_deployments[0]),
                dead_letters: &[],
                rule_matches: Some(true),
                now: now(),
            },
        ),
        explain(
            &image,
            &Facts {
                target: &config.targets[1],
                record: &prod_record,
                deployment: Some(&prod_deployments[0]),
                dead_letters: &[],
                rule_matches: Some(true),
                now: now(),
            },
        ),
        explain(
            &image,
            &Facts {
                target: &config.targets[2],
                record: &api_record,
                deployment: None,
                dead_letters: &[],
                rule_matches: Some(true),
                now: now(),
            },
        ),
    ];
    let links: Vec<&str> = answers.iter().map(|a| a.link).collect();
    assert_eq!(links, vec!["rolling", "awaiting-approval", "frozen"]);
    golden("why.txt", &(tables::why(&image, &answers) + "\n"));
    golden_json("why.json", "why", super::why::body(&image, &answers));
}

#[test]
fn plan_table_and_json() {
    use crate::deployer::{EventOutcome, Report, TargetOutcome, TargetReport};
    let (_, deployments) = web();
    let web = &deployments[0];
    let report = Report {
        event_id: Some("plan-0202".into()),
        dry_run: true,
        outcome: EventOutcome::Targets {
            targets: vec![
                TargetReport {
                    target: "web".into(),
                    deployment_id: web.id.clone(),
                    image: web.image.clone(),
                    outcome: TargetOutcome::DryRun {
                        from_task_definition: td("web", 12),
                        diff: vec!["containers[app].image: app@sha256:0101… → app@sha256:0202…".into(), "every other field: unchanged".into()],
                        calls: vec![
                            "s3:PutObject ledger targets/web/target.json (If-Match) to claim the deployment and the head".into(),
                            "ecs:RegisterTaskDefinition family web".into(),
                            "ecs:UpdateService prod/web".into(),
                        ],
                        warnings: vec![],
                    },
                },
                TargetReport {
                    target: "api".into(),
                    deployment_id: "api.img-0202".into(),
                    image: web.image.clone(),
                    outcome: TargetOutcome::Frozen { reason: "frozen by arn:aws:sts::123456789012:assumed-role/release-managers/alice: year-end".into() },
                },
            ],
            groups: Vec::new(),
        },
    };
    let report = serde_json::to_value(&report).unwrap();
    assert!(super::plan::has_changes(&report));
    golden("plan.txt", &(tables::plan(&report) + "\n"));
    golden_json(
        "plan.json",
        "plan",
        serde_json::json!({ "report": report, "changes": true }),
    );
}
