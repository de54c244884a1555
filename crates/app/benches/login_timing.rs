//! Login failures must not tell an attacker which check failed, by their
//! answer or by their time: an unknown user, a wrong password and an inactive
//! account each cost one password verification, and a failed one waits until
//! the slowest kind of hash the hasher knows of, so a wrong password on an
//! account imported with a Django PBKDF2 hash (1,000,000 iterations) costs
//! the same too. This measures the four on the real service (SQLite, default
//! argon2id parameters) and prints their medians and ratios to the unknown
//! user; a correct login is shown for reference.
//!
//! Run with `cargo bench -p latch --bench login_timing` (`LATCH_BENCH_SAMPLES`
//! sets the samples per case, default 60). It fails only if a case does not
//! return `InvalidCredentials`, never on timing: timing is too noisy to gate on.

use std::error::Error;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use latch::Settings;
use latch::startup::{auth_service, open_store};
use latch_core::{
    AdminChanges, AuthService, Client, ImportOptions, ImportRecord, LoginError, LoginRequest, SignupRequest,
};
use latch_ports::UserRepository;

mod support;
use support::{quantile_ms, samples_per_case};

const DEFAULT_SAMPLES: usize = 60;
const WARM_UP_ROUNDS: usize = 3;

const ADMIN_EMAIL: &str = "bench-admin@example.com";
const ACTIVE_EMAIL: &str = "bench-active@example.com";
const INACTIVE_EMAIL: &str = "bench-inactive@example.com";
const UNKNOWN_EMAIL: &str = "bench-nobody@example.com";
const IMPORTED_EMAIL: &str = "bench-imported@example.com";
/// Written by Django 5.2.19's `make_password` at its default 1,000,000
/// iterations, for "correct horse battery staple" (tests/fixtures/legacy-hashes.json).
const DJANGO_PBKDF2: &str =
    "pbkdf2_sha256$1000000$YkdMv6tdQcij1OAWTtfzRG$3OV2r26ROzUe6qyltBE+F2x25w/czRlMBnaeeFUX7qI=";
const PASSWORD: &str = "correct horse battery staple 42";
// Same length as the real one, so a policy check cannot tell them apart either.
const WRONG_PASSWORD: &str = "correct horse battery stapel 42";

/// What a login attempt must return for its timing to mean anything.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    InvalidCredentials,
    Success,
}

struct Case {
    label: &'static str,
    login: &'static str,
    password: &'static str,
    expect: Expect,
    samples: Vec<Duration>,
}

impl Case {
    fn new(label: &'static str, login: &'static str, password: &'static str, expect: Expect) -> Self {
        Self {
            label,
            login,
            password,
            expect,
            samples: Vec::new(),
        }
    }

    /// One timed login; an error if it took another path than the case names.
    async fn attempt(&self, auth: &AuthService) -> Result<Duration, String> {
        let request = LoginRequest {
            login: self.login.to_owned(),
            password: self.password.into(),
            // What the HTTP adapter passes; it is written to the audit trail.
            client: Client {
                ip: Some("203.0.113.7".to_owned()),
                user_agent: Some("latch-bench".to_owned()),
            },
        };
        let start = Instant::now();
        let result = auth.login(request).await;
        let elapsed = start.elapsed();
        match (self.expect, &result) {
            (Expect::InvalidCredentials, Err(LoginError::InvalidCredentials)) | (Expect::Success, Ok(_)) => {
                Ok(elapsed)
            }
            (Expect::InvalidCredentials, _) => Err(format!(
                "{}: expected InvalidCredentials, got {result:?}; the bench would measure another path",
                self.label
            )),
            (Expect::Success, _) => Err(format!("{}: expected a session, got {result:?}", self.label)),
        }
    }
}

/// `$argon2id$v=19$m=19456,t=2,p=1$salt$hash` → `argon2id v=19 m=19456,t=2,p=1`.
fn hash_parameters(phc: &str) -> String {
    phc.split('$')
        .filter(|part| !part.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run() -> Result<(), Box<dyn Error>> {
    let samples = samples_per_case(DEFAULT_SAMPLES)?;
    let data_dir = tempfile::tempdir()?;
    let data_dir_str = data_dir
        .path()
        .to_str()
        .ok_or("temporary directory is not UTF-8")?;
    // As the binary builds it; rate limits off, or the repeated failures for one
    // account would soon be throttled and the bench would time the refusal.
    let settings = Settings::with_overrides(&[
        ("data_dir", data_dir_str),
        ("log.level", "warn"),
        ("rate_limit.enabled", "false"),
    ])?;
    latch::init_tracing(&settings.log);
    let store = open_store(&settings, true).await?;
    let auth = auth_service(&settings, &store).await?;

    let signup = |email: &str| SignupRequest {
        email: email.to_owned(),
        password: PASSWORD.into(),
        ..SignupRequest::default()
    };
    auth.create_superuser(signup(ADMIN_EMAIL)).await?;
    auth.signup(signup(ACTIVE_EMAIL)).await?;
    let inactive = auth.signup(signup(INACTIVE_EMAIL)).await?;
    // Deactivated the way an operator would: through the admin use case.
    let admin_login = LoginRequest {
        login: ADMIN_EMAIL.to_owned(),
        password: PASSWORD.into(),
        client: Client::default(),
    };
    let admin = auth
        .authenticate(&auth.login(admin_login).await?.access_token)
        .await?;
    let deactivate = AdminChanges {
        is_active: Some(false),
        ..AdminChanges::default()
    };
    auth.admin_update_user(&admin, inactive.id, deactivate).await?;
    // Imported as `latch import-users` would; only ever given a wrong password,
    // since a right one would rehash it to argon2id.
    let mut import = auth.start_import(ImportOptions::default());
    let record = ImportRecord::new(IMPORTED_EMAIL, DJANGO_PBKDF2);
    let mut rejected = import.add(1, record).await?;
    rejected.extend(import.finish().await?);
    if let Some(line) = rejected.first() {
        return Err(format!("the imported user was rejected: {line}").into());
    }

    let stored = store
        .users()
        .find_credentials(ACTIVE_EMAIL)
        .await?
        .ok_or("the active user was not stored")?;
    let parameters = hash_parameters(&stored.password_hash.0);

    let mut cases = [
        Case::new(
            "unknown user",
            UNKNOWN_EMAIL,
            PASSWORD,
            Expect::InvalidCredentials,
        ),
        Case::new(
            "wrong password",
            ACTIVE_EMAIL,
            WRONG_PASSWORD,
            Expect::InvalidCredentials,
        ),
        Case::new(
            "wrong password, pbkdf2 account (imported)",
            IMPORTED_EMAIL,
            WRONG_PASSWORD,
            Expect::InvalidCredentials,
        ),
        Case::new(
            "inactive user",
            INACTIVE_EMAIL,
            PASSWORD,
            Expect::InvalidCredentials,
        ),
        Case::new(
            "correct password (reference, not compared)",
            ACTIVE_EMAIL,
            PASSWORD,
            Expect::Success,
        ),
    ];
    // Round-robin so drift (CPU frequency, other load) hits every case alike;
    // each round starts one case later, so no case always follows the same one.
    for round in 0..WARM_UP_ROUNDS + samples {
        for offset in 0..cases.len() {
            let index = (round + offset) % cases.len();
            let elapsed = cases[index].attempt(&auth).await?;
            if round >= WARM_UP_ROUNDS {
                cases[index].samples.push(elapsed);
            }
        }
    }
    store.close().await;

    println!(
        "login timing: {parameters} (stored hash), {samples} samples per case, interleaved, \
         after {WARM_UP_ROUNDS} warm-up rounds"
    );
    println!("{:<44} {:>10} {:>10} {:>10}", "case", "median", "p10", "p90");
    let mut medians = Vec::new();
    for case in &mut cases {
        case.samples.sort_unstable();
        let median = quantile_ms(&case.samples, 0.5);
        println!(
            "{:<44} {:>7.2} ms {:>7.2} ms {:>7.2} ms",
            case.label,
            median,
            quantile_ms(&case.samples, 0.1),
            quantile_ms(&case.samples, 0.9),
        );
        if case.expect == Expect::InvalidCredentials {
            medians.push(median);
        }
    }
    let unknown = medians[0];
    println!("wrong/unknown        = {:.2}", medians[1] / unknown);
    println!("pbkdf2 wrong/unknown = {:.2}", medians[2] / unknown);
    println!("inactive/unknown     = {:.2}", medians[3] / unknown);
    let fastest = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = medians.iter().copied().fold(0.0, f64::max);
    println!(
        "max spread of medians: {:.1} % (target: within noise, < 10 %)",
        (slowest - fastest) / fastest * 100.0
    );
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("login_timing: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("login_timing: {err}");
            ExitCode::FAILURE
        }
    }
}
