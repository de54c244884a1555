//! [`InMemorySecondFactorRepository`]: TOTP enrolments and recovery codes in
//! memory, setting `mfa_enabled` in the users fake and revoking in the
//! sessions fake.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use latch_domain::{SessionId, Timestamp, UserId};
use latch_ports::{
    BeginTotpError, ConfirmTotpError, RecoveryCodeHash, RepositoryError, SecondFactorRepository,
    TotpEnrolment,
};

use crate::{InMemorySessionRepository, InMemoryUserRepository};

/// One stored recovery code.
#[derive(Debug, Clone)]
struct StoredCode {
    hash: RecoveryCodeHash,
    used_at: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct Tables {
    enrolments: HashMap<UserId, TotpEnrolment>,
    codes: HashMap<UserId, Vec<StoredCode>>,
}

impl Tables {
    fn confirmed(&self, user: UserId) -> bool {
        self.enrolments
            .get(&user)
            .is_some_and(|enrolment| enrolment.confirmed_at.is_some())
    }

    /// Stores `codes` as `user`'s set, refusing a set with a hash twice (the
    /// SQL store's key on user and hash refuses it too). Writes nothing on an error.
    fn store_codes(&mut self, user: UserId, codes: &[RecoveryCodeHash]) -> Result<(), RepositoryError> {
        let distinct: HashSet<&RecoveryCodeHash> = codes.iter().collect();
        if distinct.len() != codes.len() {
            return Err(RepositoryError::new("duplicate recovery code hash"));
        }
        let stored = codes
            .iter()
            .map(|hash| StoredCode {
                hash: *hash,
                used_at: None,
            })
            .collect();
        self.codes.insert(user, stored);
        Ok(())
    }
}

/// Second factors in memory; one lock makes every call atomic. Taken
/// before the sessions fake's and the users fake's, never after.
#[derive(Debug)]
pub struct InMemorySecondFactorRepository {
    tables: Mutex<Tables>,
    users: Arc<InMemoryUserRepository>,
    sessions: Arc<InMemorySessionRepository>,
}

impl InMemorySecondFactorRepository {
    /// Second factors of `users`' accounts; `remove` revokes in `sessions`.
    pub fn new(users: Arc<InMemoryUserRepository>, sessions: Arc<InMemorySessionRepository>) -> Self {
        Self {
            tables: Mutex::default(),
            users,
            sessions,
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl SecondFactorRepository for InMemorySecondFactorRepository {
    async fn begin_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        now: Timestamp,
    ) -> Result<(), BeginTotpError> {
        let mut tables = self.tables();
        // What the SQL store's foreign key refuses.
        if self.users.row(user_id).is_none() {
            return Err(RepositoryError::new("TOTP enrolment for an unknown user").into());
        }
        if tables.confirmed(user_id) {
            return Err(BeginTotpError::AlreadyEnabled);
        }
        let pending = TotpEnrolment {
            user_id,
            sealed_secret: sealed_secret.to_vec(),
            created_at: now,
            confirmed_at: None,
            last_used_step: None,
        };
        tables.enrolments.insert(user_id, pending);
        Ok(())
    }

    async fn find_totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, RepositoryError> {
        Ok(self.tables().enrolments.get(&user_id).cloned())
    }

    async fn confirm_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<(), ConfirmTotpError> {
        let mut tables = self.tables();
        let pending = tables.enrolments.get(&user_id).is_some_and(|enrolment| {
            enrolment.confirmed_at.is_none() && enrolment.sealed_secret == sealed_secret
        });
        if !pending {
            return Err(ConfirmTotpError::NotPending);
        }
        tables.store_codes(user_id, recovery_codes)?;
        if let Some(enrolment) = tables.enrolments.get_mut(&user_id) {
            enrolment.confirmed_at = Some(now);
            enrolment.last_used_step = Some(step);
        }
        self.users.set_mfa_enabled(user_id, true, now);
        Ok(())
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, RepositoryError> {
        let mut tables = self.tables();
        let Some(enrolment) = tables
            .enrolments
            .get_mut(&user_id)
            .filter(|enrolment| enrolment.confirmed_at.is_some())
        else {
            return Ok(false);
        };
        if enrolment.last_used_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        enrolment.last_used_step = Some(step);
        Ok(true)
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &RecoveryCodeHash,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.tables();
        let unused = tables
            .codes
            .get_mut(&user_id)
            .and_then(|codes| codes.iter_mut().find(|c| &c.hash == hash && c.used_at.is_none()));
        Ok(match unused {
            Some(code) => {
                code.used_at = Some(now);
                true
            }
            None => false,
        })
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[RecoveryCodeHash],
        _now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.tables();
        if !tables.confirmed(user_id) {
            return Ok(false);
        }
        tables.store_codes(user_id, recovery_codes)?;
        Ok(true)
    }

    async fn recovery_codes_left(&self, user_id: UserId) -> Result<u64, RepositoryError> {
        let tables = self.tables();
        let left = tables
            .codes
            .get(&user_id)
            .map_or(0, |codes| codes.iter().filter(|c| c.used_at.is_none()).count());
        Ok(left as u64)
    }

    async fn remove(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.tables();
        let confirmed = tables.confirmed(user_id);
        // The flag, its change record and the revocations as one write.
        let cleared = || {
            self.users.set_mfa_enabled(user_id, false, now);
            Ok::<_, Infallible>(())
        };
        let Ok(()) = self.sessions.revoke_all_with(user_id, keep, now, cleared);
        tables.enrolments.remove(&user_id);
        tables.codes.remove(&user_id);
        Ok(confirmed)
    }
}

#[cfg(test)]
mod tests {
    crate::second_factor_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
