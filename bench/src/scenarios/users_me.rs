//! `users_me`: `GET /api/v1/users/me` with a Bearer token at 32 connections,
//! against actix-web's hello world with the same workers and wrk settings.

use super::{Figure, Running, Scenario, Target, load};
use crate::error::BenchError;
use crate::hello::HelloServer;
use crate::wrk::Script;

/// wrk connections (also the scale test's `/users/me` load).
pub(crate) const CONNECTIONS: u32 = 32;

pub(crate) fn run(running: &Running<'_>) -> Result<Scenario, BenchError> {
    let latch = running.load(
        "/api/v1/users/me",
        CONNECTIONS,
        &Script::GetWithBearer(running.access_token.clone()),
        true,
    )?;
    let hello = HelloServer::start(running.plan.cores)?;
    let ceiling = load(
        hello.addr(),
        "/",
        CONNECTIONS,
        &Script::Get,
        running.plan,
        running.scratch,
        true,
    )?;
    drop(hello);
    Ok(Scenario::measured(
        "users_me",
        running.backend,
        vec![
            Figure::new(
                "requests/s",
                Some(latch.ok_per_second()),
                "req/s",
                Some(ceiling.ok_per_second()),
                Some(Target::RatioAtLeast(0.5)),
            ),
            Figure::new("p50", Some(latch.p50_ms()), "ms", Some(ceiling.p50_ms()), None),
            Figure::new(
                "p99",
                Some(latch.p99_ms()),
                "ms",
                Some(ceiling.p99_ms()),
                Some(Target::AtMost(5.0)),
            ),
            Figure::new(
                "errors",
                Some(latch.errors() as f64),
                "count",
                None,
                Some(Target::AtMost(0.0)),
            ),
        ],
    )
    .note(format!(
        "wrk -t1 -c{CONNECTIONS} -d{}s; Latch and hello world both with {} workers (one per core)",
        running.plan.duration.as_secs(),
        running.plan.cores
    ))
    .note(format!(
        "Latch: {} requests, max {:.1} ms; hello: {} requests, {} errors",
        latch.requests,
        latch.max_us as f64 / 1000.0,
        ceiling.requests,
        ceiling.errors()
    )))
}
