//! The `SessionRepository` contract, and an in-memory fake that passes it.

mod contract;
mod fake;
mod purge;

pub use contract::*;
pub use fake::InMemorySessionRepository;
pub use purge::*;
