//! The ports: every trait `latch-core` needs from the outside world.
//!
//! Traits and their error types only — no implementations. Every port is
//! `Send + Sync + 'static` because the core holds adapters as `Arc<dyn Port>`
//! shared across the server's worker threads. Each method's doc states what an
//! adapter MUST do; `latch-testkit` turns those sentences into contract tests.

mod audit;
mod changes;
mod clock;
mod error;
mod leases;
mod passwords;
mod rate_limit;
mod sessions;
mod signing_keys;
mod tiers;
mod tokens;
mod users;

pub use audit::{AuditLog, AuditPage};
pub use changes::{AuthChange, AuthChangeLog, VersionedChange};
pub use clock::Clock;
pub use error::{BoxError, ErrorChain, RepositoryError};
pub use leases::{CacheLeases, ChangeSignal};
pub use passwords::{HashError, PasswordHash, PasswordHasher, Verification};
pub use rate_limit::{LimitedAction, RateLimited, RateLimiter, Subject};
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
