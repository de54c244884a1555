//! `GovernorRateLimiter` against the `RateLimiter` contract, configured as the
//! contract requires, with small memory bounds so the flood behaviour also
//! exercises eviction.

use latch_rate_limit::{ActionBudgets, Budget, GovernorRateLimiter, RateLimitConfig};
use latch_testkit::rate_limiter::{ATTEMPTS, BACKOFF_BASE, BACKOFF_MAX, FREE_FAILURES, WINDOW};

fn limiter() -> GovernorRateLimiter {
    let budgets = ActionBudgets::uniform(Budget::new(ATTEMPTS, WINDOW));
    GovernorRateLimiter::new(RateLimitConfig {
        enabled: true,
        per_ip: budgets,
        per_account: budgets,
        free_failures: FREE_FAILURES,
        backoff_base: BACKOFF_BASE,
        backoff_max: BACKOFF_MAX,
        max_tracked_accounts: 10_000,
        max_tracked_subjects: 10_000,
    })
}

latch_testkit::rate_limiter_contract!(limiter());
