//! Test support shared by every Latch crate (a dev-dependency only).
//!
//! Owns the contract-test suite of every port — public async functions, one per
//! behaviour, expanded into named `#[tokio::test]`s by one macro per port — the
//! in-memory fakes that pass those suites, a fixed clock, and a helper that
//! gives each test its own fresh database. Must never be a normal dependency.

pub mod audit;
pub mod changes;
pub mod clock;
pub mod databases;
pub mod email_links;
pub mod leases;
pub mod mailer;
pub mod mfa_challenges;
pub mod outbox;
pub mod password_hasher;
pub mod rate_limiter;
pub mod second_factor;
pub mod secret_sealer;
pub mod sessions;
pub mod signing_keys;
pub mod smtp_server;
mod stores;
mod tier_names;
pub mod tiers;
pub mod token_codec;
pub mod users;

pub use audit::InMemoryAuditLog;
pub use changes::InMemoryAuthChangeLog;
pub use clock::FixedClock;
pub use email_links::InMemoryEmailLinkRepository;
pub use leases::{InMemoryCacheLeases, ManualChangeSignal};
pub use mailer::RecordingMailer;
pub use mfa_challenges::InMemoryMfaChallengeRepository;
pub use outbox::InMemoryEmailOutbox;
pub use second_factor::InMemorySecondFactorRepository;
pub use sessions::InMemorySessionRepository;
pub use signing_keys::InMemorySigningKeyRepository;
pub use smtp_server::TestSmtpServer;
pub use stores::Stores;
pub use tier_names::TierNames;
pub use tiers::InMemoryTierRepository;
pub use users::InMemoryUserRepository;
