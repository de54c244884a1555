//! The email request routes must not tell an attacker whether an address
//! has an account, by their answer or by their time. This measures
//! `POST /auth/password-reset/request` and `POST /auth/verification/request`
//! over HTTP on the real service (SQLite, mail to a closed SMTP port, so
//! nothing leaves), for an address with an unverified account and one
//! without, interleaved, and prints their medians and the ratio of each
//! known address's median to the unknown one's; the ratio is the figure to
//! watch (1.00 = indistinguishable).
//!
//! Run with `cargo bench -p latch --bench link_request_timing`
//! (`LATCH_BENCH_SAMPLES` sets the samples per case, default 200). It fails
//! only if an answer is not 202, never on timing.

use std::error::Error;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use latch::{Application, Settings};

mod support;
use support::{quantile_ms, samples_per_case};

const DEFAULT_SAMPLES: usize = 200;
const KNOWN: &str = "bench-known@example.com";
const UNKNOWN: &str = "bench-nobody@example.com";

async fn run() -> Result<(), Box<dyn Error>> {
    let samples = samples_per_case(DEFAULT_SAMPLES)?;
    let data_dir = tempfile::tempdir()?;
    let data_dir_str = data_dir
        .path()
        .to_str()
        .ok_or("temporary directory is not UTF-8")?;
    // A port nothing listens on: every mail waits in the outbox.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string();
    let settings = Settings::with_overrides(&[
        ("data_dir", data_dir_str),
        ("http.port", "0"),
        ("log.level", "error"),
        ("rate_limit.enabled", "false"),
        ("email.transport", "smtp"),
        ("email.smtp_port", &closed_port),
        ("email.smtp_tls", "none"),
        ("email.send_verification_on_signup", "false"),
    ])?;
    latch::init_tracing(&settings.log);
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}/api/v1/auth", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let signup = client
        .post(format!("{base}/signup"))
        .json(&serde_json::json!({ "email": KNOWN, "password": "correct horse battery staple" }))
        .send()
        .await?;
    if signup.status() != reqwest::StatusCode::CREATED {
        return Err(format!("signup answered {}", signup.status()).into());
    }

    let routes = ["password-reset/request", "verification/request"];
    let mut timings: Vec<[Vec<Duration>; 2]> = routes.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    // Warm-up, then the cases interleaved so that drift hits them alike.
    for round in 0..samples + 5 {
        for (route, cases) in routes.iter().zip(timings.iter_mut()) {
            for (email, samples) in [KNOWN, UNKNOWN].iter().zip(cases.iter_mut()) {
                let start = Instant::now();
                let response = client
                    .post(format!("{base}/{route}"))
                    .json(&serde_json::json!({ "email": email }))
                    .send()
                    .await?;
                let elapsed = start.elapsed();
                if response.status() != reqwest::StatusCode::ACCEPTED {
                    return Err(format!("{route} for {email} answered {}", response.status()).into());
                }
                if round >= 5 {
                    samples.push(elapsed);
                }
            }
        }
    }

    println!("link request timing: {samples} samples per case, over HTTP on loopback (SQLite)");
    println!(
        "{:<26} {:>14} {:>12} {:>12} {:>16}",
        "route", "address", "median ms", "p90 ms", "known/unknown"
    );
    for (route, cases) in routes.iter().zip(timings.iter_mut()) {
        for samples in cases.iter_mut() {
            samples.sort();
        }
        let [known, unknown] = &cases;
        let ratio = quantile_ms(known, 0.5) / quantile_ms(unknown, 0.5);
        println!(
            "{route:<26} {:>14} {:>12.3} {:>12.3} {:>16}",
            "known",
            quantile_ms(known, 0.5),
            quantile_ms(known, 0.9),
            format!("{ratio:.2}")
        );
        println!(
            "{route:<26} {:>14} {:>12.3} {:>12.3} {:>16}",
            "unknown",
            quantile_ms(unknown, 0.5),
            quantile_ms(unknown, 0.9),
            "1.00"
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("link_request_timing: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("link_request_timing: {err}");
            ExitCode::FAILURE
        }
    }
}
