//! Runs `wrk` with a small Lua script and reads its results back from a
//! `done()` hook that prints one JSON line, rather than parsing wrk's text.
//!
//! Non-2xx/3xx answers are counted from `summary.errors.status`, not with a
//! `response()` hook: that hook makes wrk itself much slower. Only the scripts
//! that need one anyway (refresh chains, paced loads) count statuses by class.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::Deserialize;

use crate::error::BenchError;

/// Marks the line the `done()` hook prints.
const MARKER: &str = "LATCH_BENCH_RESULT ";

/// Prepended to every script: numbers the threads (`tid`), keeps them for
/// `done()`, and counts statuses by class for scripts with a `response()` hook.
const PRELUDE: &str = r#"
local latch_threads = {}
function setup(thread)
  table.insert(latch_threads, thread)
  thread:set("tid", #latch_threads)
end
latch_shed, latch_other = 0, 0
function latch_count(status)
  if status == 429 or status == 503 then
    latch_shed = latch_shed + 1
  elseif status < 200 or status > 299 then
    latch_other = latch_other + 1
  end
end
"#;

/// Appended to every script: prints the figures as one JSON line.
const DONE_HOOK: &str = r#"
done = function(summary, latency, requests)
  local shed, other = 0, 0
  for _, thread in ipairs(latch_threads) do
    shed = shed + (thread:get("latch_shed") or 0)
    other = other + (thread:get("latch_other") or 0)
  end
  io.write(string.format(
    "LATCH_BENCH_RESULT {\"requests\":%d,\"duration_us\":%d,\"connect_errors\":%d,\"read_errors\":%d,"
      .. "\"write_errors\":%d,\"status_errors\":%d,\"timeouts\":%d,\"p50_us\":%d,\"p99_us\":%d,\"max_us\":%d,"
      .. "\"shed\":%d,\"other_statuses\":%d}\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, shed, other))
end
"#;

/// Spaces requests `1000 / rate` ms apart on one thread's schedule, whatever
/// connection is free: an open-loop rate as long as enough connections are
/// idle (wrk has no `-R`; that is wrk2's). The clock is `clock_gettime`
/// through LuaJIT's FFI, as wrk's Lua has no sub-second clock. A schedule that
/// fell more than a second behind restarts from now instead of bursting.
const PACING: &str = r#"
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } latch_timespec;
int clock_gettime(int clock, latch_timespec *tp);
]]
local latch_ts = ffi.new("latch_timespec")
local function latch_now_ms()
  ffi.C.clock_gettime(1, latch_ts)
  return tonumber(latch_ts.tv_sec) * 1000 + tonumber(latch_ts.tv_nsec) / 1e6
end
local latch_next = nil
function delay()
  local now = latch_now_ms()
  if latch_next == nil or latch_next < now - 1000 then
    latch_next = now
  end
  local wait = latch_next - now
  latch_next = latch_next + latch_interval_ms
  if wait < 0 then
    return 0
  end
  return math.floor(wait)
end
function response(status, headers, body)
  latch_count(status)
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
    /// `POST {"refresh_token": ...}`, each token used once: a request takes a
    /// token from the pool and its 200 puts the successor back, so every
    /// connection follows one live chain. Give more tokens than connections:
    /// a failed refresh loses its chain, and an empty pool sends an invalid
    /// token (a 401, counted as an error).
    RefreshChains(Vec<String>),
    /// `base` (a `Get`, `GetWithBearer` or `PostJson`) sent at `per_second`
    /// on a fixed schedule rather than as fast as the connections allow;
    /// statuses are counted by class (`shed` = 429 and 503).
    Paced { base: Box<Script>, per_second: f64 },
}

impl Script {
    /// The whole script: prelude, this script's part, `done()` hook.
    fn lua(&self) -> String {
        format!("{PRELUDE}{}{DONE_HOOK}", self.lua_body())
    }

    /// This script's part alone.
    fn lua_body(&self) -> String {
        match self {
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
local counter = 0
function request()
  counter = counter + 1
  local body = string.format([==[{{"email":"load-%s-%d-%d@example.com","password":"%s"}}]==],
    [==[{run}]==], tid or 0, counter, [==[{password}]==])
  return wrk.format(nil, nil, nil, body)
end
"#
            ),
            Self::RefreshChains(tokens) => {
                let pool: Vec<String> = tokens.iter().map(|token| format!("[==[{token}]==]")).collect();
                format!(
                    r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local pool = {{ {} }}
function request()
  local token = table.remove(pool) or "latch_rt_spent"
  return wrk.format(nil, nil, nil, '{{"refresh_token":"' .. token .. '"}}')
end
function response(status, headers, body)
  latch_count(status)
  if status == 200 then
    local successor = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
    if successor then
      table.insert(pool, successor)
    end
  end
end
"#,
                    pool.join(", ")
                )
            }
            Self::Paced { base, per_second } => {
                let interval = 1000.0 / per_second.max(0.001);
                format!("{}latch_interval_ms = {interval}\n{PACING}", base.lua_body())
            }
        }
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
    /// 429 and 503 answers; counted only by scripts with a `response()` hook.
    #[serde(default)]
    pub shed: u64,
    /// Answers outside 2xx, 429 and 503; counted only by scripts with a `response()` hook.
    #[serde(default)]
    pub other_statuses: u64,
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

    /// Requests sent per second, whatever the answer.
    pub(crate) fn sent_per_second(&self) -> f64 {
        let seconds = self.duration_us as f64 / 1e6;
        if seconds <= 0.0 {
            return 0.0;
        }
        self.requests as f64 / seconds
    }

    /// Socket errors and timeouts: requests with no answer at all.
    pub(crate) fn socket_errors(&self) -> u64 {
        self.connect_errors + self.read_errors + self.write_errors + self.timeouts
    }
}

/// Runs wrk once; `scratch` is a directory for the Lua script.
pub(crate) fn run(load: &Load<'_>, scratch: &Path) -> Result<WrkResult, BenchError> {
    spawn(load, scratch)?.wait()
}

/// Tells the Lua scripts of concurrent runs apart.
static SCRIPTS: AtomicU32 = AtomicU32::new(0);

/// A wrk process started by [`spawn`]; killed if dropped before [`Pending::wait`].
pub(crate) struct Pending {
    child: Option<Child>,
}

/// Starts wrk and returns at once, so two loads can run side by side.
pub(crate) fn spawn(load: &Load<'_>, scratch: &Path) -> Result<Pending, BenchError> {
    let script_path = scratch.join(format!(
        "wrk-{}-{}-{}.lua",
        load.addr.port(),
        load.connections,
        SCRIPTS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&script_path, load.script.lua())?;
    let duration = load.duration.as_secs().max(1);
    let child = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{duration}s"))
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(&script_path)
        .arg(format!("http://{}{}", load.addr, load.path))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    Ok(Pending { child: Some(child) })
}

impl Pending {
    /// Waits for wrk to finish and reads its result line.
    pub(crate) fn wait(mut self) -> Result<WrkResult, BenchError> {
        let child = self
            .child
            .take()
            .ok_or_else(|| BenchError::Wrk("already waited for".into()))?;
        let output = child.wait_with_output()?;
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
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
