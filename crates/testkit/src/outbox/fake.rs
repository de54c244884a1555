//! [`InMemoryEmailOutbox`]: the mail queue in memory, together with the
//! emailed links, as one database holds both tables.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use latch_domain::{Email, LinkPurpose, Timestamp, TokenHash, UserId};
use latch_ports::{ClaimedEmail, EmailOutbox, QueuedEmail, RepositoryError};
use uuid::Uuid;

/// The longest error text kept with a message, in characters (as the SQL store).
const MAX_ERROR_CHARS: usize = 1000;

/// An emailed link as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredLink {
    pub(crate) user_id: UserId,
    pub(crate) purpose: LinkPurpose,
    pub(crate) address: Email,
    pub(crate) expires_at: Timestamp,
    /// Used, or voided by a newer link.
    pub(crate) spent_at: Option<Timestamp>,
}

impl StoredLink {
    /// Whether it may still be followed for `purpose` at `now`.
    pub(crate) fn usable(&self, purpose: LinkPurpose, now: Timestamp) -> bool {
        self.purpose == purpose && self.spent_at.is_none() && now < self.expires_at
    }
}

/// A queued message as stored.
#[derive(Debug, Clone)]
struct StoredMessage {
    email: QueuedEmail,
    next_attempt_at: Timestamp,
    attempts: u32,
    /// Kept for operators; no port method reads it.
    #[allow(dead_code)]
    last_error: Option<String>,
    sent_at: Option<Timestamp>,
    given_up_at: Option<Timestamp>,
}

impl StoredMessage {
    fn unfinished(&self) -> bool {
        self.sent_at.is_none() && self.given_up_at.is_none()
    }

    fn due(&self, now: Timestamp) -> bool {
        self.unfinished() && self.next_attempt_at <= now
    }

    fn finish(&mut self) {
        // The bodies may hold a link.
        self.email.message.subject.clear();
        self.email.message.text.clear();
        self.email.message.html.clear();
    }
}

/// The links and the queued messages: the two tables behind both fakes.
#[derive(Debug, Default)]
pub(crate) struct EmailTables {
    pub(crate) links: HashMap<TokenHash, StoredLink>,
    messages: HashMap<Uuid, StoredMessage>,
}

impl EmailTables {
    /// Queues `messages`, due at once, unless one's id is taken (then none).
    pub(crate) fn queue(&mut self, messages: &[QueuedEmail]) -> Result<(), RepositoryError> {
        let mut ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != messages.len() || ids.iter().any(|id| self.messages.contains_key(id)) {
            return Err(RepositoryError::new("duplicate outbox message id"));
        }
        for email in messages {
            let message = StoredMessage {
                email: email.clone(),
                next_attempt_at: email.queued_at,
                attempts: 0,
                last_error: None,
                sent_at: None,
                given_up_at: None,
            };
            self.messages.insert(email.id, message);
        }
        Ok(())
    }
}

/// The outbox in memory; one lock over it and the links makes every call
/// atomic. [`crate::InMemoryEmailLinkRepository`] writes through it.
#[derive(Debug, Default)]
pub struct InMemoryEmailOutbox {
    tables: Mutex<EmailTables>,
}

impl InMemoryEmailOutbox {
    /// Both tables, locked.
    pub(crate) fn tables(&self) -> MutexGuard<'_, EmailTables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `update` to the message `id`, if it exists.
    fn update(&self, id: Uuid, update: impl FnOnce(&mut StoredMessage)) {
        if let Some(message) = self.tables().messages.get_mut(&id) {
            update(message);
        }
    }
}

fn kept_error(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

fn capped(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

#[async_trait]
impl EmailOutbox for InMemoryEmailOutbox {
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedEmail>, RepositoryError> {
        let mut tables = self.tables();
        let mut due: Vec<&mut StoredMessage> = tables.messages.values_mut().filter(|m| m.due(now)).collect();
        due.sort_by_key(|m| (m.next_attempt_at, m.email.id));
        Ok(due
            .into_iter()
            .take(capped(u64::from(limit)))
            .map(|message| {
                let claimed = ClaimedEmail {
                    email: message.email.clone(),
                    attempts: message.attempts,
                };
                message.attempts += 1;
                message.next_attempt_at = lease_until;
                claimed
            })
            .collect())
    }

    async fn mark_sent(&self, id: Uuid, at: Timestamp) -> Result<(), RepositoryError> {
        self.update(id, |message| {
            message.sent_at = Some(at);
            message.finish();
        });
        Ok(())
    }

    async fn retry_later(&self, id: Uuid, retry_at: Timestamp, error: &str) -> Result<(), RepositoryError> {
        self.update(id, |message| {
            message.next_attempt_at = retry_at;
            message.last_error = Some(kept_error(error));
        });
        Ok(())
    }

    async fn give_up(&self, id: Uuid, at: Timestamp, error: &str) -> Result<(), RepositoryError> {
        self.update(id, |message| {
            message.given_up_at = Some(at);
            message.last_error = Some(kept_error(error));
            message.finish();
        });
        Ok(())
    }

    async fn pending(&self) -> Result<u64, RepositoryError> {
        Ok(self.tables().messages.values().filter(|m| m.unfinished()).count() as u64)
    }

    async fn purge(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError> {
        let before = |at: Option<Timestamp>| at.is_some_and(|at| at < cutoff);
        let mut tables = self.tables();
        // Messages first, then links, `limit` rows in all (as the SQL store).
        let messages: Vec<Uuid> = tables
            .messages
            .values()
            .filter(|m| before(m.sent_at) || before(m.given_up_at))
            .map(|m| m.email.id)
            .take(capped(limit))
            .collect();
        for id in &messages {
            tables.messages.remove(id);
        }
        let left = limit.saturating_sub(messages.len() as u64);
        let links: Vec<TokenHash> = tables
            .links
            .iter()
            .filter(|(_, link)| before(link.spent_at) || link.expires_at < cutoff)
            .map(|(hash, _)| *hash)
            .take(capped(left))
            .collect();
        for hash in &links {
            tables.links.remove(hash);
        }
        Ok((messages.len() + links.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    crate::email_outbox_contract!(async { Some(crate::Stores::in_memory()) });
}
