//! What the core's test binaries share: a service on the testkit's in-memory
//! stores, with the real hashing and token adapters (at a cheap cost).

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use latch_core::{AuthConfig, AuthService, Ports};
use latch_passwords::{Argon2Hasher, HasherConfig};
use latch_rate_limit::{GovernorRateLimiter, RateLimitConfig};
use latch_testkit::{FixedClock, Stores};
use latch_tokens_jwt::{Algorithm, JwtTokenCodec, SigningKey, TokenSettings};

/// A service on fresh in-memory stores and a fixed clock, kept so a test can
/// move the clock and look inside the stores.
pub struct Harness {
    pub auth: AuthService,
    pub clock: Arc<FixedClock>,
    pub stores: Stores,
}

impl Harness {
    /// The default configuration and rate limits.
    pub fn new() -> Self {
        Self::with(AuthConfig::default(), RateLimitConfig::default())
    }

    /// `config`, and an in-process limiter with `limits`.
    pub fn with(config: AuthConfig, limits: RateLimitConfig) -> Self {
        // Token expiry is checked by the codec against the wall clock: start there.
        let clock = Arc::new(FixedClock::at(Utc::now().trunc_subsecs(0)));
        let stores = Stores::in_memory();
        let auth = AuthService::new(ports(&stores, &clock, limits), config);
        Self { auth, clock, stores }
    }

    /// Another service on the same stores and clock: a second instance on one database.
    pub fn instance(&self, config: AuthConfig) -> AuthService {
        AuthService::new(
            ports(&self.stores, &self.clock, RateLimitConfig::default()),
            config,
        )
    }
}

/// Ports on `stores` and `clock`, an argon2id hasher at a cheap cost, an
/// HS256 codec and an in-process limiter with `limits`.
fn ports(stores: &Stores, clock: &Arc<FixedClock>, limits: RateLimitConfig) -> Ports {
    let hasher = Argon2Hasher::new(HasherConfig {
        memory_kib: 1024,
        iterations: 1,
        ..HasherConfig::default()
    })
    .unwrap();
    let key = SigningKey::hs256(b"a test secret that is long enough for HS256 use").unwrap();
    let codec = JwtTokenCodec::new(TokenSettings::new(Algorithm::HS256, "latch", "latch"), key).unwrap();
    Ports {
        users: stores.users.clone(),
        sessions: stores.sessions.clone(),
        tiers: stores.tiers.clone(),
        audit: stores.audit.clone(),
        changes: stores.changes.clone(),
        leases: stores.leases.clone(),
        hasher: Arc::new(hasher),
        tokens: Arc::new(codec),
        limiter: Arc::new(GovernorRateLimiter::new(limits)),
        clock: clock.clone(),
    }
}
