//! The outbox's delivery task: a pass of [`EmailDelivery::deliver_due`]
//! every `email.outbox_poll_interval_ms`, for as long as the server runs.
//!
//! Every instance runs it; a mail is claimed before it is sent, so two
//! instances do not send it twice in the normal case (docs/email.md).

use std::time::Duration;

use latch_core::EmailDelivery;
use latch_ports::ErrorChain;
use tokio::time::MissedTickBehavior;

use crate::background::BackgroundTask;

/// The delivery task, configured and not yet started.
#[derive(Clone)]
pub struct OutboxTask {
    delivery: EmailDelivery,
    every: Duration,
}

impl OutboxTask {
    /// Delivers with `delivery` every `every`.
    pub fn new(delivery: EmailDelivery, every: Duration) -> Self {
        Self { delivery, every }
    }

    /// Starts the passes on their own task. A pass that fails (the database
    /// out of reach) is logged and tried again at the next tick; a full batch
    /// is followed at once by another pass. The task ends when the returned
    /// guard is dropped.
    pub fn spawn(self) -> BackgroundTask {
        BackgroundTask::spawn(async move {
            let mut ticks = tokio::time::interval(self.every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                loop {
                    match self.delivery.deliver_due().await {
                        Ok(round) => {
                            failing = false;
                            if !round.batch_was_full() {
                                break;
                            }
                        }
                        Err(err) => {
                            // Once per outage, not once per tick.
                            if !failing {
                                tracing::error!(error = %ErrorChain(&err), "email outbox unreachable; delivery paused");
                            }
                            failing = true;
                            break;
                        }
                    }
                }
            }
        })
    }
}
