//! Issuing the tokens a successful login, refresh or session check returns.

use chrono::SubsecRound;
use latch_domain::{RefreshTokenRecord, Session, Timestamp, User};
use latch_ports::AccessClaims;
use uuid::Uuid;

use crate::refresh_token::RefreshSecret;
use crate::{AuthService, Unexpected};

/// What a client receives after authenticating. Its `Debug` omits the tokens.
#[derive(Clone)]
pub struct TokenPair {
    /// Signed JWT.
    pub access_token: String,
    /// When the access token expires.
    pub access_expires_at: Timestamp,
    /// The opaque refresh token and its expiry; `None` from a session check,
    /// which never sees the refresh token.
    pub refresh: Option<(String, Timestamp)>,
    /// The user it was issued to.
    pub user: User,
    /// The session it belongs to.
    pub session: Session,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("access_expires_at", &self.access_expires_at)
            .field(
                "refresh",
                &self
                    .refresh
                    .as_ref()
                    .map(|(_, expires_at)| ("<redacted>", expires_at)),
            )
            .field("user", &self.user.id)
            .field("session", &self.session.id)
            .finish()
    }
}

impl AuthService {
    /// Signs a fresh access token for `user` in `session`.
    pub(crate) fn sign_access(
        &self,
        user: &User,
        session: &Session,
        now: Timestamp,
    ) -> Result<(String, Timestamp), Unexpected> {
        // Never outlive the session itself; whole seconds, as in the `exp` claim.
        let expires_at = (now + self.config.access_ttl)
            .min(session.expires_at)
            .trunc_subsecs(0);
        let claims = AccessClaims {
            sub: user.id,
            sid: session.id,
            jti: Uuid::now_v7(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            email: user.email.as_str().to_owned(),
            name: user.name.as_ref().map(|name| name.as_str().to_owned()),
            avatar_url: user.avatar_url.as_ref().map(|url| url.as_str().to_owned()),
            is_superuser: user.is_superuser,
            is_staff: user.is_staff,
            tier: user.tier.as_str().to_owned(),
            amr: session.auth_methods,
        };
        Ok((self.ports.tokens.issue(&claims)?, expires_at))
    }

    /// A refresh-token record for `secret`, expiring after the idle lifetime
    /// but never after the session.
    pub(crate) fn refresh_record(
        &self,
        session: &Session,
        secret: &RefreshSecret,
        parent_id: Option<Uuid>,
        now: Timestamp,
    ) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id: session.id,
            token_hash: secret.hash(),
            parent_id,
            created_at: now,
            expires_at: (now + self.config.refresh_idle_ttl).min(session.expires_at),
            rotated_at: None,
            successor_id: None,
            successor_sealed: None,
        }
    }
}
