//! Both adapters against the `Mailer` contract, and what only SMTP does,
//! against a real SMTP server on a local port.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns set up fixtures

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latch_mailer::{LogMailer, SmtpConfig, SmtpMailer, SmtpTls};
use latch_ports::{EmailMessage, MailError, Mailer};
use latch_testkit::TestSmtpServer;
use latch_testkit::mailer::{DeliveredMail, FROM, Inbox};
use secrecy::SecretString;

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        from: FROM.to_owned(),
        host: "127.0.0.1".to_owned(),
        port,
        tls: SmtpTls::None,
        credentials: None,
        timeout: Duration::from_secs(10),
    }
}

async fn smtp_with_server() -> (SmtpMailer, TestSmtpServer) {
    let server = TestSmtpServer::start().await;
    let mailer = SmtpMailer::new(&smtp_config(server.port())).unwrap();
    (mailer, server)
}

/// A port nothing listens on: bound, read back, released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn message(to: &str) -> EmailMessage {
    EmailMessage {
        to: to.to_owned(),
        subject: "Hello".to_owned(),
        text: "text".to_owned(),
        html: "<p>html</p>".to_owned(),
    }
}

mod smtp_contract {
    use super::*;

    latch_testkit::mailer_contract!(
        smtp_with_server(),
        unreachable: async { SmtpMailer::new(&smtp_config(closed_port())).unwrap() }
    );
}

#[tokio::test]
async fn the_envelope_names_the_sender_and_the_recipient_alone() {
    let (mailer, server) = smtp_with_server().await;
    mailer.send(&message("alice@example.com")).await.unwrap();
    let received = server.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "no-reply@latch.test");
    assert_eq!(received[0].rcpt_to, vec!["alice@example.com".to_owned()]);
}

#[tokio::test]
async fn a_5xx_reply_is_a_permanent_error() {
    let (mailer, server) = smtp_with_server().await;
    server.reply_to_recipients_with("550 5.1.1 no such mailbox");
    let error = mailer.send(&message("ghost@example.com")).await.unwrap_err();
    assert!(matches!(error, MailError::Permanent(_)), "{error:?}");
}

#[tokio::test]
async fn a_4xx_reply_is_a_transient_error() {
    let (mailer, server) = smtp_with_server().await;
    server.reply_to_recipients_with("451 4.3.0 try again later");
    let error = mailer.send(&message("alice@example.com")).await.unwrap_err();
    assert!(matches!(error, MailError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn credentials_are_used_when_set() {
    let server = TestSmtpServer::start().await;
    let config = SmtpConfig {
        credentials: Some(("latch".to_owned(), SecretString::from("s3cret"))),
        ..smtp_config(server.port())
    };
    SmtpMailer::new(&config)
        .unwrap()
        .send(&message("alice@example.com"))
        .await
        .unwrap();
    assert_eq!(server.logins(), vec![("latch".to_owned(), "s3cret".to_owned())]);
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_transient_error_after_the_timeout() {
    // Accepts connections and says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let config = SmtpConfig {
        timeout: Duration::from_millis(500),
        ..smtp_config(port)
    };
    let started = Instant::now();
    let error = SmtpMailer::new(&config)
        .unwrap()
        .send(&message("alice@example.com"))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    silent.abort();
}

#[test]
fn a_malformed_sender_is_refused_when_built() {
    let config = SmtpConfig {
        from: "not an address".to_owned(),
        ..smtp_config(25)
    };
    assert!(SmtpMailer::new(&config).is_err());
    assert!(LogMailer::new("not an address").is_err());
}

#[tokio::test]
async fn starttls_and_tls_build_for_a_host_name() {
    for tls in [SmtpTls::StartTls, SmtpTls::Tls] {
        let config = SmtpConfig {
            host: "smtp.example.com".to_owned(),
            tls,
            ..smtp_config(587)
        };
        SmtpMailer::new(&config).unwrap();
    }
}

/// What the log transport wrote, read back from its log events.
#[derive(Clone, Default)]
struct LogInbox {
    events: Arc<Mutex<Vec<DeliveredMail>>>,
}

impl Inbox for LogInbox {
    fn delivered(&self) -> Vec<DeliveredMail> {
        self.events.lock().unwrap().clone()
    }
}

/// Collects the fields of each `latch::email` event at info.
struct Capture(LogInbox);

#[derive(Default)]
struct Fields(std::collections::HashMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "latch::email" || *event.metadata().level() != tracing::Level::INFO {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut take = |name: &str| fields.0.remove(name).unwrap_or_default();
        let mail = DeliveredMail {
            from: take("from"),
            to: vec![take("to")],
            subject: take("subject"),
            text: take("text"),
            html: take("html"),
        };
        self.0.events.lock().unwrap().push(mail);
    }
}

/// A log mailer, its inbox, and the guard that keeps the capture installed
/// on this thread (the tests run on a current-thread runtime).
struct LogUnderTest {
    inbox: LogInbox,
    _guard: tracing::subscriber::DefaultGuard,
}

fn log_with_inbox() -> (LogMailer, LogUnderTest) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let inbox = LogInbox::default();
    let subscriber = tracing_subscriber::registry().with(Capture(inbox.clone()));
    let guard = tracing::subscriber::set_default(subscriber);
    (
        LogMailer::new(FROM).unwrap(),
        LogUnderTest { inbox, _guard: guard },
    )
}

impl Inbox for LogUnderTest {
    fn delivered(&self) -> Vec<DeliveredMail> {
        self.inbox.delivered()
    }
}

mod log_contract {
    use super::*;

    latch_testkit::mailer_contract!(async { log_with_inbox() });
}
