//! Wiring: settings, logs, the instance id, then serve until ECS stops the task.
//! `app healthcheck` runs the container health check instead.

use app::build_info::BUILD;
use app::instance::Instance;
use app::settings::Settings;
use app::{healthcheck, routes, serve};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "bad configuration");
            return ExitCode::from(2);
        }
    };

    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("healthcheck") => {
            return match healthcheck::check(settings.port).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(%error, "unhealthy");
                    ExitCode::FAILURE
                }
            }
        }
        Some(other) => {
            tracing::error!(
                argument = other,
                "unknown argument: run `app` to serve or `app healthcheck`"
            );
            return ExitCode::from(2);
        }
    }

    let listener = match serve::bind(settings.port).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let instance = Instance::discover(settings.task_metadata_uri.as_deref()).await;
    tracing::info!(
        address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        version = BUILD.version,
        git_sha = BUILD.git_sha,
        instance_id = %instance.id,
        instance_id_source = instance.source,
        "listening"
    );

    match serve::serve_until(
        listener,
        routes::router(instance),
        serve::stop_signal(),
        settings.drain,
    )
    .await
    {
        Ok(()) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "stopped with an error");
            ExitCode::FAILURE
        }
    }
}
