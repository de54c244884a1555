//! The log transport.

use async_trait::async_trait;
use latch_ports::{EmailMessage, MailError, Mailer};
use lettre::message::Mailbox;

use crate::{MailerConfigError, parse_from, parse_to};

/// Writes each message, both parts and so any link in them, to the log at
/// `info` (target `latch::email`) instead of sending it. For development:
/// anyone who reads the log can follow the links, so production refuses it.
#[derive(Debug, Clone)]
pub struct LogMailer {
    from: Mailbox,
}

impl LogMailer {
    /// A log transport that reports messages as sent from `from`.
    ///
    /// # Errors
    /// If `from` is not a mailbox.
    pub fn new(from: &str) -> Result<Self, MailerConfigError> {
        Ok(Self {
            from: parse_from(from)?,
        })
    }
}

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let to = parse_to(&message.to)?;
        tracing::info!(
            target: "latch::email",
            from = %self.from,
            to = %to,
            subject = %message.subject,
            text = %message.text,
            html = %message.html,
            "email not sent: the log transport writes it here"
        );
        Ok(())
    }
}
