//! The `RateLimiter` contract: what every adapter of the port must do.
//!
//! The contract cannot see an adapter's configuration, so it fixes one: the
//! limiter under test must be configured with the constants below.

use std::time::Duration;

/// Attempts allowed per [`WINDOW`], for every action and both subject kinds.
pub const ATTEMPTS: u32 = 3;
/// The window [`ATTEMPTS`] are counted over.
pub const WINDOW: Duration = Duration::from_secs(60 * 60);
/// Failed logins an account may make before backoff starts.
pub const FREE_FAILURES: u32 = 2;
/// Wait after the first failure past the free ones.
pub const BACKOFF_BASE: Duration = Duration::from_secs(60);
/// Cap on the backoff wait.
pub const BACKOFF_MAX: Duration = Duration::from_secs(4 * 60);

/// Expands the `RateLimiter` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression yielding a fresh, enabled limiter (any
/// type that implements the port) on the real clock; it is evaluated once per
/// test. It must be configured with this module's constants: every action,
/// for IP and account subjects alike, [`ATTEMPTS`] (3) per [`WINDOW`] (1 hour);
/// backoff once [`FREE_FAILURES`] (2) failures are in, from [`BACKOFF_BASE`] (1 minute)
/// doubling up to [`BACKOFF_MAX`] (4 minutes); memory bounds as the adapter likes.
#[macro_export]
macro_rules! rate_limiter_contract {
    ($make:expr) => {
        $crate::rate_limiter_contract!(@tests $make;
            budget_allows_up_to_the_limit_then_refuses,
            refusal_reports_the_budget_and_a_wait,
            every_action_is_limited_for_both_subject_kinds,
            ips_are_independent,
            addresses_in_one_ipv6_64_share_a_budget,
            ipv6_64s_are_independent,
            ipv4_mapped_ipv6_is_its_ipv4_address,
            accounts_are_independent,
            actions_are_independent,
            ip_and_account_with_the_same_text_are_independent,
            fresh_account_has_no_backoff,
            free_failures_do_not_back_off,
            the_last_free_failure_is_followed_by_the_base_wait,
            further_failures_double_the_wait_up_to_the_cap,
            checking_backoff_does_not_lengthen_it,
            checking_backoff_consumes_no_budget,
            success_clears_the_backoff,
            backoff_of_accounts_is_independent,
            many_distinct_subjects_are_handled,
            a_flood_of_other_subjects_leaves_a_spent_budget_spent,
            a_flood_of_other_accounts_leaves_a_backoff_in_place,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $name() {
                $crate::rate_limiter::$name(&$make).await;
            }
        )*
    };
}

#[allow(clippy::expect_used, missing_docs)]
mod behaviours {
    use std::time::Duration;

    use latch_ports::{LimitedAction, RateLimited, RateLimiter, Subject};

    use super::{ATTEMPTS, BACKOFF_BASE, BACKOFF_MAX, FREE_FAILURES, WINDOW};

    const ACTIONS: [LimitedAction; LimitedAction::ALL.len()] = LimitedAction::ALL;
    const IP: Subject<'static> = Subject::Ip("203.0.113.7");
    const ACCOUNT: &str = "alice@example.com";

    async fn spend(limiter: &dyn RateLimiter, action: LimitedAction, subject: Subject<'_>) {
        for attempt in 1..=ATTEMPTS {
            assert_eq!(
                limiter.admit(action, subject).await,
                Ok(()),
                "attempt {attempt} of {action:?} by {subject:?}"
            );
        }
    }

    async fn refused(limiter: &dyn RateLimiter, action: LimitedAction, subject: Subject<'_>) -> RateLimited {
        limiter
            .admit(action, subject)
            .await
            .expect_err("the budget is spent")
    }

    async fn fail(limiter: &dyn RateLimiter, account: &str, times: u32) {
        for _ in 0..times {
            limiter.record_login_failure(account).await;
        }
    }

    async fn backoff_wait(limiter: &dyn RateLimiter, account: &str) -> Duration {
        limiter
            .login_backoff(account)
            .await
            .expect_err("the account is backing off")
            .retry_after
    }

    /// `actual` is `expected` less the test's own running time, allowing an
    /// adapter to round up to whole seconds.
    fn assert_about(actual: Duration, expected: Duration) {
        assert!(
            actual > expected - Duration::from_secs(10) && actual <= expected + Duration::from_secs(1),
            "waited {actual:?}, expected about {expected:?}"
        );
    }

    pub async fn budget_allows_up_to_the_limit_then_refuses(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, IP).await;
        assert!(limiter.admit(LimitedAction::Login, IP).await.is_err());
        assert!(limiter.admit(LimitedAction::Login, IP).await.is_err());
    }

    pub async fn refusal_reports_the_budget_and_a_wait(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, IP).await;
        let refusal = refused(limiter, LimitedAction::Login, IP).await;
        assert_eq!((refusal.limit, refusal.window), (ATTEMPTS, WINDOW));
        assert!(refusal.retry_after > Duration::ZERO);
        assert!(refusal.retry_after <= WINDOW, "{refusal:?}");
    }

    pub async fn every_action_is_limited_for_both_subject_kinds(limiter: &dyn RateLimiter) {
        for action in ACTIONS {
            for subject in [IP, Subject::Account(ACCOUNT)] {
                spend(limiter, action, subject).await;
                let refusal = refused(limiter, action, subject).await;
                assert_eq!(refusal.limit, ATTEMPTS, "{action:?} by {subject:?}");
            }
        }
    }

    pub async fn ips_are_independent(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, IP).await;
        spend(limiter, LimitedAction::Login, Subject::Ip("203.0.113.8")).await;
        spend(limiter, LimitedAction::Login, Subject::Ip("2001:db8::7")).await;
    }

    pub async fn addresses_in_one_ipv6_64_share_a_budget(limiter: &dyn RateLimiter) {
        for i in 1..=ATTEMPTS {
            let ip = format!("2001:db8:7:1::{i:x}");
            assert_eq!(
                limiter.admit(LimitedAction::Login, Subject::Ip(&ip)).await,
                Ok(()),
                "attempt {i} from {ip}"
            );
        }
        let other_host = Subject::Ip("2001:db8:7:1:ffff:ffff:ffff:ffff");
        let refusal = refused(limiter, LimitedAction::Login, other_host).await;
        assert_eq!(refusal.limit, ATTEMPTS);
    }

    pub async fn ipv6_64s_are_independent(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, Subject::Ip("2001:db8:7:1::1")).await;
        spend(limiter, LimitedAction::Login, Subject::Ip("2001:db8:7:2::1")).await;
        spend(limiter, LimitedAction::Login, Subject::Ip("2001:db8:8:1::1")).await;
    }

    pub async fn ipv4_mapped_ipv6_is_its_ipv4_address(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, Subject::Ip("::ffff:203.0.113.7")).await;
        assert!(limiter.admit(LimitedAction::Login, IP).await.is_err());
        spend(limiter, LimitedAction::Login, Subject::Ip("::ffff:203.0.113.8")).await;
    }

    pub async fn accounts_are_independent(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, Subject::Account(ACCOUNT)).await;
        spend(limiter, LimitedAction::Login, Subject::Account("bob@example.com")).await;
    }

    pub async fn actions_are_independent(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, IP).await;
        for action in LimitedAction::ALL
            .into_iter()
            .filter(|a| *a != LimitedAction::Login)
        {
            spend(limiter, action, IP).await;
        }
    }

    pub async fn ip_and_account_with_the_same_text_are_independent(limiter: &dyn RateLimiter) {
        spend(limiter, LimitedAction::Login, Subject::Ip("shared")).await;
        spend(limiter, LimitedAction::Login, Subject::Account("shared")).await;
    }

    pub async fn fresh_account_has_no_backoff(limiter: &dyn RateLimiter) {
        assert_eq!(limiter.login_backoff(ACCOUNT).await, Ok(()));
    }

    pub async fn free_failures_do_not_back_off(limiter: &dyn RateLimiter) {
        for failure in 1..FREE_FAILURES {
            limiter.record_login_failure(ACCOUNT).await;
            assert_eq!(
                limiter.login_backoff(ACCOUNT).await,
                Ok(()),
                "after failure {failure}"
            );
        }
    }

    pub async fn the_last_free_failure_is_followed_by_the_base_wait(limiter: &dyn RateLimiter) {
        fail(limiter, ACCOUNT, FREE_FAILURES).await;
        assert_about(backoff_wait(limiter, ACCOUNT).await, BACKOFF_BASE);
    }

    pub async fn further_failures_double_the_wait_up_to_the_cap(limiter: &dyn RateLimiter) {
        fail(limiter, ACCOUNT, FREE_FAILURES).await;
        for expected in [BACKOFF_BASE * 2, BACKOFF_BASE * 4, BACKOFF_MAX, BACKOFF_MAX] {
            limiter.record_login_failure(ACCOUNT).await;
            assert_about(backoff_wait(limiter, ACCOUNT).await, expected);
        }
        fail(limiter, ACCOUNT, 100).await;
        assert_about(backoff_wait(limiter, ACCOUNT).await, BACKOFF_MAX);
    }

    pub async fn checking_backoff_does_not_lengthen_it(limiter: &dyn RateLimiter) {
        fail(limiter, ACCOUNT, FREE_FAILURES).await;
        let first = backoff_wait(limiter, ACCOUNT).await;
        for _ in 0..50 {
            let again = backoff_wait(limiter, ACCOUNT).await;
            assert!(again <= first, "waited {again:?} after {first:?}");
        }
    }

    pub async fn checking_backoff_consumes_no_budget(limiter: &dyn RateLimiter) {
        for _ in 0..10 {
            assert_eq!(limiter.login_backoff(ACCOUNT).await, Ok(()));
        }
        spend(limiter, LimitedAction::Login, Subject::Account(ACCOUNT)).await;
    }

    pub async fn success_clears_the_backoff(limiter: &dyn RateLimiter) {
        fail(limiter, ACCOUNT, FREE_FAILURES + 2).await;
        assert!(limiter.login_backoff(ACCOUNT).await.is_err());
        limiter.record_login_success(ACCOUNT).await;
        assert_eq!(limiter.login_backoff(ACCOUNT).await, Ok(()));
        // Cleared means counted afresh: the free failures are free again.
        fail(limiter, ACCOUNT, FREE_FAILURES - 1).await;
        assert_eq!(limiter.login_backoff(ACCOUNT).await, Ok(()));
    }

    pub async fn backoff_of_accounts_is_independent(limiter: &dyn RateLimiter) {
        fail(limiter, ACCOUNT, FREE_FAILURES).await;
        assert!(limiter.login_backoff(ACCOUNT).await.is_err());
        assert_eq!(limiter.login_backoff("bob@example.com").await, Ok(()));
        fail(limiter, "bob@example.com", FREE_FAILURES - 1).await;
        assert_eq!(limiter.login_backoff("bob@example.com").await, Ok(()));
    }

    /// One login attempt from each of 50,000 fresh addresses for each of
    /// 50,000 fresh accounts, all admitted; each a failure if `failing`.
    async fn flood(limiter: &dyn RateLimiter, failing: bool) {
        for i in 0..50_000u32 {
            let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff);
            let account = format!("user{i}@example.com");
            assert_eq!(
                limiter.admit(LimitedAction::Login, Subject::Ip(&ip)).await,
                Ok(())
            );
            assert_eq!(
                limiter
                    .admit(LimitedAction::Login, Subject::Account(&account))
                    .await,
                Ok(())
            );
            if failing {
                limiter.record_login_failure(&account).await;
            }
        }
    }

    /// A smoke test of the memory bound: a flood of distinct subjects is
    /// absorbed without error, and a newcomer is still served.
    pub async fn many_distinct_subjects_are_handled(limiter: &dyn RateLimiter) {
        flood(limiter, true).await;
        spend(limiter, LimitedAction::Login, Subject::Ip("192.0.2.1")).await;
        assert_eq!(limiter.login_backoff("newcomer@example.com").await, Ok(()));
    }

    /// An attacker spread over more addresses and accounts than the adapter
    /// remembers must not get a victim's spent budget refilled.
    pub async fn a_flood_of_other_subjects_leaves_a_spent_budget_spent(limiter: &dyn RateLimiter) {
        let victim = Subject::Account(ACCOUNT);
        spend(limiter, LimitedAction::Login, IP).await;
        spend(limiter, LimitedAction::Login, victim).await;
        flood(limiter, false).await;
        let refusal = refused(limiter, LimitedAction::Login, IP).await;
        assert_eq!(refusal.limit, ATTEMPTS);
        let refusal = refused(limiter, LimitedAction::Login, victim).await;
        assert_eq!(refusal.limit, ATTEMPTS);
    }

    /// Failed logins spread over more accounts than the adapter remembers must
    /// not end a victim's backoff.
    pub async fn a_flood_of_other_accounts_leaves_a_backoff_in_place(limiter: &dyn RateLimiter) {
        fail(limiter, ACCOUNT, FREE_FAILURES).await;
        for i in 0..50_000u32 {
            limiter
                .record_login_failure(&format!("user{i}@example.com"))
                .await;
        }
        assert_about(backoff_wait(limiter, ACCOUNT).await, BACKOFF_BASE);
    }
}

pub use behaviours::*;
