//! The ports: every trait `latch-core` needs from the outside world.
//!
//! Traits and their error types only — no implementations, except
//! [`NoMetrics`], the metrics port's do-nothing default. Every port is
//! `Send + Sync + 'static` because the core holds adapters as `Arc<dyn Port>`
//! shared across the server's worker threads. Each method's doc states what an
//! adapter MUST do; `latch-testkit` turns those sentences into contract tests.

mod audit;
mod changes;
mod clock;
mod email_links;
mod error;
mod leases;
mod mailer;
mod metrics;
mod mfa;
mod passwords;
mod rate_limit;
mod sealer;
mod sessions;
mod signing_keys;
mod tiers;
mod tokens;
mod users;

pub use audit::{AuditLog, AuditPage};
pub use changes::{AuthChange, AuthChangeLog, VersionedChange};
pub use clock::Clock;
pub use email_links::{
    ClaimedEmail, ConsumeLinkError, EmailLinkRepository, EmailOutbox, LinkAction, NewEmailLink, QueuedEmail,
};
pub use error::{BoxError, ErrorChain, RepositoryError};
pub use leases::{CacheLeases, ChangeSignal};
pub use mailer::{EmailMessage, MailError, Mailer};
pub use metrics::{EmailDelivery, Limit, LoginOutcome, Metrics, NoMetrics};
pub use mfa::{
    BeginTotpError, ConfirmTotpError, MfaChallenge, MfaChallengeRepository, RecoveryCodeHash,
    SecondFactorRepository, TotpEnrolment,
};
pub use passwords::{HashError, PasswordHash, PasswordHasher, Verification};
pub use rate_limit::{LimitedAction, RateLimited, RateLimiter, Subject};
pub use sealer::{SealingError, SecretSealer};
pub use sessions::{
    CreateSessionError, RefreshContext, RotateOutcome, SessionRepository, SessionWithUser, VerifiedLogin,
};
pub use signing_keys::{ActivateKeyError, SigningKeyRepository, StoredSigningKey};
pub use tiers::{TierError, TierRepository};
pub use tokens::{AccessClaims, TokenCodec, TokenError, TokenIssuer};
pub use users::{
    AccountFlags, CreateUserError, DeleteUserError, ImportError, ImportedUser, NewUser, UpdateUserError,
    UserCredentials, UserPage, UserQuery, UserRepository,
};
