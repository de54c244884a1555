//! The pair of repositories the store contract suites run against.

use std::any::Any;
use std::sync::Arc;

use latch_ports::{
    AuditLog, AuthChangeLog, CacheLeases, EmailLinkRepository, EmailOutbox, MfaChallengeRepository,
    SecondFactorRepository, SessionRepository, SigningKeyRepository, TierRepository, UserRepository,
};

use crate::{
    InMemoryAuditLog, InMemoryAuthChangeLog, InMemoryCacheLeases, InMemoryEmailLinkRepository,
    InMemoryEmailOutbox, InMemoryMfaChallengeRepository, InMemorySecondFactorRepository,
    InMemorySessionRepository, InMemorySigningKeyRepository, InMemoryTierRepository, InMemoryUserRepository,
    TierNames,
};

/// A fresh, empty set of repositories sharing one backing store (sessions
/// reference users), plus whatever must live as long as they do.
pub struct Stores {
    /// The users repository.
    pub users: Arc<dyn UserRepository>,
    /// The sessions repository.
    pub sessions: Arc<dyn SessionRepository>,
    /// The tiers repository.
    pub tiers: Arc<dyn TierRepository>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// The log the users and sessions repositories record their changes in.
    pub changes: Arc<dyn AuthChangeLog>,
    /// The session-cache leases.
    pub leases: Arc<dyn CacheLeases>,
    /// The shared key ring.
    pub signing_keys: Arc<dyn SigningKeyRepository>,
    /// The emailed links (issuing one queues its mails in `outbox`).
    pub email_links: Arc<dyn EmailLinkRepository>,
    /// The mails waiting for delivery.
    pub outbox: Arc<dyn EmailOutbox>,
    /// TOTP enrolments and recovery codes (they set the users' `mfa_enabled`
    /// and revoke sessions).
    pub second_factors: Arc<dyn SecondFactorRepository>,
    /// Logins waiting for their second factor.
    pub mfa_challenges: Arc<dyn MfaChallengeRepository>,
    /// Kept alive until the test ends (a temporary database, say).
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Stores {
    /// The in-memory fakes, sharing what one database's tables share: the
    /// change log, the users (sessions, links, second factors and
    /// challenges point at them; second factors set their `mfa_enabled`),
    /// the sessions (a password reset and a second factor's removal revoke
    /// them), the tier names, and the outbox's tables (links are stored with
    /// their mails).
    pub fn in_memory() -> Self {
        let changes = Arc::new(InMemoryAuthChangeLog::default());
        let tier_names = Arc::new(TierNames::default());
        let users = Arc::new(InMemoryUserRepository::new(changes.clone(), tier_names.clone()));
        let sessions = Arc::new(InMemorySessionRepository::new(changes.clone(), users.clone()));
        let outbox = Arc::new(InMemoryEmailOutbox::default());
        Self {
            email_links: Arc::new(InMemoryEmailLinkRepository::new(
                outbox.clone(),
                users.clone(),
                sessions.clone(),
            )),
            second_factors: Arc::new(InMemorySecondFactorRepository::new(
                users.clone(),
                sessions.clone(),
            )),
            mfa_challenges: Arc::new(InMemoryMfaChallengeRepository::new(users.clone())),
            outbox,
            sessions,
            tiers: Arc::new(InMemoryTierRepository::new(tier_names)),
            users,
            audit: Arc::new(InMemoryAuditLog::default()),
            changes,
            leases: Arc::new(InMemoryCacheLeases::default()),
            signing_keys: Arc::new(InMemorySigningKeyRepository::default()),
            guard: None,
        }
    }
}

/// Expands every store contract (users, sessions, tiers, audit trail, change
/// log, leases, key ring, emailed links, outbox, second factors, MFA
/// challenges) into a module each, named
/// after its port. `$fresh` names an async fn in the calling module that
/// yields `Option<Stores>` (`None` skips).
#[macro_export]
macro_rules! store_contracts {
    ($fresh:ident) => {
        $crate::store_contracts!(@each $fresh;
            users => user_repository_contract,
            sessions => session_repository_contract,
            tiers => tier_repository_contract,
            audit => audit_log_contract,
            changes => auth_change_log_contract,
            leases => cache_leases_contract,
            signing_keys => signing_key_repository_contract,
            email_links => email_link_repository_contract,
            outbox => email_outbox_contract,
            second_factors => second_factor_repository_contract,
            mfa_challenges => mfa_challenge_repository_contract,
        );
    };
    (@each $fresh:ident; $($module:ident => $contract:ident),* $(,)?) => {
        $(
            mod $module {
                $crate::$contract!(super::$fresh());
            }
        )*
    };
}
