//! `idle`: release binary size, start-up time to ready with the migrations
//! already applied, and resident memory at rest.

use std::time::Duration;

use super::{Figure, Scenario, Target, megabytes, millis};
use crate::Plan;
use crate::error::BenchError;
use crate::latch::{LatchConfig, LatchProcess};

/// Starts Latch (applying migrations), stops it, starts it again and measures
/// that second start. Returns the second process, for the load scenarios.
pub(crate) fn run(
    plan: &Plan,
    backend: &'static str,
    config: &LatchConfig,
) -> Result<(Scenario, LatchProcess), BenchError> {
    let binary_size = std::fs::metadata(&plan.latch_bin)?.len();
    let first = LatchProcess::start(config)?;
    let first_ready = first.ready_after;
    first.stop();
    let latch = LatchProcess::start(config)?;
    let ready = latch.ready_after;
    std::thread::sleep(Duration::from_secs(1));
    let rss = latch.rss_bytes()?;
    let scenario = Scenario::measured(
        "idle",
        backend,
        vec![
            Figure::new(
                "ready after start",
                Some(millis(ready)),
                "ms",
                None,
                Some(Target::AtMost(300.0)),
            ),
            Figure::new(
                "idle RSS",
                Some(megabytes(rss)),
                "MB",
                None,
                Some(Target::AtMost(30.0)),
            ),
            Figure::info("binary size", megabytes(binary_size), "MB"),
        ],
    )
    .note(format!(
        "first start (empty database, migrations applied): ready after {:.0} ms",
        millis(first_ready)
    ))
    .note("readiness polled every 2 ms; RSS is VmRSS 1 s after ready");
    Ok((scenario, latch))
}
