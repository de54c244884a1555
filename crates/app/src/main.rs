//! `latch`: see `latch --help`.

use std::process::ExitCode;

use clap::Parser;
use latch_ports::ErrorChain;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match latch::Cli::try_parse() {
        Ok(cli) => cli,
        Err(usage) => {
            let _ = usage.print();
            // Not clap's usual 2: `import-users` exits 2 for "ran, some lines rejected".
            return if usage.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match latch::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("latch: {}", ErrorChain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}
