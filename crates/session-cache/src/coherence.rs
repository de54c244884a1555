//! Serving a read from the cache only once it holds every change other
//! instances recorded before the read arrived.

use std::future::Future;
use std::sync::Arc;

use latch_domain::SessionId;
use latch_ports::{AuthChangeLog, Metrics, RepositoryError, SessionWithUser};

use crate::CacheCoherence;
use crate::cache::SessionCache;
use crate::lease::Lease;
use crate::version_reads::VersionReads;

/// The cache, and how this instance keeps it up with the others' writes.
pub(crate) struct Coherence {
    /// The entries.
    pub(crate) cache: SessionCache,
    mode: CacheCoherence,
    changes: Arc<dyn AuthChangeLog>,
    /// Shares the per-request version reads between concurrent requests.
    versions: VersionReads,
    /// Present in `Lease` coherence.
    lease: Option<Arc<Lease>>,
    /// Counts hits and misses.
    metrics: Arc<dyn Metrics>,
}

impl Coherence {
    pub(crate) fn new(
        cache: SessionCache,
        mode: CacheCoherence,
        changes: Arc<dyn AuthChangeLog>,
        lease: Option<Arc<Lease>>,
        metrics: Arc<dyn Metrics>,
    ) -> Self {
        Self {
            cache,
            mode,
            changes,
            versions: VersionReads::default(),
            lease,
            metrics,
        }
    }

    /// The session `id` and its user: from the cache when it holds them,
    /// otherwise from `read`, whose answer is kept unless a write raced it.
    pub(crate) async fn session_with_user<F>(
        &self,
        id: SessionId,
        read: F,
    ) -> Result<Option<SessionWithUser>, RepositoryError>
    where
        F: Future<Output = Result<Option<SessionWithUser>, RepositoryError>>,
    {
        if self.must_read_version() {
            self.catch_up().await?;
        }
        if let Some(hit) = self.cache.get(id) {
            self.metrics.session_cache(true);
            return Ok(Some(hit));
        }
        self.metrics.session_cache(false);
        let ticket = self.cache.ticket();
        let found = read.await?;
        if let Some(found) = &found {
            self.cache.fill(ticket, found.clone());
        }
        Ok(found)
    }

    /// Whether a read must first learn the change log's latest version.
    fn must_read_version(&self) -> bool {
        match self.mode {
            CacheCoherence::SingleProcess => false,
            CacheCoherence::ChangeLog => true,
            // The lease keeper applies changes as they come; without a live lease, read.
            CacheCoherence::Lease => !self.lease.as_ref().is_some_and(|lease| lease.held()),
        }
    }

    /// Applies the changes other instances recorded since this one last looked.
    pub(crate) async fn catch_up(&self) -> Result<(), RepositoryError> {
        // Shared with concurrent requests, but always a read that started after this one arrived.
        let latest = self.versions.latest(|| self.changes.latest_version()).await?;
        let applied = self.cache.applied_version();
        // Lower than applied: a concurrent request applied a newer read already.
        if latest > applied {
            let changes = self.changes.changes_between(applied, latest).await?;
            self.cache.apply(applied, latest, &changes);
        }
        Ok(())
    }
}
