//! `storm`: logins offered at 4× the hashing capacity while `/users/me` runs
//! at a steady rate. Reports the `/users/me` p99 during the storm against its
//! p99 at the same rate and connections with no storm (measured just before,
//! on the same Latch), Latch's peak RSS during the storm, and every answer
//! other than 2xx, 429 and 503 (the hashing pool sheds load with 503
//! `overloaded` when its queue is full; rate limits stay off).
//!
//! Both loads are wrk processes pacing their requests on a fixed schedule
//! ([`Script::Paced`]: Debian's wrk has no `-R`), the logins with about one
//! second's worth of connections so queued logins do not hold the rate down.

use std::time::Duration;

use super::{Figure, Running, Scenario, Target, login_body, megabytes};
use crate::error::BenchError;
use crate::hashing;
use crate::wrk::{self, Load, Script};

/// `/users/me` during the storm: a steady, moderate rate on a few connections.
const ME_CONNECTIONS: u32 = 8;
const ME_PER_SECOND: f64 = 200.0;
/// Logins offered, as a multiple of the hashing capacity.
const OVERLOAD: f64 = 4.0;

pub(crate) fn run(running: &Running<'_>, one_hash: Duration) -> Result<Scenario, BenchError> {
    let plan = running.plan;
    let me_script = Script::Paced {
        base: Box::new(Script::GetWithBearer(running.access_token.clone())),
        per_second: ME_PER_SECOND,
    };
    let idle = running.load("/api/v1/users/me", ME_CONNECTIONS, &me_script, true)?;

    let capacity = hashing::ceiling_per_second(plan.cores, one_hash);
    let login_rate = OVERLOAD * capacity;
    let login_connections = (login_rate.ceil() as u32).max(64);
    let storm_script = Script::Paced {
        base: Box::new(Script::PostJson(login_body(&running.email))),
        per_second: login_rate,
    };
    let reset = running.latch.reset_peak_rss();
    // The storm starts a warm-up earlier (the hashing queue fills) and ends a second later.
    let storm = wrk::spawn(
        &Load {
            addr: running.addr(),
            path: "/api/v1/auth/login",
            connections: login_connections,
            duration: plan.warmup + plan.duration + Duration::from_secs(1),
            script: &storm_script,
        },
        running.scratch,
    )?;
    std::thread::sleep(plan.warmup);
    let during = wrk::run(
        &Load {
            addr: running.addr(),
            path: "/api/v1/users/me",
            connections: ME_CONNECTIONS,
            duration: plan.duration,
            script: &me_script,
        },
        running.scratch,
    )?;
    let storm = storm.wait()?;
    let peak_rss = running.latch.peak_rss_bytes()?;

    let unexpected =
        storm.other_statuses + storm.socket_errors() + during.other_statuses + during.socket_errors();
    let seconds = storm.duration_us as f64 / 1e6;
    let served = storm.requests.saturating_sub(storm.shed + storm.other_statuses);
    let mut scenario = Scenario::measured(
        "storm",
        running.backend,
        vec![
            Figure::new(
                "users_me p99 storm/idle",
                Some(during.p99_ms() / idle.p99_ms().max(0.001)),
                "x",
                None,
                Some(Target::AtMost(3.0)),
            ),
            Figure::info("users_me p99 idle", idle.p99_ms(), "ms"),
            Figure::info("users_me p99 storm", during.p99_ms(), "ms"),
            Figure::new(
                "peak RSS",
                Some(megabytes(peak_rss)),
                "MB",
                None,
                Some(Target::AtMost(250.0)),
            ),
            Figure::new(
                "errors other than 429/503",
                Some(unexpected as f64),
                "count",
                None,
                Some(Target::AtMost(0.0)),
            ),
            Figure::new(
                "logins sent/s",
                Some(storm.sent_per_second()),
                "req/s",
                Some(capacity),
                None,
            ),
            Figure::new(
                "logins served/s",
                Some(if seconds > 0.0 { served as f64 / seconds } else { 0.0 }),
                "req/s",
                Some(capacity),
                None,
            ),
        ],
    )
    .note(format!(
        "logins paced at {login_rate:.0}/s ({OVERLOAD}x hashing capacity {capacity:.0}/s) on {login_connections} \
         connections for {} s; /users/me paced at {ME_PER_SECOND}/s on {ME_CONNECTIONS} connections for {} s, \
         first alone (after a {} s warm-up), then from {} s into the storm",
        (plan.warmup + plan.duration).as_secs() + 1,
        plan.duration.as_secs(),
        plan.warmup.as_secs(),
        plan.warmup.as_secs()
    ))
    .note(format!(
        "logins: {} sent, {} shed (429/503), {} other statuses, {} socket errors, p50 {:.0} ms, p99 {:.0} ms",
        storm.requests,
        storm.shed,
        storm.other_statuses,
        storm.socket_errors(),
        storm.p50_ms(),
        storm.p99_ms()
    ))
    .note(format!(
        "/users/me idle: {:.0}/s, p50 {:.2} ms; storm: {:.0}/s, p50 {:.2} ms, max {:.1} ms, {} non-2xx",
        idle.sent_per_second(),
        idle.p50_ms(),
        during.sent_per_second(),
        during.p50_ms(),
        during.max_us as f64 / 1000.0,
        during.other_statuses + during.shed
    ));
    scenario = match reset {
        Ok(()) => scenario.note("peak RSS: VmHWM after the storm, reset (clear_refs 5) just before it"),
        Err(err) => scenario.note(format!(
            "peak RSS: VmHWM since start (could not reset it before the storm: {err})"
        )),
    };
    Ok(scenario)
}
