//! The approval function's router, called as Lambda calls it: one request in, one
//! answer out, with the status, headers and body a test asserts on.

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use slipway::web::RequestSource;
use tower::ServiceExt;

/// The approval function as the tests run it.
pub type TestFunction = slipway::aws::http::ApprovalFunction<super::TestAdapters>;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Names in lower case, as `http` keeps them.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` through `router` and reads the whole answer.
pub async fn send(router: Router, request: Request<Body>) -> Answer {
    let response = router
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A request with `method` to `path_and_query`, from a test's loopback caller.
pub fn request(method: &str, path_and_query: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path_and_query)
        .extension(RequestSource("127.0.0.1 (test)".into()))
}

/// A form POST, as the approval page's buttons and Slack send it.
pub fn form_post(path: &str, body: String, headers: &[(&str, String)]) -> Request<Body> {
    let mut builder =
        request("POST", path).header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Body::from(body)).unwrap()
}
