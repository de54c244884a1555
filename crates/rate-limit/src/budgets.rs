//! Token buckets of one (action, subject kind) pair, keyed by subject.

use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};
use latch_ports::RateLimited;

use crate::Budget;
use crate::never_zero;

/// Longest window honoured: governor counts in `u64` nanoseconds, and a
/// budget longer than this is a configuration slip, not a policy.
const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Calls between two clean-ups of the refilled subjects.
const PRUNE_EVERY: u64 = 1024;

type KeyedLimiter<C> = Governor<String, Buckets, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The buckets of every subject of one kind for one action.
#[derive(Debug)]
pub(crate) struct BudgetTable<C: Clock> {
    budget: Budget,
    clock: C,
    max_subjects: usize,
    limiter: KeyedLimiter<C>,
    /// The limiter's own state, shared with it, for choosing what to forget.
    buckets: Buckets,
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
        let buckets = Buckets::default();
        let limiter = Governor::new(quota, buckets.clone(), clock.clone());
        Some(Self {
            budget,
            clock,
            max_subjects,
            limiter,
            buckets,
            calls: AtomicU64::new(0),
        })
    }

    /// Takes one token from `subject`'s bucket, or says when one will be back.
    pub(crate) fn take(&self, subject: &str) -> Result<(), RateLimited> {
        let outcome = self.limiter.check_key(&subject.to_owned());
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
    /// exceed the bound, forgets the fullest of them down to seven eighths of
    /// it, so that a flood costs one sweep per many calls. Forgetting a bucket
    /// refills it, and the fullest lose the least: a spent budget survives a
    /// flood of subjects that each took a token or two, and stays spent.
    pub(crate) fn prune(&self) {
        self.limiter.retain_recent();
        if self.buckets.len() > self.max_subjects {
            let keep = self.max_subjects - self.max_subjects / 8;
            self.buckets.keep_emptiest(keep);
            tracing::warn!(
                limit = self.budget.attempts,
                max_subjects = self.max_subjects,
                "rate-limit table full of live subjects; forgot the fullest buckets"
            );
        }
        self.limiter.shrink_to_fit();
    }

    /// Subjects currently remembered.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// Each subject's bucket as governor's GCRA keeps it: the "theoretical
/// arrival time" (TAT) in nanoseconds since the limiter started, 0 before the
/// first attempt; the later the TAT, the emptier the bucket. Our own store
/// rather than governor's `DashMapStateStore`, which hides the TAT that
/// choosing what to forget needs.
#[derive(Debug, Clone, Default)]
struct Buckets(Arc<DashMap<String, AtomicU64>>);

impl Buckets {
    /// Forgets the fullest buckets (earliest TAT) until at most `keep` remain;
    /// buckets tied with the last one forgotten go too.
    fn keep_emptiest(&self, keep: usize) {
        let mut tats: Vec<u64> = self
            .0
            .iter()
            .map(|bucket| bucket.value().load(Ordering::Relaxed))
            .collect();
        let Some(excess) = tats.len().checked_sub(keep).filter(|excess| *excess > 0) else {
            return;
        };
        let (_, cutoff, _) = tats.select_nth_unstable(excess - 1);
        let cutoff = *cutoff;
        self.0.retain(|_, tat| tat.load(Ordering::Relaxed) > cutoff);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl StateStore for Buckets {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // Known subjects take only a shared lock on their shard of the map.
        if let Some(tat) = self.0.get(key) {
            return update(&tat, f);
        }
        update(&self.0.entry(key.clone()).or_default(), f)
    }
}

impl ShrinkableKeyedStateStore<String> for Buckets {
    fn retain_recent(&self, drop_below: Nanos) {
        let drop_below = drop_below.as_u64();
        self.0.retain(|_, tat| tat.load(Ordering::Relaxed) > drop_below);
    }

    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sets `tat` to what `decide` makes of its current value, retrying if
/// another caller changed it meanwhile (as governor's own store does).
fn update<T, F, E>(tat: &AtomicU64, decide: F) -> Result<T, E>
where
    F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
{
    let mut current = tat.load(Ordering::Acquire);
    loop {
        let (outcome, next) = decide(NonZeroU64::new(current).map(|tat| Nanos::from(tat.get())))?;
        match tat.compare_exchange_weak(current, next.as_u64(), Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(outcome),
            Err(changed) => current = changed,
        }
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
    fn a_table_over_its_bound_forgets_its_fullest_buckets() {
        let (table, clock) = table(3, HOUR, 16);
        for _ in 0..2 {
            assert_eq!(table.take("half spent"), Ok(()));
        }
        for i in 0..20 {
            clock.advance(Duration::from_secs(1));
            assert_eq!(table.take(&i.to_string()), Ok(()));
        }
        table.prune();
        assert_eq!(table.tracked(), 14);
        assert!(table.buckets.0.contains_key("half spent"));
        // The earliest single takes are the fullest buckets, so they went first.
        assert!(!table.buckets.0.contains_key("0"));
        assert!(table.buckets.0.contains_key("19"));
    }

    #[test]
    fn a_flood_of_other_subjects_leaves_a_spent_bucket_spent() {
        let (table, clock) = table(3, HOUR, 100);
        for _ in 0..3 {
            assert_eq!(table.take("victim"), Ok(()));
        }
        assert!(table.take("victim").is_err());
        // Far more subjects than the bound, through the hot path that prunes by itself.
        for i in 0..3 * PRUNE_EVERY {
            clock.advance(Duration::from_millis(1));
            assert_eq!(table.take(&format!("flood{i}")), Ok(()));
        }
        assert!(table.tracked() <= 100 + usize::try_from(PRUNE_EVERY).expect("small"));
        assert!(table.take("victim").is_err(), "the flood refilled the victim");
    }

    #[test]
    fn a_table_of_size_zero_forgets_everything_at_each_prune() {
        let (table, _clock) = table(3, HOUR, 0);
        for i in 0..20 {
            assert_eq!(table.take(&i.to_string()), Ok(()));
        }
        table.prune();
        assert_eq!(table.tracked(), 0);
    }
}
