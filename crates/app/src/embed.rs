//! Latch inside another actix-web service: its routes under a path of the
//! host's `App`, on the host's database connection, beside the host's routes.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use latch::{EmbeddedLatch, Mount, Settings};
//!
//! # async fn run(db: latch::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::from_toml("[keys]\nreload_seconds = 5\n", "development")?;
//! let mount = Mount { path: "/auth".into(), public_url: "http://127.0.0.1:9000/auth".into() };
//! let latch = EmbeddedLatch::new(&settings, db, mount).await?;
//! HttpServer::new(move || {
//!     App::new()
//!         .service(latch.scope())
//!         .route("/", web::get().to(|| async { "the host's own route" }))
//! })
//! .bind("127.0.0.1:9000")?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{Scope, web};
use latch_core::AuthService;
use latch_http::{HttpMetrics, HttpState};
use latch_store_sql::{DatabaseConnection, SqlStore};

use crate::background::BackgroundTask;
use crate::key_ring::KeyRingTask;
use crate::metrics::ServiceMetrics;
use crate::outbox::OutboxTask;
use crate::purge::PurgeTask;
use crate::settings::Settings;
use crate::startup::{Assembled, Mount, StartupError, assemble};

/// Latch mounted in a host's `App`. Cheap to clone (one per worker);
/// its background work (purge, email delivery, session-cache lease, key-ring reload) runs
/// until the last clone is dropped.
#[derive(Clone)]
pub struct EmbeddedLatch {
    inner: Arc<Inner>,
}

struct Inner {
    state: web::Data<HttpState>,
    auth: AuthService,
    mount_path: String,
    metrics: Option<Arc<ServiceMetrics>>,
    _tasks: Vec<BackgroundTask>,
}

impl EmbeddedLatch {
    /// Latch on `db` (a sea-orm connection; a sqlx pool becomes one with
    /// `sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool`), its routes
    /// at `mount`. Applies Latch's migrations when
    /// `database.migrate_on_start` is on (the default); `database.url` is
    /// not used.
    ///
    /// # Errors
    /// As [`Application::build`](crate::Application::build): migrations,
    /// signing keys, the default tier.
    pub async fn new(
        settings: &Settings,
        db: DatabaseConnection,
        mount: Mount,
    ) -> Result<Self, StartupError> {
        let store = SqlStore::from_connection(db);
        if settings.database.migrate_on_start {
            store.migrate().await?;
        }
        let mount_path = mount.path.clone();
        let Assembled {
            auth,
            state,
            purge,
            outbox,
            lease,
            key_ring,
            metrics,
        } = assemble(settings, store, mount).await?;
        let mut tasks = vec![lease.spawn()];
        tasks.extend(purge.map(PurgeTask::spawn));
        tasks.extend(outbox.map(OutboxTask::spawn));
        tasks.extend(key_ring.map(KeyRingTask::spawn));
        tasks.extend(metrics.as_ref().map(ServiceMetrics::spawn_upkeep));
        Ok(Self {
            inner: Arc::new(Inner {
                state: web::Data::new(state),
                auth,
                mount_path,
                metrics,
                _tasks: tasks,
            }),
        })
    }

    /// Latch's routes under the mount path, for `App::service`.
    pub fn scope(
        &self,
    ) -> Scope<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = actix_web::Error,
            InitError = (),
        > + use<>,
    > {
        latch_http::scope(&self.inner.mount_path, self.inner.state.clone())
    }

    /// The use cases, for the host's own code (create a user, check a token).
    pub fn auth(&self) -> &AuthService {
        &self.inner.auth
    }

    /// Latch's metrics in the Prometheus text format, for a host that serves
    /// them itself (`None` with `metrics.enabled` off). Embedded, Latch opens
    /// no listener: with `metrics.listen` set it does not serve
    /// `{mount}/metrics` either, and this is the way to its metrics.
    pub fn render_metrics(&self) -> Option<String> {
        self.inner.metrics.as_ref().map(|metrics| metrics.render())
    }
}
