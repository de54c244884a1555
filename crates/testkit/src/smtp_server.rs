//! A small SMTP server for tests: plaintext, on `127.0.0.1` and a free port,
//! accepting every message (or refusing recipients with a reply of the
//! test's choosing) and keeping what it received. Enough of RFC 5321 for
//! real clients: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA (dot-unstuffed),
//! RSET, NOOP, QUIT, several messages per connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_parser::{MessageParser, PartType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::mailer::{DeliveredMail, Inbox};

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, CRLF line ends.
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    messages: Vec<ReceivedMessage>,
    logins: Vec<(String, String)>,
    rcpt_reply: Option<String>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running test SMTP server; stops when dropped.
#[derive(Debug)]
pub struct TestSmtpServer {
    address: SocketAddr,
    state: Shared,
    accept: JoinHandle<()>,
}

impl TestSmtpServer {
    /// Starts a server on a free port of `127.0.0.1`.
    ///
    /// # Panics
    /// If no port can be bound.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts a server on `port` of `127.0.0.1` (0: a free one), say the
    /// port a mailer was pointed at while nothing listened there.
    ///
    /// # Panics
    /// If the port cannot be bound.
    #[allow(clippy::expect_used)]
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind a test SMTP port");
        let address = listener.local_addr().expect("the bound address");
        let state = Shared::default();
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Self {
            address,
            state,
            accept,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.state).messages.clone()
    }

    /// Every `(username, password)` that authenticated, oldest first.
    pub fn logins(&self) -> Vec<(String, String)> {
        lock(&self.state).logins.clone()
    }

    /// From now on, answer every `RCPT TO` with `reply` (say,
    /// `550 5.1.1 no such mailbox` or `451 4.3.0 try again later`).
    pub fn reply_to_recipients_with(&self, reply: &str) {
        lock(&self.state).rcpt_reply = Some(reply.to_owned());
    }
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Inbox for TestSmtpServer {
    fn delivered(&self) -> Vec<DeliveredMail> {
        self.messages().iter().map(|m| parse(&m.data)).collect()
    }
}

/// Reads a received message the way a mail client would.
///
/// # Panics
/// If it is not a message with a `From`, a subject and both parts.
#[allow(clippy::expect_used, clippy::panic)]
pub fn parse(data: &[u8]) -> DeliveredMail {
    let message = MessageParser::default().parse(data).expect("a MIME message");
    let from = message.from().and_then(|a| a.first()).expect("a From header");
    let from = match (from.name(), from.address()) {
        (Some(name), Some(address)) => format!("{name} <{address}>"),
        (None, Some(address)) => address.to_owned(),
        other => panic!("From without an address: {other:?}"),
    };
    let to = message
        .to()
        .map(|to| to.iter().filter_map(|a| a.address()).map(str::to_owned).collect())
        .unwrap_or_default();
    let part = |html: bool| {
        message
            .parts
            .iter()
            .find_map(|part| match (&part.body, html) {
                (PartType::Text(text), false) | (PartType::Html(text), true) => {
                    Some(text.replace("\r\n", "\n"))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {} part", if html { "HTML" } else { "text" }))
    };
    DeliveredMail {
        from,
        to,
        subject: message.subject().expect("a subject").to_owned(),
        text: part(false),
        html: part(true),
    }
}

async fn accept_loop(listener: TcpListener, state: Shared) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(stream, Arc::clone(&state)));
    }
}

/// One SMTP session; any I/O error ends it.
async fn serve(stream: TcpStream, state: Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 latch-test ESMTP\r\n").await?;
    let mut envelope: Option<(String, Vec<String>)> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-latch-test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8".to_owned()
        } else if upper.starts_with("HELO") {
            "250 latch-test".to_owned()
        } else if let Some(initial) = upper
            .strip_prefix("AUTH PLAIN")
            .map(|_| command[10..].trim().to_owned())
        {
            let response = if initial.is_empty() {
                write.write_all(b"334 \r\n").await?;
                line.clear();
                read.read_until(b'\n', &mut line).await?;
                String::from_utf8_lossy(&line).trim().to_owned()
            } else {
                initial
            };
            match plain_credentials(&response) {
                Some(login) => {
                    lock(&state).logins.push(login);
                    "235 2.7.0 authenticated".to_owned()
                }
                None => "501 5.5.2 malformed AUTH PLAIN".to_owned(),
            }
        } else if upper.starts_with("MAIL FROM:") {
            envelope = Some((angle_address(&command[10..]), Vec::new()));
            "250 2.1.0 ok".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            let refusal = lock(&state).rcpt_reply.clone();
            match (refusal, envelope.as_mut()) {
                (Some(reply), _) => reply,
                (None, Some((_, recipients))) => {
                    recipients.push(angle_address(&command[8..]));
                    "250 2.1.5 ok".to_owned()
                }
                (None, None) => "503 5.5.1 MAIL first".to_owned(),
            }
        } else if upper == "DATA" {
            match envelope.take() {
                Some((mail_from, rcpt_to)) if !rcpt_to.is_empty() => {
                    write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                    let data = read_data(&mut read).await?;
                    lock(&state).messages.push(ReceivedMessage {
                        mail_from,
                        rcpt_to,
                        data,
                    });
                    "250 2.0.0 queued".to_owned()
                }
                _ => "503 5.5.1 no recipients".to_owned(),
            }
        } else if upper == "RSET" {
            envelope = None;
            "250 2.0.0 ok".to_owned()
        } else if upper == "NOOP" {
            "250 2.0.0 ok".to_owned()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 not implemented".to_owned()
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// The lines after `DATA` up to the lone dot, with leading dots unstuffed.
async fn read_data(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

/// `<alice@example.com> SIZE=123` → `alice@example.com`.
fn angle_address(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

/// AUTH PLAIN's base64 `authzid\0username\0password`.
fn plain_credentials(response: &str) -> Option<(String, String)> {
    let decoded = STANDARD.decode(response).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let mut fields = decoded.split('\0');
    let _authorization = fields.next()?;
    Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
}
