//! A task that runs beside the server for as long as its guard lives.

use std::future::Future;

use tokio::task::JoinHandle;

/// Aborts its task when dropped, so no background work outlives the server
/// (a step in progress is abandoned; an open transaction rolls back).
pub struct BackgroundTask(JoinHandle<()>);

impl BackgroundTask {
    /// Spawns `work` on the current runtime.
    pub(crate) fn spawn(work: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(work))
    }
}

impl Drop for BackgroundTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
