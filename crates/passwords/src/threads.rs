//! The threads password hashes run on: one per hash allowed at once, started
//! with the hasher at the lowest normal priority (nice 19 on Linux).
//!
//! A hash holds a core for ~20 ms. On tokio's shared blocking pool at normal
//! priority, a login storm kept both cores busy and a `/users/me` request
//! waited for the scheduler to preempt a hash: its p99 rose from 0.35 ms to
//! 4.75 ms (1.6 ms at nice 10, 0.55 ms at nice 19). At the lowest priority a
//! waking HTTP worker, or the database on the same host, preempts a hash at
//! once; with nothing else to run the hashes still get every core. The price:
//! when other work saturates the cores, logins wait, and the hashing queue's
//! limit turns them away with 503 rather than letting them pile up.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use latch_ports::HashError;
use thread_priority::{ThreadPriority, ThreadPriorityValue};
use tokio::sync::oneshot;

/// The lowest of the 0–99 cross-platform scale: nice 19 on Linux (the workers are at 0).
const HASHING_PRIORITY: u8 = 0;

/// Most threads started (a bound on `passwords.hash_concurrency`).
pub(crate) const MAX_THREADS: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue.
#[derive(Debug)]
pub(crate) struct HashingThreads {
    jobs: Sender<Job>,
}

impl HashingThreads {
    /// Starts `count` threads; they stop when this is dropped.
    pub(crate) fn start(count: usize) -> Result<Self, HashError> {
        if !(1..=MAX_THREADS).contains(&count) {
            return Err(HashError::Unexpected(format!(
                "hash concurrency must be between 1 and {MAX_THREADS}, not {count}"
            )));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..count {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("latch-hash-{index}"))
                .spawn(move || work_off(&queue))
                .map_err(|err| HashError::Unexpected(format!("cannot start a hashing thread: {err}")))?;
        }
        Ok(Self { jobs })
    }

    /// Queues `work`; the receiver yields its result, or an error if it panicked.
    pub(crate) fn run<T, F>(&self, work: F) -> oneshot::Receiver<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (result, receiver) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have stopped waiting: then nobody needs the result.
            let _ = result.send(work());
        });
        // Fails only once every thread is gone; the dropped sender then tells the caller.
        let _ = self.jobs.send(job);
        receiver
    }
}

/// A hashing thread's life: lower its priority, then run jobs until the queue closes.
fn work_off(queue: &Mutex<Receiver<Job>>) {
    let lowered = ThreadPriorityValue::try_from(HASHING_PRIORITY)
        .map_err(|err| err.to_string())
        .and_then(|value| {
            thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|err| err.to_string())
        });
    if let Err(err) = lowered {
        tracing::warn!(error = %err, "could not lower a hashing thread's priority");
    }
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let next = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(job) = next else { return };
        // A panicking job drops its result sender (the caller sees an error); the thread lives on.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}
