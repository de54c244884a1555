//! Serving authenticated requests from the session cache with no query at
//! all, while a logout is still honoured on the very next request on every
//! instance (`coherence = "lease"`).
//!
//! The protocol:
//! - each instance keeps a row in the lease table: the change-log version it
//!   has applied, and when its lease ends by the database's clock. It renews
//!   every quarter lease, and at once when the change signal wakes it: apply
//!   what is new, publish the applied version, then read the log's version
//!   again. Only when that read shows nothing unapplied does the renewal
//!   count: the instance may then skip the per-request version read until
//!   nine tenths of a lease after the moment it started renewing;
//! - a recorded write, once it has returned, waits until no other instance
//!   holds a live lease below the version the log had reached, or until one
//!   lease has passed, whichever comes first.
//!
//! Why that is strict: take a request on instance B that starts after such a
//! write answered, and the renewal that lets B skip the read. If that renewal
//! committed before the writer's last look at the table, the writer saw B's
//! row: with the change applied, or with a lease already ended (and B's own
//! view of its lease ends earlier still). If it committed after, its check
//! read saw the change in the log, so B had applied it. If the writer gave up
//! waiting after a lease, B's renewal started after the write committed, and
//! so, again, its check saw the change. Without a live lease an instance
//! reads the version per request, as in `change_log` mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latch_ports::{AuthChangeLog, CacheLeases, ChangeSignal, ErrorChain, RepositoryError};
use uuid::Uuid;

use crate::coherence::Coherence;

/// Rows of leases that ended longer ago than this are deleted at start-up.
const FORGET_ENDED_AFTER: Duration = Duration::from_secs(3600);

/// This instance's lease, and what a write needs to wait for the others'.
pub(crate) struct Lease {
    /// This process's row in the lease table.
    instance: Uuid,
    /// How long a renewal lasts.
    duration: Duration,
    /// When this value was made: `held_until` counts from here.
    base: Instant,
    /// Until when (nanoseconds after `base`) this instance may skip the
    /// per-request version read; 0 when it holds no lease. An atomic, as
    /// every authenticated request reads it.
    held_until: AtomicU64,
    leases: Arc<dyn CacheLeases>,
    changes: Arc<dyn AuthChangeLog>,
}

impl Lease {
    pub(crate) fn new(
        duration: Duration,
        leases: Arc<dyn CacheLeases>,
        changes: Arc<dyn AuthChangeLog>,
    ) -> Self {
        Self {
            instance: Uuid::new_v4(),
            duration,
            base: Instant::now(),
            held_until: AtomicU64::new(0),
            leases,
            changes,
        }
    }

    /// Nanoseconds from `base` to `at` (saturating; 0 is "not held").
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether a checked renewal still covers now.
    pub(crate) fn held(&self) -> bool {
        // Acquire: pairs with `hold_from`, so the changes applied before it are seen.
        let until = self.held_until.load(Ordering::Acquire);
        until != 0 && self.nanos(Instant::now()) < until
    }

    /// Extends the lease after a checked renewal that started at `started`.
    fn hold_from(&self, started: Instant) {
        // A tenth of a lease to spare for clocks that tick at slightly different rates.
        let until = self.nanos(started + self.duration - self.duration / 10);
        self.held_until.fetch_max(until, Ordering::Release);
    }

    /// Gives the lease up at once.
    fn drop_hold(&self) {
        self.held_until.store(0, Ordering::Release);
    }

    /// After a recorded write has returned: waits until every other instance
    /// holding a lease has applied the log up to where it is now, or until a
    /// lease has passed (see the module comment: either way, the change is
    /// honoured everywhere afterwards).
    pub(crate) async fn wait_for_others(&self) {
        let give_up = Instant::now() + self.duration;
        let version = loop {
            match self.changes.latest_version().await {
                Ok(version) => break version,
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "reading the change log's version after a write")
                }
            }
            if !pause_until(give_up, Duration::from_millis(50)).await {
                return;
            }
        };
        let mut pause = Duration::from_millis(1);
        loop {
            match self.leases.lagging(self.instance, version).await {
                Ok(0) => return,
                Ok(lagging) => tracing::debug!(lagging, version, "waiting for instances to apply a change"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "reading the cache leases after a write")
                }
            }
            if !pause_until(give_up, pause).await {
                tracing::warn!(
                    version,
                    "instances did not confirm a change within a lease; waited it out"
                );
                return;
            }
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// Sleeps for `pause`, or until `deadline` if that comes first; false once
/// the deadline has passed.
async fn pause_until(deadline: Instant, pause: Duration) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(pause.min(deadline - now)).await;
    Instant::now() < deadline
}

/// This instance's session-cache lease, for the task that keeps it while
/// the server runs. Cheap to clone. Inert (never held) unless the coherence
/// is `Lease`.
#[derive(Clone)]
pub struct CacheLease {
    coherence: Option<Arc<Coherence>>,
    lease: Option<Arc<Lease>>,
}

impl CacheLease {
    pub(crate) fn new(coherence: Option<Arc<Coherence>>, lease: Option<Arc<Lease>>) -> Self {
        Self { coherence, lease }
    }

    /// Holds this instance's lease for as long as the returned future runs
    /// (spawn it): renews every quarter lease and whenever `signal` fires.
    /// Returns at once unless the coherence is `Lease` and the cache is on.
    pub async fn keep(&self, signal: Arc<dyn ChangeSignal>) {
        let (Some(coherence), Some(lease)) = (&self.coherence, &self.lease) else {
            return;
        };
        if let Err(err) = lease.leases.purge_ended(FORGET_ENDED_AFTER).await {
            tracing::warn!(error = %ErrorChain(&err), "deleting ended cache leases");
        }
        loop {
            let started = Instant::now();
            match renew(coherence, lease).await {
                Ok(true) => lease.hold_from(started),
                // A change landed while renewing: apply it and renew again at once.
                Ok(false) => continue,
                Err(err) => tracing::warn!(error = %ErrorChain(&err), "renewing the session-cache lease"),
            }
            tokio::select! {
                () = signal.changed() => {}
                () = tokio::time::sleep(lease.duration / 4) => {}
            }
        }
    }

    /// Whether this instance holds its lease now (so requests skip the
    /// per-request version read).
    pub fn held(&self) -> bool {
        self.lease.as_ref().is_some_and(|lease| lease.held())
    }

    /// Ends this instance's lease (a clean shutdown), so writers stop waiting for it.
    pub async fn release(&self) {
        if let Some(lease) = &self.lease {
            lease.drop_hold();
            if let Err(err) = lease.leases.release(lease.instance).await {
                tracing::warn!(error = %ErrorChain(&err), "releasing the session-cache lease");
            }
        }
    }
}

/// Applies what is new, publishes it, and tells whether the log had nothing
/// newer once the renewal committed.
async fn renew(coherence: &Coherence, lease: &Lease) -> Result<bool, RepositoryError> {
    coherence.catch_up().await?;
    let applied = coherence.cache.applied_version();
    lease
        .leases
        .renew(lease.instance, applied, lease.duration)
        .await?;
    let latest = lease.changes.latest_version().await?;
    Ok(latest <= applied)
}
