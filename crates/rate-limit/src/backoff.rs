//! Capped exponential backoff of accounts with repeated failed logins.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, Reference};
use latch_ports::RateLimited;

use crate::never_zero;

/// Failures recorded between two sweeps of the forgotten accounts.
const PRUNE_EVERY: u64 = 1024;

/// Consecutive failures of one account and when the last one happened.
#[derive(Debug, Clone, Copy)]
struct Failures<I> {
    count: u32,
    last: I,
}

#[derive(Debug)]
struct Accounts<I> {
    by_key: HashMap<String, Failures<I>>,
    recorded: u64,
}

/// Failed-login counts per account, bounded in number.
#[derive(Debug)]
pub(crate) struct BackoffTable<C: Clock> {
    clock: C,
    free_failures: u32,
    base: Duration,
    max: Duration,
    max_accounts: usize,
    accounts: Mutex<Accounts<C::Instant>>,
}

impl<C: Clock> BackoffTable<C> {
    /// An empty table; see `RateLimitConfig` for the parameters.
    pub(crate) fn new(
        clock: C,
        free_failures: u32,
        base: Duration,
        max: Duration,
        max_accounts: usize,
    ) -> Self {
        Self {
            clock,
            free_failures,
            base,
            max,
            max_accounts,
            accounts: Mutex::new(Accounts {
                by_key: HashMap::new(),
                recorded: 0,
            }),
        }
    }

    /// Refuses while `account` is backing off. Reads only: a refused attempt
    /// does not move the end of the wait.
    pub(crate) fn check(&self, account: &str) -> Result<(), RateLimited> {
        let now = self.clock.now();
        let accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(failures) = accounts.by_key.get(account) else {
            return Ok(());
        };
        let elapsed = Duration::from(now.duration_since(failures.last));
        let remaining = self.wait_after(failures.count).saturating_sub(elapsed);
        if remaining.is_zero() {
            return Ok(());
        }
        Err(RateLimited {
            retry_after: never_zero(remaining),
            limit: self.free_failures,
            window: self.max,
        })
    }

    /// Counts one more failure of `account`, starting afresh if it had been
    /// idle for `max`.
    pub(crate) fn record_failure(&self, account: &str) {
        let now = self.clock.now();
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        accounts.recorded = accounts.recorded.wrapping_add(1);
        if accounts.recorded.is_multiple_of(PRUNE_EVERY) {
            self.forget_stale(&mut accounts.by_key, now);
            accounts.by_key.shrink_to_fit();
        }
        if let Some(failures) = accounts.by_key.get_mut(account) {
            let stale = self.is_stale(failures, now);
            failures.count = if stale {
                1
            } else {
                failures.count.saturating_add(1)
            };
            failures.last = now;
            return;
        }
        if self.max_accounts == 0 {
            return;
        }
        if accounts.by_key.len() >= self.max_accounts {
            self.make_room(&mut accounts.by_key, now);
        }
        accounts
            .by_key
            .insert(account.to_owned(), Failures { count: 1, last: now });
    }

    /// Forgets `account`'s failures.
    pub(crate) fn clear(&self, account: &str) {
        self.accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .remove(account);
    }

    /// The wait after the `count`-th consecutive failure: none before the
    /// `free_failures`-th, `base` after it (so that many guesses are checked
    /// before the first wait, and no more), then doubling up to `max`. Zero
    /// free failures behave as one: every failure is followed by a wait.
    fn wait_after(&self, count: u32) -> Duration {
        let Some(past_free) = count.checked_sub(self.free_failures.max(1)) else {
            return Duration::ZERO;
        };
        2u32.checked_pow(past_free)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.max, |wait| wait.min(self.max))
    }

    /// Whether `failures` are old enough that no wait can remain, so they may
    /// be forgotten.
    fn is_stale(&self, failures: &Failures<C::Instant>, now: C::Instant) -> bool {
        Duration::from(now.duration_since(failures.last)) >= self.max
    }

    fn forget_stale(&self, by_key: &mut HashMap<String, Failures<C::Instant>>, now: C::Instant) {
        by_key.retain(|_, failures| !self.is_stale(failures, now));
    }

    /// Frees at least one slot: drops the stale accounts, then if none was
    /// stale the eighth held back least, so a flood of accounts costs one
    /// sweep per many insertions rather than one per insertion. Held back
    /// least means the shortest wait left, and among those without a wait
    /// (still within their free failures) the oldest last failure: a flood of
    /// single failures must not free an account it is guessing at from its wait.
    fn make_room(&self, by_key: &mut HashMap<String, Failures<C::Instant>>, now: C::Instant) {
        self.forget_stale(by_key, now);
        if by_key.len() < self.max_accounts {
            return;
        }
        let target = self.max_accounts - (self.max_accounts / 8).max(1);
        let mut holds: Vec<_> = by_key.values().map(|failures| self.hold(failures, now)).collect();
        let (_, cutoff, _) = holds.select_nth_unstable(by_key.len() - target - 1);
        let cutoff = *cutoff;
        by_key.retain(|_, failures| self.hold(failures, now) > cutoff);
        tracing::warn!(
            max_accounts = self.max_accounts,
            "login-backoff table full of live accounts; forgot those held back least"
        );
    }

    /// How strongly `failures` hold their account back at `now`, for ordering:
    /// the wait left, then the time of the last failure.
    fn hold(&self, failures: &Failures<C::Instant>, now: C::Instant) -> (Duration, C::Instant) {
        let elapsed = Duration::from(now.duration_since(failures.last));
        (
            self.wait_after(failures.count).saturating_sub(elapsed),
            failures.last,
        )
    }

    /// Accounts currently remembered.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.accounts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .len()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(60);

    fn table(max_accounts: usize) -> (BackoffTable<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (
            BackoffTable::new(clock.clone(), 2, SECOND, MAX, max_accounts),
            clock,
        )
    }

    fn fail(table: &BackoffTable<FakeRelativeClock>, account: &str, times: u32) {
        for _ in 0..times {
            table.record_failure(account);
        }
    }

    #[test]
    fn waits_double_from_base_up_to_the_cap() {
        let (table, _clock) = table(10);
        let waits: Vec<u64> = (0..12).map(|n| table.wait_after(n).as_secs()).collect();
        // Two free failures: the second is followed by the base wait.
        assert_eq!(waits, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(table.wait_after(u32::MAX), MAX);
    }

    #[test]
    fn backoff_expires_after_the_wait() {
        let (table, clock) = table(10);
        fail(&table, "a@example.com", 3);
        let refused = table.check("a@example.com").expect_err("backing off");
        assert_eq!(refused.retry_after, 2 * SECOND);
        clock.advance(SECOND);
        let refused = table.check("a@example.com").expect_err("still backing off");
        assert_eq!(refused.retry_after, SECOND);
        clock.advance(SECOND);
        assert_eq!(table.check("a@example.com"), Ok(()));
    }

    #[test]
    fn the_wait_never_outlasts_the_cap_after_the_last_failure() {
        let (table, clock) = table(10);
        fail(&table, "a@example.com", 40);
        assert_eq!(table.check("a@example.com").map_err(|r| r.retry_after), Err(MAX));
        clock.advance(MAX);
        assert_eq!(table.check("a@example.com"), Ok(()));
    }

    #[test]
    fn failures_are_forgotten_after_an_idle_cap() {
        let (table, clock) = table(10);
        fail(&table, "a@example.com", 1);
        clock.advance(MAX);
        fail(&table, "a@example.com", 1);
        assert_eq!(table.check("a@example.com"), Ok(()));
        fail(&table, "a@example.com", 1);
        assert!(table.check("a@example.com").is_err());
    }

    #[test]
    fn stale_accounts_are_pruned_when_the_table_fills() {
        let (table, clock) = table(10);
        for i in 0..10 {
            fail(&table, &format!("user{i}@example.com"), 1);
        }
        clock.advance(MAX);
        fail(&table, "new@example.com", 1);
        assert_eq!(table.tracked(), 1);
    }

    #[test]
    fn stale_accounts_are_pruned_every_so_many_failures() {
        let (table, clock) = table(usize::MAX);
        for i in 0..PRUNE_EVERY - 1 {
            fail(&table, &format!("user{i}@example.com"), 1);
        }
        clock.advance(MAX);
        fail(&table, "new@example.com", 1);
        assert_eq!(table.tracked(), 1);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_rather_than_grow() {
        let (table, clock) = table(16);
        for i in 0..16 {
            fail(&table, &format!("user{i}@example.com"), 3);
            clock.advance(Duration::from_millis(10));
        }
        fail(&table, "new@example.com", 3);
        assert!(table.tracked() <= 16);
        assert_eq!(
            table.check("user0@example.com"),
            Ok(()),
            "the oldest is forgotten"
        );
        assert!(table.check("user15@example.com").is_err(), "the newest is kept");
        assert!(table.check("new@example.com").is_err());
    }

    #[test]
    fn a_flood_of_single_failures_leaves_a_backoff_in_place() {
        let (table, clock) = table(16);
        fail(&table, "victim@example.com", 8);
        let before = table.check("victim@example.com").expect_err("backing off");
        for i in 0..100 {
            clock.advance(Duration::from_millis(10));
            fail(&table, &format!("user{i}@example.com"), 1);
        }
        assert!(table.tracked() <= 16);
        let after = table.check("victim@example.com").expect_err("still backing off");
        assert_eq!(after.retry_after, before.retry_after - Duration::from_secs(1));
    }

    #[test]
    fn a_table_of_size_zero_tracks_nothing() {
        let (table, _clock) = table(0);
        fail(&table, "a@example.com", 10);
        assert_eq!(table.check("a@example.com"), Ok(()));
    }

    #[test]
    fn overlong_durations_are_not_a_panic() {
        let clock = FakeRelativeClock::default();
        let table = BackoffTable::new(clock, 0, Duration::MAX, Duration::MAX, 10);
        fail(&table, "a@example.com", 100);
        assert_eq!(
            table.check("a@example.com").map_err(|r| r.retry_after > MAX),
            Err(true)
        );
    }
}
