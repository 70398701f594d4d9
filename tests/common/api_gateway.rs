//! API Gateway's part of the operator endpoint, played: the emulator has no API Gateway
//! that checks IAM, and cargo lambda serves the function with no authorizer. For a route
//! with `AWS_IAM` authorization API Gateway (API Gateway Developer Guide, "Control access
//! to HTTP APIs with IAM authorization in API Gateway"):
//! - refuses a request without a SigV4 signature, or whose signature does not verify
//!   against the caller's secret key, with 403, and the function never runs;
//! - refuses a caller whose IAM policy does not allow `execute-api:Invoke` on
//!   `…/POST/operator/<action>`, with 403;
//! - otherwise invokes the function with the verified identity in
//!   `requestContext.authorizer.iam` — here the router's [`VerifiedCaller`] extension,
//!   which is what `aws::http` makes of it.
//!
//! The signature is recomputed here independently of the client's signer, following the
//! IAM User Guide, "Create a signed AWS API request" (canonical request, string to sign,
//! signing key), and compared in constant time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use slipway::web::operator::VerifiedCaller;
use slipway::web::RequestSource;
use tower::ServiceExt;

/// A caller API Gateway knows: their secret key, ARN, and the actions their IAM policy
/// allows (`rollback`, `*`, …).
#[derive(Clone)]
pub struct Principal {
    pub secret: String,
    pub arn: String,
    pub allowed: Vec<String>,
}

/// How many requests reached the function, and how many were refused before it.
#[derive(Default, Debug, Clone)]
pub struct Counts {
    pub invoked: usize,
    pub refused: usize,
}

pub struct ApiGateway {
    pub endpoint: String,
    counts: Arc<Mutex<Counts>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ApiGateway {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Gateway {
    router: Router,
    principals: HashMap<String, Principal>,
    region: String,
    counts: Arc<Mutex<Counts>>,
}

impl ApiGateway {
    /// Serves `router` on a free loopback port behind IAM authorization; `principals` by
    /// access key id.
    pub async fn start(
        router: Router,
        principals: HashMap<String, Principal>,
        region: &str,
    ) -> ApiGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let counts = Arc::new(Mutex::new(Counts::default()));
        let gateway = Arc::new(Gateway {
            router,
            principals,
            region: region.to_string(),
            counts: counts.clone(),
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let gateway = gateway.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let gateway = gateway.clone();
                        async move { Ok::<_, std::convert::Infallible>(gateway.handle(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ApiGateway {
            endpoint,
            counts,
            server,
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }
}

impl Gateway {
    async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Body> {
        use http_body_util::BodyExt;
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let caller = match self.authorize(&parts, &body) {
            Ok(caller) => caller,
            Err(message) => {
                self.counts.lock().unwrap().refused += 1;
                return hyper::Response::builder()
                    .status(403)
                    .header("content-type", "application/json")
                    .body(Body::from(
                        serde_json::json!({ "message": message }).to_string(),
                    ))
                    .unwrap();
            }
        };
        self.counts.lock().unwrap().invoked += 1;
        let mut request = axum::http::Request::from_parts(parts, Body::from(body));
        request.extensions_mut().insert(caller);
        request
            .extensions_mut()
            .insert(RequestSource("127.0.0.1 (slipway-cli)".into()));
        self.router.clone().oneshot(request).await.unwrap()
    }

    fn authorize(
        &self,
        parts: &axum::http::request::Parts,
        body: &[u8],
    ) -> Result<VerifiedCaller, String> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let authorization = header("authorization").ok_or("Forbidden")?;
        let fields = authorization
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or("Forbidden")?;
        let field = |name: &str| {
            fields
                .split(',')
                .map(str::trim)
                .find_map(|f| f.strip_prefix(&format!("{name}=")))
                .ok_or("Forbidden")
        };
        let credential = field("Credential")?;
        let signed_headers = field("SignedHeaders")?;
        let signature = field("Signature")?;
        let mut scope = credential.split('/');
        let (key, date, region, service) = (
            scope.next().unwrap_or_default(),
            scope.next().unwrap_or_default(),
            scope.next().unwrap_or_default(),
            scope.next().unwrap_or_default(),
        );
        if service != "execute-api" || region != self.region {
            return Err(
                "Credential should be scoped to a valid region and service execute-api".into(),
            );
        }
        let principal = self
            .principals
            .get(key)
            .ok_or("The security token included in the request is invalid.")?;
        let amz_date = header("x-amz-date").ok_or("Forbidden")?;
        let signed_at = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
            .map_err(|_| "Forbidden")?
            .and_utc();
        if (chrono::Utc::now() - signed_at).num_seconds().abs() > 300 {
            return Err("Signature expired".into());
        }
        let names: Vec<&str> = signed_headers.split(';').collect();
        if !names.contains(&"host")
            || !names.contains(&"x-amz-date")
            || names.iter().any(|n| header(n).is_none())
        {
            return Err("Forbidden".into());
        }
        let canonical_headers: String = names
            .iter()
            .map(|name| format!("{name}:{}\n", header(name).unwrap_or_default().trim()))
            .collect();
        let canonical_request = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
            parts.method,
            parts.uri.path(),
            parts.uri.query().unwrap_or_default(),
            hex::encode(Sha256::digest(body)),
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let mut signing_key = format!("AWS4{}", principal.secret).into_bytes();
        for part in [date, region, service, "aws4_request"] {
            signing_key = hmac(&signing_key, part.as_bytes());
        }
        let expected = hex::encode(hmac(&signing_key, string_to_sign.as_bytes()));
        let matches = expected.len() == signature.len()
            && expected
                .bytes()
                .zip(signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !matches {
            return Err("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".into());
        }
        let action = parts.uri.path().rsplit('/').next().unwrap_or_default();
        if !principal.allowed.iter().any(|a| a == "*" || a == action) {
            return Err(format!(
                "User: {} is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:{region}:123456789012:stand-in/$default/POST/operator/{action}",
                principal.arn
            ));
        }
        Ok(VerifiedCaller {
            arn: principal.arn.clone(),
            account: principal
                .arn
                .split(':')
                .nth(4)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
