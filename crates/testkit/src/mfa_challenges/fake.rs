//! [`InMemoryMfaChallengeRepository`]: logins waiting for their second
//! factor, in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use latch_domain::{Timestamp, TokenHash};
use latch_ports::{MfaChallenge, MfaChallengeRepository, RepositoryError};

use crate::InMemoryUserRepository;

/// A challenge as stored.
#[derive(Debug, Clone)]
struct Stored {
    challenge: MfaChallenge,
    spent_at: Option<Timestamp>,
}

impl Stored {
    fn is_live(&self, now: Timestamp) -> bool {
        self.spent_at.is_none() && now < self.challenge.expires_at && self.challenge.attempts_left > 0
    }
}

/// Challenges in a `HashMap` by token hash; one lock makes every call atomic.
#[derive(Debug, Default)]
pub struct InMemoryMfaChallengeRepository {
    rows: Mutex<HashMap<TokenHash, Stored>>,
    /// The users challenges must belong to, as the SQL store's foreign key
    /// says. `None` (the default): every user is taken to exist.
    users: Option<Arc<InMemoryUserRepository>>,
}

impl InMemoryMfaChallengeRepository {
    /// Challenges of `users`' accounts.
    pub fn new(users: Arc<InMemoryUserRepository>) -> Self {
        Self {
            users: Some(users),
            ..Self::default()
        }
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Stored>> {
        self.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl MfaChallengeRepository for InMemoryMfaChallengeRepository {
    async fn create(&self, challenge: &MfaChallenge) -> Result<(), RepositoryError> {
        let mut rows = self.rows();
        // What the SQL store's keys and column type refuse.
        if self
            .users
            .as_ref()
            .is_some_and(|users| users.row(challenge.user_id).is_none())
        {
            return Err(RepositoryError::new("MFA challenge for an unknown user"));
        }
        if rows.contains_key(&challenge.token_hash) {
            return Err(RepositoryError::new("duplicate MFA challenge token hash"));
        }
        if i32::try_from(challenge.attempts_left).is_err() {
            return Err(RepositoryError::new(
                "an MFA challenge allows too many attempts to store",
            ));
        }
        let stored = Stored {
            challenge: challenge.clone(),
            spent_at: None,
        };
        rows.insert(challenge.token_hash, stored);
        Ok(())
    }

    async fn find_live(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<MfaChallenge>, RepositoryError> {
        Ok(self
            .rows()
            .get(hash)
            .filter(|stored| stored.is_live(now))
            .map(|stored| stored.challenge.clone()))
    }

    async fn record_failure(&self, hash: &TokenHash, now: Timestamp) -> Result<Option<u32>, RepositoryError> {
        let mut rows = self.rows();
        let Some(stored) = rows.get_mut(hash).filter(|stored| stored.is_live(now)) else {
            return Ok(None);
        };
        stored.challenge.attempts_left -= 1;
        Ok(Some(stored.challenge.attempts_left))
    }

    async fn consume(&self, hash: &TokenHash, now: Timestamp) -> Result<bool, RepositoryError> {
        let mut rows = self.rows();
        let Some(stored) = rows.get_mut(hash).filter(|stored| stored.is_live(now)) else {
            return Ok(false);
        };
        stored.spent_at = Some(now);
        Ok(true)
    }

    async fn purge(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        let mut rows = self.rows();
        let expired: Vec<TokenHash> = rows
            .iter()
            .filter(|(_, stored)| stored.challenge.expires_at < cutoff)
            .map(|(hash, _)| *hash)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        for hash in &expired {
            rows.remove(hash);
        }
        Ok(expired.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    crate::mfa_challenge_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
