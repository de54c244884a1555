//! `login`: `POST /api/v1/auth/login` at 16 connections against the hashing
//! ceiling (cores ÷ one argon2id hash).

use super::{Figure, Running, Scenario, Target, login_body, millis};
use crate::error::BenchError;
use crate::hashing;
use crate::wrk::Script;

/// wrk connections (also the scale test's login load).
pub(crate) const CONNECTIONS: u32 = 16;

pub(crate) fn run(running: &Running<'_>) -> Result<Scenario, BenchError> {
    let (result, one_hash) = hashing::around(10, || {
        running.load(
            "/api/v1/auth/login",
            CONNECTIONS,
            &Script::PostJson(login_body(&running.email)),
            false,
        )
    })?;
    let ceiling = hashing::ceiling_per_second(running.plan.cores, one_hash);
    Ok(Scenario::measured(
        "login",
        running.backend,
        vec![
            Figure::new(
                "logins/s",
                Some(result.ok_per_second()),
                "req/s",
                Some(ceiling),
                Some(Target::RatioAtLeast(0.85)),
            ),
            Figure::info("p99", result.p99_ms(), "ms"),
            Figure::new("errors", Some(result.errors() as f64), "count", None, Some(Target::AtMost(0.0))),
        ],
    )
    .note(format!(
        "wrk -t1 -c{CONNECTIONS} -d{}s; ceiling = {} cores / {:.1} ms (median argon2id m=19456 t=2 p=1 hash here, 10 before the load and 10 after)",
        running.plan.duration.as_secs(),
        running.plan.cores,
        millis(one_hash)
    ))
    .note(format!("{} requests", result.requests)))
}
