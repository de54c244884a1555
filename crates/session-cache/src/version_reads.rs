//! Reading the change log's latest version for many requests at once,
//! without weakening what each request sees.
//!
//! A request must see every change committed before it arrived. Any read of
//! the version that *starts* after the request arrived gives it that, so
//! requests that arrive while a read is running wait for it to finish and
//! share the next one. Under load that turns one round trip per request into
//! one per round-trip time, and a request waits at most about two of them.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct State {
    /// Reads started so far; the running one, if any, is number `started`.
    started: u64,
    /// Whether a read is running.
    running: bool,
    /// The latest read to succeed: its number and the version it returned.
    latest: Option<(u64, u64)>,
}

/// What a caller does next.
enum Next {
    /// A read that started after it arrived returned this version.
    Done(u64),
    /// Run read number `.0` itself.
    Read(u64),
    /// Wait for the running read to finish.
    Wait,
}

/// Shares version reads between concurrent requests.
#[derive(Debug, Default)]
pub(crate) struct VersionReads {
    state: Mutex<State>,
    finished: Notify,
}

impl VersionReads {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state whole.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The latest version, read by a read that started after this call did.
    pub(crate) async fn latest<E, F, R>(&self, read: R) -> Result<u64, E>
    where
        R: Fn() -> F,
        F: Future<Output = Result<u64, E>>,
    {
        // The first read to start from now on is number `needed`.
        let needed = self.state().started + 1;
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            let next = {
                let mut state = self.state();
                match state.latest {
                    Some((number, version)) if number >= needed => Next::Done(version),
                    _ if !state.running => {
                        state.running = true;
                        state.started += 1;
                        Next::Read(state.started)
                    }
                    _ => {
                        // Registered before the lock is released, so the wake-up cannot be missed.
                        finished.as_mut().enable();
                        Next::Wait
                    }
                }
            };
            match next {
                Next::Done(version) => return Ok(version),
                Next::Read(number) => return self.run(number, read()).await,
                Next::Wait => finished.await,
            }
        }
    }

    /// Runs read number `number` and publishes its outcome, also if the
    /// caller stops waiting half-way (then the next waiter starts a read).
    async fn run<E, F>(&self, number: u64, read: F) -> Result<u64, E>
    where
        F: Future<Output = Result<u64, E>>,
    {
        let mut running = Running {
            reads: self,
            over: false,
        };
        let result = read.await;
        if let Ok(version) = result {
            running.reads.state().latest = Some((number, version));
        }
        running.finish();
        result
    }
}

/// Marks the running read as over when dropped, whatever happened to it.
struct Running<'a> {
    reads: &'a VersionReads,
    /// Already marked (the next read may be running by the time this drops).
    over: bool,
}

impl Running<'_> {
    fn finish(&mut self) {
        self.over = true;
        self.reads.state().running = false;
        self.reads.finished.notify_waiters();
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.over {
            self.finish();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    /// A log whose version is bumped by the test, counting reads, each taking 20 ms.
    #[derive(Default)]
    struct SlowLog {
        version: AtomicU64,
        reads: AtomicU64,
    }

    impl SlowLog {
        async fn read(&self) -> Result<u64, ()> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let version = self.version.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(version)
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_reads() {
        let reads = Arc::new(VersionReads::default());
        let log = Arc::new(SlowLog::default());
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let (reads, log) = (Arc::clone(&reads), Arc::clone(&log));
                tokio::spawn(async move { reads.latest(|| log.read()).await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Ok(0));
        }
        let done = log.reads.load(Ordering::SeqCst);
        assert!(done <= 2, "50 callers made {done} reads");
    }

    #[tokio::test]
    async fn a_caller_never_gets_a_read_that_started_before_it() {
        let reads = Arc::new(VersionReads::default());
        let log = Arc::new(SlowLog::default());
        let early = {
            let (reads, log) = (Arc::clone(&reads), Arc::clone(&log));
            tokio::spawn(async move { reads.latest(|| log.read()).await })
        };
        // The early read is running (it saw version 0) when a change lands
        // and a second caller arrives: that caller must see the change.
        tokio::time::sleep(Duration::from_millis(5)).await;
        log.version.store(1, Ordering::SeqCst);
        let late = reads.latest(|| log.read()).await;
        assert_eq!(early.await.unwrap(), Ok(0));
        assert_eq!(late, Ok(1));
    }

    #[tokio::test]
    async fn an_abandoned_read_does_not_block_the_next_callers() {
        let reads = VersionReads::default();
        let log = SlowLog::default();
        let abandoned = tokio::time::timeout(Duration::from_millis(5), reads.latest(|| log.read())).await;
        assert!(abandoned.is_err());
        let next = tokio::time::timeout(Duration::from_secs(5), reads.latest(|| log.read())).await;
        assert_eq!(next.unwrap(), Ok(0));
    }

    #[tokio::test]
    async fn a_failed_read_is_retried_by_the_next_caller() {
        let reads = VersionReads::default();
        let failed: Result<u64, &str> = reads.latest(|| async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        assert_eq!(reads.latest(|| async { Ok::<_, &str>(7) }).await, Ok(7));
    }
}
