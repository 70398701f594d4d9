//! Serves an axum `Router` over real HTTP/1.1 on a test's own listener.
//!
//! Not `axum::serve`: its `tokio` feature turns on hyper-util's server modules, and a
//! dev-dependency that changes a feature of a crate the AWS SDK is built on makes
//! `cargo test` compile a second copy of the whole SDK beside the one `cargo build --bins`
//! made for the functions (minutes of CI). hyper's own HTTP/1 server is already in the
//! functions' build.

use axum::Router;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Accepts connections until the task is aborted; one task per connection.
pub async fn serve(listener: TcpListener, router: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                router.clone().oneshot(request.map(axum::body::Body::new))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
