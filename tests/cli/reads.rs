//! The read commands against the local AWS: what `status`, `history`, `show` and `wait`
//! print over ledger states the pipelines made, one test per exit code they give, and no
//! escape codes off a terminal.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::common::faults::FaultProxy;
use super::common::image_uri;
use super::stack::{slipway_at, time, Stack};

#[tokio::test]
async fn status_names_what_runs_since_when_the_last_good_release_and_the_state() {
    let stack = Stack::new().await;
    let (v2, ecs_v2) = stack.deploy("v2").await;
    stack.ecs_says("COMPLETED", &ecs_v2).await;
    let (v3, _) = stack.deploy("v3").await;

    let ran = stack.slipway(&["status", "--json"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let status = &ran.json("status")["targets"][0];
    assert_eq!(status["target"], "web");
    assert_eq!(status["policy"], "auto");
    assert_eq!(
        status["running"]["deployment_id"],
        v3.as_str(),
        "{status:#}"
    );
    assert!(
        status["running"]["release"]
            .as_str()
            .unwrap()
            .starts_with("app:v3 @sha256:"),
        "{status:#}"
    );
    assert!(time(&status["running"]["since"]) <= Utc::now());
    assert_eq!(status["last_known_good"]["deployment_id"], v2.as_str());
    assert_eq!(status["latest"]["state"], "rolling");
    assert!(
        status["drift"].is_null()
            && status["frozen"].is_null()
            && status["pending_approval"].is_null()
    );

    // The table says the same, without escape codes: stdout is not a terminal.
    let table = stack.slipway(&["status", "web"]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    for line in [
        "web (cluster prod, service web)",
        "policy",
        "last known good",
        "app:v2 @sha256:",
        "rolling app:v3",
    ] {
        assert!(
            table.stdout.contains(line),
            "`{line}` missing from:\n{}",
            table.stdout
        );
    }
    assert!(
        !table.stdout.contains('\u{1b}'),
        "escape codes off a terminal:\n{}",
        table.stdout
    );
}

#[tokio::test]
async fn status_shows_drift_when_ecs_runs_a_revision_slipway_did_not_roll_out() {
    let stack = Stack::new().await;
    let (_, ecs_v2) = stack.deploy("v2").await;
    stack.ecs_says("COMPLETED", &ecs_v2).await;
    // Someone rolls the service by hand onto a revision of their own.
    let other = stack.world.push_image(Some("hotfix")).await;
    let by_hand = stack
        .world
        .create_service("web-by-hand", &image_uri(&other))
        .await;
    stack
        .world
        .clients
        .ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .task_definition(&by_hand)
        .send()
        .await
        .unwrap();

    let ran = stack.slipway(&["status", "--json"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let status = &ran.json("status-drift")["targets"][0];
    let drift = status["drift"]
        .as_str()
        .unwrap_or_else(|| panic!("no drift: {status:#}"));
    assert!(
        drift.contains("no Slipway deployment rolled out"),
        "{drift}"
    );
    assert!(status["running"]["deployment_id"].is_null());
}

#[tokio::test]
async fn history_and_show_tell_each_deployment_newest_first() {
    let stack = Stack::new().await;
    let (v2, ecs_v2) = stack.deploy("v2").await;
    stack.ecs_says("COMPLETED", &ecs_v2).await;
    let (v3, _) = stack.deploy("v3").await;

    let ran = stack.slipway(&["history", "web", "--json"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let rows = ran.json("history")["deployments"]
        .as_array()
        .unwrap()
        .clone();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![v3.as_str(), v2.as_str()]);
    assert_eq!(rows[1]["state"], "succeeded");
    assert_eq!(rows[1]["trigger"], "push");
    assert!(rows[1]["took_seconds"].as_i64().unwrap() >= 0);

    let table = stack.slipway(&["history", "web"]).await;
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);
    assert_eq!(
        table.stdout.lines().count(),
        3,
        "a header and two rows:\n{}",
        table.stdout
    );

    let shown = stack.slipway(&["show", &v2, "--json"]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let deployment = &shown.json("show")["deployment"];
    assert_eq!(deployment["summary"]["state"], "succeeded");
    let states: Vec<&str> = deployment["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.last(), Some(&"succeeded"), "{states:?}");
    assert!(states.contains(&"rolling"), "{states:?}");
    let text = stack.slipway(&["show", &v2]).await;
    assert!(
        text.stdout.contains("HISTORY") && text.stdout.contains("AUDIT"),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn exit_0_wait_for_a_deployment_that_succeeded() {
    let stack = Stack::new().await;
    let (v2, ecs_v2) = stack.deploy("v2").await;
    stack.ecs_says("COMPLETED", &ecs_v2).await;
    let ran = stack.slipway(&["wait", &v2, "--json"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.json("wait-succeeded")["result"], "succeeded");
}

#[tokio::test]
async fn exit_1_error_when_the_settings_are_not_slipways() {
    let stack = Stack::new().await;
    stack.write_settings(Some("not json")).await;
    let ran = stack.slipway(&["status"]).await;
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("/slipway/test/settings")
            && ran.stderr.contains("re-apply the Terraform"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stdout.is_empty(),
        "no data on stdout after an error: {}",
        ran.stdout
    );
}

#[tokio::test]
async fn exit_2_usage() {
    let stack = Stack::new().await;
    for args in [
        &["statuz"][..],
        &["wait", "web.img-ab", "--timeout", "soon"],
        &["history"],
    ] {
        let ran = stack.slipway(args).await;
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
    }
    let no_environment = slipway_at(
        &stack.world.emulator.endpoint,
        &["status"],
        &[("SLIPWAY_ENV", "")],
    )
    .await;
    assert_eq!(no_environment.code, 2, "{}", no_environment.stderr);
    // Every command's help has an example.
    for command in [
        "status",
        "groups",
        "history",
        "show",
        "wait",
        "completions",
        "schema",
    ] {
        let help = stack.slipway(&[command, "--help"]).await;
        assert!(
            help.stdout.contains("Example:"),
            "{command} --help: {}",
            help.stdout
        );
    }
}

#[tokio::test]
async fn exit_3_not_found() {
    let stack = Stack::new().await;
    let ran = stack.slipway(&["status", "nope"]).await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("the targets are: web"),
        "{}",
        ran.stderr
    );
    let ran = stack.slipway(&["show", "web.img-0000"]).await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    let ran = stack.slipway(&["history", "nope"]).await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    let ran = stack.slipway(&["groups", "shop"]).await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("no release group named `shop`; the groups are: (none)"),
        "{}",
        ran.stderr
    );
    // Without groups, listing them all is no error.
    let ran = stack.slipway(&["groups"]).await;
    assert_eq!(
        (ran.code, ran.stdout.trim()),
        (0, "no release groups in the config"),
        "{}",
        ran.stderr
    );
    let ran = slipway_at(
        &stack.world.emulator.endpoint,
        &["status"],
        &[("SLIPWAY_ENV", "staging")],
    )
    .await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("/slipway/staging/settings"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn exit_5_a_wait_that_times_out_with_a_bounded_number_of_reads() {
    let stack = Stack::new().await;
    let (v2, _) = stack.deploy("v2").await;
    let proxy = FaultProxy::start(&stack.world.emulator.endpoint, Duration::from_secs(30), 1).await;
    let started = Instant::now();
    let ran = slipway_at(&proxy.endpoint, &["wait", &v2, "--timeout", "4s"], &[]).await;
    assert_eq!(ran.code, 5, "{}", ran.stderr);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        ran.stdout.contains("still rolling after 4s"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        ran.stderr
            .lines()
            .filter(|l| l.ends_with(" rolling"))
            .count(),
        1,
        "one line per state: {}",
        ran.stderr
    );
    // Reads at 0, 1, 3 and 4 s; a deployment read is a GET of its object then the document.
    let reads = proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "GetObject" && c.path.contains("targets/"))
        .count();
    assert!(
        (3..=8).contains(&reads),
        "{reads} ledger reads for a 4 s wait"
    );
}

#[tokio::test]
async fn exit_6_a_wait_for_a_deployment_that_ended_badly() {
    let stack = Stack::new().await;
    let (v2, ecs_v2) = stack.deploy("v2").await;
    stack.ecs_says("FAILED", &ecs_v2).await;
    let ran = stack.slipway(&["wait", &v2, "--json"]).await;
    assert_eq!(ran.code, 6, "{}", ran.stderr);
    let wait = ran.json("wait-failed");
    assert_eq!(wait["result"], "ended-badly");
    assert_eq!(wait["state"], "failed");
}

/// The binary on a pseudo-terminal (util-linux `script`), as a person runs it.
async fn on_a_terminal(stack: &Stack, args: &str, env: &[(&str, &str)]) -> String {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_slipway"));
    let mut script = tokio::process::Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &stack.world.emulator.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", super::common::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SLIPWAY_ENV", super::stack::ENVIRONMENT)
        .env("TERM", "xterm-256color");
    for (name, value) in env {
        script.env(name, value);
    }
    let output = script
        .output()
        .await
        .expect("util-linux's script runs the binary on a terminal");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn colour_on_a_terminal_but_never_with_no_color_or_a_dumb_terminal() {
    let stack = Stack::new().await;
    let (_, ecs_v2) = stack.deploy("v2").await;
    stack.ecs_says("COMPLETED", &ecs_v2).await;
    let coloured = on_a_terminal(&stack, "history web", &[]).await;
    assert!(
        coloured.contains("succeeded") && coloured.contains("\u{1b}["),
        "a terminal gets colour: {coloured:?}"
    );
    let no_color = on_a_terminal(&stack, "history web", &[("NO_COLOR", "1")]).await;
    assert!(
        no_color.contains("succeeded") && !no_color.contains('\u{1b}'),
        "NO_COLOR: {no_color:?}"
    );
    let dumb = on_a_terminal(&stack, "history web", &[("TERM", "dumb")]).await;
    assert!(
        dumb.contains("succeeded") && !dumb.contains('\u{1b}'),
        "TERM=dumb: {dumb:?}"
    );
}
