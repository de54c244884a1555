//! The SQL adapter for Latch's repository ports, on sea-orm: PostgreSQL in
//! production, SQLite as the embedded default, one schema for both.
//!
//! Owns connecting, migrating, and translating between rows and domain types
//! (including database errors into port errors). Must not depend on another
//! adapter or on the web layer.

mod audit;
mod bounded;
mod changes;
mod email_links;
mod entities;
mod error;
mod leases;
mod loopback;
mod mfa_challenges;
mod outbox;
mod second_factor;
mod sessions;
mod signing_keys;
mod store;
mod tiers;
mod unique;
mod users;

pub use audit::SqlAuditLog;
pub use changes::SqlAuthChangeLog;
pub use email_links::SqlEmailLinkRepository;
pub use leases::{NoChangeSignal, PgChangeSignal, SqlCacheLeases};
pub use loopback::plaintext_on_loopback;
pub use mfa_challenges::SqlMfaChallengeRepository;
pub use outbox::SqlEmailOutbox;
/// The pool type [`SqlStore::from_connection`] takes.
pub use sea_orm::DatabaseConnection;
pub use second_factor::SqlSecondFactorRepository;
pub use sessions::SqlSessionRepository;
pub use signing_keys::SqlSigningKeyRepository;
pub use store::{PoolUsage, SqlStore, StoreError, StoreOptions};
pub use tiers::SqlTierRepository;
pub use users::SqlUserRepository;
