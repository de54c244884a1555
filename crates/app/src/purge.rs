//! The background purge: one bounded pass of [`AuthService::purge_expired`]
//! every `purge.interval_seconds`, for as long as the server runs.
//!
//! A pass that fails is logged (by the core, step by step) and simply runs
//! again at the next tick; nothing here can stop the server. Every instance
//! may run the task: the deletes are idempotent, so concurrent passes only
//! share the work.

use std::time::Duration as StdDuration;

use chrono::Duration;
use latch_core::{AuthService, PurgePolicy, PurgeReport};
use tokio::time::MissedTickBehavior;

use crate::background::BackgroundTask;
use crate::settings::PurgeSettings;

/// The purge task, configured and not yet started.
#[derive(Clone)]
pub struct PurgeTask {
    auth: AuthService,
    every: StdDuration,
    policy: PurgePolicy,
}

impl PurgeTask {
    /// The task `[purge]` describes; `None` when `purge.enabled` is off.
    pub fn new(auth: AuthService, settings: &PurgeSettings) -> Option<Self> {
        settings.enabled.then(|| Self {
            auth,
            every: StdDuration::from_secs(u64::from(settings.interval_seconds)),
            policy: PurgePolicy {
                retention: Duration::seconds(i64::from(settings.retention_seconds)),
                batch_size: u64::from(settings.batch_size),
            },
        })
    }

    /// One pass: what each tick runs.
    pub async fn run_once(&self) -> PurgeReport {
        let report = self.auth.purge_expired(&self.policy).await;
        if report.total() > 0 {
            tracing::debug!(deleted = ?report.deleted, "purged ended sessions");
        }
        report
    }

    /// Starts the passes on their own task: the first at once, then one per
    /// interval (a slow pass delays the next rather than piling up). The task
    /// ends when the returned guard is dropped.
    pub fn spawn(self) -> BackgroundTask {
        BackgroundTask::spawn(async move {
            let mut ticks = tokio::time::interval(self.every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                self.run_once().await;
            }
        })
    }
}
