//! Token buckets of one (action, subject kind) pair, keyed by subject.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter as Governor};
use latch_ports::RateLimited;

use crate::Budget;
use crate::never_zero;

/// Longest window honoured: governor counts in `u64` nanoseconds, and a
/// budget longer than this is a configuration slip, not a policy.
const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Calls between two clean-ups of the refilled subjects.
const PRUNE_EVERY: u64 = 1024;

type KeyedLimiter<C> = Governor<String, DashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The buckets of every subject of one kind for one action.
#[derive(Debug)]
pub(crate) struct BudgetTable<C: Clock> {
    budget: Budget,
    quota: Quota,
    clock: C,
    max_subjects: usize,
    // Behind a lock only so a table over its bound can be swapped for a fresh one.
    limiter: RwLock<KeyedLimiter<C>>,
    calls: AtomicU64,
}

impl<C: Clock + Clone> BudgetTable<C> {
    /// A table for `budget`, or `None` when the budget limits nothing.
    pub(crate) fn new(budget: Budget, clock: C, max_subjects: usize) -> Option<Self> {
        if budget.is_unlimited() {
            return None;
        }
        let budget = Budget {
            window: budget.window.min(MAX_WINDOW),
            ..budget
        };
        let burst = NonZeroU32::new(budget.attempts)?;
        let quota = Quota::with_period(budget.window / budget.attempts)?.allow_burst(burst);
        let limiter = Governor::dashmap_with_clock(quota, clock.clone());
        Some(Self {
            budget,
            quota,
            clock,
            max_subjects,
            limiter: RwLock::new(limiter),
            calls: AtomicU64::new(0),
        })
    }

    /// Takes one token from `subject`'s bucket, or says when one will be back.
    pub(crate) fn take(&self, subject: &str) -> Result<(), RateLimited> {
        let outcome = self
            .limiter
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .check_key(&subject.to_owned());
        // Pruning sweeps the whole table, so it is paid for once per many calls.
        let calls = self.calls.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if calls.is_multiple_of(PRUNE_EVERY) {
            self.prune();
        }
        outcome.map_err(|not_until| RateLimited {
            retry_after: never_zero(not_until.wait_time_from(self.clock.now())),
            limit: self.budget.attempts,
            window: self.budget.window,
        })
    }

    /// Forgets subjects whose bucket is full again; if the live ones still
    /// exceed the bound, forgets them all rather than grow. An attacker who
    /// controls that many subjects within one window is already spread wider
    /// than any per-subject budget can see.
    pub(crate) fn prune(&self) {
        {
            let limiter = self.limiter.read().unwrap_or_else(PoisonError::into_inner);
            limiter.retain_recent();
            limiter.shrink_to_fit();
            if limiter.len() <= self.max_subjects {
                return;
            }
        }
        tracing::warn!(
            limit = self.budget.attempts,
            max_subjects = self.max_subjects,
            "rate-limit table full of live subjects; starting its counts afresh"
        );
        *self.limiter.write().unwrap_or_else(PoisonError::into_inner) =
            Governor::dashmap_with_clock(self.quota, self.clock.clone());
    }

    /// Subjects currently remembered.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.limiter.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn table(
        attempts: u32,
        window: Duration,
        max_subjects: usize,
    ) -> (BudgetTable<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let table = BudgetTable::new(Budget::new(attempts, window), clock.clone(), max_subjects)
            .expect("a limiting budget");
        (table, clock)
    }

    #[test]
    fn unlimited_budgets_build_no_table() {
        let clock = FakeRelativeClock::default();
        assert!(BudgetTable::new(Budget::new(0, HOUR), clock.clone(), 10).is_none());
        assert!(BudgetTable::new(Budget::new(3, Duration::ZERO), clock.clone(), 10).is_none());
        assert!(BudgetTable::new(Budget::UNLIMITED, clock, 10).is_none());
    }

    #[test]
    fn refusal_reports_the_time_until_the_next_token() {
        let (table, clock) = table(3, HOUR, 10);
        for _ in 0..3 {
            assert_eq!(table.take("a"), Ok(()));
        }
        let refused = table.take("a").expect_err("budget spent");
        assert_eq!(refused.retry_after, Duration::from_secs(20 * 60));
        assert_eq!((refused.limit, refused.window), (3, HOUR));
        clock.advance(Duration::from_secs(5 * 60));
        let refused = table.take("a").expect_err("still spent");
        assert_eq!(refused.retry_after, Duration::from_secs(15 * 60));
    }

    #[test]
    fn refilled_budget_allows_again() {
        let (table, clock) = table(3, HOUR, 10);
        for _ in 0..3 {
            assert_eq!(table.take("a"), Ok(()));
        }
        assert!(table.take("a").is_err());
        clock.advance(Duration::from_secs(20 * 60));
        assert_eq!(table.take("a"), Ok(()));
        assert!(table.take("a").is_err());
        clock.advance(HOUR);
        for _ in 0..3 {
            assert_eq!(table.take("a"), Ok(()));
        }
        assert!(table.take("a").is_err());
    }

    #[test]
    fn retry_after_is_never_zero() {
        let (table, _clock) = table(1, Duration::from_nanos(10), 10);
        assert_eq!(table.take("a"), Ok(()));
        let refused = table.take("a").expect_err("budget spent, clock stopped");
        assert_eq!(refused.retry_after, Duration::from_millis(1));
    }

    #[test]
    fn overlong_windows_are_capped_not_a_panic() {
        let (table, _clock) = table(1, Duration::MAX, 10);
        assert_eq!(table.take("a"), Ok(()));
        let refused = table.take("a").expect_err("budget spent");
        assert_eq!(refused.window, MAX_WINDOW);
        assert_eq!(refused.retry_after, MAX_WINDOW);
    }

    #[test]
    fn refilled_subjects_are_pruned() {
        let (table, clock) = table(3, HOUR, 100);
        for i in 0..50 {
            assert_eq!(table.take(&format!("10.0.0.{i}")), Ok(()));
        }
        table.prune();
        assert_eq!(table.tracked(), 50);
        clock.advance(HOUR);
        assert_eq!(table.take("fresh"), Ok(()));
        table.prune();
        assert_eq!(table.tracked(), 1);
    }

    #[test]
    fn pruning_runs_by_itself_every_so_many_calls() {
        let (table, clock) = table(3, HOUR, usize::MAX);
        for i in 0..PRUNE_EVERY - 1 {
            assert_eq!(table.take(&i.to_string()), Ok(()));
        }
        clock.advance(HOUR);
        assert_eq!(table.take("last"), Ok(()));
        assert_eq!(table.tracked(), 1);
    }

    #[test]
    fn a_table_over_its_bound_starts_afresh() {
        let (table, _clock) = table(3, HOUR, 10);
        for i in 0..20 {
            assert_eq!(table.take(&i.to_string()), Ok(()));
        }
        table.prune();
        assert_eq!(table.tracked(), 0);
    }
}
