//! The few W3C WebDriver commands the browser test sends to chromedriver, over plain HTTP
//! on loopback (https://www.w3.org/TR/webdriver2/: New Session, Navigate To, Find Element,
//! Get Element Text, Element Send Keys, Element Click, Get Page Source, Back, Refresh,
//! Delete Session).
//!
//! Not fantoccini: its dependencies (cookie, time, webdriver's ICU) turn on features of
//! crates the AWS SDK is built on, and `cargo test` then compiles a second copy of the SDK
//! beside the functions' (minutes of CI). reqwest is already in the functions' build.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key under which WebDriver returns an element's reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

#[derive(Debug)]
pub struct WebDriverError(pub String);

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, WebDriverError>;

pub struct Session {
    http: reqwest::Client,
    url: String,
}

pub enum Locator<'a> {
    Css(&'a str),
    XPath(&'a str),
}

pub struct Element<'a> {
    session: &'a Session,
    id: String,
}

impl Session {
    /// New Session with `capabilities` as `alwaysMatch`.
    pub async fn start(webdriver: &str, capabilities: Value) -> Result<Session> {
        let http = reqwest::Client::new();
        let created = send(
            http.post(format!("{webdriver}/session")),
            json!({"capabilities": {"alwaysMatch": capabilities}}),
        )
        .await?;
        let id = created["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError(format!("no sessionId in {created}")))?;
        Ok(Session {
            http,
            url: format!("{webdriver}/session/{id}"),
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        send(self.http.post(format!("{}{path}", self.url)), body).await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        send(self.http.get(format!("{}{path}", self.url)), Value::Null).await
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    pub async fn source(&self) -> Result<String> {
        string(self.get("/source").await?)
    }

    pub async fn back(&self) -> Result<()> {
        self.post("/back", json!({})).await.map(drop)
    }

    pub async fn refresh(&self) -> Result<()> {
        self.post("/refresh", json!({})).await.map(drop)
    }

    pub async fn find(&self, locator: Locator<'_>) -> Result<Element<'_>> {
        let (using, value) = match locator {
            Locator::Css(css) => ("css selector", css),
            Locator::XPath(xpath) => ("xpath", xpath),
        };
        let found = self
            .post("/element", json!({ "using": using, "value": value }))
            .await?;
        let id = found[ELEMENT]
            .as_str()
            .ok_or_else(|| WebDriverError(format!("no element reference in {found}")))?;
        Ok(Element {
            session: self,
            id: id.to_string(),
        })
    }

    /// Finds the element, asking again every 100 ms until `timeout`.
    pub async fn wait_for(&self, xpath: &str, timeout: Duration) -> Result<Element<'_>> {
        let started = Instant::now();
        loop {
            match self.find(Locator::XPath(xpath)).await {
                Ok(element) => return Ok(element),
                Err(error) if started.elapsed() >= timeout => {
                    return Err(WebDriverError(format!(
                        "{xpath} not found within {timeout:?}: {error}"
                    )))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn close(self) -> Result<()> {
        send(self.http.delete(&self.url), Value::Null)
            .await
            .map(drop)
    }
}

impl Element<'_> {
    pub async fn text(&self) -> Result<String> {
        string(
            self.session
                .get(&format!("/element/{}/text", self.id))
                .await?,
        )
    }

    pub async fn send_keys(&self, text: &str) -> Result<()> {
        let path = format!("/element/{}/value", self.id);
        self.session
            .post(&path, json!({ "text": text }))
            .await
            .map(drop)
    }

    pub async fn click(&self) -> Result<()> {
        let path = format!("/element/{}/click", self.id);
        self.session.post(&path, json!({})).await.map(drop)
    }
}

/// Sends a command and returns its `value`; a WebDriver error (`value.error`) is an Err.
async fn send(request: reqwest::RequestBuilder, body: Value) -> Result<Value> {
    let request = if body.is_null() {
        request
    } else {
        request.json(&body)
    };
    let answer: Value = request
        .send()
        .await
        .map_err(|e| WebDriverError(format!("chromedriver did not answer: {e}")))?
        .json()
        .await
        .map_err(|e| WebDriverError(format!("chromedriver's answer is not JSON: {e}")))?;
    let value = answer["value"].clone();
    match value.get("error").and_then(Value::as_str) {
        Some(error) => Err(WebDriverError(format!("{error}: {}", value["message"]))),
        None => Ok(value),
    }
}

fn string(value: Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| WebDriverError(format!("expected a string, got {value}")))
}
