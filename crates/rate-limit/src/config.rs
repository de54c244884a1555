//! Budgets, backoff and memory bounds of the limiter.

use std::time::Duration;

use latch_ports::LimitedAction;

/// Attempts allowed per window: a token bucket holding `attempts` tokens that
/// refills one every `window / attempts`, so a burst of `attempts` is allowed.
///
/// Zero `attempts` or a zero `window` means "no limit". Windows longer than a
/// year count as a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Attempts allowed within `window` (also the burst size); 0 = no limit.
    pub attempts: u32,
    /// The time over which `attempts` refill; zero = no limit.
    pub window: Duration,
}

impl Budget {
    /// No limit at all.
    pub const UNLIMITED: Self = Self::new(0, Duration::ZERO);

    /// `attempts` per `window`.
    pub const fn new(attempts: u32, window: Duration) -> Self {
        Self { attempts, window }
    }

    /// `attempts` per minute.
    pub const fn per_minute(attempts: u32) -> Self {
        Self::new(attempts, Duration::from_secs(60))
    }

    /// Whether this budget limits nothing (zero attempts or a zero window).
    pub const fn is_unlimited(&self) -> bool {
        self.attempts == 0 || self.window.is_zero()
    }
}

/// One [`Budget`] per [`LimitedAction`], for one kind of subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionBudgets {
    /// Budget of [`LimitedAction::Signup`].
    pub signup: Budget,
    /// Budget of [`LimitedAction::Login`].
    pub login: Budget,
    /// Budget of [`LimitedAction::Refresh`].
    pub refresh: Budget,
    /// Budget of [`LimitedAction::PasswordChange`].
    pub password_change: Budget,
    /// Budget of [`LimitedAction::UsernameChange`].
    pub username_change: Budget,
    /// Budget of [`LimitedAction::Introspect`].
    pub introspect: Budget,
    /// Budget of [`LimitedAction::VerificationRequest`].
    pub verification_request: Budget,
    /// Budget of [`LimitedAction::PasswordResetRequest`].
    pub password_reset_request: Budget,
    /// Budget of [`LimitedAction::LinkConfirm`].
    pub link_confirm: Budget,
}

impl ActionBudgets {
    /// The same budget for every action.
    pub const fn uniform(budget: Budget) -> Self {
        Self {
            signup: budget,
            login: budget,
            refresh: budget,
            password_change: budget,
            username_change: budget,
            introspect: budget,
            verification_request: budget,
            password_reset_request: budget,
            link_confirm: budget,
        }
    }

    /// The budget of `action`.
    pub const fn get(&self, action: LimitedAction) -> Budget {
        match action {
            LimitedAction::Signup => self.signup,
            LimitedAction::Login => self.login,
            LimitedAction::Refresh => self.refresh,
            LimitedAction::PasswordChange => self.password_change,
            LimitedAction::UsernameChange => self.username_change,
            LimitedAction::Introspect => self.introspect,
            LimitedAction::VerificationRequest => self.verification_request,
            LimitedAction::PasswordResetRequest => self.password_reset_request,
            LimitedAction::LinkConfirm => self.link_confirm,
        }
    }
}

/// Settings of [`GovernorRateLimiter`](crate::GovernorRateLimiter).
///
/// Account keys are compared as given: normalising them (the core passes
/// lower-cased emails) is the caller's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// When false every call allows and nothing is recorded.
    pub enabled: bool,
    /// Budgets of [`Subject::Ip`](latch_ports::Subject::Ip) subjects.
    pub per_ip: ActionBudgets,
    /// Budgets of [`Subject::Account`](latch_ports::Subject::Account) subjects.
    pub per_account: ActionBudgets,
    /// Consecutive failed logins an account may make before backoff starts.
    pub free_failures: u32,
    /// Wait after the first failure past the free ones; each further failure doubles it.
    pub backoff_base: Duration,
    /// Cap on the wait; an account idle this long since its last failure starts afresh.
    pub backoff_max: Duration,
    /// Most accounts whose failures are remembered; past it those with the
    /// shortest wait left (then the oldest) are forgotten.
    pub max_tracked_accounts: usize,
    /// Most subjects remembered per (action, subject kind) budget; past it, after
    /// dropping the refilled ones, the fullest buckets are forgotten (refilled).
    pub max_tracked_subjects: usize,
}

impl Default for RateLimitConfig {
    /// Per IP per minute: signup 10, login 30, refresh 120, password change 10,
    /// username change 10, introspection 6000, verification and reset requests 10, link
    /// confirmations 30. Per account per minute: login 10, password change 5, username change 5,
    /// verification and reset requests 3; signup, refresh and link confirmations unlimited (an IP
    /// budget already covers them). Backoff after 5 free
    /// failures, from 1 s doubling up to 5 min. 100 000 accounts and 100 000
    /// subjects per budget tracked, at roughly 100 bytes each.
    fn default() -> Self {
        Self {
            enabled: true,
            per_ip: ActionBudgets {
                signup: Budget::per_minute(10),
                login: Budget::per_minute(30),
                refresh: Budget::per_minute(120),
                password_change: Budget::per_minute(10),
                username_change: Budget::per_minute(10),
                introspect: Budget::per_minute(6000),
                verification_request: Budget::per_minute(10),
                password_reset_request: Budget::per_minute(10),
                link_confirm: Budget::per_minute(30),
            },
            per_account: ActionBudgets {
                signup: Budget::UNLIMITED,
                login: Budget::per_minute(10),
                refresh: Budget::UNLIMITED,
                password_change: Budget::per_minute(5),
                username_change: Budget::per_minute(5),
                // A resource server's client secret has no account to guess against.
                introspect: Budget::UNLIMITED,
                verification_request: Budget::per_minute(3),
                password_reset_request: Budget::per_minute(3),
                // A link's token is 256 random bits: nothing to guess per account.
                link_confirm: Budget::UNLIMITED,
            },
            free_failures: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_tracked_accounts: 100_000,
            max_tracked_subjects: 100_000,
        }
    }
}
