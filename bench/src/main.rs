//! `latch-bench`: loads a release build of Latch with `wrk` and prints every
//! figure next to a ceiling measured in the same run (issue 5).
//!
//! Run it through `bench/run.sh`, which builds `latch` and this binary in
//! release mode first. Nothing here runs under `cargo test`.

mod error;
mod hashing;
mod hello;
mod http;
mod latch;
mod postgres;
mod replay;
mod report;
mod scenarios;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::error::BenchError;
use crate::scenarios::{Backend, Scenario};

/// Benchmarks a release build of Latch against same-run ceilings.
#[derive(Debug, Parser)]
#[command(name = "latch-bench")]
struct Cli {
    /// Short runs (3 s per load test) for a smoke check; figures are noisier.
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON (one object per scenario) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// PostgreSQL server URL (a role allowed to create databases); every
    /// scenario then runs on a fresh database there too, dropped afterwards.
    #[arg(long, value_name = "URL", env = "LATCH_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Also run the 1M-user scale test on Postgres (needs --postgres; takes
    /// minutes): bulk-loads users, sessions and refresh tokens, then compares
    /// login, refresh and /users/me with the empty database and checks plans.
    #[arg(long)]
    scale: bool,
    /// Run only these scenarios (repeatable, e.g. `--only refresh`); `idle`
    /// always runs, since it starts the server the others load.
    #[arg(long, value_name = "SCENARIO", value_parser = ["users_me", "login", "signup", "refresh", "storm"])]
    only: Vec<String>,
    /// The Latch binary to load; default: `latch` next to this binary.
    #[arg(long, value_name = "PATH")]
    latch: Option<PathBuf>,
}

/// Settings every scenario shares.
pub(crate) struct Plan {
    pub latch_bin: PathBuf,
    pub duration: Duration,
    pub warmup: Duration,
    pub cores: usize,
    /// Scenarios picked with `--only`; empty means all.
    pub only: Vec<String>,
}

impl Plan {
    /// Whether the scenario called `name` should run.
    pub(crate) fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|picked| picked == name)
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("latch-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), BenchError> {
    let latch_bin = match cli.latch {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .map(|dir| dir.join("latch"))
            .ok_or_else(|| BenchError::Setup("cannot locate the directory of latch-bench".into()))?,
    };
    if !latch_bin.is_file() {
        return Err(BenchError::Setup(format!(
            "{} not found: run `cargo build --release -p latch` first, or use bench/run.sh",
            latch_bin.display()
        )));
    }
    wrk::check_installed()?;
    let plan = Plan {
        latch_bin,
        duration: Duration::from_secs(if cli.quick { 3 } else { 10 }),
        warmup: Duration::from_secs(1),
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        only: cli.only,
    };
    println!(
        "latch-bench: {} with wrk, {} s per load test, {} cores; rate limits disabled \
         (LATCH__RATE_LIMIT__ENABLED=false) so the bench is not throttled",
        plan.latch_bin.display(),
        plan.duration.as_secs(),
        plan.cores
    );

    let mut backends = vec![Backend::Sqlite];
    if let Some(url) = &cli.postgres {
        backends.push(Backend::Postgres(url.clone()));
    }

    let mut results: Vec<Scenario> = Vec::new();
    for backend in &backends {
        results.extend(scenarios::run_backend(&plan, backend));
    }
    results.push(scenarios::scale_1m(&plan, cli.postgres.as_deref(), cli.scale));

    report::print_table(&results);
    if let Some(path) = cli.json {
        report::write_json(&path, &results)?;
        println!("JSON written to {}", path.display());
    }
    Ok(())
}
