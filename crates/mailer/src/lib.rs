//! The `Mailer` adapters: [`SmtpMailer`] (lettre, over STARTTLS, implicit TLS
//! or plaintext) and [`LogMailer`] (writes each message to the log; for
//! development). Depends on the ports only, never on the core.

mod log;
mod smtp;

pub use log::LogMailer;
pub use smtp::{SmtpConfig, SmtpMailer, SmtpTls};

/// Why a mailer could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum MailerConfigError {
    /// `email.from` is not a mailbox (`Name <address>` or an address).
    #[error("email.from: not an email address or `Name <address>`: {0}")]
    From(#[source] lettre::address::AddressError),
    /// The TLS setup for the SMTP host could not be made.
    #[error("email.smtp_host: {0}")]
    Transport(#[source] lettre::transport::smtp::Error),
}

/// The sender, parsed once when the adapter is built.
fn parse_from(from: &str) -> Result<lettre::message::Mailbox, MailerConfigError> {
    from.parse().map_err(MailerConfigError::From)
}

/// The recipient, or the permanent error a malformed one is.
fn parse_to(to: &str) -> Result<lettre::Address, latch_ports::MailError> {
    to.parse::<lettre::Address>()
        .map_err(|e| latch_ports::MailError::Permanent(format!("recipient {to:?}: {e}").into()))
}
