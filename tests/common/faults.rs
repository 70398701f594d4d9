//! A fault-injecting proxy between Slipway's AWS clients and the emulator.
//!
//! Every call passes through it and is counted (service, operation, the fault it got).
//! At a chosen rate — for all calls or for chosen operations — it answers the way AWS
//! does when things go wrong: throttling (HTTP 400 `ThrottlingException`, 429, S3's 503
//! `SlowDown`), 500 and 503, a response held past the client's timeout (the emulator has
//! applied the call: the worst kind of timeout), and a dropped connection (not applied).
//! It can also stand in for a crash: after the n-th matching call has been applied, it
//! never answers and tells the test, which then drops the invocation — from AWS's side
//! exactly what a killed function looks like.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::sync::oneshot;

/// What the proxy does to a call instead of passing it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException` (S3: 503 `SlowDown`, its way of throttling).
    Throttling,
    /// HTTP 429 `TooManyRequestsException`.
    TooManyRequests,
    /// HTTP 500.
    InternalError,
    /// HTTP 503.
    Unavailable,
    /// Passed to the emulator (which applies it), answered only after the client gave up.
    Slow,
    /// The connection closed without an answer; the emulator never saw the call.
    Dropped,
    /// S3's 409 `ConditionalRequestConflict`: another conditional write to the key was in
    /// flight, and this one was not applied (S3 API Reference, PutObject: "On a 409
    /// failure you should retry the upload"). moto never answers it.
    InFlightConflict,
}

impl Fault {
    /// Every kind, for a mixed run.
    pub const ALL: [Fault; 6] = [
        Fault::Throttling,
        Fault::TooManyRequests,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::Slow,
        Fault::Dropped,
    ];
}

/// AWS-like latency: each call waits a time drawn from a log-normal distribution (most
/// calls take tens of milliseconds, a few hundreds), and the first call to each service
/// also pays for a new connection's TLS handshake, as the first calls of a cold start do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub median: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// Added to the first call to each service (DNS, TCP and TLS of a new connection).
    pub first_call: Duration,
}

impl Latency {
    /// Figures of the order AWS's regional endpoints answer within from Lambda in the same
    /// region: a 30 ms median for a control-plane call (ECS, ECR, Secrets Manager) or an
    /// S3 request, a 300 ms 99th percentile, and about 100 ms for a new TLS connection
    /// (the AWS SDK's first call dominates a Rust function's cold start).
    pub const AWS_LIKE: Latency = Latency {
        median: Duration::from_millis(30),
        p99: Duration::from_millis(300),
        first_call: Duration::from_millis(100),
    };

    /// One draw: exp(N(ln median, σ)) with σ chosen so that 99 % of draws are below p99.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        let median = self.median.as_secs_f64();
        let sigma = (self.p99.as_secs_f64() / median).ln() / 2.326;
        // Box–Muller: a standard normal from two uniforms.
        let (u1, u2) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        Duration::from_secs_f64(median * (sigma * normal).exp())
    }
}

/// One call as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// `ecs`, `ecr`, `s3`, `sns`, `secretsmanager`, `sqs`, … (from the request's signature).
    pub service: String,
    /// `RegisterTaskDefinition`, `PutObject`, …
    pub operation: String,
    /// For S3: the object key (or bucket) the call names.
    pub path: String,
    /// The request of a JSON-protocol call (ECS, ECR, Secrets Manager).
    pub body: Option<serde_json::Value>,
    pub fault: Option<Fault>,
}

impl Call {
    /// Whether the call changes something (what a crash after it leaves behind).
    pub fn is_write(&self) -> bool {
        [
            "Put", "Register", "Update", "Create", "Delete", "Publish", "Send", "Tag", "Run",
            "Stop",
        ]
        .iter()
        .any(|verb| self.operation.starts_with(verb))
    }

    /// A string field of the request, e.g. UpdateService's `taskDefinition`.
    pub fn body_field(&self, name: &str) -> Option<String> {
        self.body.as_ref()?.get(name)?.as_str().map(str::to_string)
    }
}

/// Picks calls (by service, operation, path).
pub type Matcher = Box<dyn Fn(&Call) -> bool + Send>;

struct Injection {
    rate: f64,
    faults: Vec<Fault>,
    applies_to: Option<Matcher>,
}

struct Crash {
    matches: Matcher,
    skip: usize,
    fired: Option<oneshot::Sender<Call>>,
}

struct State {
    upstream: String,
    http: reqwest::Client,
    slow_for: Duration,
    inner: Mutex<Inner>,
}

/// Changes the emulator's JSON answer to a call before the client sees it.
type Rewrite = Box<dyn Fn(&Call, &mut serde_json::Value) + Send>;

/// Answers a call the emulator cannot (HTTP status, JSON body), without forwarding it.
type Answer = Box<dyn Fn(&Call) -> (u16, serde_json::Value) + Send>;

struct Inner {
    rng: fastrand::Rng,
    /// Every rewrite whose matcher accepts a call is applied to its answer, in order.
    rewrites: Vec<(Matcher, Rewrite)>,
    /// The first stand-in whose matcher accepts a call answers it (after any fault).
    answers: Vec<(Matcher, Answer)>,
    /// The first rule that accepts a call decides whether it faults.
    injections: Vec<Injection>,
    crash: Option<Crash>,
    calls: Vec<Call>,
    latency: Option<Latency>,
    /// The services a call has gone to since the latency was set (their first call paid).
    connected: std::collections::HashSet<String>,
}

/// The proxy, stopped when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and passes calls to `upstream`. A `Slow` answer
    /// comes after `slow_for`, which must be longer than the clients' attempt timeout.
    pub async fn start(upstream: &str, slow_for: Duration, seed: u64) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            slow_for,
            inner: Mutex::new(Inner {
                rng: fastrand::Rng::with_seed(seed),
                rewrites: Vec::new(),
                answers: Vec::new(),
                injections: Vec::new(),
                crash: None,
                calls: Vec::new(),
                latency: None,
                connected: Default::default(),
            }),
        });
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { state.handle(request).await }
                    });
                    // An error here is a dropped connection, on purpose or by the client.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            endpoint,
            state,
            server,
        }
    }

    /// From now on, answer `rate` of the calls `applies_to` accepts (all, if `None`) with
    /// one of `faults`, chosen at random. Rules add up (one rate per API, say); the first
    /// that accepts a call decides.
    pub fn inject(&self, rate: f64, faults: &[Fault], applies_to: Option<Matcher>) {
        self.state.inner.lock().unwrap().injections.push(Injection {
            rate,
            faults: faults.to_vec(),
            applies_to,
        });
    }

    /// From now on, calls `applies_to` accepts are answered by `answer` and never reach
    /// the emulator: how a test plays an operation the emulator does not implement. Each
    /// use cites the AWS documentation it follows.
    pub fn answer(
        &self,
        applies_to: impl Fn(&Call) -> bool + Send + 'static,
        answer: impl Fn(&Call) -> (u16, serde_json::Value) + Send + 'static,
    ) {
        self.state
            .inner
            .lock()
            .unwrap()
            .answers
            .push((Box::new(applies_to), Box::new(answer)));
    }

    /// From now on, the JSON answers (ECS, ECR, …) to calls `applies_to` accepts are
    /// changed by `rewrite` before the client reads them: how a test plays an AWS answer
    /// the emulator cannot give. Each use cites the AWS documentation it follows.
    pub fn rewrite(
        &self,
        applies_to: impl Fn(&Call) -> bool + Send + 'static,
        rewrite: impl Fn(&Call, &mut serde_json::Value) + Send + 'static,
    ) {
        self.state
            .inner
            .lock()
            .unwrap()
            .rewrites
            .push((Box::new(applies_to), Box::new(rewrite)));
    }

    /// From now on, every call waits as long as an AWS call would ([`Latency`]); the next
    /// call to each service pays for a new connection.
    pub fn with_latency(&self, latency: Latency) {
        let mut inner = self.state.inner.lock().unwrap();
        inner.latency = Some(latency);
        inner.connected.clear();
    }

    /// One draw of the latency set (zero without one): what a call the proxy does not see,
    /// such as Lambda's Invoke, would wait.
    pub fn sample_latency(&self) -> Duration {
        let mut inner = self.state.inner.lock().unwrap();
        match inner.latency {
            Some(latency) => latency.sample(&mut inner.rng),
            None => Duration::ZERO,
        }
    }

    /// Pass everything through again.
    pub fn calm(&self) {
        self.state.inner.lock().unwrap().injections.clear();
    }

    /// After the emulator has applied the `(skip + 1)`-th call that `matches`, never
    /// answer it; the receiver learns which call it was.
    pub fn crash_after(
        &self,
        matches: impl Fn(&Call) -> bool + Send + 'static,
        skip: usize,
    ) -> oneshot::Receiver<Call> {
        let (fired, receiver) = oneshot::channel();
        self.state.inner.lock().unwrap().crash = Some(Crash {
            matches: Box::new(matches),
            skip,
            fired: Some(fired),
        });
        receiver
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.inner.lock().unwrap().calls.clone()
    }

    pub fn reset_calls(&self) {
        self.state.inner.lock().unwrap().calls.clear();
    }

    /// How many calls of `operation` reached the emulator (faults that never passed the
    /// call on — throttles, errors, drops — are not counted; slow ones are).
    pub fn applied(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation && matches!(c.fault, None | Some(Fault::Slow)))
            .count()
    }

    pub fn faults_injected(&self) -> usize {
        self.calls().iter().filter(|c| c.fault.is_some()).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the proxy decided for one call.
enum Verdict {
    Pass,
    Fault(Fault),
}

/// The handler's error closes the connection without an answer.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for DropConnection {}

impl State {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, DropConnection> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map_err(|_| DropConnection)?.to_bytes();
        let mut call = identify(&parts, &body);
        let verdict = self.decide(&call);
        if let Verdict::Fault(fault) = verdict {
            call.fault = Some(fault);
        }
        let wait = {
            let mut inner = self.inner.lock().unwrap();
            inner.calls.push(call.clone());
            let first = inner.connected.insert(call.service.clone());
            match inner.latency {
                Some(latency) => {
                    let extra = if first {
                        latency.first_call
                    } else {
                        Duration::ZERO
                    };
                    Some(latency.sample(&mut inner.rng) + extra)
                }
                None => None,
            }
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
        let protocol = Protocol::of(&parts, &call);
        match verdict {
            Verdict::Fault(Fault::Dropped) => return Err(DropConnection),
            Verdict::Fault(Fault::Slow) | Verdict::Pass => {}
            Verdict::Fault(fault) => return Ok(protocol.error(fault)),
        }
        if let Some(answered) = self.answered_here(&call) {
            // A stand-in's call is applied as the emulator's are: a crash after it holds.
            if let Some(fired) = self.crash_due(&call) {
                let _ = fired.send(call);
                std::future::pending::<()>().await;
            }
            return Ok(answered);
        }
        let answer = self
            .rewritten(&call, self.forward(&parts, body).await?)
            .await;
        if let Some(fired) = self.crash_due(&call) {
            let _ = fired.send(call);
            std::future::pending::<()>().await;
        }
        if matches!(verdict, Verdict::Fault(Fault::Slow)) {
            tokio::time::sleep(self.slow_for).await;
        }
        Ok(answer)
    }

    fn answered_here(&self, call: &Call) -> Option<Response<Full<Bytes>>> {
        let inner = self.inner.lock().unwrap();
        let (_, answer) = inner.answers.iter().find(|(accepts, _)| accepts(call))?;
        let (status, body) = answer(call);
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        Some(response)
    }

    async fn rewritten(&self, call: &Call, answer: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
        if !self
            .inner
            .lock()
            .unwrap()
            .rewrites
            .iter()
            .any(|(accepts, _)| accepts(call))
        {
            return answer;
        }
        let (mut parts, body) = answer.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        // An empty answer is an empty JSON object (the emulator answers some JSON-protocol
        // calls with no body at all).
        let parsed = match bytes.is_empty() {
            true => Ok(serde_json::json!({})),
            false => serde_json::from_slice::<serde_json::Value>(&bytes),
        };
        let Ok(mut json) = parsed else {
            return Response::from_parts(parts, Full::new(bytes));
        };
        // The body changes length: the client must not read the emulator's.
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        for (accepts, rewrite) in &self.inner.lock().unwrap().rewrites {
            if accepts(call) {
                rewrite(call, &mut json);
            }
        }
        Response::from_parts(parts, Full::new(Bytes::from(json.to_string())))
    }

    fn decide(&self, call: &Call) -> Verdict {
        let mut inner = self.inner.lock().unwrap();
        let Inner {
            rng, injections, ..
        } = &mut *inner;
        let Some(injection) = injections
            .iter()
            .find(|i| i.applies_to.as_ref().is_none_or(|accepts| accepts(call)))
        else {
            return Verdict::Pass;
        };
        if injection.faults.is_empty() || rng.f64() >= injection.rate {
            return Verdict::Pass;
        }
        Verdict::Fault(injection.faults[rng.usize(..injection.faults.len())])
    }

    fn crash_due(&self, call: &Call) -> Option<oneshot::Sender<Call>> {
        let mut inner = self.inner.lock().unwrap();
        let crash = inner.crash.as_mut()?;
        if !(crash.matches)(call) || crash.fired.is_none() {
            return None;
        }
        if crash.skip > 0 {
            crash.skip -= 1;
            return None;
        }
        crash.fired.take()
    }

    async fn forward(
        &self,
        parts: &hyper::http::request::Parts,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, DropConnection> {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut request = self
            .http
            .request(parts.method.clone(), format!("{}{path}", self.upstream))
            .body(body);
        for (name, value) in &parts.headers {
            if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
                request = request.header(name, value);
            }
        }
        // The emulator being away looks to the client like an endpoint that drops it.
        let upstream = request.send().await.map_err(|_| DropConnection)?;
        let mut answer = Response::builder().status(upstream.status());
        for (name, value) in upstream.headers() {
            if name != hyper::header::CONTENT_LENGTH
                && name != hyper::header::TRANSFER_ENCODING
                && name != hyper::header::CONNECTION
            {
                answer = answer.header(name, value);
            }
        }
        let bytes = upstream.bytes().await.map_err(|_| DropConnection)?;
        Ok(answer.body(Full::new(bytes)).unwrap())
    }
}

/// Service and operation of a call: the service from the signature's credential scope,
/// the operation from `X-Amz-Target` (JSON protocols), `Action` (query protocol) or, for
/// S3, the method and the path.
fn identify(parts: &hyper::http::request::Parts, body: &Bytes) -> Call {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let service = header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    let path = parts.uri.path().trim_start_matches('/').to_string();
    let target = header("x-amz-target");
    let operation = if let Some((_, operation)) = target.rsplit_once('.') {
        operation.to_string()
    } else if service == "s3" {
        let query = parts.uri.query().unwrap_or("");
        let object = path.contains('/');
        match (parts.method.as_str(), object) {
            ("GET", false) if query.contains("list-type=2") => "ListObjectsV2",
            ("GET", false) => "ListObjects",
            ("GET", true) => "GetObject",
            ("HEAD", true) => "HeadObject",
            ("PUT", true) => "PutObject",
            ("DELETE", true) => "DeleteObject",
            ("PUT", false) => "CreateBucket",
            (method, _) => method,
        }
        .to_string()
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .ok()
            .and_then(|form| form.into_iter().find(|(k, _)| k == "Action"))
            .map(|(_, action)| action)
            .unwrap_or_else(|| "unknown".into())
    };
    let body = (!target.is_empty())
        .then(|| serde_json::from_slice(body).ok())
        .flatten();
    Call {
        service,
        operation,
        path,
        body,
        fault: None,
    }
}

/// How the service words its errors.
enum Protocol {
    Json,
    RestXml,
    Query,
}

impl Protocol {
    fn of(parts: &hyper::http::request::Parts, call: &Call) -> Protocol {
        if parts.headers.contains_key("x-amz-target") {
            Protocol::Json
        } else if call.service == "s3" {
            Protocol::RestXml
        } else {
            Protocol::Query
        }
    }

    fn error(&self, fault: Fault) -> Response<Full<Bytes>> {
        let (status, code) = match (self, fault) {
            (Protocol::RestXml, Fault::Throttling) => (503, "SlowDown"),
            (Protocol::Query, Fault::Throttling) => (400, "Throttling"),
            (_, Fault::Throttling) => (400, "ThrottlingException"),
            (_, Fault::TooManyRequests) => (429, "TooManyRequestsException"),
            (Protocol::RestXml, Fault::InternalError) => (500, "InternalError"),
            (_, Fault::InternalError) => (500, "InternalFailure"),
            (_, Fault::InFlightConflict) => (409, "ConditionalRequestConflict"),
            (_, Fault::Unavailable | Fault::Slow | Fault::Dropped) => (503, "ServiceUnavailable"),
        };
        let message = "injected by the fault proxy";
        let (content_type, body) = match self {
            Protocol::Json => (
                "application/x-amz-json-1.1",
                serde_json::json!({"__type": code, "message": message}).to_string(),
            ),
            Protocol::RestXml => (
                "application/xml",
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"),
            ),
            Protocol::Query => (
                "text/xml",
                format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"),
            ),
        };
        let mut response = Response::builder()
            .status(status)
            .header("content-type", content_type);
        if let Protocol::Json = self {
            response = response.header("x-amzn-errortype", code);
        }
        response.body(Full::new(Bytes::from(body))).unwrap()
    }
}
