//! The session-cache lease (`session_cache.coherence = "lease"`): held by a
//! background task while the server runs, released on a clean shutdown so
//! other instances' writes stop waiting for this one at once.

use std::sync::Arc;

use latch_core::AuthService;
use latch_ports::ChangeSignal;

use crate::background::BackgroundTask;

/// The lease keeper, configured and not yet started.
#[derive(Clone)]
pub struct CacheLeaseTask {
    auth: AuthService,
    signal: Arc<dyn ChangeSignal>,
}

impl CacheLeaseTask {
    /// The keeper for `auth`, woken by `signal` when another instance writes.
    pub fn new(auth: AuthService, signal: Arc<dyn ChangeSignal>) -> Self {
        Self { auth, signal }
    }

    /// Starts keeping the lease on its own task (which returns at once when
    /// the coherence is not `lease`). It stops when the guard is dropped.
    pub fn spawn(self) -> BackgroundTask {
        BackgroundTask::spawn(async move {
            self.auth.keep_cache_lease(self.signal).await;
        })
    }

    /// Ends the lease; call after the guard is dropped.
    pub async fn release(&self) {
        self.auth.release_cache_lease().await;
    }
}
