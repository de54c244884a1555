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
pub mod leases;
pub mod password_hasher;
pub mod rate_limiter;
pub mod sessions;
pub mod signing_keys;
mod stores;
mod tier_names;
pub mod tiers;
pub mod token_codec;
pub mod users;

pub use audit::InMemoryAuditLog;
pub use changes::InMemoryAuthChangeLog;
pub use clock::FixedClock;
pub use leases::{InMemoryCacheLeases, ManualChangeSignal};
pub use sessions::InMemorySessionRepository;
pub use signing_keys::InMemorySigningKeyRepository;
pub use stores::Stores;
pub use tier_names::TierNames;
pub use tiers::InMemoryTierRepository;
pub use users::InMemoryUserRepository;
