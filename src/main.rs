//! `slipway`, the operator's command line: wiring only (src/cli/ holds the program).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    slipway::cli::main().await
}
