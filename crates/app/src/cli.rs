//! The command line: `serve` (default), `migrate`, `create-superuser`, `keygen`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use latch_core::SignupRequest;
use latch_tokens_jwt::SigningKey;

use crate::settings::Settings;
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
    /// Print a new Ed25519 signing key (PKCS#8 PEM) for `tokens.eddsa_private_key_path`.
    Keygen,
}

/// Runs the command line; the error is printed by `main` and exits non-zero.
pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Command::Keygen) = cli.command {
        let key = SigningKey::generate_ed25519()?;
        let pem = key.to_pem().ok_or("the generated key cannot be written as PEM")?;
        print!("{pem}");
        return Ok(());
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
                password,
                name,
                username,
                ..SignupRequest::default()
            };
            let user = auth.create_superuser(request).await?;
            println!("created superuser {} ({})", user.email, user.id);
            store.close().await;
        }
        Command::Keygen => {}
    }
    Ok(())
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
