//! `latch`: see `latch --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match latch::run(latch::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("latch: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
