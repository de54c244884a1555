//! [`InMemorySessionRepository`]: sessions and refresh tokens in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use latch_domain::{RefreshTokenRecord, Session, SessionId, Timestamp, TokenHash, UserId};
use latch_ports::{
    AuthChange, CreateSessionError, RefreshContext, RepositoryError, RotateOutcome, SessionRepository,
    SessionWithUser, VerifiedLogin,
};
use uuid::Uuid;

use crate::{InMemoryAuthChangeLog, InMemoryUserRepository};

/// The two tables behind the fake (also read by `purge.rs`).
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub(super) sessions: HashMap<SessionId, Session>,
    pub(super) tokens: HashMap<Uuid, RefreshTokenRecord>,
}

impl Tables {
    fn token_by_hash(&self, hash: &TokenHash) -> Option<&RefreshTokenRecord> {
        self.tokens.values().find(|t| &t.token_hash == hash)
    }
}

/// Sessions and refresh tokens in memory; one lock makes every call atomic.
#[derive(Debug, Default)]
pub struct InMemorySessionRepository {
    tables: Mutex<Tables>,
    /// Where revocations are recorded.
    changes: Arc<InMemoryAuthChangeLog>,
    /// The users sessions belong to, for `find_refresh_context` (by default an empty one).
    users: Arc<InMemoryUserRepository>,
}

impl InMemorySessionRepository {
    /// A repository over `users` that records its changes in `changes` (shared with the users fake).
    pub fn new(changes: Arc<InMemoryAuthChangeLog>, users: Arc<InMemoryUserRepository>) -> Self {
        Self {
            changes,
            users,
            ..Self::default()
        }
    }

    /// Runs `change`, a write to user `user`'s account, and if it succeeds
    /// revokes every session of the user but `keep` at `at`, as one write:
    /// no session is created or revoked in between. (A password reset's or a
    /// second factor's removal's revocation; its change record is the
    /// account's.)
    pub(crate) fn revoke_all_with<T, E>(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: Timestamp,
        change: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        // Sessions before users, the order `create` takes them in.
        let mut tables = self.tables();
        let changed = change()?;
        for session in tables.sessions.values_mut() {
            if session.user_id == user && Some(session.id) != keep && session.revoked_at.is_none() {
                session.revoked_at = Some(at);
            }
        }
        Ok(changed)
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl SessionRepository for InMemorySessionRepository {
    async fn create(
        &self,
        session: &Session,
        first_token: &RefreshTokenRecord,
        login: &VerifiedLogin,
    ) -> Result<(), CreateSessionError> {
        // Held until the session is in: a revocation of the user's sessions
        // that follows a change of the account waits for it.
        let mut tables = self.tables();
        if tables
            .tokens
            .values()
            .any(|t| t.token_hash == first_token.token_hash)
        {
            return Err(RepositoryError::new("duplicate refresh token hash").into());
        }
        if !self
            .users
            .record_login(session.user_id, login, session.auth_methods, session.created_at)
        {
            return Err(CreateSessionError::AccountChanged);
        }
        tables.sessions.insert(session.id, session.clone());
        tables.tokens.insert(first_token.id, first_token.clone());
        Ok(())
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepositoryError> {
        Ok(self.tables().sessions.get(&id).cloned())
    }

    async fn find_with_user(&self, id: SessionId) -> Result<Option<SessionWithUser>, RepositoryError> {
        let session = self.tables().sessions.get(&id).cloned();
        Ok(session.and_then(|session| {
            let user = self.users.row(session.user_id)?;
            Some(SessionWithUser { session, user })
        }))
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        Ok(self.tables().token_by_hash(hash).cloned())
    }

    async fn find_refresh_context(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshContext>, RepositoryError> {
        let found = {
            let tables = self.tables();
            tables
                .token_by_hash(hash)
                .and_then(|token| Some((token.clone(), tables.sessions.get(&token.session_id)?.clone())))
        };
        Ok(found.and_then(|(token, session)| {
            let user = self.users.row(session.user_id)?;
            Some(RefreshContext { token, session, user })
        }))
    }

    async fn find_refresh_token_by_id(
        &self,
        id: Uuid,
    ) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        Ok(self.tables().tokens.get(&id).cloned())
    }

    async fn rotate(
        &self,
        parent_id: Uuid,
        sealed_successor: &[u8],
        successor: &RefreshTokenRecord,
    ) -> Result<RotateOutcome, RepositoryError> {
        let mut tables = self.tables();
        if tables
            .tokens
            .get(&parent_id)
            .is_none_or(|parent| parent.rotated_at.is_some())
        {
            return Ok(RotateOutcome::AlreadyRotated);
        }
        if tables
            .tokens
            .values()
            .any(|t| t.token_hash == successor.token_hash)
        {
            return Err(RepositoryError::new("duplicate refresh token hash"));
        }
        let Some(parent) = tables.tokens.get_mut(&parent_id) else {
            return Ok(RotateOutcome::AlreadyRotated);
        };
        parent.rotated_at = Some(successor.created_at);
        parent.successor_id = Some(successor.id);
        parent.successor_sealed = Some(sealed_successor.to_vec());
        tables.tokens.insert(successor.id, successor.clone());
        if let Some(session) = tables.sessions.get_mut(&successor.session_id) {
            session.last_used_at = successor.created_at;
        }
        Ok(RotateOutcome::Rotated)
    }

    async fn touch(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError> {
        if let Some(session) = self.tables().sessions.get_mut(&id) {
            session.last_used_at = at;
        }
        Ok(())
    }

    async fn revoke(&self, id: SessionId, at: Timestamp) -> Result<(), RepositoryError> {
        let mut tables = self.tables();
        if let Some(session) = tables.sessions.get_mut(&id) {
            session.revoked_at.get_or_insert(at);
        }
        self.changes.record(AuthChange::Session(id), at);
        Ok(())
    }

    async fn revoke_all_for_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let mut revoked = 0;
        let mut tables = self.tables();
        for session in tables.sessions.values_mut() {
            if session.user_id == user && Some(session.id) != keep && session.revoked_at.is_none() {
                session.revoked_at = Some(at);
                revoked += 1;
            }
        }
        self.changes.record(AuthChange::User(user), at);
        Ok(revoked)
    }

    async fn list_live_for_user(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, RepositoryError> {
        let mut live: Vec<Session> = self
            .tables()
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.is_live(now))
            .cloned()
            .collect();
        live.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(live)
    }

    async fn purge_ended_sessions(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        Ok(self.tables().purge_ended_sessions(cutoff, limit))
    }

    async fn purge_refresh_tokens_of_ended_sessions(
        &self,
        cutoff: Timestamp,
        limit: u64,
    ) -> Result<u64, RepositoryError> {
        Ok(self
            .tables()
            .purge_refresh_tokens_of_ended_sessions(cutoff, limit))
    }
}

#[cfg(test)]
mod tests {
    crate::session_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
