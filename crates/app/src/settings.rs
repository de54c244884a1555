//! Settings: `config/default.toml` (embedded) ← `config/{LATCH_ENV}.toml`
//! ← `LATCH__SECTION__KEY` environment variables. The only place that reads
//! configuration; everything else receives typed values.

use std::path::{Path, PathBuf};

use actix_web::cookie::SameSite;
use config::{Config, Environment, File, FileFormat};
use ipnet::IpNet;
use latch_domain::TierName;
use latch_http::{AllowedOrigins, ForwardedHeader, TrustedProxies};
use latch_tokens_jwt::Algorithm;
use secrecy::{ExposeSecret, SecretString};
use serde::de::value::Error as ValueError;
use serde::de::{DeserializeOwned, Error as _, IntoDeserializer};
use serde::{Deserialize, Deserializer};

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Keys holding lists; in environment variables they are comma-separated.
const LIST_KEYS: [&str; 2] = ["http.trusted_proxies", "cors.allowed_origins"];

/// Why settings could not be loaded. Messages name the offending key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A file or variable could not be read or has a value of the wrong type.
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value has the right type but is not allowed.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// The key, e.g. `tokens.algorithm`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl SettingsError {
    pub(crate) fn invalid(key: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            message: message.into(),
        }
    }
}

/// All of Latch's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `development`, `production`, ... (from `LATCH_ENV`, not from files).
    #[serde(skip)]
    pub environment: String,
    /// Where the embedded database and generated keys live.
    pub data_dir: PathBuf,
    /// Listening.
    pub http: HttpSettings,
    /// Storage.
    pub database: DatabaseSettings,
    /// Token signing and lifetimes.
    pub tokens: TokenSettings,
    /// Cookie names and flags.
    pub cookies: CookieConfig,
    /// Cross-origin callers (also the origins the CSRF check accepts).
    pub cors: CorsSettings,
    /// Attempt budgets and login backoff.
    pub rate_limit: RateLimitSettings,
    /// Password rules.
    pub passwords: PasswordSettings,
    /// Tiers.
    pub tiers: TierSettings,
    /// Logging.
    pub log: LogSettings,
    /// Deleting ended sessions in the background.
    pub purge: PurgeSettings,
    /// `[session_cache]`.
    pub session_cache: SessionCacheSettings,
    /// `[keys]`.
    pub keys: KeySettings,
    /// `[introspection]`.
    pub introspection: IntrospectionSettings,
    /// `[metrics]`.
    pub metrics: MetricsSettings,
    /// `[email]`.
    pub email: EmailSettings,
    /// `[mfa]`.
    pub mfa: MfaSettings,
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen address.
    pub host: String,
    /// Listen port; 0 picks a free one.
    pub port: u16,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// Peers (addresses or CIDR ranges) whose forwarding header is believed.
    #[serde(deserialize_with = "trusted_proxies")]
    pub trusted_proxies: Vec<IpNet>,
    /// The header those proxies write: `x-forwarded-for` or `forwarded` (RFC 7239).
    #[serde(deserialize_with = "forwarded_header")]
    pub forwarded_header: ForwardedHeader,
    /// The URL clients reach Latch at (`https://auth.example.com`), for the
    /// discovery document; unset = `http://{host}:{port}`.
    pub public_url: Option<String>,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://...` or `sqlite://...`; unset = `data_dir/latch.db`.
    pub url: Option<SecretString>,
    /// Permit SQLite when `LATCH_ENV=production` (a single-instance deployment).
    pub allow_sqlite_in_production: bool,
    /// Pool size.
    pub max_connections: u32,
    /// Apply pending migrations when the service starts.
    pub migrate_on_start: bool,
    /// How long a request waits for a connection (a free one, or a new one opened).
    pub acquire_timeout_ms: u32,
    /// PostgreSQL: the longest a statement may run, and about how long
    /// Latch waits for a statement's answer.
    pub statement_timeout_ms: u32,
}

/// `[tokens]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// `EdDSA`, `RS256` or `HS256`, in any case.
    pub algorithm: Algorithm,
    /// HS256 shared secret.
    pub hs256_secret: Option<SecretString>,
    /// PEM file of the RS256 private key.
    pub rs256_private_key_path: Option<PathBuf>,
    /// PEM file of the Ed25519 private key; unset = the shared key ring (`[keys]`).
    pub eddsa_private_key_path: Option<PathBuf>,
    /// `iss` claim.
    pub issuer: String,
    /// `aud` claim.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl_seconds: u32,
    /// Refresh-token idle lifetime.
    pub refresh_idle_ttl_seconds: u32,
    /// Absolute session lifetime.
    pub session_max_age_seconds: u32,
    /// Window in which a rotated refresh token still yields its successor.
    pub refresh_reuse_grace_seconds: u32,
    /// `/auth/session` re-issues the access token when less than this is left.
    pub session_rotate_before_seconds: u32,
}

/// `[keys]`: the shared key ring, used when `tokens.algorithm` is EdDSA
/// and no `tokens.eddsa_private_key_path` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// 32 random bytes in base64 that seal the ring's private keys; unset =
    /// generated into `data_dir` (development only).
    pub master_key: Option<SecretString>,
    /// How often each instance reads the ring again (picks up rotations).
    pub reload_seconds: u32,
    /// A new key is published this long before it signs, so every instance
    /// and every verifier's key cache has it first.
    pub publish_ahead_seconds: u32,
    /// Rotate when the active key is this many days old; 0 = never by itself.
    pub rotate_after_days: u32,
}

/// `[introspection]`: the resource server allowed to call
/// `POST /api/v1/auth/introspect`, by HTTP Basic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSettings {
    /// The client id; unset (with the secret) = introspection answers 401 to everyone.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<SecretString>,
}

/// `[cookies]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieConfig {
    /// `Secure` flag.
    pub secure: bool,
    /// `lax`, `strict` or `none` (in any case) for the access cookie.
    #[serde(deserialize_with = "same_site")]
    pub same_site: SameSite,
    /// Access-token cookie name.
    pub access_name: String,
    /// Refresh-token cookie name.
    pub refresh_name: String,
}

/// `[cors]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// `scheme://host[:port]` origins allowed to call; `*` = any (never with credentials).
    #[serde(deserialize_with = "allowed_origins")]
    pub allowed_origins: AllowedOrigins,
    /// Let the allowed origins send cookies and `Authorization`.
    pub allow_credentials: bool,
}

/// `[rate_limit]`: attempts per `window_seconds`; 0 = no limit for that budget.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Off = no budgets and no backoff (tests, or limits enforced upstream).
    pub enabled: bool,
    /// The window every budget below is counted over.
    pub window_seconds: u32,
    /// Signups from one client IP.
    pub signup_per_ip: u32,
    /// Logins from one client IP.
    pub login_per_ip: u32,
    /// Refreshes from one client IP.
    pub refresh_per_ip: u32,
    /// Password changes from one client IP.
    pub password_change_per_ip: u32,
    /// Username changes from one client IP.
    pub username_change_per_ip: u32,
    /// Introspection requests from one client IP (each checks the client secret).
    pub introspect_per_ip: u32,
    /// Verification-mail requests from one client IP.
    pub verification_request_per_ip: u32,
    /// Password-reset-mail requests from one client IP.
    pub password_reset_request_per_ip: u32,
    /// Emailed links followed from one client IP.
    pub link_confirm_per_ip: u32,
    /// Signups naming one email, from anywhere.
    pub signup_per_account: u32,
    /// Logins naming one account (email or username), from anywhere.
    pub login_per_account: u32,
    /// Password changes of one account.
    pub password_change_per_account: u32,
    /// Username changes of one account.
    pub username_change_per_account: u32,
    /// Verification-mail requests naming one address, from anywhere.
    pub verification_request_per_account: u32,
    /// Password-reset-mail requests naming one address, from anywhere.
    pub password_reset_request_per_account: u32,
    /// Failed logins of one account allowed before it backs off.
    pub login_free_failures: u32,
    /// The first backoff wait; each further failure doubles it.
    pub login_backoff_base_seconds: u32,
    /// The longest backoff wait.
    pub login_backoff_max_seconds: u32,
    /// Count every budget and the backoff in this Redis, shared by every
    /// instance; unset = in each instance's memory.
    pub redis_url: Option<SecretString>,
    /// Prefix of Latch's keys in that Redis.
    pub redis_prefix: String,
}

/// `[passwords]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// Minimum length in characters (after NFKC).
    pub min_length: usize,
    /// Maximum length in characters (after NFKC).
    pub max_length: usize,
    /// Character classes (lowercase, uppercase, digit, other) a new password must mix; 0 = no rule.
    pub min_character_classes: u8,
    /// Refuse the most common passwords (bundled list).
    pub reject_common: bool,
    /// Refuse passwords containing the user's email, username or name.
    pub reject_personal_info: bool,
    /// Hashes computed at once; 0 = one per core.
    pub hash_concurrency: usize,
}

/// `[tiers]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSettings {
    /// Tier given to new users; created at start-up if missing.
    #[serde(deserialize_with = "tier_name")]
    pub default: TierName,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    #[serde(deserialize_with = "variant")]
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `latch=debug,info`.
    pub level: String,
    /// Log JSON and form request bodies at debug level, secrets redacted
    /// (they still hold emails and names: refused in production).
    pub request_bodies: bool,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[session_cache]`: the in-process cache of sessions and their users that
/// spares authenticated requests their two reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCacheSettings {
    /// Most sessions cached; 0 switches the cache off.
    pub capacity: u32,
    /// An entry is read again after this long.
    pub max_age_seconds: u32,
    /// `auto` (SQLite: `single_process`, PostgreSQL: `lease`),
    /// `single_process`, `change_log` or `lease`.
    #[serde(deserialize_with = "variant")]
    pub coherence: CoherenceSetting,
    /// How long a `lease` lasts: the longest a write waits for an instance
    /// that stopped without releasing its lease.
    pub lease_millis: u32,
}

/// `session_cache.coherence` as written; start-up resolves `auto` for the
/// backend and maps the rest onto the core's `CacheCoherence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoherenceSetting {
    /// `single_process` on SQLite, `lease` on PostgreSQL.
    Auto,
    /// Only this process uses the database.
    SingleProcess,
    /// Each request reads what other instances changed.
    ChangeLog,
    /// Changes are signalled to lease holders, and writes wait for them.
    Lease,
}

/// `[metrics]`: the Prometheus metrics at `GET /metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Record metrics and serve them; off = nothing recorded, `/metrics` is 404.
    pub enabled: bool,
    /// Serve `/metrics` on a listener of its own at this address (the main
    /// listener then answers 404 there); unset = on the main listener.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[email]`: how the verification, password-reset and email-change
/// messages are sent, and what their links point at.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// `log`, `smtp` or `none` (the email routes are not mounted).
    #[serde(deserialize_with = "variant")]
    pub transport: EmailTransport,
    /// The sender: `Name <address>` or an address.
    pub from: String,
    /// What the links start with (`https://app.example.com`); read without
    /// a trailing slash.
    #[serde(deserialize_with = "link_base_url")]
    pub link_base_url: String,
    /// The SMTP server's host name (checked against its certificate) or IP.
    pub smtp_host: String,
    /// The SMTP server's port.
    pub smtp_port: u16,
    /// `starttls`, `tls` or `none`.
    #[serde(deserialize_with = "variant")]
    pub smtp_tls: SmtpTlsSetting,
    /// The SMTP login; set with the password or not at all.
    pub smtp_username: Option<String>,
    /// The SMTP password.
    pub smtp_password: Option<SecretString>,
    /// The longest wait to connect and for each reply of the server.
    pub smtp_timeout_seconds: u32,
    /// How long a verification link works.
    pub verification_ttl_seconds: u32,
    /// How long a password-reset link works.
    pub reset_ttl_seconds: u32,
    /// Mail a verification link when an account signs up.
    pub send_verification_on_signup: bool,
    /// Refuse the login of an account whose address is not verified.
    pub require_verified_for_login: bool,
    /// A directory of template files replacing the built-in ones; unset = built-ins.
    pub templates_dir: Option<PathBuf>,
    /// How often each instance looks for mails due in the outbox.
    pub outbox_poll_interval_ms: u32,
    /// The wait before a failed mail's first retry; doubled per failure, up to 30 minutes.
    pub retry_base_seconds: u32,
}

/// `email.transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailTransport {
    /// Each message, link included, is written to the log (development).
    Log,
    /// Through the SMTP server of the `smtp_*` keys.
    Smtp,
    /// No email: the routes that send or follow emailed links are not mounted.
    None,
}

/// `email.smtp_tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTlsSetting {
    /// Plaintext, then a required `STARTTLS` (usually port 587).
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No TLS: a relay on the same host or a trusted network only.
    None,
}

/// `[mfa]`: the second factor (TOTP and recovery codes).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaSettings {
    /// The name an authenticator app shows next to the account.
    pub issuer: String,
    /// How long a login's `mfa_token` waits for its code.
    pub challenge_ttl_seconds: u32,
}

/// `mfa.challenge_ttl_seconds` bounds: time to open the app and type a code,
/// and not so long that a stolen password step stays useful.
const MFA_CHALLENGE_TTL_SECONDS: std::ops::RangeInclusive<u32> = 30..=3600;

impl MfaSettings {
    /// The `[mfa]` rules.
    fn validate(&self) -> Result<(), SettingsError> {
        let issuer = self.issuer.trim();
        // A colon separates issuer and account in the app's label.
        if issuer.is_empty() || issuer.contains(':') || issuer.chars().count() > 64 {
            return Err(SettingsError::invalid(
                "mfa.issuer",
                "must be 1 to 64 characters without a colon",
            ));
        }
        if !MFA_CHALLENGE_TTL_SECONDS.contains(&self.challenge_ttl_seconds) {
            return Err(SettingsError::invalid(
                "mfa.challenge_ttl_seconds",
                format!(
                    "must be {} to {}",
                    MFA_CHALLENGE_TTL_SECONDS.start(),
                    MFA_CHALLENGE_TTL_SECONDS.end()
                ),
            ));
        }
        Ok(())
    }
}

/// The shortest lifetime of an emailed link: mail can take a minute to arrive.
const MIN_LINK_TTL_SECONDS: u32 = 60;

/// `[purge]`: the background task that deletes ended sessions and the
/// refresh tokens nobody can use any more.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeSettings {
    /// Run the task in this process.
    pub enabled: bool,
    /// Time between two passes.
    pub interval_seconds: u32,
    /// The most rows each step (one table) deletes per pass.
    pub batch_size: u32,
    /// How long an ended session is kept after it ended.
    pub retention_seconds: u32,
}

/// `session_cache.lease_millis` bounds: renewals run every quarter lease, and
/// a write may wait up to one lease for an instance that died.
const MIN_LEASE_MILLIS: u32 = 100;
const MAX_LEASE_MILLIS: u32 = 60_000;

/// Whether `url` can prefix Latch's paths: `http(s)://host[:port][/path]`,
/// no query, fragment or trailing slash.
fn valid_public_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty() && !url.ends_with('/') && !url.contains(['?', '#', ' '])
}

/// The longest `keys.reload_seconds`: a rotation reaches every instance within it.
const MAX_KEY_RELOAD_SECONDS: u32 = 3600;

/// The largest `purge.batch_size`: one pass's ids fit in one statement on every backend.
const MAX_PURGE_BATCH_SIZE: u32 = 10_000;

impl Settings {
    /// Loads settings for `LATCH_ENV` (default `development`) from the
    /// embedded defaults, `config/{env}.toml` under `config_dir` if present,
    /// and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, SettingsError> {
        let environment = std::env::var("LATCH_ENV").unwrap_or_else(|_| "development".to_owned());
        Self::load_from(config_dir, &environment, Environment::default())
    }

    /// The defaults with `overrides` (`("http.port", "0")`, ...) on top; for tests.
    pub fn with_overrides(overrides: &[(&str, &str)]) -> Result<Self, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        for (key, value) in overrides {
            builder = if LIST_KEYS.contains(key) {
                builder.set_override(*key, split_list(value))?
            } else {
                builder.set_override(*key, *value)?
            };
        }
        let mut settings: Self = builder.build()?.try_deserialize()?;
        settings.environment = "test".to_owned();
        settings.validate()?;
        Ok(settings)
    }

    /// Settings for Latch embedded in another service: Latch's defaults
    /// under `toml` (say, the host's `[latch]` table), in `environment`
    /// (`production` applies the production guard). Reads no file and no
    /// environment variable: the host decides.
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn from_toml(toml: &str, environment: &str) -> Result<Self, SettingsError> {
        let config = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::from_str(toml, FileFormat::Toml))
            .build()?;
        Self::checked(config, environment)
    }

    fn load_from(config_dir: &Path, environment: &str, env: Environment) -> Result<Self, SettingsError> {
        let overlay = config_dir.join(format!("{environment}.toml"));
        let env = LIST_KEYS.iter().fold(
            env.prefix("LATCH")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(","),
            |env, key| env.with_list_parse_key(key),
        );
        let config = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::from(overlay).required(false))
            .add_source(env)
            .build()?;
        Self::checked(config, environment)
    }

    /// The settings `config` holds, for `environment`, validated (and held
    /// to the production guard in production).
    fn checked(config: Config, environment: &str) -> Result<Self, SettingsError> {
        let mut settings: Self = config.try_deserialize()?;
        settings.environment = environment.to_owned();
        settings.validate()?;
        if settings.is_production() {
            crate::production::refuse_unsafe(&settings)?;
        }
        Ok(settings)
    }

    /// Whether this is a production deployment.
    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }

    /// The database URL, defaulting to a SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose_secret().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("latch.db").display()),
        }
    }

    /// Checks what the types alone cannot: numeric bounds and rules between
    /// keys. (Values that need parsing were parsed as they were read.)
    fn validate(&self) -> Result<(), SettingsError> {
        if let Some(url) = &self.http.public_url
            && !valid_public_url(url)
        {
            return Err(SettingsError::invalid(
                "http.public_url",
                "must be an http:// or https:// URL with a host, without query, fragment or trailing slash",
            ));
        }
        let introspection = &self.introspection;
        if introspection.client_id.is_some() != introspection.client_secret.is_some()
            || introspection.client_id.as_deref() == Some("")
            || introspection
                .client_secret
                .as_ref()
                .is_some_and(|s| s.expose_secret().is_empty())
        {
            return Err(SettingsError::invalid(
                "introspection.client_id",
                "introspection.client_id and introspection.client_secret are set together, neither empty",
            ));
        }
        if !(1..=MAX_KEY_RELOAD_SECONDS).contains(&self.keys.reload_seconds) {
            return Err(SettingsError::invalid(
                "keys.reload_seconds",
                format!("must be between 1 and {MAX_KEY_RELOAD_SECONDS}"),
            ));
        }
        if !(MIN_LEASE_MILLIS..=MAX_LEASE_MILLIS).contains(&self.session_cache.lease_millis) {
            return Err(SettingsError::invalid(
                "session_cache.lease_millis",
                "must be between 100 and 60000",
            ));
        }
        if self.passwords.min_length == 0 || self.passwords.min_length > self.passwords.max_length {
            return Err(SettingsError::invalid(
                "passwords.min_length",
                "must be at least 1 and at most passwords.max_length",
            ));
        }
        let limits = &self.rate_limit;
        if limits.window_seconds == 0 {
            return Err(SettingsError::invalid(
                "rate_limit.window_seconds",
                "must be positive (set a budget to 0 to lift it)",
            ));
        }
        if limits.login_backoff_base_seconds == 0
            || limits.login_backoff_base_seconds > limits.login_backoff_max_seconds
        {
            return Err(SettingsError::invalid(
                "rate_limit.login_backoff_base_seconds",
                "must be at least 1 and at most rate_limit.login_backoff_max_seconds",
            ));
        }
        if self.passwords.min_character_classes > 4 {
            return Err(SettingsError::invalid(
                "passwords.min_character_classes",
                "must be 0 to 4 (lowercase, uppercase, digit, other)",
            ));
        }
        if self.passwords.max_length > 1024 {
            return Err(SettingsError::invalid(
                "passwords.max_length",
                "must be at most 1024",
            ));
        }
        if self.tokens.access_ttl_seconds == 0 {
            return Err(SettingsError::invalid(
                "tokens.access_ttl_seconds",
                "must be positive",
            ));
        }
        if self.tokens.session_max_age_seconds == 0 || self.tokens.refresh_idle_ttl_seconds == 0 {
            return Err(SettingsError::invalid(
                "tokens.session_max_age_seconds",
                "lifetimes must be positive",
            ));
        }
        // A wildcard that may send cookies lets every site act as the user.
        if self.cors.allowed_origins.is_wildcard() && self.cors.allow_credentials {
            return Err(SettingsError::invalid(
                "cors.allowed_origins",
                "\"*\" cannot be combined with cors.allow_credentials = true; list the origins",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(SettingsError::invalid(
                "database.max_connections",
                "must be positive",
            ));
        }
        for (key, millis) in [
            ("database.acquire_timeout_ms", self.database.acquire_timeout_ms),
            (
                "database.statement_timeout_ms",
                self.database.statement_timeout_ms,
            ),
        ] {
            if millis == 0 {
                return Err(SettingsError::invalid(key, "must be positive"));
            }
        }
        if self.purge.interval_seconds == 0 {
            return Err(SettingsError::invalid(
                "purge.interval_seconds",
                "must be positive (set purge.enabled = false to turn purging off)",
            ));
        }
        if self.purge.batch_size == 0 || self.purge.batch_size > MAX_PURGE_BATCH_SIZE {
            return Err(SettingsError::invalid(
                "purge.batch_size",
                format!("must be 1 to {MAX_PURGE_BATCH_SIZE}"),
            ));
        }
        self.email.validate()?;
        self.mfa.validate()
    }
}

impl EmailSettings {
    /// The `[email]` rules: usable links, lifetimes and SMTP login.
    fn validate(&self) -> Result<(), SettingsError> {
        if !valid_public_url(&self.link_base_url) {
            return Err(SettingsError::invalid(
                "email.link_base_url",
                "must be an http:// or https:// URL with a host, without query or fragment",
            ));
        }
        // The parser the mail adapters use, so what loads here also sends.
        if let Err(latch_mailer::MailerConfigError::From(err)) = latch_mailer::LogMailer::new(&self.from) {
            return Err(SettingsError::invalid(
                "email.from",
                format!(
                    "{:?} is not an email address or `Name <address>`: {err}",
                    self.from
                ),
            ));
        }
        for (key, seconds) in [
            ("email.verification_ttl_seconds", self.verification_ttl_seconds),
            ("email.reset_ttl_seconds", self.reset_ttl_seconds),
        ] {
            if seconds < MIN_LINK_TTL_SECONDS {
                return Err(SettingsError::invalid(
                    key,
                    format!("must be at least {MIN_LINK_TTL_SECONDS}"),
                ));
            }
        }
        if self.smtp_port == 0 {
            return Err(SettingsError::invalid("email.smtp_port", "must not be 0"));
        }
        if self.outbox_poll_interval_ms < 10 {
            return Err(SettingsError::invalid(
                "email.outbox_poll_interval_ms",
                "must be at least 10",
            ));
        }
        if self.retry_base_seconds == 0 {
            return Err(SettingsError::invalid(
                "email.retry_base_seconds",
                "must be at least 1",
            ));
        }
        if self.smtp_timeout_seconds == 0 {
            return Err(SettingsError::invalid(
                "email.smtp_timeout_seconds",
                "must be positive",
            ));
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some()
            || self.smtp_username.as_deref() == Some("")
            || self
                .smtp_password
                .as_ref()
                .is_some_and(|s| s.expose_secret().is_empty())
        {
            return Err(SettingsError::invalid(
                "email.smtp_username",
                "email.smtp_username and email.smtp_password are set together, neither empty",
            ));
        }
        // Nobody could ever verify an address, so nobody could log in.
        if self.require_verified_for_login && self.transport == EmailTransport::None {
            return Err(SettingsError::invalid(
                "email.require_verified_for_login",
                "cannot be true with email.transport = \"none\": no verification email could be sent, so no account could log in",
            ));
        }
        Ok(())
    }
}

// Values that need parsing are parsed as they are read, so a bad one stops
// loading with its key named: the `config` crate appends the key to the message.

/// A string value, parsed by `parse`.
fn parsed<'de, D, T, E>(deserializer: D, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: std::fmt::Display,
{
    let value = String::deserialize(deserializer)?;
    parse(&value).map_err(D::Error::custom)
}

/// A unit variant of `T` by its serde name, exactly. Read through serde's own
/// string deserializer, whose error lists the accepted names (the `config`
/// crate's names only the Rust type).
fn variant<'de, D: Deserializer<'de>, T: DeserializeOwned>(deserializer: D) -> Result<T, D::Error> {
    parsed(deserializer, |value| {
        T::deserialize(IntoDeserializer::<ValueError>::into_deserializer(value))
    })
}

/// `http.forwarded_header`.
fn forwarded_header<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ForwardedHeader, D::Error> {
    parsed(deserializer, ForwardedHeader::parse)
}

/// `http.trusted_proxies`: addresses or CIDR ranges.
fn trusted_proxies<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|entry| TrustedProxies::parse_entry(entry))
        .collect::<Result<_, _>>()
        .map_err(D::Error::custom)
}

/// `cors.allowed_origins`: `scheme://host[:port]` origins, or `*`.
fn allowed_origins<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AllowedOrigins, D::Error> {
    AllowedOrigins::parse(&Vec::<String>::deserialize(deserializer)?).map_err(D::Error::custom)
}

/// `cookies.same_site`: `lax`, `strict` or `none`, in any case.
fn same_site<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SameSite, D::Error> {
    parsed(deserializer, |value| match value.to_ascii_lowercase().as_str() {
        "lax" => Ok(SameSite::Lax),
        "strict" => Ok(SameSite::Strict),
        "none" => Ok(SameSite::None),
        _ => Err(format!("{value:?} is not lax, strict or none")),
    })
}

/// `email.link_base_url`, without trailing slashes (links add their path).
fn link_base_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(String::deserialize(deserializer)?
        .trim_end_matches('/')
        .to_owned())
}

/// `tiers.default`.
fn tier_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TierName, D::Error> {
    parsed(deserializer, |value| {
        TierName::parse(value).map_err(|err| err.message)
    })
}

/// `"a, b"` → `["a", "b"]`; an empty string is an empty list.
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        let map = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Environment::default().source(Some(map))
    }

    /// Asserts that `key` set to each value loads as its expected `read` result.
    fn assert_reads<T: PartialEq + std::fmt::Debug>(
        key: &str,
        read: impl Fn(&Settings) -> T,
        cases: &[(&str, T)],
    ) {
        for (value, expected) in cases {
            let settings = Settings::with_overrides(&[(key, value)]).unwrap();
            assert_eq!(read(&settings), *expected, "{key} = {value}");
        }
    }

    /// Why development settings with the variables `vars` do not load.
    fn load_error(vars: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        Settings::load_from(dir.path(), "development", env(vars))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_load() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load_from(dir.path(), "development", env(&[])).unwrap();
        assert_eq!(settings.http.port, 8080);
        assert_eq!(settings.tokens.algorithm, Algorithm::EdDSA);
        assert!(!settings.cookies.secure);
        assert!(settings.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn env_vars_override_with_double_underscores() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::load_from(dir.path(), "development", env(&[("LATCH__HTTP__PORT", "9000")])).unwrap();
        assert_eq!(settings.http.port, 9000);
    }

    #[test]
    fn environment_overlay_applies() {
        let dir = tempfile::tempdir().unwrap();
        let overlay = "[cookies]\nsecure = true\n[email]\ntransport = \"none\"\n";
        std::fs::write(dir.path().join("production.toml"), overlay).unwrap();
        let vars = [
            ("LATCH__DATABASE__URL", "postgres://latch@db/latch"),
            (
                "LATCH__KEYS__MASTER_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ];
        let settings = Settings::load_from(dir.path(), "production", env(&vars)).unwrap();
        assert!(settings.cookies.secure);
        assert!(settings.is_production());
    }

    #[test]
    fn production_refuses_development_settings() {
        let dir = tempfile::tempdir().unwrap();
        let err = Settings::load_from(dir.path(), "production", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cookies.secure"), "{err}");
    }

    #[test]
    fn a_public_url_must_prefix_paths() {
        for bad in [
            "auth.example.com",
            "https://",
            "https://auth.example.com/",
            "https://a.example?x=1",
            "ftp://a.example",
        ] {
            let err = load_error(&[("LATCH__HTTP__PUBLIC_URL", bad)]);
            assert!(err.contains("http.public_url"), "{bad}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let vars = [("LATCH__HTTP__PUBLIC_URL", "https://example.com/auth")];
        Settings::load_from(dir.path(), "development", env(&vars)).unwrap();
    }

    #[test]
    fn introspection_credentials_come_as_a_pair() {
        let err = load_error(&[("LATCH__INTROSPECTION__CLIENT_ID", "api")]);
        assert!(err.contains("introspection.client_id"), "{err}");
        let err = load_error(&[("LATCH__INTROSPECTION__CLIENT_SECRET", "s3cret")]);
        assert!(err.contains("introspection.client_id"), "{err}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = load_error(&[("LATCH__HTTP__PORT", "eighty")]);
        assert!(err.contains("http.port"), "{err}");
        let err = load_error(&[("LATCH__TOKENS__ALGORITHM", "none")]);
        assert!(err.contains("tokens.algorithm"), "{err}");
    }

    #[test]
    fn the_token_algorithm_is_read_in_any_case() {
        assert_reads(
            "tokens.algorithm",
            |settings| settings.tokens.algorithm,
            &[
                ("EdDSA", Algorithm::EdDSA),
                ("rs256", Algorithm::RS256),
                ("HS256", Algorithm::HS256),
            ],
        );
    }

    #[test]
    fn the_same_site_value_is_read_in_any_case() {
        assert_reads(
            "cookies.same_site",
            |settings| settings.cookies.same_site,
            &[
                ("lax", SameSite::Lax),
                ("Strict", SameSite::Strict),
                ("NONE", SameSite::None),
            ],
        );
    }

    #[test]
    fn an_unknown_same_site_value_names_its_key() {
        let err = load_error(&[("LATCH__COOKIES__SAME_SITE", "relaxed")]);
        assert!(err.contains("cookies.same_site"), "{err}");
    }

    #[test]
    fn every_coherence_is_read_by_its_documented_name() {
        assert_reads(
            "session_cache.coherence",
            |settings| settings.session_cache.coherence,
            &[
                ("auto", CoherenceSetting::Auto),
                ("single_process", CoherenceSetting::SingleProcess),
                ("change_log", CoherenceSetting::ChangeLog),
                ("lease", CoherenceSetting::Lease),
            ],
        );
    }

    #[test]
    fn an_unknown_coherence_names_its_key() {
        let err = load_error(&[("LATCH__SESSION_CACHE__COHERENCE", "Lease")]);
        assert!(err.contains("session_cache.coherence"), "{err}");
    }

    #[test]
    fn both_log_formats_are_read_by_name() {
        assert_reads(
            "log.format",
            |settings| settings.log.format,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        );
    }

    #[test]
    fn an_unknown_log_format_names_its_key() {
        let err = load_error(&[("LATCH__LOG__FORMAT", "logfmt")]);
        assert!(err.contains("log.format"), "{err}");
    }

    #[test]
    fn a_bad_default_tier_names_its_key() {
        let settings = Settings::with_overrides(&[]).unwrap();
        assert_eq!(settings.tiers.default.as_str(), "free");
        let err = Settings::with_overrides(&[("tiers.default", "gold plus")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("tiers.default"), "{err}");
    }

    #[test]
    fn lists_come_comma_separated_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [
            ("LATCH__HTTP__TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1"),
            ("LATCH__CORS__ALLOWED_ORIGINS", "https://app.example.com"),
        ];
        let settings = Settings::load_from(dir.path(), "development", env(&vars)).unwrap();
        let proxies = ["10.0.0.0/8", "192.168.1.1/32"].map(|net| net.parse::<IpNet>().unwrap());
        assert_eq!(settings.http.trusted_proxies, proxies);
        let origins = AllowedOrigins::parse(&["https://app.example.com"]).unwrap();
        assert_eq!(settings.cors.allowed_origins, origins);
    }

    #[test]
    fn wildcard_cors_with_credentials_is_refused_in_any_environment() {
        let err = load_error(&[("LATCH__CORS__ALLOWED_ORIGINS", "*")]);
        assert!(err.contains("cors.allowed_origins"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let vars = [
            ("LATCH__CORS__ALLOWED_ORIGINS", "*"),
            ("LATCH__CORS__ALLOW_CREDENTIALS", "false"),
        ];
        Settings::load_from(dir.path(), "development", env(&vars)).unwrap();
    }

    #[test]
    fn bad_origins_and_proxies_name_their_key() {
        let err = Settings::with_overrides(&[("cors.allowed_origins", "app.example.com")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cors.allowed_origins"), "{err}");
        let err = Settings::with_overrides(&[("http.trusted_proxies", "proxy.internal")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.trusted_proxies"), "{err}");
    }

    #[test]
    fn the_forwarded_header_defaults_to_x_forwarded_for_and_a_bad_one_names_its_key() {
        let settings = Settings::with_overrides(&[]).unwrap();
        assert_eq!(settings.http.forwarded_header, ForwardedHeader::XForwardedFor);
        let settings = Settings::with_overrides(&[("http.forwarded_header", "Forwarded")]).unwrap();
        assert_eq!(settings.http.forwarded_header, ForwardedHeader::Forwarded);
        let err = load_error(&[("LATCH__HTTP__FORWARDED_HEADER", "x-real-ip")]);
        assert!(err.contains("http.forwarded_header"), "{err}");
    }

    #[test]
    fn purge_defaults_and_zero_interval_or_batch_are_refused() {
        let settings = Settings::with_overrides(&[]).unwrap();
        assert!(settings.purge.enabled);
        assert_eq!(settings.purge.interval_seconds, 60);
        assert_eq!(settings.purge.batch_size, 1000);
        assert_eq!(settings.purge.retention_seconds, 604_800);
        for (key, value) in [
            ("purge.interval_seconds", "0"),
            ("purge.batch_size", "0"),
            ("purge.batch_size", "10001"),
        ] {
            let err = Settings::with_overrides(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains(key), "{key} = {value}: {err}");
        }
        // Retention 0: ended sessions go at the next pass.
        Settings::with_overrides(&[("purge.retention_seconds", "0")]).unwrap();
    }

    #[test]
    fn email_defaults_are_the_documented_ones() {
        let email = Settings::with_overrides(&[]).unwrap().email;
        assert_eq!(email.transport, EmailTransport::Log);
        assert_eq!(email.from, "Latch <no-reply@localhost>");
        assert_eq!(email.link_base_url, "http://127.0.0.1:8080");
        assert_eq!((email.smtp_host.as_str(), email.smtp_port), ("127.0.0.1", 587));
        assert_eq!(email.smtp_tls, SmtpTlsSetting::StartTls);
        assert!(email.smtp_username.is_none() && email.smtp_password.is_none());
        assert_eq!(email.smtp_timeout_seconds, 10);
        assert_eq!(email.verification_ttl_seconds, 86_400);
        assert_eq!(email.reset_ttl_seconds, 3600);
        assert!(email.send_verification_on_signup);
        assert!(!email.require_verified_for_login);
        assert!(email.templates_dir.is_none());
    }

    #[test]
    fn email_transports_and_tls_modes_are_read_by_name() {
        assert_reads(
            "email.transport",
            |settings| settings.email.transport,
            &[
                ("log", EmailTransport::Log),
                ("smtp", EmailTransport::Smtp),
                ("none", EmailTransport::None),
            ],
        );
        assert_reads(
            "email.smtp_tls",
            |settings| settings.email.smtp_tls,
            &[
                ("starttls", SmtpTlsSetting::StartTls),
                ("tls", SmtpTlsSetting::Tls),
                ("none", SmtpTlsSetting::None),
            ],
        );
        for (variable, value, key) in [
            ("LATCH__EMAIL__TRANSPORT", "sendmail", "email.transport"),
            ("LATCH__EMAIL__SMTP_TLS", "ssl", "email.smtp_tls"),
        ] {
            let err = load_error(&[(variable, value)]);
            assert!(err.contains(key), "{value}: {err}");
        }
    }

    #[test]
    fn the_link_base_url_loses_its_trailing_slash_and_must_be_absolute() {
        assert_reads(
            "email.link_base_url",
            |settings| settings.email.link_base_url.clone(),
            &[
                ("https://app.example.com/", "https://app.example.com".to_owned()),
                ("https://example.com/app//", "https://example.com/app".to_owned()),
                ("http://localhost:3000", "http://localhost:3000".to_owned()),
            ],
        );
        for bad in [
            "app.example.com",
            "/verify",
            "https://",
            "ftp://app.example.com",
            "https://app.example.com/?next=1",
            "https://app.example.com/#x",
        ] {
            let err = Settings::with_overrides(&[("email.link_base_url", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("email.link_base_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_email_values_name_their_key() {
        for (overrides, key) in [
            (
                &[("email.verification_ttl_seconds", "59")][..],
                "email.verification_ttl_seconds",
            ),
            (&[("email.reset_ttl_seconds", "0")], "email.reset_ttl_seconds"),
            (&[("email.smtp_port", "0")], "email.smtp_port"),
            (
                &[("email.smtp_timeout_seconds", "0")],
                "email.smtp_timeout_seconds",
            ),
            (&[("email.smtp_username", "latch")], "email.smtp_username"),
            (&[("email.smtp_password", "s3cret")], "email.smtp_username"),
            (
                &[("email.smtp_username", ""), ("email.smtp_password", "s3cret")],
                "email.smtp_username",
            ),
            (&[("email.from", "not an address")], "email.from"),
            (&[("email.from", "Latch <no-reply@>")], "email.from"),
            (
                &[
                    ("email.require_verified_for_login", "true"),
                    ("email.transport", "none"),
                ],
                "email.require_verified_for_login",
            ),
        ] {
            let err = Settings::with_overrides(overrides).unwrap_err().to_string();
            assert!(err.contains(key), "{overrides:?}: {err}");
        }
        let err = load_error(&[("LATCH__EMAIL__SMTP_PORT", "70000")]);
        assert!(err.contains("email.smtp_port"), "{err}");
    }

    #[test]
    fn good_email_values_load() {
        let settings = Settings::with_overrides(&[
            ("email.transport", "smtp"),
            ("email.from", "no-reply@example.com"),
            ("email.smtp_username", "latch"),
            ("email.smtp_password", "s3cret"),
            ("email.verification_ttl_seconds", "60"),
            ("email.require_verified_for_login", "true"),
            ("email.templates_dir", "/etc/latch/templates"),
        ])
        .unwrap();
        assert_eq!(settings.email.smtp_username.as_deref(), Some("latch"));
        assert_eq!(
            settings.email.templates_dir.as_deref(),
            Some(Path::new("/etc/latch/templates"))
        );
        // With the log transport the link can be read from the log.
        Settings::with_overrides(&[("email.require_verified_for_login", "true")]).unwrap();
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let err = load_error(&[("LATCH__HTTP__PROT", "1")]);
        assert!(err.contains("prot"), "{err}");
    }
}
