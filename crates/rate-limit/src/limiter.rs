//! The adapter of the `RateLimiter` port.

use std::borrow::Cow;
use std::fmt;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use latch_ports::{LimitedAction, RateLimited, RateLimiter, Subject};

use crate::backoff::BackoffTable;
use crate::budgets::BudgetTable;
use crate::subject::ip_key;
use crate::{ActionBudgets, RateLimitConfig};

const ACTIONS: [LimitedAction; 9] = LimitedAction::ALL;

/// Position of `action` in [`ACTIONS`].
const fn slot(action: LimitedAction) -> usize {
    match action {
        LimitedAction::Signup => 0,
        LimitedAction::Login => 1,
        LimitedAction::Refresh => 2,
        LimitedAction::PasswordChange => 3,
        LimitedAction::UsernameChange => 4,
        LimitedAction::Introspect => 5,
        LimitedAction::VerificationRequest => 6,
        LimitedAction::PasswordResetRequest => 7,
        LimitedAction::LinkConfirm => 8,
    }
}

/// The budgets of one action; `None` where the budget is unlimited.
struct ActionTables<C: Clock> {
    ip: Option<BudgetTable<C>>,
    account: Option<BudgetTable<C>>,
}

/// [`RateLimiter`] counting in this process's memory with `governor` token
/// buckets, one keyed table per (action, subject kind) so that budgets are
/// independent, plus a login backoff table per account.
///
/// `C` is the time source: the real monotonic clock by default, a
/// `governor::clock::FakeRelativeClock` in tests.
pub struct GovernorRateLimiter<C: Clock = DefaultClock> {
    config: RateLimitConfig,
    tables: [ActionTables<C>; ACTIONS.len()],
    backoff: BackoffTable<C>,
}

impl GovernorRateLimiter {
    /// A limiter on the real clock.
    pub fn new(config: RateLimitConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> GovernorRateLimiter<C> {
    /// A limiter reading time from `clock`.
    pub fn with_clock(config: RateLimitConfig, clock: C) -> Self {
        let table = |budgets: &ActionBudgets, action| {
            BudgetTable::new(budgets.get(action), clock.clone(), config.max_tracked_subjects)
        };
        let tables = ACTIONS.map(|action| ActionTables {
            ip: table(&config.per_ip, action),
            account: table(&config.per_account, action),
        });
        let backoff = BackoffTable::new(
            clock.clone(),
            config.free_failures,
            config.backoff_base,
            config.backoff_max,
            config.max_tracked_accounts,
        );
        Self {
            config,
            tables,
            backoff,
        }
    }
}

impl<C: Clock> fmt::Debug for GovernorRateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernorRateLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<C> RateLimiter for GovernorRateLimiter<C>
where
    C: Clock + Clone + Send + Sync + 'static,
{
    async fn admit(&self, action: LimitedAction, subject: Subject<'_>) -> Result<(), RateLimited> {
        if !self.config.enabled {
            return Ok(());
        }
        let tables = &self.tables[slot(action)];
        let (table, key, kind) = match subject {
            Subject::Ip(ip) => (&tables.ip, ip_key(ip), "ip"),
            Subject::Account(account) => (&tables.account, Cow::Borrowed(account), "account"),
        };
        let Some(table) = table else {
            return Ok(());
        };
        // The subject itself stays out of the log: it is an address or an email.
        table.take(&key).inspect_err(|refused| {
            tracing::debug!(
                action = action.as_str(),
                subject = kind,
                retry_after_ms = refused.retry_after.as_millis(),
                "attempt refused: budget spent"
            );
        })
    }

    async fn login_backoff(&self, account: &str) -> Result<(), RateLimited> {
        if !self.config.enabled {
            return Ok(());
        }
        self.backoff.check(account).inspect_err(|refused| {
            tracing::debug!(
                retry_after_ms = refused.retry_after.as_millis(),
                "login refused: account backing off"
            );
        })
    }

    async fn record_login_failure(&self, account: &str) {
        if self.config.enabled {
            self.backoff.record_failure(account);
        }
    }

    async fn record_login_success(&self, account: &str) {
        if self.config.enabled {
            self.backoff.clear(account);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

    use super::*;
    use crate::Budget;

    const MINUTE: Duration = Duration::from_secs(60);

    fn limiter(config: RateLimitConfig) -> (GovernorRateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (GovernorRateLimiter::with_clock(config, clock.clone()), clock)
    }

    #[tokio::test]
    async fn default_budgets_are_the_documented_ones() {
        let (limiter, _clock) = limiter(RateLimitConfig::default());
        for (action, subject, limit) in [
            (LimitedAction::Signup, Subject::Ip("10.0.0.1"), 10),
            (LimitedAction::Login, Subject::Ip("10.0.0.1"), 30),
            (LimitedAction::Refresh, Subject::Ip("10.0.0.1"), 120),
            (LimitedAction::PasswordChange, Subject::Ip("10.0.0.1"), 10),
            (LimitedAction::UsernameChange, Subject::Ip("10.0.0.1"), 10),
            (
                LimitedAction::UsernameChange,
                Subject::Account("a@example.com"),
                5,
            ),
            (LimitedAction::Login, Subject::Account("a@example.com"), 10),
            (
                LimitedAction::PasswordChange,
                Subject::Account("a@example.com"),
                5,
            ),
        ] {
            for _ in 0..limit {
                assert_eq!(
                    limiter.admit(action, subject).await,
                    Ok(()),
                    "{action:?} {subject:?}"
                );
            }
            let refused = limiter.admit(action, subject).await.expect_err("budget spent");
            assert_eq!(
                (refused.limit, refused.window),
                (limit, MINUTE),
                "{action:?} {subject:?}"
            );
        }
    }

    #[tokio::test]
    async fn unlimited_pairs_never_refuse() {
        let (limiter, _clock) = limiter(RateLimitConfig::default());
        for _ in 0..1000 {
            assert_eq!(
                limiter
                    .admit(LimitedAction::Signup, Subject::Account("a@example.com"))
                    .await,
                Ok(())
            );
            assert_eq!(
                limiter
                    .admit(LimitedAction::Refresh, Subject::Account("a@example.com"))
                    .await,
                Ok(())
            );
        }
    }

    #[tokio::test]
    async fn refilled_budget_allows_again() {
        let (limiter, clock) = limiter(RateLimitConfig::default());
        let login = |ip| limiter.admit(LimitedAction::Login, Subject::Ip(ip));
        for _ in 0..30 {
            assert_eq!(login("10.0.0.1").await, Ok(()));
        }
        let refused = login("10.0.0.1").await.expect_err("budget spent");
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        clock.advance(refused.retry_after);
        assert_eq!(login("10.0.0.1").await, Ok(()));
        assert!(login("10.0.0.1").await.is_err());
    }

    #[tokio::test]
    async fn an_ipv6_64_shares_one_ip_budget() {
        let (limiter, _clock) = limiter(RateLimitConfig::default());
        for i in 0..30 {
            let ip = format!("2001:db8:0:1::{i:x}");
            assert_eq!(
                limiter.admit(LimitedAction::Login, Subject::Ip(&ip)).await,
                Ok(())
            );
        }
        let login = |ip| limiter.admit(LimitedAction::Login, Subject::Ip(ip));
        assert!(login("2001:db8:0:1:ffff::1").await.is_err());
        assert_eq!(login("2001:db8:0:2::1").await, Ok(()));
    }

    #[tokio::test]
    async fn backoff_expires_after_the_wait() {
        let (limiter, clock) = limiter(RateLimitConfig::default());
        for _ in 0..6 {
            limiter.record_login_failure("a@example.com").await;
        }
        let refused = limiter
            .login_backoff("a@example.com")
            .await
            .expect_err("backing off");
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        clock.advance(Duration::from_secs(2));
        assert_eq!(limiter.login_backoff("a@example.com").await, Ok(()));
    }

    #[tokio::test]
    async fn disabled_allows_everything_and_records_nothing() {
        let config = RateLimitConfig {
            enabled: false,
            per_ip: ActionBudgets::uniform(Budget::new(1, MINUTE)),
            per_account: ActionBudgets::uniform(Budget::new(1, MINUTE)),
            free_failures: 0,
            ..RateLimitConfig::default()
        };
        let (limiter, _clock) = limiter(config.clone());
        for _ in 0..10 {
            for action in ACTIONS {
                assert_eq!(limiter.admit(action, Subject::Ip("10.0.0.1")).await, Ok(()));
                assert_eq!(
                    limiter.admit(action, Subject::Account("a@example.com")).await,
                    Ok(())
                );
            }
            limiter.record_login_failure("a@example.com").await;
            assert_eq!(limiter.login_backoff("a@example.com").await, Ok(()));
        }
        // Nothing was recorded: enabling the same state would still allow.
        assert_eq!(limiter.backoff.check("a@example.com"), Ok(()));
        let ip_login = limiter.tables[slot(LimitedAction::Login)]
            .ip
            .as_ref()
            .expect("limited");
        assert_eq!(ip_login.tracked(), 0);
    }

    #[tokio::test]
    async fn unlimited_login_budget_still_backs_off() {
        let config = RateLimitConfig {
            per_ip: ActionBudgets::uniform(Budget::UNLIMITED),
            per_account: ActionBudgets::uniform(Budget::UNLIMITED),
            ..RateLimitConfig::default()
        };
        let (limiter, _clock) = limiter(config);
        for _ in 0..6 {
            limiter.record_login_failure("a@example.com").await;
        }
        assert!(limiter.login_backoff("a@example.com").await.is_err());
        assert_eq!(
            limiter
                .admit(LimitedAction::Login, Subject::Account("a@example.com"))
                .await,
            Ok(())
        );
    }
}
