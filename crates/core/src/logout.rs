//! Logout: end this session, the others, or all of them.

use latch_domain::{AuditAction, Session};

use crate::refresh_token::RefreshSecret;
use crate::{AuthService, Client, Unexpected};

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// The caller's session.
    #[default]
    Local,
    /// Every session of the caller except this one.
    Others,
    /// Every session of the caller.
    Global,
}

/// What a logout did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// The caller's own session is over: clear its cookies.
    pub ended_current: bool,
}

/// Why a logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// `others` and `global` need a live session to know whose sessions to end.
    #[error("no live session")]
    Unauthenticated,
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl AuthService {
    /// Ends sessions. The session is identified by the access token, else by
    /// the refresh token. A `local` logout is idempotent: with nothing live to
    /// end it still succeeds, so clients can always clear their state.
    #[tracing::instrument(skip_all, fields(?scope))]
    pub async fn logout(
        &self,
        access_token: Option<&str>,
        refresh_token: Option<&str>,
        scope: LogoutScope,
    ) -> Result<LogoutOutcome, LogoutError> {
        let now = self.ports.clock.now();
        let session = self
            .identify_session(access_token, refresh_token)
            .await?
            .filter(|s| s.is_live(now));
        let sessions = &self.ports.sessions;
        match (scope, session) {
            (LogoutScope::Local, None) => {}
            (LogoutScope::Local, Some(session)) => {
                sessions.revoke(session.id, now).await.map_err(Unexpected::from)?;
                tracing::info!(user_id = %session.user_id, session_id = %session.id, "logged out");
                self.audit(
                    AuditAction::Logout,
                    Some(session.user_id),
                    Some(session.user_id),
                    &Client::of_session(&session),
                )
                .await;
            }
            (LogoutScope::Others, Some(session)) => {
                let ended = sessions
                    .revoke_all_for_user(session.user_id, Some(session.id), now)
                    .await
                    .map_err(Unexpected::from)?;
                tracing::info!(user_id = %session.user_id, ended, "logged out other sessions");
                self.audit(
                    AuditAction::Logout,
                    Some(session.user_id),
                    Some(session.user_id),
                    &Client::of_session(&session),
                )
                .await;
            }
            (LogoutScope::Global, Some(session)) => {
                let ended = sessions
                    .revoke_all_for_user(session.user_id, None, now)
                    .await
                    .map_err(Unexpected::from)?;
                tracing::info!(user_id = %session.user_id, ended, "logged out everywhere");
                self.audit(
                    AuditAction::Logout,
                    Some(session.user_id),
                    Some(session.user_id),
                    &Client::of_session(&session),
                )
                .await;
            }
            (LogoutScope::Others | LogoutScope::Global, None) => return Err(LogoutError::Unauthenticated),
        }
        Ok(LogoutOutcome {
            ended_current: scope != LogoutScope::Others,
        })
    }

    async fn identify_session(
        &self,
        access_token: Option<&str>,
        refresh_token: Option<&str>,
    ) -> Result<Option<Session>, Unexpected> {
        if let Some(claims) = access_token.and_then(|token| self.ports.tokens.verify(token).ok()) {
            return Ok(self.ports.sessions.find(claims.sid).await?);
        }
        let Some(secret) = refresh_token.and_then(RefreshSecret::parse) else {
            return Ok(None);
        };
        let Some(record) = self.ports.sessions.find_refresh_token(&secret.hash()).await? else {
            return Ok(None);
        };
        Ok(self.ports.sessions.find(record.session_id).await?)
    }
}
