//! `signup`: `POST /api/v1/auth/signup` with a new email each time at 16
//! connections, against the same hashing ceiling as login.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Figure, PASSWORD, Running, Scenario, Target, millis};
use crate::error::BenchError;
use crate::hashing;
use crate::wrk::Script;

const CONNECTIONS: u32 = 16;

pub(crate) fn run(running: &Running<'_>) -> Result<Scenario, BenchError> {
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let script = Script::UniqueSignup {
        run: run.to_string(),
        password: PASSWORD.to_owned(),
    };
    let (result, one_hash) = hashing::around(10, || {
        running.load("/api/v1/auth/signup", CONNECTIONS, &script, false)
    })?;
    let ceiling = hashing::ceiling_per_second(running.plan.cores, one_hash);
    Ok(Scenario::measured(
        "signup",
        running.backend,
        vec![
            Figure::new(
                "signups/s",
                Some(result.ok_per_second()),
                "req/s",
                Some(ceiling),
                Some(Target::RatioAtLeast(0.85)),
            ),
            Figure::info("p99", result.p99_ms(), "ms"),
            Figure::new(
                "errors",
                Some(result.errors() as f64),
                "count",
                None,
                Some(Target::AtMost(0.0)),
            ),
        ],
    )
    .note(format!(
        "wrk -t1 -c{CONNECTIONS} -d{}s, a new email per request; ceiling = {} cores / {:.1} ms per hash",
        running.plan.duration.as_secs(),
        running.plan.cores,
        millis(one_hash)
    ))
    .note(format!("{} requests", result.requests)))
}
