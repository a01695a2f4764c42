//! `thumbforge`: parse the command line, start telemetry, run one command.

use std::process::ExitCode;

use clap::Parser;

/// See docs/decisions.md ("mimalloc as the global allocator").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = thumbforge_cli::Cli::parse();
    let result = if cli.is_client() {
        thumbforge_cli::run_client(cli)
            .await
            .map(|outcome| outcome.exit_code())
    } else {
        thumbforge_cli::run(cli).await.map(|()| 0)
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
