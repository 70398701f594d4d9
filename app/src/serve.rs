//! Listening, and stopping the way ECS stops a task: SIGTERM, then SIGKILL after the
//! container's `stopTimeout`. On SIGTERM (or Ctrl-C) the server stops accepting, lets
//! in-flight requests finish, and exits 0; requests still running when the drain window ends
//! are abandoned with an error line and exit 1, before ECS's kill would cut the log short.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on port {port}: {source} (is another process using it? set PORT)")]
    Bind { port: u16, source: io::Error },
    #[error("the server stopped: {0}")]
    Server(io::Error),
    #[error("in-flight requests were still running {0:?} after the stop signal; exiting before ECS kills the task")]
    DrainTimedOut(Duration),
}

/// Binds on all interfaces (the container's port mapping decides what reaches it).
pub async fn bind(port: u16) -> Result<TcpListener, ServeError> {
    TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
        .await
        .map_err(|source| ServeError::Bind { port, source })
}

/// Serves `app` until `stop` resolves, then drains for at most `drain`.
pub async fn serve_until(
    listener: TcpListener,
    app: axum::Router,
    stop: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<(), ServeError> {
    let (stopping_tx, stopping_rx) = oneshot::channel::<()>();
    let graceful = async move {
        stop.await;
        tracing::info!(
            drain_seconds = drain.as_secs(),
            "stop signal: no new connections, draining in-flight requests"
        );
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(graceful)
        .into_future();
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => return result.map_err(ServeError::Server),
        // The sender only disappears once the signal has been handled.
        _ = stopping_rx => {}
    }
    match tokio::time::timeout(drain, server).await {
        Ok(result) => result.map_err(ServeError::Server),
        Err(_) => Err(ServeError::DrainTimedOut(drain)),
    }
}

/// Resolves on SIGTERM (ECS stopping the task) or SIGINT (Ctrl-C on a laptop).
pub async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = terminate.recv() => {}
            _ = ctrl_c => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
