//! The service's metrics: the Prometheus adapter that the core, the hasher
//! and the session cache record into, the HTTP layer's view of it, the
//! gauges sampled at each scrape, and the upkeep that folds histogram
//! samples into buckets between scrapes.

use std::sync::Arc;
use std::time::Duration;

use latch_http::HttpMetrics;
use latch_metrics_prometheus::PrometheusMetrics;
use latch_passwords::Argon2Hasher;
use latch_store_sql::SqlStore;
use tokio::time::MissedTickBehavior;

use crate::background::BackgroundTask;

/// Between two upkeeps each histogram keeps its raw samples (8 bytes each):
/// every few seconds bounds them to a few seconds' worth of requests.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// One service's metrics and what its gauges are read from.
pub(crate) struct ServiceMetrics {
    prometheus: Arc<PrometheusMetrics>,
    hasher: Arc<Argon2Hasher>,
    store: SqlStore,
}

impl ServiceMetrics {
    pub(crate) fn new(
        prometheus: Arc<PrometheusMetrics>,
        hasher: Arc<Argon2Hasher>,
        store: SqlStore,
    ) -> Self {
        Self {
            prometheus,
            hasher,
            store,
        }
    }

    /// Folds histogram samples into their buckets every few seconds, for as
    /// long as the returned guard lives.
    pub(crate) fn spawn_upkeep(self: &Arc<Self>) -> BackgroundTask {
        let metrics = Arc::clone(self);
        BackgroundTask::spawn(async move {
            let mut ticks = tokio::time::interval(UPKEEP_EVERY);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                metrics.prometheus.run_upkeep();
            }
        })
    }
}

impl HttpMetrics for ServiceMetrics {
    fn request(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        self.prometheus.http_request(method, route, status, elapsed);
    }

    /// Samples the hashing pool and the database pool, then renders.
    fn render(&self) -> String {
        let load = self.hasher.load();
        self.prometheus
            .hashing_load(load.running, load.queued, load.slots);
        if let Some(pool) = self.store.pool_usage() {
            self.prometheus.db_pool(pool.open, pool.idle, pool.max);
        }
        self.prometheus.render()
    }
}
