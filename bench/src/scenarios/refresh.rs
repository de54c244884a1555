//! `refresh`: `POST /api/v1/auth/refresh` at 32 connections, each request
//! spending its token and the answer's successor feeding the next one (see
//! [`Script::RefreshChains`]), against the same statements replayed straight
//! against the database (crate::replay) just before and just after.

use super::{Figure, Running, Scenario, Target, log_in_sessions};
use crate::error::BenchError;
use crate::replay;
use crate::wrk::{Load, Script, WrkResult};

const CONNECTIONS: u32 = 32;
/// Sessions logged in per wrk run: one chain per connection and as many
/// spares, which take over from a chain a failed request ended.
const CHAINS: usize = 2 * CONNECTIONS as usize;

/// Latch's figures and their ceiling; `target` is the (Postgres only).
pub(crate) fn run(running: &Running<'_>, target: Option<Target>) -> Result<Scenario, BenchError> {
    // The ceiling is replayed before and after Latch's load and averaged: this
    // host's speed drifts within minutes (one replay gave 2,966 to 4,871 rotations/s).
    let replay = || {
        replay::refresh_ceiling(
            &running.database_url,
            &running.email,
            CONNECTIONS,
            running.plan.warmup,
            running.plan.duration,
        )
    };
    let before = replay()?;
    let latch = measure(running)?;
    let after = replay()?;
    let (before_rate, after_rate) = (before.per_second, after.per_second);
    let ceiling = before.averaged_with(after);
    let mut scenario = Scenario::measured(
        "refresh",
        running.backend,
        vec![
            Figure::new(
                "refreshes/s",
                Some(latch.ok_per_second()),
                "req/s",
                Some(ceiling.per_second),
                target,
            ),
            Figure::new("p99", Some(latch.p99_ms()), "ms", Some(ceiling.p99_ms), None),
            Figure::new(
                "errors",
                Some(errors(&latch) as f64),
                "count",
                None,
                Some(Target::AtMost(0.0)),
            ),
        ],
    )
    .note(format!(
        "wrk -t1 -c{CONNECTIONS} -d{}s on {CHAINS} sessions logged in beforehand (one more set for a {} s warm-up); \
         each token is used once and the 200's successor goes back to the pool",
        running.plan.duration.as_secs(),
        running.plan.warmup.as_secs()
    ))
    .note(format!(
        "ceiling: Latch's refresh statements (token by hash, session, user, then BEGIN; claim UPDATE; \
         INSERT successor RETURNING; session UPDATE; COMMIT) replayed with sqlx from {CONNECTIONS} tasks, \
         one connection and chain each, before and after Latch's load: {before_rate:.0} and {after_rate:.0} \
         rotations/s, the mean is the ceiling; {} rotations, {} errors",
        ceiling.rotations, ceiling.errors
    ))
    .note(format!(
        "Latch: {} requests, p50 {:.2} ms, {} answers other than 200, {} socket errors",
        latch.requests,
        latch.p50_ms(),
        latch.status_errors.max(latch.other_statuses + latch.shed),
        latch.socket_errors()
    ));
    if let Some(err) = ceiling.first_error {
        scenario = scenario.note(format!("first replay error: {err}"));
    }
    Ok(scenario)
}

/// Non-200 answers and requests with no answer.
pub(crate) fn errors(result: &WrkResult) -> u64 {
    result.status_errors.max(result.other_statuses + result.shed) + result.socket_errors()
}

/// A warm-up run and the measured run, each on freshly logged-in sessions
/// (tokens in flight when a run ends are lost to the next).
pub(crate) fn measure(running: &Running<'_>) -> Result<WrkResult, BenchError> {
    let mut result = None;
    for duration in [running.plan.warmup, running.plan.duration] {
        let script = Script::RefreshChains(log_in_sessions(running.addr(), &running.email, CHAINS)?);
        let load = Load {
            addr: running.addr(),
            path: "/api/v1/auth/refresh",
            connections: CONNECTIONS,
            duration,
            script: &script,
        };
        result = Some(crate::wrk::run(&load, running.scratch)?);
    }
    result.ok_or_else(|| BenchError::Setup("no refresh run".into()))
}
