//! In-process attempt limiting for Latch: [`GovernorRateLimiter`], the adapter
//! of the [`latch_ports::RateLimiter`] port.
//!
//! Owns the token buckets per action and subject (built on `governor`), the
//! capped exponential login backoff per account, keeping both bounded in
//! memory, and which addresses count as one client (an IPv6 /64 does). The
//! counts are this instance's view only: with several instances behind a load
//! balancer each counts separately, so the effective limit is multiplied by the
//! number of instances. `latch-rate-limit-redis` is the shared adapter of the
//! same port, and falls back to this one while Redis is unreachable. Must not
//! depend on the web framework, the database or other adapters.

mod backoff;
mod budgets;
mod config;
mod limiter;
mod subject;

pub use config::{ActionBudgets, Budget, RateLimitConfig};
pub use limiter::GovernorRateLimiter;
pub use subject::ip_key;

use std::time::Duration;

/// Rounds a wait up to whole milliseconds, and to at least one: the port
/// promises a `retry_after` that is never zero.
fn never_zero(wait: Duration) -> Duration {
    let millis = wait.as_nanos().div_ceil(1_000_000).max(1);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_zero_rounds_up_to_whole_milliseconds() {
        assert_eq!(never_zero(Duration::ZERO), Duration::from_millis(1));
        assert_eq!(never_zero(Duration::from_nanos(1)), Duration::from_millis(1));
        assert_eq!(never_zero(Duration::from_micros(1_001)), Duration::from_millis(2));
        assert_eq!(never_zero(Duration::from_secs(3)), Duration::from_secs(3));
    }
}
