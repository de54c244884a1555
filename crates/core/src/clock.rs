use chrono::{SubsecRound, Utc};
use latch_domain::Timestamp;
use latch_ports::Clock;

/// The real wall clock, at microsecond precision: what PostgreSQL stores, so
/// a value read back equals the value written, on every database.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now().trunc_subsecs(6)
    }
}
