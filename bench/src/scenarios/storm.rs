//! `storm`: logins offered at 4× the hashing capacity while `/users/me` runs
//! at a steady rate. Reports the `/users/me` p99 during the storm against its
//! p99 at the same rate and connections with no storm (measured just before,
//! on the same Latch), Latch's peak RSS during the storm, and every answer
//! other than 2xx, 429 and 503 (the hashing pool sheds load with 503
//! `overloaded` when its queue is full; rate limits stay off).
//!
//! The pair (idle, then storm) is taken [`ROUNDS`] times and the figure is
//! the median ratio: on 2 cores one pair's ratio ranges widely from run to
//! run, as a few scheduler delays of a millisecond decide a p99.
//!
//! Both loads are wrk processes pacing their requests on a fixed schedule
//! ([`Script::Paced`]: Debian's wrk has no `-R`), the logins with about one
//! second's worth of connections so queued logins do not hold the rate down.

use std::time::Duration;

use super::{Figure, Running, Scenario, Target, login_body, megabytes};
use crate::error::BenchError;
use crate::hashing;
use crate::wrk::{self, Load, Script, WrkResult};

/// `/users/me` during the storm: a steady, moderate rate on a few connections.
const ME_CONNECTIONS: u32 = 8;
const ME_PER_SECOND: f64 = 200.0;
/// Logins offered, as a multiple of the hashing capacity.
const OVERLOAD: f64 = 4.0;
/// Idle/storm pairs measured; the figure is their median ratio.
const ROUNDS: usize = 3;
/// Pause after a storm, so the hashing queue drains before the next idle run.
const DRAIN: Duration = Duration::from_secs(2);

/// One idle/storm pair.
struct Round {
    idle: WrkResult,
    during: WrkResult,
    storm: WrkResult,
    peak_rss: u64,
    /// Why VmHWM could not be reset before the storm (it then counts since start).
    reset_failed: Option<String>,
}

impl Round {
    fn ratio(&self) -> f64 {
        self.during.p99_ms() / self.idle.p99_ms().max(0.001)
    }

    fn unexpected(&self) -> u64 {
        self.storm.other_statuses
            + self.storm.socket_errors()
            + self.during.other_statuses
            + self.during.socket_errors()
    }
}

/// The logins' pacing and connections, from the hashing capacity.
struct Storm {
    script: Script,
    rate: f64,
    connections: u32,
}

pub(crate) fn run(running: &Running<'_>, one_hash: Duration) -> Result<Scenario, BenchError> {
    let plan = running.plan;
    let me_script = Script::Paced {
        base: Box::new(Script::GetWithBearer(running.access_token.clone())),
        per_second: ME_PER_SECOND,
    };
    let capacity = hashing::ceiling_per_second(plan.cores, one_hash);
    let login_rate = OVERLOAD * capacity;
    let storm = Storm {
        script: Script::Paced {
            base: Box::new(Script::PostJson(login_body(&running.email))),
            per_second: login_rate,
        },
        rate: login_rate,
        connections: (login_rate.ceil() as u32).max(64),
    };
    let mut rounds = Vec::with_capacity(ROUNDS);
    for index in 0..ROUNDS {
        if index > 0 {
            std::thread::sleep(DRAIN);
        }
        rounds.push(round(running, &me_script, &storm)?);
    }
    let mut by_ratio: Vec<&Round> = rounds.iter().collect();
    by_ratio.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
    let median = by_ratio[by_ratio.len() / 2];

    let peak_rss = rounds.iter().map(|r| r.peak_rss).max().unwrap_or_default();
    let unexpected: u64 = rounds.iter().map(Round::unexpected).sum();
    let logins: Vec<&WrkResult> = rounds.iter().map(|r| &r.storm).collect();
    let seconds: f64 = logins.iter().map(|l| l.duration_us as f64 / 1e6).sum();
    let sent: u64 = logins.iter().map(|l| l.requests).sum();
    let served: u64 = logins
        .iter()
        .map(|l| l.requests.saturating_sub(l.shed + l.other_statuses))
        .sum();
    let shed: u64 = logins.iter().map(|l| l.shed).sum();
    let per_second = |count: u64| {
        if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        }
    };
    let pairs = rounds
        .iter()
        .map(|r| {
            format!(
                "{:.1}x ({:.2} / {:.2} ms)",
                r.ratio(),
                r.during.p99_ms(),
                r.idle.p99_ms()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");

    let scenario = Scenario::measured(
        "storm",
        running.backend,
        vec![
            Figure::new(
                "users_me p99 storm/idle",
                Some(median.ratio()),
                "x",
                None,
                Some(Target::AtMost(3.0)),
            ),
            Figure::info("users_me p99 idle", median.idle.p99_ms(), "ms"),
            Figure::info("users_me p99 storm", median.during.p99_ms(), "ms"),
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
            Figure::new("logins sent/s", Some(per_second(sent)), "req/s", Some(capacity), None),
            Figure::new("logins served/s", Some(per_second(served)), "req/s", Some(capacity), None),
        ],
    )
    .note(format!(
        "{ROUNDS} pairs, each /users/me alone then during a storm; the ratio and p99s shown are the median \
         pair's. Pairs (storm/idle, storm p99 / idle p99): {pairs}"
    ))
    .note(format!(
        "logins paced at {:.0}/s ({OVERLOAD}x hashing capacity {capacity:.0}/s) on {} connections for {} s; \
         /users/me paced at {ME_PER_SECOND}/s on {ME_CONNECTIONS} connections for {} s, first alone (after a {} s \
         warm-up), then from {} s into the storm; {} s pause between pairs",
        storm.rate,
        storm.connections,
        (plan.warmup + plan.duration).as_secs() + 1,
        plan.duration.as_secs(),
        plan.warmup.as_secs(),
        plan.warmup.as_secs(),
        DRAIN.as_secs()
    ))
    .note(format!(
        "logins over all pairs: {sent} sent, {shed} shed (429/503), {served} served; median pair's p50 {:.0} ms, \
         p99 {:.0} ms",
        median.storm.p50_ms(),
        median.storm.p99_ms()
    ))
    .note(format!(
        "/users/me in the median pair: idle {:.0}/s, p50 {:.2} ms; storm {:.0}/s, p50 {:.2} ms, max {:.1} ms, {} non-2xx",
        median.idle.sent_per_second(),
        median.idle.p50_ms(),
        median.during.sent_per_second(),
        median.during.p50_ms(),
        median.during.max_us as f64 / 1000.0,
        median.during.other_statuses + median.during.shed
    ))
    .note(match rounds.iter().find_map(|r| r.reset_failed.as_deref()) {
        None => "peak RSS: the highest VmHWM after a storm, each reset (clear_refs 5) just before it".to_owned(),
        Some(err) => format!("peak RSS: VmHWM since start (could not reset it before a storm: {err})"),
    });
    Ok(scenario)
}

/// `/users/me` alone, then the same load from a warm-up into a login storm.
fn round(running: &Running<'_>, me_script: &Script, storm: &Storm) -> Result<Round, BenchError> {
    let plan = running.plan;
    let idle = running.load("/api/v1/users/me", ME_CONNECTIONS, me_script, true)?;
    let reset_failed = running.latch.reset_peak_rss().err().map(|err| err.to_string());
    // The storm starts a warm-up earlier (the hashing queue fills) and ends a second later.
    let logins = wrk::spawn(
        &Load {
            addr: running.addr(),
            path: "/api/v1/auth/login",
            connections: storm.connections,
            duration: plan.warmup + plan.duration + Duration::from_secs(1),
            script: &storm.script,
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
            script: me_script,
        },
        running.scratch,
    )?;
    let storm = logins.wait()?;
    Ok(Round {
        idle,
        during,
        storm,
        peak_rss: running.latch.peak_rss_bytes()?,
        reset_failed,
    })
}
