//! What the core's test binaries share: the in-memory fakes and the real
//! hashing and token adapters (at a cheap cost), wired into `Ports`.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use latch_core::Ports;
use latch_passwords::{Argon2Hasher, HasherConfig};
use latch_rate_limit::{GovernorRateLimiter, RateLimitConfig};
use latch_testkit::{
    FixedClock, InMemoryAuditLog, InMemoryAuthChangeLog, InMemoryCacheLeases, InMemorySessionRepository,
    InMemoryTierRepository, InMemoryUserRepository,
};
use latch_tokens_jwt::{Algorithm, JwtTokenCodec, SigningKey, TokenSettings};

/// The fakes, kept so a test can look inside them.
pub struct Fakes {
    pub clock: Arc<FixedClock>,
    pub users: Arc<InMemoryUserRepository>,
    pub sessions: Arc<InMemorySessionRepository>,
    pub tiers: Arc<InMemoryTierRepository>,
    pub audit: Arc<InMemoryAuditLog>,
    pub changes: Arc<InMemoryAuthChangeLog>,
    /// For a session cache in front of the fakes (not every binary has one).
    #[allow(dead_code)]
    pub leases: Arc<InMemoryCacheLeases>,
}

impl Fakes {
    pub fn new() -> Self {
        let changes = Arc::new(InMemoryAuthChangeLog::default());
        let users = Arc::new(InMemoryUserRepository::with_change_log(changes.clone()));
        let sessions = Arc::new(InMemorySessionRepository::new(changes.clone(), users.clone()));
        Self {
            // Token expiry is checked by the codec against the wall clock: start there.
            clock: Arc::new(FixedClock::at(Utc::now().trunc_subsecs(0))),
            tiers: Arc::new(InMemoryTierRepository::new(users.clone())),
            users,
            sessions,
            audit: Arc::new(InMemoryAuditLog::default()),
            changes,
            leases: Arc::new(InMemoryCacheLeases::default()),
        }
    }

    /// Ports on these fakes, an argon2id hasher at a cheap cost, an HS256
    /// codec and an in-process limiter with `limits`.
    pub fn ports(&self, limits: RateLimitConfig) -> Ports {
        let hasher = Argon2Hasher::new(HasherConfig {
            memory_kib: 1024,
            iterations: 1,
            ..HasherConfig::default()
        })
        .unwrap();
        let key = SigningKey::hs256(b"a test secret that is long enough for HS256 use").unwrap();
        let codec = JwtTokenCodec::new(TokenSettings::new(Algorithm::HS256, "latch", "latch"), key).unwrap();
        Ports {
            users: self.users.clone(),
            sessions: self.sessions.clone(),
            tiers: self.tiers.clone(),
            audit: self.audit.clone(),
            changes: self.changes.clone(),
            hasher: Arc::new(hasher),
            tokens: Arc::new(codec),
            limiter: Arc::new(GovernorRateLimiter::new(limits)),
            clock: self.clock.clone(),
        }
    }
}
