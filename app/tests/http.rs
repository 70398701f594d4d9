//! The binary, over real HTTP: what the ALB, ECS and a person see.
//!
//! `make app-test` points `APP_BINARY` at the release binary that `cargo build --release
//! --locked` makes, the same command the Dockerfile runs; plain `cargo test` uses the debug one.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn binary() -> PathBuf {
    match std::env::var_os("APP_BINARY") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_app")),
    }
}

/// The app started on a free port, its JSON log lines collected as they come.
struct App {
    child: Child,
    port: u16,
    logs: Arc<(Mutex<Vec<Value>>, Condvar)>,
}

impl App {
    fn start(env: &[(&str, &str)]) -> App {
        let mut command = Command::new(binary());
        command
            .env_remove("ECS_CONTAINER_METADATA_URI_V4")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("starting the app binary");
        let logs = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let entry: Value = serde_json::from_str(&line).unwrap_or_else(|error| {
                    panic!("a log line that is not JSON ({error}): {line}")
                });
                sink.0.lock().unwrap().push(entry);
                sink.1.notify_all();
            }
        });
        let mut app = App {
            child,
            port: 0,
            logs,
        };
        let listening = app.wait_for_log(|entry| entry["message"] == "listening");
        let address = listening["address"]
            .as_str()
            .expect("the listening line names the address");
        app.port = address.rsplit(':').next().unwrap().parse().unwrap();
        app
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn wait_for_log(&self, matches: impl Fn(&Value) -> bool) -> Value {
        let (lines, changed) = &*self.logs;
        let deadline = Instant::now() + WAIT;
        let mut lines = lines.lock().unwrap();
        loop {
            if let Some(entry) = lines.iter().find(|entry| matches(entry)) {
                return entry.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no such log line within {WAIT:?}; the app logged: {lines:#?}"
            );
            lines = changed.wait_timeout(lines, left).unwrap().0;
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_for_exit(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        while started.elapsed() < WAIT {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the app did not exit within {WAIT:?}");
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET on a runtime of its own: the tests stay plain `#[test]`s driving a child
/// process.
fn get(url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(url)
            .await
            .unwrap_or_else(|error| panic!("GET {url}: {error}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

#[test]
fn serves_hello_health_and_version() {
    let app = App::start(&[]);

    assert_eq!(get(&app.url("/")), (200, "Hello World!".to_owned()));
    assert_eq!(get(&app.url("/health")), (200, "true".to_owned()));
    let (status, body) = get(&app.url("/nope"));
    assert_eq!(status, 404, "{body}");

    let health = app.wait_for_log(|entry| entry["message"] == "health check");
    let listening = app.wait_for_log(|entry| entry["message"] == "listening");
    assert_eq!(health["instance_id"], listening["instance_id"]);
    assert_eq!(listening["instance_id_source"], "random");
    assert_eq!(health["level"], "INFO");

    let (status, body) = get(&app.url("/version"));
    assert_eq!(status, 200);
    let version: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(version["version"], listening["version"]);
    assert_eq!(version["git_sha"], listening["git_sha"]);
    // Built from this checkout (git) or handed CI's values (APP_GIT_SHA): either way the
    // binary names the commit, which is what tells a person which release is live.
    let sha = version["git_sha"].as_str().unwrap();
    match std::env::var("APP_GIT_SHA").ok().or_else(git_head) {
        Some(expected) => assert_eq!(
            sha, expected,
            "the binary was built from another commit: rebuild it"
        ),
        None => assert_eq!(
            sha, "unknown",
            "no git and no APP_GIT_SHA: the build says so"
        ),
    }
    if sha != "unknown" {
        assert_ne!(version["version"], "unknown");
    }

    let request_line =
        app.wait_for_log(|entry| entry["message"] == "request" && entry["path"] == "/");
    assert_eq!(request_line["status"], 200);
    assert_eq!(request_line["method"], "GET");
}

fn git_head() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[test]
fn sigterm_mid_request_lets_it_finish_refuses_new_connections_and_exits_zero() {
    let mut app = App::start(&[]);
    let url = app.url("/delay/2");
    let in_flight = std::thread::spawn(move || get(&url));
    app.wait_for_log(|entry| entry["message"] == "delaying the response");

    let signalled = Instant::now();
    app.terminate();
    app.wait_for_log(|entry| {
        entry["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("stop signal")
    });
    // Stopped accepting: the listener is closed while the slow request is still running.
    let port = app.port;
    let refused = (0..50).any(|_| {
        let refused = TcpStream::connect(("127.0.0.1", port)).is_err();
        if !refused {
            std::thread::sleep(Duration::from_millis(20));
        }
        refused
    });
    assert!(refused, "new connections were still accepted after SIGTERM");

    assert_eq!(in_flight.join().unwrap(), (200, "Hello World!".to_owned()));
    let (status, _) = app.wait_for_exit();
    assert_eq!(status.code(), Some(0), "exit after draining");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "took {:?}",
        signalled.elapsed()
    );
    app.wait_for_log(|entry| entry["message"] == "stopped cleanly");
}

#[test]
fn idle_keep_alive_connections_do_not_hold_the_stop() {
    let mut app = App::start(&[]);
    // A client that keeps its connection open, as the ALB does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let url = app.url("/");
    runtime.block_on(async { client.get(&url).send().await.unwrap().text().await.unwrap() });

    app.terminate();
    let (status, took) = app.wait_for_exit();
    assert_eq!(status.code(), Some(0));
    assert!(
        took < Duration::from_secs(5),
        "an idle connection held the stop for {took:?}"
    );
    drop(client);
}

#[test]
fn a_request_longer_than_the_drain_window_is_abandoned_with_exit_1() {
    let mut app = App::start(&[("DRAIN_SECONDS", "1")]);
    let url = app.url("/delay/8");
    let _abandoned = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { reqwest::get(&url).await.is_err() })
    });
    app.wait_for_log(|entry| entry["message"] == "delaying the response");

    app.terminate();
    let (status, took) = app.wait_for_exit();
    assert_eq!(status.code(), Some(1));
    assert!(
        took < Duration::from_secs(5),
        "the 1 s drain window took {took:?}"
    );
    let line = app.wait_for_log(|entry| entry["message"] == "stopped with an error");
    assert!(
        line["error"].as_str().unwrap().contains("still running"),
        "{line}"
    );
}

#[test]
fn the_instance_id_is_the_ecs_task_id_when_ecs_metadata_is_there() {
    // A stand-in for ECS's task metadata endpoint v4, answering `GET <uri>/task`.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metadata_uri = format!("http://{}/v4/container-1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request_line = String::new();
            BufReader::new(&stream)
                .read_line(&mut request_line)
                .unwrap();
            let body = if request_line.starts_with("GET /v4/container-1/task ") {
                r#"{"Cluster":"shop-prod","TaskARN":"arn:aws:ecs:eu-west-1:123456789012:task/shop-prod/158d1c8083dd49d6b527399fd6414f5c"}"#
            } else {
                "{}"
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            std::io::Write::write_all(&mut stream, response.as_bytes()).unwrap();
        }
    });

    let app = App::start(&[("ECS_CONTAINER_METADATA_URI_V4", &metadata_uri)]);
    assert_eq!(get(&app.url("/health")), (200, "true".to_owned()));
    let health = app.wait_for_log(|entry| entry["message"] == "health check");
    assert_eq!(health["instance_id"], "158d1c8083dd49d6b527399fd6414f5c");
}

#[test]
fn an_unreachable_metadata_endpoint_falls_back_to_a_random_id_and_says_why() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("http://127.0.0.1:{closed_port}/v4/x");
    let app = App::start(&[("ECS_CONTAINER_METADATA_URI_V4", &uri)]);
    let listening = app.wait_for_log(|entry| entry["message"] == "listening");
    assert_eq!(listening["instance_id_source"], "random");
    app.wait_for_log(|entry| {
        entry["level"] == "WARN" && entry["error"].as_str().unwrap_or("").contains("metadata")
    });
}

#[test]
fn the_healthcheck_subcommand_passes_only_against_a_healthy_server() {
    let app = App::start(&[]);
    let port = app.port.to_string();
    let healthy = Command::new(binary())
        .arg("healthcheck")
        .env("PORT", &port)
        .output()
        .unwrap();
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&healthy.stdout)
    );
    drop(app);

    let down = Command::new(binary())
        .arg("healthcheck")
        .env("PORT", &port)
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stdout).contains("unhealthy"));
}

#[test]
fn a_bad_port_stops_the_task_at_once_with_a_clear_line() {
    let output = Command::new(binary())
        .env("PORT", "eighty")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let line: Value =
        serde_json::from_slice(output.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["error"].as_str().unwrap().contains("PORT is `eighty`"),
        "{line}"
    );
}
