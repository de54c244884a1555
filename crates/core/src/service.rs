//! The service object every use case hangs off: the ports plus the rules'
//! configuration.

use std::sync::Arc;

use chrono::Duration;
use latch_domain::{PasswordPolicy, TierName};

use crate::{EmailConfig, IntrospectionClient, MfaConfig};

use latch_ports::{
    AuditLog, AuthChangeLog, Clock, EmailLinkRepository, EmailOutbox, Metrics, MfaChallengeRepository,
    PasswordHasher, RateLimiter, SecondFactorRepository, SecretSealer, SessionRepository, TierRepository,
    TokenCodec, UserRepository,
};

/// Lifetimes and policies of the authentication rules.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// A refresh token unused for this long expires.
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after login, whatever happens.
    pub session_max_age: Duration,
    /// How long a just-rotated refresh token still yields the same successor.
    pub refresh_reuse_grace: Duration,
    /// `/auth/session` issues a fresh access token when less than this is left.
    pub session_rotate_before: Duration,
    /// Password length rules.
    pub password_policy: PasswordPolicy,
    /// Tier given to new users.
    pub default_tier: TierName,
    /// The resource server allowed to introspect tokens; `None` = nobody.
    pub introspection_client: Option<IntrospectionClient>,
    /// The email flows; `None` = off (their use cases answer `Disabled`).
    pub email: Option<EmailConfig>,
    /// The second factor.
    pub mfa: MfaConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::seconds(900),
            refresh_idle_ttl: Duration::seconds(604_800),
            session_max_age: Duration::seconds(2_592_000),
            refresh_reuse_grace: Duration::seconds(10),
            session_rotate_before: Duration::seconds(120),
            password_policy: PasswordPolicy::default(),
            default_tier: TierName::default(),
            introspection_client: None,
            email: None,
            mfa: MfaConfig::default(),
        }
    }
}

/// The adapters the service runs on.
#[derive(Clone)]
pub struct Ports {
    /// User storage.
    pub users: Arc<dyn UserRepository>,
    /// Session and refresh-token storage.
    pub sessions: Arc<dyn SessionRepository>,
    /// Tier storage.
    pub tiers: Arc<dyn TierRepository>,
    /// Emailed links, stored with the outbox their mails wait in.
    pub email_links: Arc<dyn EmailLinkRepository>,
    /// The outbox (the use cases only purge it; [`crate::EmailDelivery`] delivers it).
    pub outbox: Arc<dyn EmailOutbox>,
    /// TOTP enrolments and recovery codes.
    pub second_factors: Arc<dyn SecondFactorRepository>,
    /// Logins waiting for their second factor.
    pub mfa_challenges: Arc<dyn MfaChallengeRepository>,
    /// Seals TOTP secrets at rest (the master key).
    pub sealer: Arc<dyn SecretSealer>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// What the users and sessions repositories record of their writes
    /// (the use cases purge it).
    pub changes: Arc<dyn AuthChangeLog>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access-token signing.
    pub tokens: Arc<dyn TokenCodec>,
    /// Attempt budgets and login backoff.
    pub limiter: Arc<dyn RateLimiter>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Counts of logins, refusals and reuse detections (`NoMetrics` to publish none).
    pub metrics: Arc<dyn Metrics>,
}

/// Latch's use cases. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct AuthService {
    pub(crate) ports: Ports,
    pub(crate) config: Arc<AuthConfig>,
}

impl AuthService {
    /// Wires the use cases to their adapters.
    pub fn new(ports: Ports, config: AuthConfig) -> Self {
        Self {
            ports,
            config: Arc::new(config),
        }
    }

    /// The rules' configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> latch_domain::Timestamp {
        self.ports.clock.now()
    }

    /// The public signing keys as a JWKS document.
    pub fn jwks_json(&self) -> String {
        self.ports.tokens.jwks_json()
    }
}
