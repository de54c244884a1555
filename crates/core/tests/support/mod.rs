//! What the core's test binaries share: a service on the testkit's in-memory
//! stores, with the real hashing and token adapters (at a cheap cost), and the
//! steps most tests begin with (sign up, log in, refresh, log out).

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use latch_core::{
    AuthConfig, AuthService, Client, LoginRequest, LogoutScope, Ports, Principal, RefreshError,
    SignupRequest, TokenPair,
};
use latch_domain::User;
use latch_passwords::{Argon2Hasher, HasherConfig};
use latch_ports::NoMetrics;
use latch_rate_limit::{GovernorRateLimiter, RateLimitConfig};
use latch_sealing::MasterKey;
use latch_session_cache::{CacheLease, SessionCacheConfig};
use latch_testkit::{FixedClock, Stores};
use latch_tokens_jwt::{Algorithm, JwtTokenCodec, SigningKey, TokenSettings};

/// The password every helper signs up and logs in with.
pub const PASSWORD: &str = "correct horse battery staple";

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

    /// Another service on the same stores and clock, with a session cache
    /// in front of them as `cache` says, and its lease: one more instance on
    /// one database.
    pub fn cached_instance(&self, cache: &SessionCacheConfig) -> (AuthService, CacheLease) {
        let ports = ports(&self.stores, &self.clock, RateLimitConfig::default());
        let cached = latch_session_cache::wrap(
            ports.users.clone(),
            ports.sessions.clone(),
            ports.changes.clone(),
            self.stores.leases.clone(),
            cache,
            Arc::new(NoMetrics),
        );
        let ports = Ports {
            users: cached.users,
            sessions: cached.sessions,
            ..ports
        };
        (AuthService::new(ports, AuthConfig::default()), cached.lease)
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
        email_links: stores.email_links.clone(),
        outbox: stores.outbox.clone(),
        second_factors: stores.second_factors.clone(),
        mfa_challenges: stores.mfa_challenges.clone(),
        // One key for every instance on these stores, as in a deployment.
        sealer: Arc::new(MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap()),
        audit: stores.audit.clone(),
        changes: stores.changes.clone(),
        hasher: Arc::new(hasher),
        tokens: Arc::new(codec),
        limiter: Arc::new(GovernorRateLimiter::new(limits)),
        clock: clock.clone(),
        metrics: Arc::new(NoMetrics),
    }
}

/// A sign-up of `email` with [`PASSWORD`] and nothing else.
pub fn signup_request(email: &str) -> SignupRequest {
    SignupRequest {
        email: email.into(),
        password: PASSWORD.into(),
        ..SignupRequest::default()
    }
}

/// A login as `login` (an email or a username) with `password`.
pub fn login_request(login: &str, password: &str) -> LoginRequest {
    LoginRequest {
        login: login.into(),
        password: password.into(),
        ..LoginRequest::default()
    }
}

/// Signs `email` up with [`PASSWORD`].
pub async fn signed_up(auth: &AuthService, email: &str) -> User {
    auth.signup(signup_request(email)).await.unwrap()
}

/// Signs `email` up and logs in: the new user's first session.
pub async fn logged_in(auth: &AuthService, email: &str) -> TokenPair {
    signed_up(auth, email).await;
    log_in(auth, email).await
}

/// Logs the existing user `email` in with [`PASSWORD`]: one more session.
pub async fn log_in(auth: &AuthService, email: &str) -> TokenPair {
    auth.login(login_request(email, PASSWORD)).await.unwrap()
}

/// Who `pair`'s access token authenticates.
pub async fn authenticated(auth: &AuthService, pair: &TokenPair) -> Principal {
    auth.authenticate(&pair.access_token).await.unwrap()
}

/// The refresh token of `pair` (every pair but a session check's has one).
pub fn refresh_token(pair: &TokenPair) -> &str {
    &pair.refresh.as_ref().unwrap().0
}

/// Presents `pair`'s refresh token.
pub async fn refresh(auth: &AuthService, pair: &TokenPair) -> Result<TokenPair, RefreshError> {
    auth.refresh(refresh_token(pair), &Client::default()).await
}

/// Presents `pair`'s refresh token, which must be accepted.
pub async fn refreshed(auth: &AuthService, pair: &TokenPair) -> TokenPair {
    refresh(auth, pair).await.unwrap()
}

/// Ends `pair`'s session (`scope=local`).
pub async fn log_out(auth: &AuthService, pair: &TokenPair) {
    auth.logout(Some(&pair.access_token), None, LogoutScope::Local)
        .await
        .unwrap();
}
