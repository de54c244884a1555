//! Sending email: the port the account-recovery flows hand their messages to.

use async_trait::async_trait;

use crate::error::BoxError;

/// One rendered message to one recipient, with a plain-text and an HTML part.
/// The sender (`From`) is the adapter's configuration, not the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    /// The recipient's address, as given (`alice@example.com`).
    pub to: String,
    /// The subject line; may hold any Unicode.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
}

/// Why a message was not sent. The outbox retries [`MailError::Transient`]
/// and gives up at once on [`MailError::Permanent`].
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later: the server could not be reached, did not answer
    /// in time, or answered with a 4xx reply.
    #[error("mail not sent, worth retrying: {0}")]
    Transient(#[source] BoxError),
    /// Retrying will not help: the address is malformed, the server answered
    /// with a 5xx reply, or the message could not be built.
    #[error("mail refused: {0}")]
    Permanent(#[source] BoxError),
}

impl MailError {
    /// Whether retrying the same message later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// Delivers messages, one at a time, from the configured sender.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Hands `message` to the mail system. `Ok` means it was accepted for
    /// delivery (by the SMTP server, or by the log); an adapter MUST deliver
    /// both parts, the subject and any non-ASCII text unchanged, from its
    /// configured sender to `message.to` alone.
    ///
    /// # Errors
    /// [`MailError::Permanent`] for a recipient that is not a valid address
    /// (before anything is sent) and for a 5xx reply; [`MailError::Transient`]
    /// when the server cannot be reached, times out or answers 4xx.
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError>;
}
