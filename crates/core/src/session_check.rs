//! Session check (Next-Auth style): is this access token's session live, and
//! what access token should the client hold now?

use chrono::DateTime;

use crate::{AuthService, AuthenticateError, TokenPair, Unexpected};

/// Why a session check failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionCheckError {
    /// The token or its session is not live.
    #[error(transparent)]
    Unauthenticated(AuthenticateError),
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl AuthService {
    /// Returns the same access token while it has more than
    /// `session_rotate_before` left, otherwise a fresh one for the same session.
    pub async fn check_session(&self, token: &str) -> Result<TokenPair, SessionCheckError> {
        let principal = self.authenticate(token).await.map_err(|err| match err {
            AuthenticateError::Unexpected(err) => SessionCheckError::Unexpected(err),
            other => SessionCheckError::Unauthenticated(other),
        })?;
        let now = self.ports.clock.now();
        let expires_at = DateTime::from_timestamp(principal.claims.exp, 0).unwrap_or(now);
        let (access_token, access_expires_at) = if expires_at - now > self.config.session_rotate_before {
            (token.to_owned(), expires_at)
        } else {
            self.sign_access(&principal.user, &principal.session, now)?
        };
        self.ports
            .sessions
            .touch(principal.session.id, now)
            .await
            .map_err(Unexpected::from)?;
        Ok(TokenPair {
            access_token,
            access_expires_at,
            refresh: None,
            user: principal.user,
            session: principal.session,
        })
    }
}
