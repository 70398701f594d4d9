//! The test probe's GET, over reqwest: the status the URL answered, redirects not
//! followed (a redirect is the answer the check compares), and no answer within
//! `timeout` is "did not answer". The body is not read.

use std::time::Duration;

use crate::model::test_probe::Observation;
use crate::ports::Prober;

pub struct HttpProber {
    client: reqwest::Client,
}

impl HttpProber {
    pub fn new(timeout: Duration) -> HttpProber {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("slipway-test-probe")
            .build()
            .expect("a client of fixed settings builds");
        HttpProber { client }
    }
}

impl Prober for HttpProber {
    async fn get(&self, url: &str) -> Observation {
        match self.client.get(url).send().await {
            Ok(response) => Observation::Status(response.status().as_u16()),
            Err(err) if err.is_timeout() => Observation::NoAnswer("timed out".into()),
            Err(err) if err.is_connect() => {
                Observation::NoAnswer(format!("could not connect: {err}"))
            }
            Err(err) => Observation::NoAnswer(err.to_string()),
        }
    }
}
