//! Refresh: exchange a refresh token for new tokens, with rotation and
//! reuse detection.

use chrono::Duration;
use latch_domain::{AuditAction, RefreshTokenRecord, Session, Timestamp, User};
use latch_ports::{LimitedAction, RateLimited, RefreshContext, RotateOutcome};
use subtle::ConstantTimeEq;

use crate::refresh_token::RefreshSecret;
use crate::{AuthService, Client, TokenPair, Unexpected};

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, malformed, expired, or its session has ended.
    #[error("refresh token invalid")]
    Invalid,
    /// A rotated token was presented after the grace window: treated as
    /// theft, and the whole session has been revoked.
    #[error("refresh token reused")]
    Reused,
    /// Too many attempts from this client; retry later.
    #[error("rate limited")]
    RateLimited(#[from] RateLimited),
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl AuthService {
    /// Rotates `token`: the caller gets a new access token and a new refresh
    /// token, and `token` is spent.
    ///
    /// Presenting a spent token again within `refresh_reuse_grace` returns
    /// the same successor it was exchanged for (so racing browser tabs stay
    /// logged in); afterwards it revokes the session. There is never more
    /// than one live successor. Attempts count against the client IP's budget.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, token: &str, client: &Client) -> Result<TokenPair, RefreshError> {
        self.admit(LimitedAction::Refresh, client, None).await?;
        let secret = RefreshSecret::parse(token).ok_or(RefreshError::Invalid)?;
        let sessions = &self.ports.sessions;
        // One read for the token, its session and its user: on SQL, one connection.
        let Some(RefreshContext {
            token: mut record,
            session,
            user,
        }) = sessions
            .find_refresh_context(&secret.hash())
            .await
            .map_err(Unexpected::from)?
        else {
            return Err(RefreshError::Invalid);
        };
        let now = self.ports.clock.now();
        if !session.is_live(now) || !user.can_authenticate() {
            return Err(RefreshError::Invalid);
        }

        if record.rotated_at.is_none() {
            if now >= record.expires_at {
                return Err(RefreshError::Invalid);
            }
            let successor_secret = RefreshSecret::generate();
            let successor = self.refresh_record(&session, &successor_secret, Some(record.id), now);
            let sealed = secret.seal(&successor_secret);
            match sessions
                .rotate(record.id, &sealed, &successor)
                .await
                .map_err(Unexpected::from)?
            {
                RotateOutcome::Rotated => {
                    return self.refreshed(user, session, successor_secret, successor.expires_at, now);
                }
                // Lost a race: read what the winner wrote and treat this as a repeat.
                RotateOutcome::AlreadyRotated => {
                    record = sessions
                        .find_refresh_token_by_id(record.id)
                        .await
                        .map_err(Unexpected::from)?
                        .ok_or(RefreshError::Invalid)?;
                }
            }
        }
        self.repeat(&secret, &record, user, session, now).await
    }

    /// A spent token presented again: the same successor inside the grace
    /// window, otherwise the session is revoked.
    async fn repeat(
        &self,
        secret: &RefreshSecret,
        record: &RefreshTokenRecord,
        user: User,
        session: Session,
        now: Timestamp,
    ) -> Result<TokenPair, RefreshError> {
        // `now` may predate a concurrent winner's rotation: count that as no time elapsed.
        let in_grace = record
            .rotated_at
            .is_some_and(|at| (now - at).max(Duration::zero()) < self.config.refresh_reuse_grace);
        if in_grace && let Some(successor_id) = record.successor_id {
            let successor = self
                .ports
                .sessions
                .find_refresh_token_by_id(successor_id)
                .await
                .map_err(Unexpected::from)?;
            let unsealed = record
                .successor_sealed
                .as_deref()
                .and_then(|sealed| secret.unseal(sealed));
            if let (Some(successor), Some(successor_secret)) = (successor, unsealed)
                && successor.is_current(now)
                && bool::from(successor_secret.hash().0.ct_eq(&successor.token_hash.0))
            {
                return self.refreshed(user, session, successor_secret, successor.expires_at, now);
            }
        }
        self.ports
            .sessions
            .revoke(session.id, now)
            .await
            .map_err(Unexpected::from)?;
        tracing::warn!(user_id = %user.id, session_id = %session.id, "refresh token reuse detected: session revoked");
        self.ports.metrics.refresh_reuse_detected();
        self.audit(
            AuditAction::RefreshReuseDetected,
            None,
            Some(user.id),
            &Client::of_session(&session),
        )
        .await;
        Err(RefreshError::Reused)
    }

    fn refreshed(
        &self,
        user: User,
        session: Session,
        secret: RefreshSecret,
        refresh_expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<TokenPair, RefreshError> {
        let (access_token, access_expires_at) = self.sign_access(&user, &session, now)?;
        Ok(TokenPair {
            access_token,
            access_expires_at,
            refresh: Some((secret.token(), refresh_expires_at)),
            user,
            session,
        })
    }
}
