//! Emailed links and the outbox that carries them: the storage side of
//! verification, password reset and email change.

use async_trait::async_trait;
use latch_domain::{Email, LinkPurpose, Timestamp, TokenHash, User, UserId};
use uuid::Uuid;

use crate::{EmailMessage, PasswordHash, RepositoryError};

/// A link about to be mailed: only the hash of its token is stored.
#[derive(Debug, Clone)]
pub struct NewEmailLink {
    /// SHA-256 of the token in the link.
    pub token_hash: TokenHash,
    /// The account the link acts on.
    pub user_id: UserId,
    /// What the link is good for.
    pub purpose: LinkPurpose,
    /// The address the link is mailed to. For [`LinkPurpose::ChangeEmail`]
    /// the account's new address; for the others the account's address.
    pub address: Email,
    /// When it was issued.
    pub created_at: Timestamp,
    /// After this instant it is refused.
    pub expires_at: Timestamp,
}

/// A message handed to the outbox, to be delivered by the background worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEmail {
    /// Row id (UUID v7).
    pub id: Uuid,
    /// The rendered message.
    pub message: EmailMessage,
    /// When it was queued; the first attempt is due at once.
    pub queued_at: Timestamp,
    /// Delivery is given up after this instant (a link's mail is useless
    /// once the link has expired).
    pub deliver_until: Timestamp,
}

/// What following a link does to its account, applied in the same
/// transaction that spends the link.
#[derive(Debug, Clone)]
pub enum LinkAction {
    /// Sets `email_verified` (recorded in the [`crate::AuthChangeLog`], so
    /// cached copies of the user see it).
    VerifyEmail,
    /// Replaces the password hash, sets `email_verified` and revokes every
    /// session of the account (recorded in the [`crate::AuthChangeLog`]).
    ResetPassword {
        /// The new password's hash.
        password_hash: PasswordHash,
    },
    /// Makes the link's address the account's email, verified (recorded in
    /// the [`crate::AuthChangeLog`]).
    ChangeEmail,
}

impl LinkAction {
    /// The purpose a link must have been issued for to do this.
    pub fn purpose(&self) -> LinkPurpose {
        match self {
            Self::VerifyEmail => LinkPurpose::VerifyEmail,
            Self::ResetPassword { .. } => LinkPurpose::ResetPassword,
            Self::ChangeEmail => LinkPurpose::ChangeEmail,
        }
    }
}

/// Why a link was not followed.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeLinkError {
    /// Unknown, spent, voided, expired, of another purpose, or its account
    /// can no longer use it. Deliberately one case: the client learns nothing.
    #[error("the link is not valid")]
    Invalid,
    /// [`LinkAction::ChangeEmail`]: another account took the address since
    /// the link was sent. Nothing was written; the link is not spent.
    #[error("email already taken")]
    EmailTaken,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where emailed links are kept, together with the outbox their mails wait in.
#[async_trait]
pub trait EmailLinkRepository: Send + Sync + 'static {
    /// Stores `link` and queues `messages` in one transaction (all or
    /// nothing), and voids every unspent link of the same user and purpose:
    /// a newer link replaces the older ones.
    async fn issue(&self, link: &NewEmailLink, messages: &[QueuedEmail]) -> Result<(), RepositoryError>;

    /// The account a link would act on if it were followed for `purpose` at
    /// `now`, without spending it: `None` wherever [`Self::consume`] would
    /// answer `Invalid` (a change's address being taken is not checked).
    async fn peek(
        &self,
        token_hash: &TokenHash,
        purpose: LinkPurpose,
        now: Timestamp,
    ) -> Result<Option<User>, RepositoryError>;

    /// Follows the link whose token hashes to `token_hash`: spends it and
    /// applies `action`, in one transaction, voiding the account's other
    /// unspent links of the same purpose; returns the account as it is
    /// afterwards.
    ///
    /// # Errors
    /// MUST return `Invalid`, writing nothing, unless all of these hold
    /// inside the write: the link exists, was issued for
    /// `action.purpose()`, is neither spent nor voided, and `now` is before
    /// its expiry; its account exists, is active and not deleted; and, for
    /// verification and reset, the account's email is still the address the
    /// link was sent to (ignoring case). Of two concurrent calls with the
    /// same link at most one succeeds. `EmailTaken` (writing nothing) when
    /// a change's address belongs to another account.
    async fn consume(
        &self,
        token_hash: &TokenHash,
        action: LinkAction,
        now: Timestamp,
    ) -> Result<User, ConsumeLinkError>;
}

/// A queued message claimed by a worker for one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedEmail {
    /// The message as queued.
    pub email: QueuedEmail,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// The queue of mails waiting for delivery, shared by every instance.
#[async_trait]
pub trait EmailOutbox: Send + Sync + 'static {
    /// Claims at most `limit` messages that are due at `now` (queued or
    /// retried, neither sent nor given up), oldest due first, and hides each
    /// from other claims until `lease_until`, when it is due again unless
    /// the claimer recorded an outcome. MUST NOT hand one message to two
    /// concurrent claims.
    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedEmail>, RepositoryError>;

    /// Records a delivery: the message is never claimed again, and its
    /// subject and bodies (which may hold a link) are erased.
    async fn mark_sent(&self, id: Uuid, at: Timestamp) -> Result<(), RepositoryError>;

    /// Records a failed attempt (`error` is kept for operators): due again
    /// at `retry_at`.
    async fn retry_later(&self, id: Uuid, retry_at: Timestamp, error: &str) -> Result<(), RepositoryError>;

    /// Gives up on the message: never claimed again, its subject and bodies
    /// erased, `error` kept.
    async fn give_up(&self, id: Uuid, at: Timestamp, error: &str) -> Result<(), RepositoryError>;

    /// How many messages are neither sent nor given up.
    async fn pending(&self) -> Result<u64, RepositoryError>;

    /// Deletes at most `limit` messages sent or given up before `cutoff`,
    /// and links that expired or were spent before it; how many rows went.
    async fn purge(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError>;
}
