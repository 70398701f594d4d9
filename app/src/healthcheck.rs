//! `app healthcheck`: the container health check. The runtime image has no shell or curl, so
//! the binary checks itself: it calls its own `/health` on loopback and exits 0 only for a
//! `200 true`, the same contract the ALB uses.

use std::time::Duration;

/// ECS's health check `timeout` defaults to 5 s; answer before it.
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("GET {url} failed: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("GET {url} answered {status} `{body}`, expected 200 `true`")]
    Unhealthy {
        url: String,
        status: u16,
        body: String,
    },
}

pub async fn check(port: u16) -> Result<(), HealthError> {
    let url = format!("http://127.0.0.1:{port}/health");
    let request = |source| HealthError::Request {
        url: url.clone(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(request)?;
    let response = client.get(&url).send().await.map_err(request)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(request)?;
    if status == 200 && body.trim() == "true" {
        Ok(())
    } else {
        Err(HealthError::Unhealthy { url, status, body })
    }
}
