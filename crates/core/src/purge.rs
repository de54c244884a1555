//! Purge: deleting what can no longer be used, in bounded batches, so the
//! session tables stay about the size of the live sessions.
//!
//! An ended session (expired or revoked) is kept, refresh tokens included,
//! for `retention` after it ended, for whoever investigates what it did; then
//! its refresh tokens go, and the session with them. Refresh refuses every
//! token of an ended session before it looks at the token, so no request can
//! tell the difference.
//!
//! Every token of a live session is kept, rotated or expired ones included: a
//! rotated token presented again revokes its session (reuse detection), and a
//! session's chain is bounded by its lifetime anyway.
//!
//! Both steps use the same cutoff on purpose: deleting tokens earlier than
//! their session would make every pass re-read all the sessions still in their
//! retention, whose tokens are already gone: work that grows with the table
//! instead of with the batch.
//!
//! The session cache's change log goes an hour after each change. Mails
//! sent or given up on, and emailed links spent or expired, are kept for
//! `retention` too (a sent mail's subject and bodies were erased when it
//! was sent). A login's second-factor challenge goes as soon as it
//! expires: the audit trail records the login itself.

use std::future::Future;

use chrono::Duration;
use latch_ports::{ErrorChain, RepositoryError};

use crate::AuthService;

/// How long the session cache's change log is kept. Any age is correct: an
/// instance that finds changes purged before it read them empties its cache.
/// An hour keeps that to instances that served nothing for an hour.
const CHANGE_LOG_RETENTION: Duration = Duration::hours(1);

/// How much one pass may delete, and how long ended sessions are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgePolicy {
    /// An ended session is kept this long after it ended.
    pub retention: Duration,
    /// The most rows each step deletes in one pass.
    pub batch_size: u64,
}

impl Default for PurgePolicy {
    fn default() -> Self {
        Self {
            retention: Duration::days(7),
            batch_size: 1000,
        }
    }
}

/// What one pass did, step by step.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Each step that succeeded and how many rows it deleted, in order.
    pub deleted: Vec<(&'static str, u64)>,
    /// Steps that failed (already logged); the next pass tries them again.
    pub failed: Vec<&'static str>,
}

impl PurgeReport {
    /// Rows deleted by every step together.
    pub fn total(&self) -> u64 {
        self.deleted.iter().map(|(_, n)| n).sum()
    }

    /// Rows `step` deleted; `None` if it failed or did not run.
    pub fn deleted_by(&self, step: &str) -> Option<u64> {
        self.deleted
            .iter()
            .find(|(name, _)| *name == step)
            .map(|(_, n)| *n)
    }

    /// Runs one step. A failure is logged and recorded, and the pass goes on:
    /// the steps do not depend on each other.
    async fn step(&mut self, name: &'static str, work: impl Future<Output = Result<u64, RepositoryError>>) {
        match work.await {
            Ok(deleted) => self.deleted.push((name, deleted)),
            Err(err) => {
                tracing::warn!(step = name, error = %ErrorChain(&err), "purge step failed; retrying at the next pass");
                self.failed.push(name);
            }
        }
    }
}

impl AuthService {
    /// One purge pass: each step deletes at most `policy.batch_size` rows of
    /// one table, so a pass costs about the same however much is waiting.
    /// Call it periodically; a backlog is worked off over several passes.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired(&self, policy: &PurgePolicy) -> PurgeReport {
        let now = self.ports.clock.now();
        let limit = policy.batch_size;
        let sessions = &self.ports.sessions;
        let mut report = PurgeReport::default();
        let ended_before = now - policy.retention;
        // One line per step; each names its table and deletes at most `limit`
        // of its rows. Tokens first, so the sessions step rarely finds any
        // left to take along.
        report
            .step(
                "refresh_tokens",
                sessions.purge_refresh_tokens_of_ended_sessions(ended_before, limit),
            )
            .await;
        report
            .step("sessions", sessions.purge_ended_sessions(ended_before, limit))
            .await;
        report
            .step("email_outbox", self.ports.outbox.purge(ended_before, limit))
            .await;
        report
            .step("mfa_challenges", self.ports.mfa_challenges.purge(now, limit))
            .await;
        report
            .step(
                "auth_changes",
                self.ports.changes.purge_before(now - CHANGE_LOG_RETENTION, limit),
            )
            .await;
        report
    }
}
