//! The session-cache lease (`session_cache.coherence = "lease"`): held by a
//! background task while the server runs, released on a clean shutdown so
//! other instances' writes stop waiting for this one at once.

use std::sync::Arc;

use latch_ports::ChangeSignal;
use latch_session_cache::CacheLease;

use crate::background::BackgroundTask;

/// The lease keeper, configured and not yet started.
#[derive(Clone)]
pub struct CacheLeaseTask {
    lease: CacheLease,
    signal: Arc<dyn ChangeSignal>,
}

impl CacheLeaseTask {
    /// The keeper of `lease`, woken by `signal` when another instance writes.
    pub fn new(lease: CacheLease, signal: Arc<dyn ChangeSignal>) -> Self {
        Self { lease, signal }
    }

    /// The lease kept.
    pub fn lease(&self) -> &CacheLease {
        &self.lease
    }

    /// Starts keeping the lease on its own task (which returns at once when
    /// the coherence is not `lease`). It stops when the guard is dropped.
    pub fn spawn(self) -> BackgroundTask {
        BackgroundTask::spawn(async move {
            self.lease.keep(self.signal).await;
        })
    }

    /// Ends the lease; call after the guard is dropped.
    pub async fn release(&self) {
        self.lease.release().await;
    }
}
