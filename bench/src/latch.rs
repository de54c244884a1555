//! Starts the release `latch` binary as a child process on a free loopback
//! port and stops it again: [`LatchProcess`] kills the child when dropped, so
//! no server outlives a failed scenario.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::http;

/// How a Latch process is configured: where its data lives and which database it uses.
#[derive(Clone)]
pub(crate) struct LatchConfig {
    pub bin: PathBuf,
    /// `data_dir`: the SQLite file (when no `database_url`) and the generated signing key.
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
}

/// A running Latch; killed on drop.
pub(crate) struct LatchProcess {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    /// Spawn to first 200 from `/readyz`.
    pub ready_after: Duration,
}

impl LatchProcess {
    /// Spawns Latch and waits (up to 30 s) until `/readyz` answers 200.
    pub(crate) fn start(config: &LatchConfig) -> Result<Self, BenchError> {
        let port = free_port()?;
        let log = config.data_dir.join(format!("latch-{port}.log"));
        let log_file = File::create(&log)?;
        let mut command = Command::new(&config.bin);
        command
            .arg("serve")
            // No config/{LATCH_ENV}.toml overlay from wherever the bench was started.
            .current_dir(&config.data_dir)
            .env_remove("RUST_LOG")
            .env("LATCH__HTTP__HOST", "127.0.0.1")
            .env("LATCH__HTTP__PORT", port.to_string())
            .env("LATCH__DATA_DIR", &config.data_dir)
            .env("LATCH__LOG__LEVEL", "warn")
            .env("LATCH__RATE_LIMIT__ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        if let Some(url) = &config.database_url {
            command.env("LATCH__DATABASE__URL", url);
        }
        let started = Instant::now();
        let child = command.spawn()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut process = Self {
            child,
            addr,
            log,
            ready_after: Duration::ZERO,
        };
        loop {
            if http::answers_ok(addr, "/readyz") {
                process.ready_after = started.elapsed();
                return Ok(process);
            }
            if let Some(status) = process.child.try_wait()? {
                return Err(BenchError::Latch(format!(
                    "exited with {status}: {}",
                    process.log_tail()
                )));
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(BenchError::Latch(format!(
                    "not ready after 30 s: {}",
                    process.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now, from `/proc/<pid>/status` (Linux only).
    pub(crate) fn rss_bytes(&self) -> Result<u64, BenchError> {
        rss_bytes(self.pid())
    }

    /// Peak resident set size since start or the last [`Self::reset_peak_rss`]
    /// (`VmHWM` in `/proc/<pid>/status`, Linux only).
    pub(crate) fn peak_rss_bytes(&self) -> Result<u64, BenchError> {
        status_kib(self.pid(), "VmHWM:").map(|kib| kib * 1024)
    }

    /// Restarts the peak (`VmHWM`) from the current RSS: writes `5` to
    /// `/proc/<pid>/clear_refs` (Linux ≥ 4.0; allowed on our own child).
    pub(crate) fn reset_peak_rss(&self) -> Result<(), BenchError> {
        let path = Path::new("/proc").join(self.pid().to_string()).join("clear_refs");
        std::fs::write(path, "5")?;
        Ok(())
    }

    /// Asks Latch to shut down (SIGTERM), then kills it if it has not exited within 5 s.
    pub(crate) fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }
}

impl Drop for LatchProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A port nothing listens on right now (the OS picks it; released before use).
pub(crate) fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// `VmRSS` of a process, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> Result<u64, BenchError> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// A `kB` field (`field` with its colon) of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Result<u64, BenchError> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| BenchError::Latch(format!("no {field} in /proc/{pid}/status")))
}
