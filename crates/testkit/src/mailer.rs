//! The `Mailer` contract: what every adapter of the port must do, the
//! [`Inbox`] it reads deliveries back from, and [`RecordingMailer`], the fake.
//!
//! The contract cannot see an adapter's configuration, so it fixes one: the
//! mailer under test must send from [`FROM`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use latch_ports::{EmailMessage, MailError, Mailer};

/// The sender every mailer under test must be configured with.
pub const FROM: &str = "Latch <no-reply@latch.test>";

/// A message as the receiving side saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredMail {
    /// The `From` header, as `Name <address>` (or the bare address).
    pub from: String,
    /// The `To` header's addresses.
    pub to: Vec<String>,
    /// The decoded subject.
    pub subject: String,
    /// The decoded `text/plain` part, line ends as `\n`.
    pub text: String,
    /// The decoded `text/html` part, line ends as `\n`.
    pub html: String,
}

/// Where a contract test reads back what a mailer delivered.
pub trait Inbox {
    /// Every message delivered so far, oldest first.
    fn delivered(&self) -> Vec<DeliveredMail>;
}

/// Expands the `Mailer` contract into one `#[tokio::test]` per behaviour.
/// `$make` is an async expression yielding `(mailer, inbox)`: a fresh mailer
/// sending from [`FROM`] and the [`Inbox`] that sees its deliveries. With
/// `unreachable: $broken`, `$broken` is an async expression yielding a mailer
/// whose server cannot be reached (for adapters that have a server).
#[macro_export]
macro_rules! mailer_contract {
    ($make:expr) => {
        $crate::mailer_contract!(@tests $make;
            delivers_both_parts_to_the_recipient_from_the_sender,
            non_ascii_survives,
            multi_line_bodies_survive,
            messages_are_delivered_separately,
            a_malformed_recipient_is_a_permanent_error,
        );
    };
    ($make:expr, unreachable: $broken:expr) => {
        $crate::mailer_contract!($make);

        #[::tokio::test]
        async fn an_unreachable_server_is_a_transient_error() {
            $crate::mailer::an_unreachable_server_is_a_transient_error(&$broken.await).await;
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $name() {
                let (mailer, inbox) = $make.await;
                $crate::mailer::$name(&mailer, &inbox).await;
            }
        )*
    };
}

pub use behaviours::*;

#[allow(clippy::expect_used, clippy::panic, missing_docs)]
mod behaviours {
    use latch_ports::{EmailMessage, MailError, Mailer};

    use super::{FROM, Inbox};

    fn message(to: &str, subject: &str, text: &str, html: &str) -> EmailMessage {
        EmailMessage {
            to: to.to_owned(),
            subject: subject.to_owned(),
            text: text.to_owned(),
            html: html.to_owned(),
        }
    }

    async fn send_one(mailer: &dyn Mailer, inbox: &dyn Inbox, sent: &EmailMessage) -> super::DeliveredMail {
        let before = inbox.delivered().len();
        mailer.send(sent).await.expect("the message is accepted");
        let delivered = inbox.delivered();
        assert_eq!(
            delivered.len(),
            before + 1,
            "one message delivered: {delivered:?}"
        );
        delivered.last().cloned().expect("one message")
    }

    pub async fn delivers_both_parts_to_the_recipient_from_the_sender(
        mailer: &dyn Mailer,
        inbox: &dyn Inbox,
    ) {
        let sent = message(
            "alice@example.com",
            "Confirm your address",
            "Open https://auth.example.com/verify-email?token=abc to confirm.",
            "<p><a href=\"https://auth.example.com/verify-email?token=abc\">Confirm</a></p>",
        );
        let got = send_one(mailer, inbox, &sent).await;
        assert_eq!(got.from, FROM);
        assert_eq!(got.to, vec!["alice@example.com".to_owned()]);
        assert_eq!(got.subject, sent.subject);
        assert_eq!(got.text.trim_end(), sent.text);
        assert_eq!(got.html.trim_end(), sent.html);
    }

    pub async fn non_ascii_survives(mailer: &dyn Mailer, inbox: &dyn Inbox) {
        let sent = message(
            "zoe@example.com",
            "Réinitialiser votre mot de passe — 密码 🔑",
            "Bonjour Zoë, voici le lien : https://auth.example.com/reset-password?token=é",
            "<p>Bonjour Zoë — 你好 🔑</p>",
        );
        let got = send_one(mailer, inbox, &sent).await;
        assert_eq!(got.to, vec!["zoe@example.com".to_owned()]);
        assert_eq!(got.subject, sent.subject);
        assert_eq!(got.text.trim_end(), sent.text);
        assert_eq!(got.html.trim_end(), sent.html);
    }

    pub async fn multi_line_bodies_survive(mailer: &dyn Mailer, inbox: &dyn Inbox) {
        // A line of a lone dot ends SMTP's DATA unless the client escapes it;
        // a long line must be wrapped and unwrapped by the transfer encoding.
        let long = "x".repeat(300);
        let text = format!("Hello,\n\n.\n..leading dots\n{long}\nBye.");
        let html = format!("<p>Hello,</p>\n.\n<p>{long}</p>");
        let sent = message("bob@example.com", "Lines", &text, &html);
        let got = send_one(mailer, inbox, &sent).await;
        assert_eq!(got.text.trim_end(), text);
        assert_eq!(got.html.trim_end(), html);
    }

    pub async fn messages_are_delivered_separately(mailer: &dyn Mailer, inbox: &dyn Inbox) {
        let first = message("one@example.com", "First", "one", "<p>one</p>");
        let second = message("two@example.com", "Second", "two", "<p>two</p>");
        send_one(mailer, inbox, &first).await;
        let got = send_one(mailer, inbox, &second).await;
        assert_eq!(got.to, vec!["two@example.com".to_owned()]);
        assert_eq!(got.subject, "Second");
    }

    pub async fn a_malformed_recipient_is_a_permanent_error(mailer: &dyn Mailer, inbox: &dyn Inbox) {
        let before = inbox.delivered().len();
        for to in [
            "not-an-address",
            "",
            "alice@",
            "a b@example.com",
            "alice@example.com\r\nBcc: eve@example.com",
        ] {
            let error = mailer
                .send(&message(to, "Hi", "text", "<p>html</p>"))
                .await
                .expect_err(&format!("{to:?} is refused"));
            assert!(matches!(error, MailError::Permanent(_)), "{to:?}: {error:?}");
        }
        assert_eq!(inbox.delivered().len(), before, "nothing delivered");
    }

    pub async fn an_unreachable_server_is_a_transient_error(mailer: &dyn Mailer) {
        let error = mailer
            .send(&message("alice@example.com", "Hi", "text", "<p>html</p>"))
            .await
            .expect_err("nothing listens");
        assert!(error.is_transient(), "{error:?}");
    }
}

/// The in-memory fake: keeps every message it is given, from [`FROM`]
/// unless built with another sender. Refuses what does not look like an
/// address, as the real adapters do.
#[derive(Debug, Clone)]
pub struct RecordingMailer {
    from: String,
    sent: Arc<Mutex<Vec<EmailMessage>>>,
    down: Arc<AtomicBool>,
}

impl Default for RecordingMailer {
    fn default() -> Self {
        Self::new(FROM)
    }
}

impl RecordingMailer {
    /// A fake sending from `from`.
    pub fn new(from: &str) -> Self {
        Self {
            from: from.to_owned(),
            sent: Arc::default(),
            down: Arc::default(),
        }
    }

    /// While `down`, every send fails as with a mail server out of reach
    /// ([`MailError::Transient`]) and nothing is kept; clones share it.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The messages sent so far, oldest first.
    pub fn sent(&self) -> Vec<EmailMessage> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// A deliberately simple address check: one `@` with something on both
/// sides, no whitespace or control characters.
fn plausible_address(to: &str) -> bool {
    match to.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !to.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(MailError::Transient(
                "connection refused (the fake is down)".into(),
            ));
        }
        if !plausible_address(&message.to) {
            return Err(MailError::Permanent(
                format!("not an email address: {:?}", message.to).into(),
            ));
        }
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}

impl Inbox for RecordingMailer {
    fn delivered(&self) -> Vec<DeliveredMail> {
        self.sent()
            .into_iter()
            .map(|m| DeliveredMail {
                from: self.from.clone(),
                to: vec![m.to],
                subject: m.subject,
                text: m.text,
                html: m.html,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    crate::mailer_contract!(async {
        let mailer = crate::RecordingMailer::default();
        (mailer.clone(), mailer)
    });
}
