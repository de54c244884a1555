//! Attempt budgets on the authentication use cases: one per client IP and one
//! per account, through the `RateLimiter` port. Checked before any password
//! hash, so a refused attempt costs almost nothing.

use latch_domain::UserId;
use latch_ports::{Limit, LimitedAction, RateLimited, Subject};

use crate::{AuthService, Client};

/// The key an existing account's budgets and backoff are kept under: its id,
/// so its email, its username and every spelling of them share one budget.
pub(crate) fn account_key(id: UserId) -> String {
    format!("user:{id}")
}

/// The key for a login or email that names no account (yet): as typed,
/// trimmed and lower-cased, so `Ada@Example.com` and `ada@example.com` share
/// one budget. Prefixed so that no typed text can name an account's key.
pub(crate) fn typed_login_key(login: &str) -> String {
    format!("login:{}", login.trim().to_lowercase())
}

impl AuthService {
    /// Takes one attempt of `action` from the client's IP budget and, when
    /// given, from `account`'s.
    pub(crate) async fn admit(
        &self,
        action: LimitedAction,
        client: &Client,
        account: Option<&str>,
    ) -> Result<(), RateLimited> {
        let ip = client.ip.as_deref().map(Subject::Ip);
        for subject in ip.into_iter().chain(account.map(Subject::Account)) {
            self.ports
                .limiter
                .admit(action, subject)
                .await
                .inspect_err(|refusal| {
                    // The subject itself (an address or an email) stays out of the log.
                    let (by, limit) = if matches!(subject, Subject::Ip(_)) {
                        ("client IP", Limit::Ip)
                    } else {
                        ("account", Limit::Account)
                    };
                    self.ports.metrics.rate_limited(action, limit);
                    tracing::info!(
                        action = action.as_str(),
                        by,
                        retry_after_ms = refusal.retry_after.as_millis(),
                        "rate limited"
                    );
                })?;
        }
        Ok(())
    }

    /// Whether `account` may attempt `action` (a password check) now, or is
    /// backing off after repeated failed logins.
    pub(crate) async fn backoff(&self, action: LimitedAction, account: &str) -> Result<(), RateLimited> {
        self.ports
            .limiter
            .login_backoff(account)
            .await
            .inspect_err(|_| self.ports.metrics.rate_limited(action, Limit::LoginBackoff))
    }
}
