//! Authenticating a request by its access token.

use latch_domain::{Session, SessionId, User};
use latch_ports::{AccessClaims, TokenError};

use crate::session_cache::{CacheCoherence, SessionCache};
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
        let Some((session, user)) = self.session_and_user(claims.sid).await? else {
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

    /// The session `id` and its user, from the cache when it holds them.
    async fn session_and_user(&self, id: SessionId) -> Result<Option<(Session, User)>, Unexpected> {
        let Some(cache) = &self.cache else {
            return self.read_session_and_user(id).await;
        };
        let read_version = match self.config.session_cache.coherence {
            CacheCoherence::SingleProcess => false,
            CacheCoherence::ChangeLog => true,
            // The lease keeper applies changes as they come; without a live lease, read.
            CacheCoherence::Lease => !self.lease.as_ref().is_some_and(|lease| lease.held()),
        };
        if read_version {
            self.catch_up(cache).await?;
        }
        if let Some(hit) = cache.get(id) {
            return Ok(Some(hit));
        }
        let ticket = cache.ticket();
        let found = self.read_session_and_user(id).await?;
        if let Some((session, user)) = &found {
            cache.fill(ticket, session.clone(), user.clone());
        }
        Ok(found)
    }

    async fn read_session_and_user(&self, id: SessionId) -> Result<Option<(Session, User)>, Unexpected> {
        let Some(session) = self.ports.sessions.find(id).await? else {
            return Ok(None);
        };
        let user = self.ports.users.find_by_id(session.user_id).await?;
        Ok(user.map(|user| (session, user)))
    }

    /// Applies the changes other instances recorded since this one last looked.
    pub(crate) async fn catch_up(&self, cache: &SessionCache) -> Result<(), Unexpected> {
        // Shared with concurrent requests, but always a read that started after this one arrived.
        let latest = self
            .versions
            .latest(|| self.ports.changes.latest_version())
            .await?;
        let applied = cache.applied_version();
        // Lower than applied: a concurrent request applied a newer read already.
        if latest > applied {
            let changes = self.ports.changes.changes_between(applied, latest).await?;
            cache.apply(applied, latest, &changes);
        }
        Ok(())
    }
}
