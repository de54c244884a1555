//! Bounded concurrency for blocking work: at most `max_concurrent` jobs run at
//! once and at most `max_queue` callers wait for a slot; the rest are turned
//! away at once, so a login flood costs neither unbounded memory nor latency.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use latch_ports::{HashError, Metrics, NoMetrics};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::threads::HashingThreads;

/// Runs closures on the hashing threads under a semaphore and a queue limit.
pub(crate) struct Limiter {
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    waiting: AtomicUsize,
    max_queue: usize,
    threads: HashingThreads,
    /// Hears how long each job waited for a slot and ran.
    pub(crate) metrics: Arc<dyn Metrics>,
}

/// The hashing pool's occupancy at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLoad {
    /// Hashes running now.
    pub running: usize,
    /// Callers waiting for a free slot.
    pub queued: usize,
    /// Most hashes that run at once.
    pub slots: usize,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("load", &self.load())
            .field("max_queue", &self.max_queue)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter with `max_concurrent` slots (at least one) and room for `max_queue` waiters.
    pub(crate) fn new(max_concurrent: usize, max_queue: usize) -> Result<Self, HashError> {
        // One thread per slot: a job never waits for a thread once it has a slot.
        let threads = HashingThreads::start(max_concurrent)?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            waiting: AtomicUsize::new(0),
            max_queue,
            threads,
            metrics: Arc::new(NoMetrics),
        })
    }

    /// How many hashes run and wait now.
    pub(crate) fn load(&self) -> HashingLoad {
        HashingLoad {
            running: self
                .max_concurrent
                .saturating_sub(self.permits.available_permits()),
            queued: self.waiting.load(Ordering::Acquire),
            slots: self.max_concurrent,
        }
    }

    /// Runs `work` on a hashing thread once a slot is free.
    ///
    /// The slot is released only when `work` returns, even if the caller stops
    /// waiting: a cancelled request must not let more hashes run than allowed.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let queued_at = Instant::now();
        let permit = self.acquire().await.inspect_err(|err| {
            if matches!(err, HashError::Overloaded) {
                self.metrics.hash_overloaded();
            }
        })?;
        self.metrics.hash_waited(queued_at.elapsed());
        let metrics = Arc::clone(&self.metrics);
        self.threads
            .run(move || {
                let _permit = permit;
                let started = Instant::now();
                let result = work();
                metrics.hashed(started.elapsed());
                result
            })
            .await
            .map_err(|_| HashError::Unexpected("hashing task failed".to_owned()))
    }

    async fn acquire(&self) -> Result<OwnedSemaphorePermit, HashError> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::NoPermits) => {}
            Err(TryAcquireError::Closed) => return Err(closed()),
        }
        let _slot = QueueSlot::take(&self.waiting, self.max_queue).ok_or(HashError::Overloaded)?;
        Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| closed())
    }

    /// How many callers are waiting for a slot.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// How many slots are free.
    #[cfg(test)]
    pub(crate) fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Takes every slot, as if that many hashes were running, until the result is dropped.
    #[cfg(test)]
    pub(crate) fn occupy_all(&self) -> Option<OwnedSemaphorePermit> {
        let all = u32::try_from(self.available()).ok()?;
        Arc::clone(&self.permits).try_acquire_many_owned(all).ok()
    }
}

fn closed() -> HashError {
    HashError::Unexpected("hashing limiter closed".to_owned())
}

/// One place in the queue, given back on drop — also when the waiting caller is cancelled.
struct QueueSlot<'a>(&'a AtomicUsize);

impl<'a> QueueSlot<'a> {
    fn take(waiting: &'a AtomicUsize, max_queue: usize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max_queue).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(waiting))
    }
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    use tokio::task::JoinSet;

    use super::*;

    /// Polls `condition` (letting other tasks run) until it holds; fails the test after 10 s.
    pub(crate) async fn until(condition: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !condition() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("condition never became true");
    }

    /// Starts a job that holds a slot until the returned sender is used or dropped.
    fn blocked_job(limiter: &Arc<Limiter>, jobs: &mut JoinSet<Result<(), HashError>>) -> mpsc::Sender<()> {
        let (release, released) = mpsc::channel::<()>();
        let limiter = Arc::clone(limiter);
        jobs.spawn(async move {
            limiter
                .run(move || {
                    let _ = released.recv();
                })
                .await
        });
        release
    }

    /// Waits, hashes and refusals, as the metrics port hears of them.
    #[derive(Default)]
    struct HashCounts {
        waited: AtomicUsize,
        hashed: AtomicUsize,
        overloaded: AtomicUsize,
    }

    impl Metrics for HashCounts {
        fn hash_waited(&self, _: Duration) {
            self.waited.fetch_add(1, Ordering::SeqCst);
        }
        fn hashed(&self, _: Duration) {
            self.hashed.fetch_add(1, Ordering::SeqCst);
        }
        fn hash_overloaded(&self) {
            self.overloaded.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn waits_hashes_refusals_and_load_are_reported() {
        let counts = Arc::new(HashCounts::default());
        let mut limiter = Limiter::new(1, 0).unwrap();
        limiter.metrics = counts.clone();
        limiter.run(|| ()).await.unwrap();
        assert_eq!(counts.waited.load(Ordering::SeqCst), 1);
        assert_eq!(counts.hashed.load(Ordering::SeqCst), 1);

        let held = limiter.occupy_all().unwrap();
        let load = limiter.load();
        assert_eq!((load.running, load.queued, load.slots), (1, 0, 1));
        assert!(matches!(limiter.run(|| ()).await, Err(HashError::Overloaded)));
        assert_eq!(counts.overloaded.load(Ordering::SeqCst), 1);
        assert_eq!(
            counts.hashed.load(Ordering::SeqCst),
            1,
            "a refused job never runs"
        );
        drop(held);
        assert_eq!(limiter.load().running, 0);
    }

    #[tokio::test]
    async fn a_queued_caller_shows_in_the_load() {
        let limiter = Arc::new(Limiter::new(1, 1).unwrap());
        let held = limiter.occupy_all().unwrap();
        let waiter = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.run(|| ()).await })
        };
        until(|| limiter.load().queued == 1).await;
        drop(held);
        waiter.await.unwrap().unwrap();
        assert_eq!(limiter.load().queued, 0);
    }

    #[test]
    fn refuses_zero_slots() {
        assert!(matches!(Limiter::new(0, 10), Err(HashError::Unexpected(_))));
    }

    #[tokio::test]
    async fn returns_the_work_result() {
        let limiter = Limiter::new(1, 0).unwrap();
        assert_eq!(limiter.run(|| 6 * 7).await.unwrap(), 42);
    }

    #[tokio::test]
    async fn caller_beyond_the_queue_limit_is_overloaded_at_once() {
        let limiter = Arc::new(Limiter::new(1, 2).unwrap());
        let mut jobs = JoinSet::new();
        let running = blocked_job(&limiter, &mut jobs);
        until(|| limiter.available() == 0).await;
        let queued = [blocked_job(&limiter, &mut jobs), blocked_job(&limiter, &mut jobs)];
        until(|| limiter.waiting() == 2).await;

        assert!(matches!(limiter.run(|| ()).await, Err(HashError::Overloaded)));

        drop(running);
        drop(queued);
        while let Some(job) = jobs.join_next().await {
            job.unwrap().unwrap();
        }
        assert_eq!(limiter.waiting(), 0);
        limiter.run(|| ()).await.unwrap();
    }

    #[tokio::test]
    async fn zero_queue_still_runs_when_a_slot_is_free() {
        let limiter = Limiter::new(1, 0).unwrap();
        limiter.run(|| ()).await.unwrap();
        let held = limiter.occupy_all().unwrap();
        assert!(matches!(limiter.run(|| ()).await, Err(HashError::Overloaded)));
        drop(held);
        limiter.run(|| ()).await.unwrap();
    }

    #[tokio::test]
    async fn cancelled_waiter_gives_back_its_queue_place() {
        let limiter = Arc::new(Limiter::new(1, 1).unwrap());
        let held = limiter.occupy_all().unwrap();
        let waiter = {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move { limiter.run(|| ()).await })
        };
        until(|| limiter.waiting() == 1).await;
        waiter.abort();
        until(|| limiter.waiting() == 0).await;

        drop(held);
        limiter.run(|| ()).await.unwrap();
    }

    #[tokio::test]
    async fn slot_is_held_until_the_work_ends_even_if_the_caller_is_cancelled() {
        let limiter = Arc::new(Limiter::new(1, 0).unwrap());
        let mut jobs = JoinSet::new();
        let release = blocked_job(&limiter, &mut jobs);
        until(|| limiter.available() == 0).await;

        jobs.abort_all();
        assert!(jobs.join_next().await.unwrap().unwrap_err().is_cancelled());
        assert_eq!(limiter.available(), 0, "the blocking work is still running");

        drop(release);
        until(|| limiter.available() == 1).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_never_exceeds_max_concurrent() {
        const MAX: usize = 2;
        let limiter = Arc::new(Limiter::new(MAX, 64).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        // Jobs meet in pairs, so the test only finishes if MAX really run together.
        let pair = Arc::new(Barrier::new(MAX));

        let mut jobs = JoinSet::new();
        for _ in 0..16 {
            let (limiter, running, peak, pair) = (
                Arc::clone(&limiter),
                Arc::clone(&running),
                Arc::clone(&peak),
                Arc::clone(&pair),
            );
            jobs.spawn(async move {
                limiter
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        pair.wait();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            });
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(job) = jobs.join_next().await {
                job.unwrap().unwrap();
            }
        })
        .await
        .expect("jobs deadlocked");

        assert_eq!(peak.load(Ordering::SeqCst), MAX);
    }
}
