//! `Application::build`: settings in, a bound and running server out.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_web::dev::Server;
use async_trait::async_trait;
use chrono::Duration;
use latch_core::{
    AuthConfig, AuthService, EmailConfig, EmailDelivery, IntrospectionClient, MfaConfig, Ports, SystemClock,
};
use latch_domain::PasswordPolicy;
use latch_http::{CookieSettings, HttpMetrics, HttpState, Readiness, SecuritySettings, TrustedProxies};
use latch_metrics_prometheus::PrometheusMetrics;
use latch_passwords::{Argon2Hasher, HasherConfig};
use latch_ports::{Clock, EmailOutbox, Metrics, NoMetrics, RateLimiter};
use latch_rate_limit::{ActionBudgets, Budget, GovernorRateLimiter, RateLimitConfig};
use latch_rate_limit_redis::RedisRateLimiter;
use latch_session_cache::{CacheCoherence, CacheLease, SessionCacheConfig};
use latch_store_sql::{SqlStore, StoreError, StoreOptions};
use latch_tokens_jwt::KeyError;
use secrecy::ExposeSecret;

use crate::cache_lease::CacheLeaseTask;
use crate::key_ring::KeyRingTask;
use crate::keys::{SigningKeyError, token_codec};
use crate::metrics::ServiceMetrics;
use crate::outbox::OutboxTask;
use crate::purge::PurgeTask;
use crate::settings::{CoherenceSetting, HttpSettings, RateLimitSettings, SessionCacheSettings, Settings};

/// Why the service could not start. Each message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Storage could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing keys could not be loaded.
    #[error(transparent)]
    SigningKey(#[from] SigningKeyError),
    /// `rate_limit.redis_url` is unusable.
    #[error(transparent)]
    Redis(#[from] latch_rate_limit_redis::InvalidRedisUrl),
    /// `[email]` could not be set up (the mailer, or a template).
    #[error(transparent)]
    Email(#[from] crate::email::EmailSetupError),
    /// The token codec rejected the key.
    #[error("token signing: {0}")]
    Tokens(#[from] KeyError),
    /// The password hasher could not be built.
    #[error("password hashing: {0}")]
    Hasher(String),
    /// The data directory could not be created.
    #[error("data_dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configured default tier could not be created.
    #[error("tiers.default: {0}")]
    DefaultTier(String),
    /// The shutdown signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// `host:port`.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running Latch: the bound port, the server future, and the shutdown signals.
pub struct Application {
    port: u16,
    auth: AuthService,
    server: Server,
    /// `metrics.listen`'s server and its bound port.
    metrics_server: Option<(Server, u16)>,
    metrics: Option<Arc<ServiceMetrics>>,
    shutdown: ShutdownSignals,
    purge: Option<PurgeTask>,
    outbox: Option<OutboxTask>,
    lease: CacheLeaseTask,
    key_ring: Option<KeyRingTask>,
}

/// SIGTERM and SIGINT, registered before the service says it is listening, so
/// a supervisor that signals right after never kills it mid-request.
struct ShutdownSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn register() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn received(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Opens the store (creating `data_dir` for SQLite) and optionally migrates.
pub async fn open_store(settings: &Settings, migrate: bool) -> Result<SqlStore, StartupError> {
    let url = settings.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartupError::DataDir {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
    }
    let options = StoreOptions {
        max_connections: settings.database.max_connections,
        acquire_timeout: StdDuration::from_millis(u64::from(settings.database.acquire_timeout_ms)),
        statement_timeout: StdDuration::from_millis(u64::from(settings.database.statement_timeout_ms)),
    };
    let store = SqlStore::connect(&url, &options).await?;
    if migrate {
        store.migrate().await?;
    }
    Ok(store)
}

/// Builds the use-case service on the configured adapters.
pub async fn auth_service(settings: &Settings, store: &SqlStore) -> Result<AuthService, StartupError> {
    Ok(services(settings, store).await?.auth)
}

/// The use-case service and what runs beside it.
pub struct Services {
    /// The use cases, with the session cache in front of the store.
    pub auth: AuthService,
    /// This instance's session-cache lease.
    pub lease: CacheLease,
    /// Keeps the token codec in step with the shared key ring, if one is used.
    pub key_ring: Option<KeyRingTask>,
    /// What the service records, unless `metrics.enabled` is off.
    pub(crate) metrics: Option<Arc<ServiceMetrics>>,
    /// Delivers the outbox's mails, unless `email.transport` is `none`.
    pub outbox: Option<OutboxTask>,
}

/// Builds the use-case service on the configured adapters, with the session
/// cache in front of the store, this instance's cache lease, and the
/// key-ring task.
pub async fn services(settings: &Settings, store: &SqlStore) -> Result<Services, StartupError> {
    let (codec, ring) = token_codec(settings, store).await?;
    let key_ring = ring.map(|ring| KeyRingTask::new(ring, codec.clone(), &settings.keys));
    let tokens = &settings.tokens;
    // One recorder per service, never a process-wide one: tests run many services in one process.
    let prometheus = settings
        .metrics
        .enabled
        .then(|| Arc::new(PrometheusMetrics::new(env!("CARGO_PKG_VERSION"))));
    let recorder: Arc<dyn Metrics> = match &prometheus {
        Some(prometheus) => prometheus.clone(),
        None => Arc::new(NoMetrics),
    };
    let hasher = Argon2Hasher::new(HasherConfig {
        max_concurrent: match settings.passwords.hash_concurrency {
            0 => cores(),
            n => n,
        },
        ..HasherConfig::default()
    })
    .map_err(|err| StartupError::Hasher(err.to_string()))?
    .with_metrics(recorder.clone());
    let hasher = Arc::new(hasher);
    let changes = Arc::new(store.changes());
    let cached = latch_session_cache::wrap(
        Arc::new(store.users()),
        Arc::new(store.sessions()),
        changes.clone(),
        Arc::new(store.leases()),
        &session_cache_config(&settings.session_cache, store),
        recorder.clone(),
    );
    let metrics =
        prometheus.map(|prometheus| Arc::new(ServiceMetrics::new(prometheus, hasher.clone(), store.clone())));
    let outbox: Arc<dyn EmailOutbox> = Arc::new(store.outbox());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let email = &settings.email;
    let delivery = crate::email::mailer(email)?.map(|mailer| {
        let delivery = EmailDelivery::new(outbox.clone(), mailer, clock.clone(), recorder.clone())
            .with_first_retry(Duration::seconds(i64::from(email.retry_base_seconds)));
        OutboxTask::new(
            delivery,
            StdDuration::from_millis(u64::from(email.outbox_poll_interval_ms)),
        )
    });
    let email_config = match delivery {
        Some(_) => Some(EmailConfig {
            link_base_url: email.link_base_url.clone(),
            verification_ttl: Duration::seconds(i64::from(email.verification_ttl_seconds)),
            reset_ttl: Duration::seconds(i64::from(email.reset_ttl_seconds)),
            send_verification_on_signup: email.send_verification_on_signup,
            require_verified_for_login: email.require_verified_for_login,
            templates: crate::email::templates(email)?,
        }),
        None => None,
    };
    let second_factors = cached.second_factors(Arc::new(store.second_factors()));
    let ports = Ports {
        users: cached.users,
        sessions: cached.sessions,
        tiers: Arc::new(store.tiers()),
        email_links: Arc::new(store.email_links()),
        outbox,
        second_factors,
        mfa_challenges: Arc::new(store.mfa_challenges()),
        sealer: Arc::new(crate::keys::master_key(settings)?),
        audit: Arc::new(store.audit()),
        changes,
        hasher,
        tokens: codec,
        limiter: rate_limiter(&settings.rate_limit)?,
        clock,
        metrics: recorder,
    };
    let seconds = |s: u32| Duration::seconds(i64::from(s));
    let config = AuthConfig {
        access_ttl: seconds(tokens.access_ttl_seconds),
        refresh_idle_ttl: seconds(tokens.refresh_idle_ttl_seconds),
        session_max_age: seconds(tokens.session_max_age_seconds),
        refresh_reuse_grace: seconds(tokens.refresh_reuse_grace_seconds),
        session_rotate_before: seconds(tokens.session_rotate_before_seconds),
        password_policy: PasswordPolicy {
            min_length: settings.passwords.min_length,
            max_length: settings.passwords.max_length,
            min_character_classes: settings.passwords.min_character_classes,
            reject_common: settings.passwords.reject_common,
            reject_personal: settings.passwords.reject_personal_info,
        },
        default_tier: settings.tiers.default.clone(),
        introspection_client: settings
            .introspection
            .client_id
            .as_ref()
            .zip(settings.introspection.client_secret.as_ref())
            .map(|(id, secret)| IntrospectionClient::new(id.clone(), secret)),
        email: email_config,
        mfa: MfaConfig {
            issuer: settings.mfa.issuer.trim().to_owned(),
            challenge_ttl: seconds(settings.mfa.challenge_ttl_seconds),
            ..MfaConfig::default()
        },
    };
    let auth = AuthService::new(ports, config);
    auth.ensure_default_tier()
        .await
        .map_err(|err| StartupError::DefaultTier(err.to_string()))?;
    Ok(Services {
        auth,
        lease: cached.lease,
        key_ring,
        metrics,
        outbox: delivery,
    })
}

/// The session cache's configuration from `[session_cache]`; `auto`
/// coherence follows the backend.
fn session_cache_config(cache: &SessionCacheSettings, store: &SqlStore) -> SessionCacheConfig {
    let coherence = match cache.coherence {
        CoherenceSetting::SingleProcess => CacheCoherence::SingleProcess,
        CoherenceSetting::ChangeLog => CacheCoherence::ChangeLog,
        CoherenceSetting::Lease => CacheCoherence::Lease,
        CoherenceSetting::Auto if store.backend_name() == "sqlite" => CacheCoherence::SingleProcess,
        // No query per authenticated request, and a logout still honoured everywhere at once.
        CoherenceSetting::Auto => CacheCoherence::Lease,
    };
    SessionCacheConfig {
        capacity: usize::try_from(cache.capacity).unwrap_or(usize::MAX),
        max_age: StdDuration::from_secs(u64::from(cache.max_age_seconds)),
        coherence,
        lease: StdDuration::from_millis(u64::from(cache.lease_millis)),
    }
}

/// Counts in Redis when `rate_limit.redis_url` is set (shared by every
/// instance), else in this process.
fn rate_limiter(limits: &RateLimitSettings) -> Result<Arc<dyn RateLimiter>, StartupError> {
    let config = rate_limit_config(limits);
    Ok(match &limits.redis_url {
        Some(url) => Arc::new(RedisRateLimiter::new(
            url.expose_secret(),
            config,
            limits.redis_prefix.clone(),
        )?),
        None => Arc::new(GovernorRateLimiter::new(config)),
    })
}

/// The limiter's configuration from `[rate_limit]`.
fn rate_limit_config(limits: &RateLimitSettings) -> RateLimitConfig {
    let window = StdDuration::from_secs(u64::from(limits.window_seconds));
    let budget = |attempts| Budget::new(attempts, window);
    RateLimitConfig {
        enabled: limits.enabled,
        per_ip: ActionBudgets {
            signup: budget(limits.signup_per_ip),
            login: budget(limits.login_per_ip),
            refresh: budget(limits.refresh_per_ip),
            password_change: budget(limits.password_change_per_ip),
            username_change: budget(limits.username_change_per_ip),
            introspect: budget(limits.introspect_per_ip),
            verification_request: budget(limits.verification_request_per_ip),
            password_reset_request: budget(limits.password_reset_request_per_ip),
            link_confirm: budget(limits.link_confirm_per_ip),
        },
        per_account: ActionBudgets {
            signup: budget(limits.signup_per_account),
            login: budget(limits.login_per_account),
            // Refresh tokens are 256 random bits: nothing to guess per account.
            refresh: Budget::UNLIMITED,
            password_change: budget(limits.password_change_per_account),
            username_change: budget(limits.username_change_per_account),
            introspect: Budget::UNLIMITED,
            verification_request: budget(limits.verification_request_per_account),
            password_reset_request: budget(limits.password_reset_request_per_account),
            // A link's token is 256 random bits, like a refresh token.
            link_confirm: Budget::UNLIMITED,
        },
        free_failures: limits.login_free_failures,
        backoff_base: StdDuration::from_secs(u64::from(limits.login_backoff_base_seconds)),
        backoff_max: StdDuration::from_secs(u64::from(limits.login_backoff_max_seconds)),
        ..RateLimitConfig::default()
    }
}

/// `http.public_url`, else the address Latch listens on.
fn public_url(http: &HttpSettings, port: u16) -> String {
    if let Some(url) = &http.public_url {
        return url.clone();
    }
    match http.host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("http://[{ip}]:{port}"),
        _ => format!("http://{}:{port}", http.host),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Binds `address` and serves only `/metrics` there.
fn metrics_server(
    metrics: &Arc<ServiceMetrics>,
    address: std::net::SocketAddr,
) -> Result<(Server, u16), StartupError> {
    let bind_error = |source| StartupError::Bind {
        address: format!("{address} (metrics.listen)"),
        source,
    };
    let listener = TcpListener::bind(address).map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    let server = latch_http::serve_metrics(listener, metrics.clone()).map_err(bind_error)?;
    Ok((server, port))
}

/// A server running on its own task, told to stop when this is dropped.
struct StopOnDrop(actix_web::dev::ServerHandle);

impl StopOnDrop {
    fn spawn(server: Server) -> Self {
        let handle = server.handle();
        tokio::spawn(server);
        Self(handle)
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // The stop command is queued at once; the returned future only waits for it to finish.
        drop(self.0.stop(false));
    }
}

/// `/readyz` asks the database.
struct StoreReadiness(SqlStore);

#[async_trait]
impl Readiness for StoreReadiness {
    async fn ready(&self) -> bool {
        tokio::time::timeout(StdDuration::from_secs(2), self.0.ping())
            .await
            .unwrap_or(false)
    }
}

/// Where Latch's routes are mounted, and the URL clients reach them at.
#[derive(Debug, Clone)]
pub struct Mount {
    /// `""` when Latch serves alone; a host's prefix (`/auth`) when embedded.
    pub path: String,
    /// The URL of the mount as clients see it, without a trailing slash
    /// (`https://app.example.com/auth`): the discovery document starts with it.
    pub public_url: String,
}

/// Latch wired on an open store: its HTTP state, and the tasks that run beside it.
pub(crate) struct Assembled {
    pub(crate) auth: AuthService,
    pub(crate) state: HttpState,
    pub(crate) purge: Option<PurgeTask>,
    pub(crate) outbox: Option<OutboxTask>,
    pub(crate) lease: CacheLeaseTask,
    pub(crate) key_ring: Option<KeyRingTask>,
    pub(crate) metrics: Option<Arc<ServiceMetrics>>,
}

/// Builds the use cases on `store` and the HTTP state for `mount`.
pub(crate) async fn assemble(
    settings: &Settings,
    store: SqlStore,
    mount: Mount,
) -> Result<Assembled, StartupError> {
    let Services {
        auth,
        lease,
        key_ring,
        metrics,
        outbox,
    } = services(settings, &store).await?;
    let cookies = CookieSettings {
        secure: settings.cookies.secure,
        same_site: settings.cookies.same_site,
        access_name: settings.cookies.access_name.clone(),
        refresh_name: settings.cookies.refresh_name.clone(),
        mount_path: mount.path,
    };
    let security = SecuritySettings {
        allowed_origins: settings.cors.allowed_origins.clone(),
        allow_credentials: settings.cors.allow_credentials,
        hsts: settings.cookies.secure,
        trusted_proxies: TrustedProxies::new(
            settings.http.trusted_proxies.clone(),
            settings.http.forwarded_header,
        ),
    };
    let purge = PurgeTask::new(auth.clone(), &settings.purge);
    let lease = CacheLeaseTask::new(lease, store.change_signal());
    let state = HttpState {
        auth: auth.clone(),
        cookies,
        security,
        log_request_bodies: settings.log.request_bodies,
        readiness: Box::new(StoreReadiness(store)),
        public_url: mount.public_url,
        metrics: metrics.clone().map(|metrics| metrics as Arc<dyn HttpMetrics>),
        metrics_route: settings.metrics.listen.is_none(),
    };
    Ok(Assembled {
        auth,
        state,
        purge,
        outbox,
        lease,
        key_ring,
        metrics,
    })
}

impl Application {
    /// Opens storage, loads keys, binds the port and starts serving.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        for warning in crate::production::warnings(&settings) {
            tracing::warn!("{warning}");
        }
        let store = open_store(&settings, settings.database.migrate_on_start).await?;
        let shutdown = ShutdownSignals::register().map_err(StartupError::Signals)?;
        let address = format!("{}:{}", settings.http.host, settings.http.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?
            .port();
        // Shown because a loopback PostgreSQL URL without `sslmode` is reached without TLS.
        let database_tls = store.uses_tls().await.ok().flatten();
        let backend = store.backend_name();
        let mount = Mount {
            path: String::new(),
            public_url: public_url(&settings.http, port),
        };
        let Assembled {
            auth,
            state,
            purge,
            outbox,
            lease,
            key_ring,
            metrics,
        } = assemble(&settings, store, mount).await?;
        let workers = match settings.http.workers {
            0 => cores(),
            n => n,
        };
        let server = latch_http::serve(listener, state, workers).map_err(|source| StartupError::Bind {
            address: format!("port {port}"),
            source,
        })?;
        let metrics_server = match (&metrics, settings.metrics.listen) {
            (Some(metrics), Some(address)) => Some(metrics_server(metrics, address)?),
            _ => None,
        };
        let metrics_port = metrics_server.as_ref().map(|(_, port)| *port);
        tracing::info!(port, metrics_port, backend, database_tls, environment = %settings.environment, "latch is listening");
        Ok(Self {
            port,
            auth,
            server,
            metrics_server,
            metrics,
            shutdown,
            purge,
            outbox,
            lease,
            key_ring,
        })
    }

    /// The port actually bound (useful with `http.port = 0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on apart from the API (`metrics.listen`), if it is.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// The service behind the HTTP layer.
    pub fn auth(&self) -> &AuthService {
        &self.auth
    }

    /// This instance's session-cache lease, e.g. to ask whether it is held.
    pub fn cache_lease(&self) -> &CacheLease {
        self.lease.lease()
    }

    /// Serves until SIGTERM/SIGINT, then stops accepting connections and
    /// finishes in-flight requests (for at most 30 s) before returning.
    /// The background purge (`[purge]`) runs while serving and stops first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            metrics_server,
            metrics,
            mut shutdown,
            purge,
            outbox,
            lease,
            key_ring,
            ..
        } = self;
        // Purges and holds the cache lease while serving; dropping a guard (on any return) stops its task.
        let purging = purge.map(PurgeTask::spawn);
        let delivering = outbox.map(OutboxTask::spawn);
        let leasing = lease.clone().spawn();
        let rereading_keys = key_ring.map(KeyRingTask::spawn);
        let metrics_upkeep = metrics.as_ref().map(ServiceMetrics::spawn_upkeep);
        // Stopped (without waiting for scrapes in flight) however serving ends.
        let metrics_server = metrics_server.map(|(server, _)| StopOnDrop::spawn(server));
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => return result,
            () = shutdown.received() => tracing::info!("shutdown signal received; finishing in-flight requests"),
        }
        drop(purging);
        drop(delivering);
        drop(leasing);
        drop(rereading_keys);
        drop(metrics_upkeep);
        drop(metrics_server);
        // Writers elsewhere stop waiting for this instance; its requests read the log meanwhile.
        lease.release().await;
        // The server future processes the stop command: keep polling it meanwhile.
        let ((), result) = tokio::join!(handle.stop(true), server);
        result
    }
}
