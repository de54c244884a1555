//! The key-ring task: every `keys.reload_seconds`, read the shared ring
//! again and give the codec any change (a rotation made by another instance
//! or by `latch keys rotate` is published at once, and signs once it has been
//! published for `keys.publish_ahead_seconds`); with `keys.rotate_after_days`,
//! rotate first when the active key is that old.
//!
//! A failed pass is logged and tried again at the next tick: the codec keeps
//! signing with the keys it has, which every instance still accepts.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use latch_ports::ErrorChain;
use latch_tokens_jwt::{JwtTokenCodec, KeyRing, RingError};
use tokio::time::MissedTickBehavior;

use crate::background::BackgroundTask;
use crate::settings::KeySettings;

/// The task, configured and not yet started.
#[derive(Debug, Clone)]
pub struct KeyRingTask {
    ring: Arc<KeyRing>,
    codec: Arc<JwtTokenCodec>,
    every: StdDuration,
    rotate_after: Option<Duration>,
}

impl KeyRingTask {
    /// Keeps `codec` in step with `ring` as `[keys]` describes.
    pub fn new(ring: Arc<KeyRing>, codec: Arc<JwtTokenCodec>, settings: &KeySettings) -> Self {
        Self {
            ring,
            codec,
            every: StdDuration::from_secs(u64::from(settings.reload_seconds)),
            rotate_after: (settings.rotate_after_days > 0)
                .then(|| Duration::days(i64::from(settings.rotate_after_days))),
        }
    }

    /// One pass; whether the codec's keys changed.
    ///
    /// # Errors
    /// The ring's failure; the codec is unchanged then.
    pub async fn run_once(&self) -> Result<bool, RingError> {
        let now = Utc::now();
        if let Some(age) = self.rotate_after
            && let Some(rotation) = self.ring.rotate_if_older_than(age, now).await?
        {
            tracing::info!(kid = %rotation.kid, retired = ?rotation.retired, "rotated the signing key (keys.rotate_after_days)");
        }
        let keys = self.ring.load(None, now).await?;
        let changed = self.codec.install(&keys.signer, &keys.published)?;
        if changed {
            tracing::info!(kid = %keys.signer.kid(), retired = keys.published.len(), "signing with the key ring's active key");
        }
        Ok(changed)
    }

    /// Starts the passes on their own task, the first after one interval
    /// (start-up has just loaded the ring). Ends when the guard is dropped.
    pub fn spawn(self) -> BackgroundTask {
        BackgroundTask::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + self.every, self.every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(err) = self.run_once().await {
                    tracing::warn!(error = %ErrorChain(&err), "could not read the key ring; signing with the keys held");
                }
            }
        })
    }
}
