//! Authenticating a request by its access token.

use latch_domain::{Session, User};
use latch_ports::{AccessClaims, SessionWithUser, TokenError};

use crate::{AuthService, Unexpected};

/// Who is calling: a verified token whose session and user are live.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The caller.
    pub user: User,
    /// The caller's session.
    pub session: Session,
    /// The verified claims.
    pub claims: AccessClaims,
}

/// Why an access token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// Signed by us but past its expiry.
    #[error("token expired")]
    Expired,
    /// Malformed, forged, revoked, or its user may no longer authenticate.
    #[error("token invalid")]
    Invalid,
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl From<TokenError> for AuthenticateError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Expired => Self::Expired,
            TokenError::Invalid => Self::Invalid,
            unexpected @ TokenError::Unexpected(_) => Self::Unexpected(unexpected.into()),
        }
    }
}

impl AuthService {
    /// Verifies `token` and checks that its session is still live and its
    /// user may still authenticate — so a logout, a revocation or a
    /// deactivation takes effect on the very next request.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthenticateError> {
        let claims = self.ports.tokens.verify(token)?;
        let now = self.ports.clock.now();
        // The one read per request; a session cache in front of the store may answer it.
        let found = self
            .ports
            .sessions
            .find_with_user(claims.sid)
            .await
            .map_err(Unexpected::from)?;
        let Some(SessionWithUser { session, user }) = found else {
            return Err(AuthenticateError::Invalid);
        };
        if !session.is_live(now) || session.user_id != claims.sub || !user.can_authenticate() {
            return Err(AuthenticateError::Invalid);
        }
        Ok(Principal {
            user,
            session,
            claims,
        })
    }
}
