//! The SMTP transport, on lettre.

use std::time::Duration;

use async_trait::async_trait;
use latch_ports::{EmailMessage, MailError, Mailer};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::{MailerConfigError, parse_from, parse_to};

/// How the connection to the SMTP server is protected (`email.smtp_tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plaintext, then `STARTTLS`, required (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// Plaintext throughout: a relay on the same host or network only.
    None,
}

/// What [`SmtpMailer`] needs to know.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// The server's host name (checked against its certificate) or IP.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// Connection protection.
    pub tls: SmtpTls,
    /// Log in with these when set (AUTH PLAIN or LOGIN, as the server offers).
    pub credentials: Option<(String, SecretString)>,
    /// The longest wait to connect, and for each reply of the server.
    pub timeout: Duration,
}

/// Sends through an SMTP server with lettre, reusing connections (pooled).
/// Server certificates are checked against the system's root store.
#[derive(Clone)]
pub struct SmtpMailer {
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Bounds a whole send: lettre's own timeout does not cover a server
    /// that accepts the connection and never greets.
    send_timeout: Duration,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `config`. Connects only when the first message is sent.
    /// Call it inside a Tokio runtime, and drop the mailer there too: the
    /// connection pool runs a task on it.
    ///
    /// # Errors
    /// If `from` is not a mailbox, or TLS cannot be set up for `host`.
    pub fn new(config: &SmtpConfig) -> Result<Self, MailerConfigError> {
        let from = parse_from(&config.from)?;
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(&config.host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(&config.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let Some((username, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            from,
            transport: builder.build(),
            send_timeout: config.timeout.saturating_mul(4),
        })
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, MailerConfigError> {
    TlsParameters::new(host.to_owned()).map_err(MailerConfigError::Transport)
}

#[async_trait]
impl Mailer for SmtpMailer {
    #[tracing::instrument(skip_all, fields(to = %message.to))]
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let to = parse_to(&message.to)?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(message.subject.as_str())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(message.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(message.html.clone()),
                    ),
            )
            .map_err(|e| MailError::Permanent(e.into()))?;
        match tokio::time::timeout(self.send_timeout, self.transport.send(email)).await {
            Ok(sent) => sent.map(drop).map_err(classify),
            Err(elapsed) => Err(MailError::Transient(elapsed.into())),
        }
    }
}

/// A 5xx reply is permanent; everything else (refused or dropped
/// connections, timeouts, TLS failures, 4xx replies) may pass.
fn classify(error: lettre::transport::smtp::Error) -> MailError {
    if error.is_permanent() {
        MailError::Permanent(error.into())
    } else {
        MailError::Transient(error.into())
    }
}
