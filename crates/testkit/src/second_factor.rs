//! The `SecondFactorRepository` contract, and an in-memory fake that passes it.

mod contract;
mod fake;

pub use contract::*;
pub use fake::InMemorySecondFactorRepository;
