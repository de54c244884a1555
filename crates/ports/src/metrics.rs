use std::time::Duration;

use crate::LimitedAction;

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginOutcome {
    /// A session was opened.
    Success,
    /// Unknown user, wrong password, inactive or deleted account.
    InvalidCredentials,
    /// The password was right, but the account's email is not verified
    /// and must be.
    EmailNotVerified,
    /// The password was right and the account has a second factor: the
    /// login waits for its code (`mfa_required`).
    MfaRequired,
    /// A login's second step got a wrong code.
    MfaCodeInvalid,
    /// A login's second step named no live challenge.
    MfaTokenInvalid,
    /// Refused by a budget or the account's backoff, before any hashing.
    RateLimited,
    /// Refused because too many password hashes were queued.
    Overloaded,
    /// Failed for a reason not the client's (storage, signing).
    Error,
}

impl LoginOutcome {
    /// Every outcome.
    pub const ALL: [Self; 9] = [
        Self::Success,
        Self::InvalidCredentials,
        Self::EmailNotVerified,
        Self::MfaRequired,
        Self::MfaCodeInvalid,
        Self::MfaTokenInvalid,
        Self::RateLimited,
        Self::Overloaded,
        Self::Error,
    ];

    /// A stable snake_case name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
            Self::EmailNotVerified => "email_not_verified",
            Self::MfaRequired => "mfa_required",
            Self::MfaCodeInvalid => "mfa_code_invalid",
            Self::MfaTokenInvalid => "mfa_token_invalid",
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Error => "error",
        }
    }
}

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The client IP's budget for the action.
    Ip,
    /// The account's budget for the action.
    Account,
    /// The account's backoff after repeated failed logins.
    LoginBackoff,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Self; 3] = [Self::Ip, Self::Account, Self::LoginBackoff];

    /// A stable snake_case name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Account => "account",
            Self::LoginBackoff => "login_backoff",
        }
    }
}

/// How one attempt to deliver a queued email ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailDelivery {
    /// The mail server accepted it.
    Sent,
    /// It failed and will be tried again.
    Retried,
    /// It failed for good, or its time ran out: the outbox gave up on it.
    GivenUp,
}

impl EmailDelivery {
    /// Every outcome.
    pub const ALL: [Self; 3] = [Self::Sent, Self::Retried, Self::GivenUp];

    /// A stable snake_case name, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retried => "retried",
            Self::GivenUp => "given_up",
        }
    }
}

/// What Latch counts about its own work, for an exporter (Prometheus) to
/// publish. Every method is called on a request's path: adapters MUST NOT
/// block or do I/O, and MUST only derive label values from the arguments'
/// enumerations (never from user input), so the number of series stays
/// bounded. An adapter keeps its own numbers: two services in one process
/// never share them.
///
/// Every method does nothing by default, so an adapter records what it
/// publishes and [`NoMetrics`] records nothing.
pub trait Metrics: Send + Sync + 'static {
    /// A login attempt ended with `outcome`.
    fn login(&self, outcome: LoginOutcome) {
        let _ = outcome;
    }

    /// A rotated refresh token was presented after its grace window and its
    /// session revoked.
    fn refresh_reuse_detected(&self) {}

    /// An attempt at `action` was refused by `limit` (429).
    fn rate_limited(&self, action: LimitedAction, limit: Limit) {
        let _ = (action, limit);
    }

    /// A password hash or verification waited `waited` for a hashing slot
    /// (zero when one was free).
    fn hash_waited(&self, waited: Duration) {
        let _ = waited;
    }

    /// A password hash or verification took `took` on its hashing thread
    /// (the work itself, without any padding of a failure).
    fn hashed(&self, took: Duration) {
        let _ = took;
    }

    /// A password hash was refused at once because the hashing queue was full.
    fn hash_overloaded(&self) {}

    /// An authenticated request's session was served from the session cache
    /// (`hit`) or had to be read from storage.
    fn session_cache(&self, hit: bool) {
        let _ = hit;
    }

    /// The outbox worker made one delivery attempt, which ended with `outcome`.
    fn email_delivery(&self, outcome: EmailDelivery) {
        let _ = outcome;
    }

    /// The outbox holds `pending` messages neither sent nor given up.
    fn email_outbox_pending(&self, pending: u64) {
        let _ = pending;
    }
}

/// Metrics that go nowhere: for services and tests that do not publish any.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {}
