//! Runs `wrk` with a small Lua script and reads its results back from a
//! `done()` hook that prints one JSON line, rather than parsing wrk's text.
//!
//! Non-2xx/3xx answers are counted from `summary.errors.status`, not with a
//! `response()` hook: that hook makes wrk itself much slower.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use crate::error::BenchError;

/// Marks the line the `done()` hook prints.
const MARKER: &str = "LATCH_BENCH_RESULT ";

/// Appended to every script: prints the figures as one JSON line.
const DONE_HOOK: &str = r#"
done = function(summary, latency, requests)
  io.write(string.format(
    "LATCH_BENCH_RESULT {\"requests\":%d,\"duration_us\":%d,\"connect_errors\":%d,\"read_errors\":%d,"
      .. "\"write_errors\":%d,\"status_errors\":%d,\"timeouts\":%d,\"p50_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#;

/// Fails with install instructions when `wrk` is not on the `PATH`.
pub(crate) fn check_installed() -> Result<(), BenchError> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(_) => Err(BenchError::Wrk(
            "not found on PATH: install it (Debian/Ubuntu: apt-get install wrk) or use bench/run.sh".into(),
        )),
    }
}

/// What wrk sends.
pub(crate) enum Script {
    /// A plain `GET`.
    Get,
    /// A `GET` with `Authorization: Bearer <token>`.
    GetWithBearer(String),
    /// The same JSON body `POST`ed every time.
    PostJson(String),
    /// A sign-up `POST` whose email is unique per request (`run` keeps runs apart).
    UniqueSignup { run: String, password: String },
}

impl Script {
    fn lua(&self) -> String {
        let body = match self {
            Self::Get => String::new(),
            Self::GetWithBearer(token) => {
                format!("wrk.headers[\"Authorization\"] = [==[Bearer {token}]==]\n")
            }
            Self::PostJson(json) => format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [==[{json}]==]\n"
            ),
            Self::UniqueSignup { run, password } => format!(
                r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
function request()
  counter = counter + 1
  local body = string.format([==[{{"email":"load-%s-%d-%d@example.com","password":"%s"}}]==],
    [==[{run}]==], tid or 0, counter, [==[{password}]==])
  return wrk.format(nil, nil, nil, body)
end
"#
            ),
        };
        format!("{body}{DONE_HOOK}")
    }
}

/// A load: `connections` connections (one wrk thread) for `duration`.
pub(crate) struct Load<'a> {
    pub addr: SocketAddr,
    pub path: &'a str,
    pub connections: u32,
    pub duration: Duration,
    pub script: &'a Script,
}

/// wrk's figures for one run. Latencies in microseconds.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub status_errors: u64,
    pub timeouts: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl WrkResult {
    /// Successful (non-error status) responses per second.
    pub(crate) fn ok_per_second(&self) -> f64 {
        let seconds = self.duration_us as f64 / 1e6;
        if seconds <= 0.0 {
            return 0.0;
        }
        self.requests.saturating_sub(self.status_errors) as f64 / seconds
    }

    /// Every failed request: error statuses, socket errors and timeouts.
    pub(crate) fn errors(&self) -> u64 {
        self.status_errors + self.connect_errors + self.read_errors + self.write_errors + self.timeouts
    }

    pub(crate) fn p50_ms(&self) -> f64 {
        self.p50_us as f64 / 1000.0
    }

    pub(crate) fn p99_ms(&self) -> f64 {
        self.p99_us as f64 / 1000.0
    }
}

/// Runs wrk once; `scratch` is a directory for the Lua script.
pub(crate) fn run(load: &Load<'_>, scratch: &Path) -> Result<WrkResult, BenchError> {
    let script_path = scratch.join(format!("wrk-{}-{}.lua", load.addr.port(), load.connections));
    std::fs::write(&script_path, load.script.lua())?;
    let duration = load.duration.as_secs().max(1);
    let output = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{duration}s"))
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(&script_path)
        .arg(format!("http://{}{}", load.addr, load.path))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(BenchError::Wrk(format!(
            "exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(MARKER))
        .ok_or_else(|| BenchError::Wrk(format!("no result line in its output: {}", stdout.trim())))?;
    Ok(serde_json::from_str(line)?)
}
