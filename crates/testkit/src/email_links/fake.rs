//! [`InMemoryEmailLinkRepository`]: emailed links in memory, in the tables
//! of the outbox fake, acting on the users and sessions fakes.

use std::sync::Arc;

use async_trait::async_trait;
use latch_domain::{LinkPurpose, Timestamp, TokenHash, User};
use latch_ports::{
    ConsumeLinkError, EmailLinkRepository, LinkAction, NewEmailLink, QueuedEmail, RepositoryError,
};

use crate::outbox::StoredLink;
use crate::{InMemoryEmailOutbox, InMemorySessionRepository, InMemoryUserRepository};

/// Emailed links in memory. They live in the outbox fake's tables (issuing
/// one queues its mails there); following one changes the users fake (which
/// records in the change log) and, for a reset, the sessions fake.
#[derive(Debug)]
pub struct InMemoryEmailLinkRepository {
    outbox: Arc<InMemoryEmailOutbox>,
    users: Arc<InMemoryUserRepository>,
    sessions: Arc<InMemorySessionRepository>,
}

impl InMemoryEmailLinkRepository {
    /// Links stored with `outbox`'s mails, acting on `users` and `sessions`.
    pub fn new(
        outbox: Arc<InMemoryEmailOutbox>,
        users: Arc<InMemoryUserRepository>,
        sessions: Arc<InMemorySessionRepository>,
    ) -> Self {
        Self {
            outbox,
            users,
            sessions,
        }
    }
}

#[async_trait]
impl EmailLinkRepository for InMemoryEmailLinkRepository {
    async fn issue(&self, link: &NewEmailLink, messages: &[QueuedEmail]) -> Result<(), RepositoryError> {
        let mut tables = self.outbox.tables();
        // What the SQL store's keys refuse, checked before anything is written.
        if self.users.row(link.user_id).is_none() {
            return Err(RepositoryError::new("email link for an unknown user"));
        }
        if tables.links.contains_key(&link.token_hash) {
            return Err(RepositoryError::new("duplicate email link token hash"));
        }
        tables.queue(messages)?;
        for older in tables.links.values_mut() {
            if older.user_id == link.user_id && older.purpose == link.purpose && older.spent_at.is_none() {
                older.spent_at = Some(link.created_at);
            }
        }
        let stored = StoredLink {
            user_id: link.user_id,
            purpose: link.purpose,
            address: link.address.clone(),
            expires_at: link.expires_at,
            spent_at: None,
        };
        tables.links.insert(link.token_hash, stored);
        Ok(())
    }

    async fn peek(
        &self,
        token_hash: &TokenHash,
        purpose: LinkPurpose,
        now: Timestamp,
    ) -> Result<Option<User>, RepositoryError> {
        let Some(link) = self
            .outbox
            .tables()
            .links
            .get(token_hash)
            .filter(|link| link.usable(purpose, now))
            .cloned()
        else {
            return Ok(None);
        };
        let same_address = |user: &User| {
            purpose == LinkPurpose::ChangeEmail || user.email.normalized() == link.address.normalized()
        };
        Ok(self
            .users
            .row(link.user_id)
            .filter(|user| user.can_authenticate() && same_address(user)))
    }

    async fn consume(
        &self,
        token_hash: &TokenHash,
        action: LinkAction,
        now: Timestamp,
    ) -> Result<User, ConsumeLinkError> {
        let purpose = action.purpose();
        // Held throughout: of concurrent consumes of one link, one goes first.
        let mut tables = self.outbox.tables();
        let Some(link) = tables
            .links
            .get(token_hash)
            .filter(|link| link.usable(purpose, now))
            .cloned()
        else {
            return Err(ConsumeLinkError::Invalid);
        };
        let follow = || self.users.follow_link(link.user_id, &link.address, &action, now);
        let user = match action {
            LinkAction::ResetPassword { .. } => {
                self.sessions.revoke_all_with(link.user_id, None, now, follow)?
            }
            LinkAction::VerifyEmail | LinkAction::ChangeEmail => follow()?,
        };
        // Spends this link and voids the account's others of the purpose.
        for other in tables.links.values_mut() {
            if other.user_id == link.user_id && other.purpose == purpose && other.spent_at.is_none() {
                other.spent_at = Some(now);
            }
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    crate::email_link_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
