//! Cost and concurrency settings of the hasher.

use std::num::NonZeroUsize;

use argon2::Params;

/// Cost parameters for new hashes and the limits on concurrent hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherConfig {
    /// argon2id memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// argon2id number of passes (`t`).
    pub iterations: u32,
    /// argon2id number of lanes (`p`).
    pub parallelism: u32,
    /// Most hashes computed at once, each on its own blocking thread.
    pub max_concurrent: usize,
    /// Most callers waiting for a free slot; beyond that calls fail with `Overloaded`.
    pub max_queue: usize,
    /// Whether failed verifications are padded from start-up to the estimated
    /// cost of the schemes users are imported from, at their libraries'
    /// defaults (Django's PBKDF2 at 1,000,000 iterations, passlib's at 29,000,
    /// bcrypt 12, argon2-cffi's argon2id), before any such hash is verified.
    /// Off only where no imported hash can be stored, or in tests.
    pub assume_legacy_costs: bool,
}

impl Default for HasherConfig {
    /// OWASP's argon2id parameters (m=19456, t=2, p=1), one hash per CPU at a
    /// time and up to 64 waiting callers per CPU, legacy costs assumed.
    fn default() -> Self {
        let max_concurrent = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
            max_concurrent,
            max_queue: max_concurrent.saturating_mul(64),
            assume_legacy_costs: true,
        }
    }
}
