//! `thumbforge`: parse the command line, start telemetry, run one command.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = thumbforge_cli::Cli::parse();
    match thumbforge_cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
