//! The `deskringer` binary: a thin shim over the library.

use std::process::ExitCode;

use clap::Parser;
use deskringer::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    deskringer::telemetry::tune_allocator();
    // A `.env` file is a development convenience; real environments set variables directly.
    let _ = dotenvy::dotenv();
    deskringer::telemetry::init();
    let cli = Cli::parse();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
