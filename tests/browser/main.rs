//! The approval page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which `make test` installs) opens the emailed link, sees the change,
//! types a name and clicks Approve; the service rolls. The page is served over real HTTP
//! by the approval function's own axum router, under the function URL's local prefix.

#[path = "../common/mod.rs"]
mod common;
mod webdriver;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::web::TestFunction;
use common::*;
use slipway::ledger::image_key;
use slipway::model::deployment::State as DeploymentState;
use slipway::web::ApprovalApp;
use webdriver::{Locator, Session};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Chromedriver(Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_chromedriver() -> (Chromedriver, String) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "{CHROMEDRIVER} or {CHROMIUM} is missing: run `make browser` (part of `make test`), which installs Debian's chromium and chromium-driver"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Chromedriver(child), format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approver_opens_the_link_sees_the_change_and_approves_in_chromium() {
    let (chromedriver, webdriver_url) = start_chromedriver();
    let (world, digest) = World::with_web_and_a_new_push().await;
    let approvers = world.approvers().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://{}/lambda-url/approval",
        listener.local_addr().unwrap()
    );
    let target = target_json("web", "web", r#"{"glob": "v*"}"#, "approval");
    let (deployer, _calls) = world.approval_deployer_at(&config(&[target]), &approvers, &base);
    let deployer = Arc::new(deployer);
    // The approval function's own router, served over HTTP as `cargo lambda watch` serves it.
    let router = TestFunction::new(ApprovalApp {
        deployer: deployer.clone(),
        slack_signing_secret: None,
        later: None,
    })
    .router();
    let server = tokio::spawn(async move { common::serve::serve(listener, router).await });

    deployer
        .handle_ecr_event(&push_event("e-1", Some("v2"), &digest), &invocation("r-1"))
        .await
        .unwrap();
    let published = world.published(&approvers).await;
    let link = published[0]
        .split_whitespace()
        .find(|w| w.starts_with(&base))
        .unwrap_or_else(|| panic!("no link to {base} in {published:?}"))
        .to_string();

    let profile = std::env::temp_dir().join(format!("slipway-chromium-{}", free_port()));
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())]
        }
    });
    let client = Session::start(&webdriver_url, capabilities)
        .await
        .expect("a Chromium session");

    let result = async {
        client.goto(&link).await?;
        let heading = client.find(Locator::Css("h1")).await?.text().await?;
        assert_eq!(heading, "Deploy to web?");
        let page = client.source().await?;
        assert!(page.contains(&image_uri(&digest)), "the new image is shown");
        assert!(page.contains("container app: image"), "the diff is shown");
        // Nothing happened by opening it.
        let id = format!("web.{}", image_key(&digest));
        assert_eq!(
            deployer.deployment(&id).await.unwrap().value.state,
            DeploymentState::AwaitingApproval
        );

        client
            .find(Locator::Css("#approve-name"))
            .await?
            .send_keys("Alice Example")
            .await?;
        client.find(Locator::Css("#approve")).await?.click().await?;
        let outcome = client
            .wait_for("//h1[text()='Approved']", Duration::from_secs(20))
            .await?;
        assert_eq!(outcome.text().await?, "Approved");
        let message = client.find(Locator::Css("p")).await?.text().await?;
        assert!(message.contains("Approved by Alice Example"), "{message}");
        let record = deployer.deployment(&id).await.unwrap().value;
        assert_eq!(record.state, DeploymentState::Rolling);
        let (running, _) = world.running("web").await;
        assert_eq!(
            running.container_definitions()[0].image(),
            Some(image_uri(&digest).as_str())
        );

        // Going back and pressing again changes nothing and says who decided.
        client.back().await?;
        client.refresh().await?;
        let again = client.find(Locator::Css("h1")).await?.text().await?;
        assert_eq!(again, "Already approved");
        Ok::<_, webdriver::WebDriverError>(())
    }
    .await;
    let _ = client.close().await;
    server.abort();
    drop(chromedriver);
    let _ = std::fs::remove_dir_all(&profile);
    result.expect("the browser steps");
}
