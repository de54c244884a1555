//! Delivering the outbox: claim due mails, hand each to the mailer, record
//! the outcome. One pass per call; the caller decides how often to call.

use std::sync::Arc;

use chrono::Duration;
use latch_ports::{
    ClaimedEmail, Clock, EmailDelivery as Outcome, EmailOutbox, ErrorChain, Mailer, Metrics, RepositoryError,
};

/// Mails claimed per pass.
const BATCH: u32 = 20;

/// How long a claimed mail stays hidden from other instances: longer than
/// any one send may take (the SMTP adapter bounds a send well below this),
/// so that only a crashed instance's claims come due again.
const LEASE: Duration = Duration::minutes(5);

/// The wait before the first retry by default; each further failure doubles it.
pub const FIRST_RETRY: Duration = Duration::seconds(30);

/// The longest wait between two attempts.
const MAX_RETRY: Duration = Duration::minutes(30);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    /// Mails the server accepted.
    pub sent: usize,
    /// Mails that failed and will be tried again.
    pub retried: usize,
    /// Mails given up on (refused for good, or their time ran out).
    pub given_up: usize,
}

impl DeliveryRound {
    /// Mails handled in all.
    pub fn handled(&self) -> usize {
        self.sent + self.retried + self.given_up
    }

    /// Whether the pass claimed a whole batch: more may be due already.
    pub fn batch_was_full(&self) -> bool {
        self.handled() >= BATCH as usize
    }
}

/// The outbox's delivery worker: at-least-once, claiming each mail before
/// sending it so that several instances do not send one mail twice (unless
/// an instance dies between the send and recording it, or a send outlives
/// its claim).
#[derive(Clone)]
pub struct EmailDelivery {
    outbox: Arc<dyn EmailOutbox>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
    first_retry: Duration,
}

impl EmailDelivery {
    /// A worker delivering `outbox` through `mailer`.
    pub fn new(
        outbox: Arc<dyn EmailOutbox>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        metrics: Arc<dyn Metrics>,
    ) -> Self {
        Self {
            outbox,
            mailer,
            clock,
            metrics,
            first_retry: FIRST_RETRY,
        }
    }

    /// Waits `first_retry` before the first retry instead of [`FIRST_RETRY`]
    /// (each further failure still doubles the wait, up to 30 minutes).
    #[must_use]
    pub fn with_first_retry(mut self, first_retry: Duration) -> Self {
        self.first_retry = first_retry;
        self
    }

    /// Claims the mails due now (at most one batch) and tries each once.
    ///
    /// # Errors
    /// When the outbox cannot be read or an outcome cannot be recorded; a
    /// mail whose outcome was not recorded comes due again after its claim.
    pub async fn deliver_due(&self) -> Result<DeliveryRound, RepositoryError> {
        let now = self.clock.now();
        let claimed = self.outbox.claim_due(now, now + LEASE, BATCH).await?;
        let mut round = DeliveryRound::default();
        for mail in claimed {
            let outcome = self.deliver(&mail).await?;
            self.metrics.email_delivery(outcome);
            match outcome {
                Outcome::Sent => round.sent += 1,
                Outcome::Retried => round.retried += 1,
                Outcome::GivenUp => round.given_up += 1,
            }
        }
        self.metrics.email_outbox_pending(self.outbox.pending().await?);
        Ok(round)
    }

    /// One attempt at `mail`, and its outcome recorded.
    async fn deliver(&self, mail: &ClaimedEmail) -> Result<Outcome, RepositoryError> {
        let id = mail.email.id;
        if self.clock.now() >= mail.email.deliver_until {
            // Its link has expired: the mail would only mislead.
            tracing::error!(email_id = %id, attempts = mail.attempts, "email not sent in time; giving up");
            self.outbox
                .give_up(id, self.clock.now(), "not delivered before its link expired")
                .await?;
            return Ok(Outcome::GivenUp);
        }
        let sent = self.mailer.send(&mail.email.message).await;
        let now = self.clock.now();
        let err = match sent {
            Ok(()) => {
                self.outbox.mark_sent(id, now).await?;
                tracing::info!(email_id = %id, attempts = mail.attempts + 1, "email sent");
                return Ok(Outcome::Sent);
            }
            Err(err) => err,
        };
        let error = ErrorChain(&err).to_string();
        let retry_at = now + retry_delay(self.first_retry, mail.attempts);
        if err.is_transient() && retry_at <= mail.email.deliver_until {
            tracing::warn!(email_id = %id, attempts = mail.attempts + 1, %retry_at, error, "email not sent; will retry");
            self.outbox.retry_later(id, retry_at, &error).await?;
            Ok(Outcome::Retried)
        } else {
            tracing::error!(email_id = %id, attempts = mail.attempts + 1, error, "email not sent; giving up");
            self.outbox.give_up(id, now, &error).await?;
            Ok(Outcome::GivenUp)
        }
    }
}

/// The wait after the failure of attempt number `attempts_before + 1`.
fn retry_delay(first: Duration, attempts_before: u32) -> Duration {
    let doublings = attempts_before.min(16);
    (first * 2_i32.pow(doublings)).min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap() {
        assert_eq!(retry_delay(FIRST_RETRY, 0), Duration::seconds(30));
        assert_eq!(retry_delay(FIRST_RETRY, 1), Duration::seconds(60));
        assert_eq!(retry_delay(FIRST_RETRY, 3), Duration::seconds(240));
        assert_eq!(retry_delay(FIRST_RETRY, 6), MAX_RETRY);
        assert_eq!(retry_delay(FIRST_RETRY, u32::MAX), MAX_RETRY);
        assert_eq!(retry_delay(Duration::seconds(1), 2), Duration::seconds(4));
    }
}
