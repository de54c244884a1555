use latch_domain::Timestamp;

/// The current time. A port so tests can fix it.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}
