//! `RedisRateLimiter` against the `RateLimiter` contract on a real Redis
//! (`LATCH_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`), each test under
//! its own key prefix; that two limiters on one Redis share their counts; and
//! that with Redis unreachable the limits still hold, per process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use latch_ports::{LimitedAction, RateLimiter, Subject};
use latch_rate_limit::{ActionBudgets, Budget, RateLimitConfig};
use latch_rate_limit_redis::RedisRateLimiter;
use latch_testkit::rate_limiter::{ATTEMPTS, BACKOFF_BASE, BACKOFF_MAX, FREE_FAILURES, WINDOW};

fn redis_url() -> String {
    std::env::var("LATCH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn config() -> RateLimitConfig {
    let budgets = ActionBudgets::uniform(Budget::new(ATTEMPTS, WINDOW));
    RateLimitConfig {
        enabled: true,
        per_ip: budgets,
        per_account: budgets,
        free_failures: FREE_FAILURES,
        backoff_base: BACKOFF_BASE,
        backoff_max: BACKOFF_MAX,
        ..RateLimitConfig::default()
    }
}

fn on(url: &str, prefix: &str) -> RedisRateLimiter {
    RedisRateLimiter::new(url, config(), prefix).unwrap()
}

/// A limiter on the test Redis with a prefix of its own.
fn limiter() -> RedisRateLimiter {
    on(&redis_url(), &format!("latch-test:{}:", uuid::Uuid::new_v4()))
}

latch_testkit::rate_limiter_contract!(limiter());

/// Whether the test Redis answers; under CI it must.
async fn redis_answers() -> bool {
    let probe = limiter();
    let _ = probe.login_backoff("probe@example.com").await;
    if probe.is_degraded() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Redis at {}",
            redis_url()
        );
        eprintln!("SKIPPED: no Redis at {}", redis_url());
        return false;
    }
    true
}

#[tokio::test]
async fn two_instances_on_one_redis_share_budgets_and_backoff() {
    if !redis_answers().await {
        return;
    }
    let prefix = format!("latch-test:{}:", uuid::Uuid::new_v4());
    let (a, b) = (on(&redis_url(), &prefix), on(&redis_url(), &prefix));
    let ip = Subject::Ip("203.0.113.9");
    for attempt in 0..ATTEMPTS {
        let instance = if attempt % 2 == 0 { &a } else { &b };
        instance.admit(LimitedAction::Login, ip).await.unwrap();
    }
    assert!(
        a.admit(LimitedAction::Login, ip).await.is_err(),
        "A sees B's attempts"
    );
    assert!(
        b.admit(LimitedAction::Login, ip).await.is_err(),
        "B sees A's attempts"
    );

    for failure in 0..FREE_FAILURES {
        let instance = if failure % 2 == 0 { &a } else { &b };
        instance.record_login_failure("ada@example.com").await;
    }
    let waiting = b.login_backoff("ada@example.com").await.unwrap_err();
    assert!(
        waiting.retry_after > BACKOFF_BASE - Duration::from_secs(5),
        "{waiting:?}"
    );
    a.record_login_success("ada@example.com").await;
    assert_eq!(b.login_backoff("ada@example.com").await, Ok(()));
    assert!(!a.is_degraded() && !b.is_degraded());
}

#[tokio::test]
async fn with_redis_unreachable_the_limits_hold_in_this_process() {
    // Nothing listens on port 1.
    let limiter = on("redis://127.0.0.1:1", "latch-test:");
    let ip = Subject::Ip("203.0.113.10");
    for _ in 0..ATTEMPTS {
        limiter.admit(LimitedAction::Login, ip).await.unwrap();
    }
    assert!(limiter.is_degraded());
    let refused = limiter.admit(LimitedAction::Login, ip).await.unwrap_err();
    assert_eq!(refused.limit, ATTEMPTS);
    for _ in 0..FREE_FAILURES {
        limiter.record_login_failure("bob@example.com").await;
    }
    assert!(limiter.login_backoff("bob@example.com").await.is_err());
}
