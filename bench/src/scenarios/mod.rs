//! One module per scenario, each returning a [`Scenario`]: named figures with
//! their same-run ceiling, ratio and the target.
//!
//! The 1M-user scale test runs only when asked for ([`scale_1m`]); otherwise
//! its row says how to run it, so the table lists every figure the issue asks for.

mod idle;
mod login;
mod refresh;
mod scale;
mod signup;
mod storm;
mod users_me;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::Plan;
use crate::error::BenchError;
use crate::hashing;
use crate::http;
use crate::latch::{LatchConfig, LatchProcess};
use crate::postgres::FreshDatabase;
use crate::wrk;

/// The password of every bench account (passes Latch's default policy).
const PASSWORD: &str = "violet kettle under nine moons";

/// Where Latch keeps its data for a run.
pub(crate) enum Backend {
    Sqlite,
    /// Server URL of a role allowed to create databases.
    Postgres(String),
}

impl Backend {
    fn label(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// A target from the issue.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub(crate) enum Target {
    /// `figure / ceiling` at least this.
    RatioAtLeast(f64),
    /// The figure at most this (in the figure's unit).
    AtMost(f64),
}

/// One measured (or not yet measured) number.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figure {
    pub name: &'static str,
    /// `None`: not measured (yet).
    pub value: Option<f64>,
    pub unit: &'static str,
    pub ceiling: Option<f64>,
    pub ratio: Option<f64>,
    pub target: Option<Target>,
    /// `None` when there is no target or no value.
    pub met: Option<bool>,
}

impl Figure {
    /// A figure with no ceiling and no target: reported for information.
    pub(crate) fn info(name: &'static str, value: f64, unit: &'static str) -> Self {
        Self::new(name, Some(value), unit, None, None)
    }

    /// A figure with an optional ceiling and target; ratio and met are derived.
    pub(crate) fn new(
        name: &'static str,
        value: Option<f64>,
        unit: &'static str,
        ceiling: Option<f64>,
        target: Option<Target>,
    ) -> Self {
        let ratio = match (value, ceiling) {
            (Some(value), Some(ceiling)) if ceiling > 0.0 => Some(value / ceiling),
            _ => None,
        };
        let met = match (target, value) {
            (Some(Target::RatioAtLeast(min)), _) => ratio.map(|ratio| ratio >= min),
            (Some(Target::AtMost(max)), Some(value)) => Some(value <= max),
            _ => None,
        };
        Self {
            name,
            value,
            unit,
            ceiling,
            ratio,
            target,
            met,
        }
    }
}

/// Whether a scenario ran.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub(crate) enum Status {
    Measured,
    /// Not run, and why (e.g. an opt-in flag not given).
    Skipped(String),
    Failed(String),
}

/// The result of one scenario on one backend: one JSON object in `--json`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Scenario {
    pub scenario: &'static str,
    pub backend: &'static str,
    #[serde(flatten)]
    pub status: Status,
    pub figures: Vec<Figure>,
    /// Settings and side figures worth knowing when comparing runs.
    pub notes: Vec<String>,
}

impl Scenario {
    pub(crate) fn measured(scenario: &'static str, backend: &'static str, figures: Vec<Figure>) -> Self {
        Self {
            scenario,
            backend,
            status: Status::Measured,
            figures,
            notes: Vec::new(),
        }
    }

    fn failed(scenario: &'static str, backend: &'static str, err: &dyn fmt::Display) -> Self {
        Self {
            scenario,
            backend,
            status: Status::Failed(err.to_string()),
            figures: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn skipped(scenario: &'static str, backend: &'static str, reason: &str) -> Self {
        Self {
            scenario,
            backend,
            status: Status::Skipped(reason.to_owned()),
            figures: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// What the load scenarios share: a running Latch with one account logged in.
pub(crate) struct Running<'a> {
    pub plan: &'a Plan,
    pub backend: &'static str,
    pub latch: &'a LatchProcess,
    pub scratch: &'a Path,
    /// The database Latch runs on (its SQLite file's URL when it has no `database_url`).
    pub database_url: String,
    pub email: String,
    pub access_token: String,
}

impl Running<'_> {
    fn addr(&self) -> SocketAddr {
        self.latch.addr()
    }

    /// One wrk run against Latch, after a warm-up of `plan.warmup` when `warm_up`.
    fn load(
        &self,
        path: &str,
        connections: u32,
        script: &wrk::Script,
        warm_up: bool,
    ) -> Result<wrk::WrkResult, BenchError> {
        load(
            self.addr(),
            path,
            connections,
            script,
            self.plan,
            self.scratch,
            warm_up,
        )
    }
}

/// One wrk run against any server, optionally after a warm-up run.
fn load(
    addr: SocketAddr,
    path: &str,
    connections: u32,
    script: &wrk::Script,
    plan: &Plan,
    scratch: &Path,
    warm_up: bool,
) -> Result<wrk::WrkResult, BenchError> {
    let mut load = wrk::Load {
        addr,
        path,
        connections,
        duration: plan.warmup,
        script,
    };
    if warm_up {
        wrk::run(&load, scratch)?;
    }
    load.duration = plan.duration;
    wrk::run(&load, scratch)
}

/// A scenario measured against the hashing ceiling (login, signup).
type HashingScenario = fn(&Running<'_>) -> Result<Scenario, BenchError>;

/// Every measured scenario on one backend, in order: idle (which starts the
/// Latch the others load), users_me, login, signup, refresh, storm; with
/// `--only`, just the picked ones after idle.
pub(crate) fn run_backend(plan: &Plan, backend: &Backend) -> Vec<Scenario> {
    let label = backend.label();
    let fail_all = |err: &BenchError| -> Vec<Scenario> {
        ["idle", "users_me", "login", "signup", "refresh", "storm"]
            .into_iter()
            .map(|name| Scenario::failed(name, label, err))
            .collect()
    };
    let scratch = match tempfile::Builder::new().prefix("latch-bench-").tempdir() {
        Ok(dir) => dir,
        Err(err) => return fail_all(&err.into()),
    };
    // Declared before the Latch process so it is dropped (the database removed) after it.
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres(admin_url) => match FreshDatabase::create(admin_url) {
            Ok(database) => Some(database),
            Err(err) => return fail_all(&err),
        },
    };
    let config = LatchConfig {
        bin: plan.latch_bin.clone(),
        data_dir: PathBuf::from(scratch.path()),
        database_url: database.as_ref().map(|db| db.url().to_owned()),
    };
    println!("[{label}] idle: start, stop, start again");
    let (idle, latch) = match idle::run(plan, label, &config) {
        Ok(outcome) => outcome,
        Err(err) => return fail_all(&err),
    };
    let mut results = vec![idle];
    let running = match sign_up_and_log_in(plan, label, &latch, scratch.path(), &config) {
        Ok(running) => running,
        Err(err) => {
            results.extend(fail_all(&err).into_iter().skip(1));
            return results;
        }
    };
    if plan.runs("users_me") {
        println!("[{label}] users_me: Latch, then the actix-web hello-world ceiling");
        results.push(users_me::run(&running).unwrap_or_else(|err| Scenario::failed("users_me", label, &err)));
    }
    // Against the hashing ceiling, which each measures around its own load.
    let hashing_scenarios: [(&str, HashingScenario); 2] = [("login", login::run), ("signup", signup::run)];
    for (name, run) in hashing_scenarios {
        if plan.runs(name) {
            println!("[{label}] {name}");
            results.push(run(&running).unwrap_or_else(|err| Scenario::failed(name, label, &err)));
        }
    }
    if plan.runs("refresh") {
        println!("[{label}] refresh: Latch, then its statements replayed with sqlx");
        let target = matches!(backend, Backend::Postgres(_)).then_some(Target::RatioAtLeast(0.5));
        results.push(
            refresh::run(&running, target).unwrap_or_else(|err| Scenario::failed("refresh", label, &err)),
        );
    }
    if plan.runs("storm") {
        println!("[{label}] storm: /users/me alone, then during a login storm, three times");
        results.push(
            // The storm paces logins by the hashing capacity, so measures it first.
            hashing::median_hash_time(20)
                .map_err(|err| err.to_string())
                .and_then(|one| storm::run(&running, one).map_err(|err| err.to_string()))
                .unwrap_or_else(|err| Scenario::failed("storm", label, &err)),
        );
    }
    drop(running);
    latch.stop();
    drop(database);
    results
}

/// The `scale_1m` row: run on the Postgres server at `postgres` when `enabled`
/// (`--scale`), otherwise a row that says how to run it.
pub(crate) fn scale_1m(plan: &Plan, postgres: Option<&str>, enabled: bool) -> Scenario {
    match (enabled, postgres) {
        (false, _) => Scenario::skipped(
            "scale_1m",
            "postgres",
            "opt-in (minutes): pass --scale with --postgres URL",
        ),
        (true, None) => Scenario::skipped("scale_1m", "postgres", "--scale needs --postgres URL"),
        (true, Some(url)) => {
            scale::run(plan, url).unwrap_or_else(|err| Scenario::failed("scale_1m", "postgres", &err))
        }
    }
}

/// Creates the bench account over HTTP and logs it in.
fn sign_up_and_log_in<'a>(
    plan: &'a Plan,
    backend: &'static str,
    latch: &'a LatchProcess,
    scratch: &'a Path,
    config: &LatchConfig,
) -> Result<Running<'a>, BenchError> {
    let email = "bench-user@example.com".to_owned();
    let signup = serde_json::json!({ "email": email, "password": PASSWORD }).to_string();
    let response = http::request(latch.addr(), "POST", "/api/v1/auth/signup", &[], Some(&signup))?;
    if response.status != 201 {
        return Err(BenchError::Http(format!(
            "signup answered {}: {}",
            response.status, response.body
        )));
    }
    let login = login_body(&email);
    let response = http::request(latch.addr(), "POST", "/api/v1/auth/login", &[], Some(&login))?;
    if response.status != 200 {
        return Err(BenchError::Http(format!(
            "login answered {}: {}",
            response.status, response.body
        )));
    }
    let tokens: serde_json::Value = serde_json::from_str(&response.body)?;
    let access_token = tokens
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| BenchError::Http("login response has no access_token".into()))?
        .to_owned();
    let bearer = format!("Bearer {access_token}");
    let me = http::request(
        latch.addr(),
        "GET",
        "/api/v1/users/me",
        &[("Authorization", &bearer)],
        None,
    )?;
    if me.status != 200 {
        return Err(BenchError::Http(format!(
            "/users/me answered {}: {}",
            me.status, me.body
        )));
    }
    Ok(Running {
        plan,
        backend,
        latch,
        scratch,
        database_url: config
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", config.data_dir.join("latch.db").display())),
        email,
        access_token,
    })
}

/// Logs `email` in `count` times, a few logins at a time, and returns the refresh tokens.
fn log_in_sessions(addr: SocketAddr, email: &str, count: usize) -> Result<Vec<String>, BenchError> {
    const THREADS: usize = 4;
    let body = login_body(email);
    let log_in = || -> Result<String, BenchError> {
        let response = http::request(addr, "POST", "/api/v1/auth/login", &[], Some(&body))?;
        if response.status != 200 {
            return Err(BenchError::Http(format!(
                "login answered {}: {}",
                response.status, response.body
            )));
        }
        let tokens: serde_json::Value = serde_json::from_str(&response.body)?;
        tokens
            .get("refresh_token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| BenchError::Http("login response has no refresh_token".into()))
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|worker| {
                let share = count / THREADS + usize::from(worker < count % THREADS);
                scope.spawn(move || (0..share).map(|_| log_in()).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        let mut tokens = Vec::with_capacity(count);
        for worker in workers {
            let share = worker
                .join()
                .map_err(|_| BenchError::Setup("a login thread ended abnormally".into()))??;
            tokens.extend(share);
        }
        Ok(tokens)
    })
}

fn login_body(email: &str) -> String {
    serde_json::json!({ "login": email, "password": PASSWORD }).to_string()
}

/// Bytes to (decimal) megabytes.
pub(crate) fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Milliseconds of a duration, as a float.
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
