use std::time::Duration;

use async_trait::async_trait;

/// An authentication action with its own attempt budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitedAction {
    /// `POST /auth/signup`.
    Signup,
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/refresh`.
    Refresh,
    /// A check of the caller's password or second factor on an account
    /// route: `POST /users/me/password`, `DELETE /users/me`, the
    /// `/users/me/mfa/...` routes.
    PasswordChange,
    /// `PATCH /users/me` with a username, which says whether it is taken.
    UsernameChange,
    /// `POST /auth/introspect`, which checks a resource server's client secret.
    Introspect,
    /// `POST /auth/verification/request`, which mails a link.
    VerificationRequest,
    /// `POST /auth/password-reset/request`, which mails a link.
    PasswordResetRequest,
    /// The routes that follow an emailed link (`.../confirm`), each a check of
    /// a secret.
    LinkConfirm,
}

impl LimitedAction {
    /// Every action.
    pub const ALL: [Self; 9] = [
        Self::Signup,
        Self::Login,
        Self::Refresh,
        Self::PasswordChange,
        Self::UsernameChange,
        Self::Introspect,
        Self::VerificationRequest,
        Self::PasswordResetRequest,
        Self::LinkConfirm,
    ];

    /// A stable lower-case name, for logs and policy headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::PasswordChange => "password_change",
            Self::UsernameChange => "username_change",
            Self::Introspect => "introspect",
            Self::VerificationRequest => "verification_request",
            Self::PasswordResetRequest => "password_reset_request",
            Self::LinkConfirm => "link_confirm",
        }
    }
}

/// Whose budget an attempt is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject<'a> {
    /// A client IP address, as text. Adapters MUST count the addresses of one
    /// IPv6 /64 network as one subject (a client is usually given a whole
    /// /64), and an IPv4-mapped IPv6 address as its IPv4 address.
    Ip(&'a str),
    /// An account: the normalised login (email or username) or a user id.
    Account(&'a str),
}

/// An attempt refused because a budget is spent or an account is backing off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited: retry after {retry_after:?}")]
pub struct RateLimited {
    /// How long until an attempt can succeed; never zero.
    pub retry_after: Duration,
    /// The budget of the limit that refused: attempts per `window`.
    pub limit: u32,
    /// The window `limit` is counted over.
    pub window: Duration,
}

/// Counts authentication attempts: token buckets per action and subject, and
/// a capped exponential backoff for accounts with repeated failed logins.
///
/// Adapters MUST be cheap (no hashing, no I/O the caller waits long on) and
/// MUST bound their memory whatever the number of distinct subjects. To stay
/// within the bound they MUST forget what holds back least first: a flood of
/// other subjects MUST NOT refill a spent budget or end a backoff.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes one attempt from `subject`'s budget for `action`. MUST refuse
    /// once the budget is spent, and allow again when it has refilled;
    /// budgets of different actions or subjects MUST be independent.
    async fn admit(&self, action: LimitedAction, subject: Subject<'_>) -> Result<(), RateLimited>;

    /// Whether `account` may attempt a login now. Consumes nothing: an
    /// attempt refused here MUST NOT lengthen the backoff, so that the real
    /// user is never locked out for longer than the cap after the last failure.
    async fn login_backoff(&self, account: &str) -> Result<(), RateLimited>;

    /// Records a failed login for `account`: past a number of free failures
    /// each further one doubles the wait before the next attempt, up to a cap.
    async fn record_login_failure(&self, account: &str);

    /// Records a successful login for `account`: MUST clear its backoff.
    async fn record_login_success(&self, account: &str);
}
