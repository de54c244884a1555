//! The command line: `serve` (default), `migrate`, `create-superuser`,
//! `import-users`, `keys`, `keygen`, `healthcheck`, `send-test-email`.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use clap::{Parser, Subcommand};
use latch_core::{DEFAULT_IMPORT_BATCH_SIZE, EmailKind, ImportOptions, SignupRequest, TemplateValues};
use latch_domain::Email;
use latch_ports::{ErrorChain, MailError};
use latch_sealing::MasterKey;
use latch_store_sql::SqlStore;
use latch_tokens_jwt::SigningKey;
use tokio::sync::mpsc;

use crate::json_lines::{self, MAX_IMPORT_LINE_BYTES};
use crate::keys::key_ring;
use crate::settings::{EmailSettings, Settings};
use crate::startup::{Application, auth_service, open_store};

/// Latch: a standalone user-authentication service.
#[derive(Debug, Parser)]
#[command(name = "latch", version, about)]
pub struct Cli {
    /// Directory holding `{LATCH_ENV}.toml` overlays.
    #[arg(long, global = true, default_value = "config", env = "LATCH_CONFIG_DIR")]
    pub config_dir: PathBuf,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a superuser; the password is read from stdin (or prompted for on a terminal).
    CreateSuperuser {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Optional username.
        #[arg(long)]
        username: Option<String>,
        /// Optional display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Import users, with their password hashes, from a JSON Lines file (one
    /// user a line). Exits 0 when every line was imported, 2 when some lines
    /// were rejected (each named on stderr), 1 when the import stopped.
    ImportUsers {
        /// The file to read, or `-` for stdin.
        file: PathBuf,
        /// Valid lines stored per transaction.
        #[arg(long, default_value_t = NonZeroUsize::new(DEFAULT_IMPORT_BATCH_SIZE).unwrap_or(NonZeroUsize::MIN))]
        batch_size: NonZeroUsize,
    },
    /// The shared signing-key ring: rotate it, list it, or make its master key.
    Keys {
        /// What to do with the ring.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print a new Ed25519 signing key (PKCS#8 PEM) for `tokens.eddsa_private_key_path`.
    Keygen,
    /// Exit 0 when the service configured here answers `GET /healthz`, 1
    /// otherwise: a container health check that needs no curl in the image.
    Healthcheck,
    /// Send a test email to ADDRESS now, through the configured `[email]`
    /// transport and templates: exits 0 once the server accepted it, 1 with
    /// the reason otherwise.
    SendTestEmail {
        /// Where to send it.
        address: String,
    },
}

/// `latch keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key active; the key it replaces stays published until every
    /// token it signed has expired. Running instances sign with the new key
    /// within `keys.reload_seconds`.
    Rotate,
    /// Show every key kept: its kid, state, and when it was made and retired.
    List,
    /// Print a new master key (base64) for `keys.master_key`.
    NewMasterKey,
}

/// `import-users` exits with this when it ran to the end but rejected lines.
const EXIT_LINES_REJECTED: u8 = 2;

/// Runs the command line and returns the exit code; an error is printed by
/// `main` and exits 1.
pub async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    // Commands that make key material need no settings.
    match cli.command {
        Some(Command::Keygen) => {
            let key = SigningKey::generate_ed25519()?;
            let pem = key.to_pem().ok_or("the generated key cannot be written as PEM")?;
            print!("{pem}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Keys {
            command: KeysCommand::NewMasterKey,
        }) => {
            let (_, text) = MasterKey::generate()?;
            println!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let settings = Settings::load(&cli.config_dir)?;
    crate::init_tracing(&settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let store = open_store(&settings, true).await?;
            tracing::info!(backend = store.backend_name(), "migrations applied");
            store.close().await;
        }
        Command::CreateSuperuser {
            email,
            username,
            name,
        } => {
            let password = read_password()?;
            let store = open_store(&settings, settings.database.migrate_on_start).await?;
            let auth = auth_service(&settings, &store).await?;
            let request = SignupRequest {
                email,
                password: password.into(),
                name,
                username,
                ..SignupRequest::default()
            };
            let user = auth.create_superuser(request).await?;
            println!("created superuser {} ({})", user.email, user.id);
            store.close().await;
        }
        Command::ImportUsers { file, batch_size } => {
            // Open the input first: a wrong path should not wait on the database.
            let input: Box<dyn Read + Send> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin())
            } else {
                let opened = std::fs::File::open(&file)
                    .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
                Box::new(opened)
            };
            let store = open_store(&settings, settings.database.migrate_on_start).await?;
            let auth = auth_service(&settings, &store).await?;
            let outcome = import_users(&auth, input, ImportOptions { batch_size }).await;
            store.close().await;
            return outcome;
        }
        Command::Keys { command } => {
            let store = open_store(&settings, settings.database.migrate_on_start).await?;
            let outcome = keys(&settings, &store, command).await;
            store.close().await;
            outcome?;
        }
        Command::Healthcheck => return Ok(healthcheck(&settings.http)),
        Command::SendTestEmail { address } => send_test_email(&settings.email, &address).await?,
        Command::Keygen => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `latch send-test-email`: the test email, sent at once (not through the
/// outbox, which would retry in the background): the answer is the SMTP
/// server's own.
async fn send_test_email(settings: &EmailSettings, address: &str) -> Result<(), Box<dyn std::error::Error>> {
    let address = Email::parse(address).map_err(|err| format!("{address:?}: {err}"))?;
    let templates = crate::email::templates(settings)?;
    let mailer = crate::email::mailer(settings)?.ok_or(
        "email.transport is \"none\": Latch sends no email; set email.transport = \"smtp\" (docs/email.md)",
    )?;
    let values = TemplateValues {
        email: address.as_str(),
        ..TemplateValues::default()
    };
    let message = templates.render(EmailKind::TestEmail, address.as_str(), &values);
    let destination = crate::email::destination(settings);
    mailer.send(&message).await.map_err(|err| {
        // The server's own words; "worth retrying" is the outbox's business.
        let (MailError::Transient(cause) | MailError::Permanent(cause)) = &err;
        format!(
            "the test email to {} was not sent via {destination}: {}",
            address.as_str(),
            ErrorChain(cause.as_ref())
        )
    })?;
    println!("sent a test email to {} via {destination}", address.as_str());
    Ok(())
}

/// `GET /healthz` on the configured port of this machine, over plain
/// HTTP/1.0 (no client library needed), within two seconds.
fn healthcheck(http: &crate::settings::HttpSettings) -> ExitCode {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
    use std::time::Duration;

    let ip = match http.host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Ok(IpAddr::V6(ip)) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Ok(ip) => ip,
        Err(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let address = SocketAddr::new(ip, http.port);
    let timeout = Duration::from_secs(2);
    let answer = TcpStream::connect_timeout(&address, timeout).and_then(|mut stream| {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut status = [0u8; 12];
        stream.read_exact(&mut status)?;
        Ok(status)
    });
    match answer {
        // "HTTP/1.x 200"
        Ok(status) if status.ends_with(b" 200") => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!(
                "healthcheck: {address} answered {}",
                String::from_utf8_lossy(&status)
            );
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("healthcheck: {address}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `latch keys rotate` and `latch keys list`.
async fn keys(
    settings: &Settings,
    store: &SqlStore,
    command: KeysCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    let ring = key_ring(settings, store).await?;
    let now = Utc::now();
    match command {
        KeysCommand::Rotate => {
            let rotation = ring.rotate(now).await?;
            let signs_from = timestamp(now + ring.publish_ahead());
            println!(
                "new key {}: published now, signing from {signs_from}",
                rotation.kid
            );
            if let Some(retired) = rotation.retired {
                println!(
                    "retired {retired}: signing until {signs_from}, published until its tokens have expired"
                );
            }
            if rotation.deleted > 0 {
                println!("deleted {} expired key(s)", rotation.deleted);
            }
            println!(
                "running instances read the ring every keys.reload_seconds ({} s)",
                settings.keys.reload_seconds
            );
        }
        KeysCommand::List => {
            let keys = ring.list().await?;
            // A new key signs at once when no key it replaced is still published.
            let replaced_one = keys
                .iter()
                .any(|k| k.retired_at.is_some_and(|at| at + ring.retention() > now));
            for key in keys {
                let state = match key.retired_at {
                    None if replaced_one && key.created_at + ring.publish_ahead() > now => {
                        format!(
                            "active, signing from {}",
                            timestamp(key.created_at + ring.publish_ahead())
                        )
                    }
                    None => "active".to_owned(),
                    Some(at) if at + ring.retention() > now => {
                        format!("retired, published until {}", timestamp(at + ring.retention()))
                    }
                    Some(_) => "expired, deleted at the next rotation".to_owned(),
                };
                let retired = key.retired_at.map_or_else(|| "-".to_owned(), timestamp);
                println!(
                    "{}  {}  created {}  retired {}  {state}",
                    key.kid,
                    key.algorithm,
                    timestamp(key.created_at),
                    retired
                );
            }
        }
        // Answered before the settings were read.
        KeysCommand::NewMasterKey => {}
    }
    Ok(())
}

fn timestamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Streams `input` through the import, rejected lines to stderr and the
/// counts to stdout.
async fn import_users(
    auth: &latch_core::AuthService,
    input: Box<dyn Read + Send>,
    options: ImportOptions,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut lines = read_lines(input);
    let mut import = auth.start_import(options);
    let stopped = |line: u64, imported: u64, err: &(dyn std::error::Error + 'static)| {
        let err = ErrorChain(err);
        format!("import stopped at line {line} after importing {imported} users: {err}")
    };
    let mut number = 0;
    while let Some(next) = lines.recv().await {
        let bytes = next.map_err(|err| stopped(number + 1, import.summary().imported, &err))?;
        number += 1;
        let rejected = json_lines::add_line(&mut import, number, &bytes)
            .await
            .map_err(|err| stopped(number, import.summary().imported, &err))?;
        for line in rejected {
            eprintln!("{line}");
        }
    }
    let rejected = import
        .finish()
        .await
        .map_err(|err| stopped(number, import.summary().imported, &err))?;
    for line in rejected {
        eprintln!("{line}");
    }
    let summary = import.summary();
    println!(
        "imported {} users, rejected {} lines",
        summary.imported, summary.rejected
    );
    Ok(if summary.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_LINES_REJECTED)
    })
}

/// Lines of `input` without their line endings, read on a blocking thread
/// and handed over through a bounded channel, so input of any size streams.
/// A line is cut after `MAX_IMPORT_LINE_BYTES + 1` bytes (the import rejects
/// it as too long) and the rest of it skipped, so no line can fill memory.
fn read_lines(input: Box<dyn Read + Send>) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (sender, receiver) = mpsc::channel(1024);
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(input);
        loop {
            let (item, last) = match read_capped_line(&mut reader) {
                Ok(None) => break,
                Ok(Some(bytes)) => (Ok(bytes), false),
                Err(err) => (Err(err), true),
            };
            // Stop after a read error, or when the import has gone away.
            if sender.blocking_send(item).is_err() || last {
                break;
            }
        }
    });
    receiver
}

/// The next line without its `\n` or `\r\n`, at most one byte over the
/// limit; `None` at the end of the input.
fn read_capped_line(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let limit = MAX_IMPORT_LINE_BYTES + 1;
    let mut line = Vec::new();
    let read = reader.by_ref().take(limit as u64).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() == limit {
        skip_rest_of_line(reader)?;
    }
    Ok(Some(line))
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

/// The password: prompted for without echo on a terminal, else the first line of stdin.
fn read_password() -> Result<String, Box<dyn std::error::Error>> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            return Err("the passwords do not match".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let _ = std::io::stdout().flush();
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = std::io::BufReader::with_capacity(16, input);
        std::iter::from_fn(|| read_capped_line(&mut reader).unwrap()).collect()
    }

    #[test]
    fn lines_lose_their_endings_and_keep_blank_ones() {
        assert_eq!(
            lines_of(b"a\r\n\nb\nc"),
            vec![b"a".to_vec(), Vec::new(), b"b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn an_overlong_line_is_cut_one_byte_past_the_limit_and_the_next_one_read() {
        let mut input = vec![b'x'; 3 * MAX_IMPORT_LINE_BYTES];
        input.extend_from_slice(b"\nnext\n");
        let lines = lines_of(&input);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_IMPORT_LINE_BYTES + 1);
        assert_eq!(lines[1], b"next");
    }
}
