//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`).
//! Not part of the API: they reach the stored-hash parser, which is
//! otherwise only seen through a hasher's `verify` and `check_stored`.

use argon2::Params;
use latch_ports::HashError;

use crate::floor::CostClass;
use crate::memory::BlockPool;
use crate::stored_hash::StoredHash;

/// Work (argon2 KiB × passes, bcrypt 2^cost rounds, PBKDF2 iterations) up to
/// which a fuzz target verifies a hash: about a millisecond, not seconds.
const CHEAP_ARGON2_WORK: u64 = 1024;
const CHEAP_BCRYPT_COST: u32 = 5;
const CHEAP_PBKDF2_ITERATIONS: u32 = 2000;

/// A stored hash as `StoredHash::parse` read it.
#[derive(Debug)]
pub struct ParsedStoredHash(StoredHash);

/// Parses `hash` as every verification does.
///
/// # Errors
/// `UnsupportedFormat` for anything the hasher would refuse.
pub fn parse_stored_hash(hash: &str) -> Result<ParsedStoredHash, HashError> {
    StoredHash::parse(hash).map(ParsedStoredHash)
}

impl ParsedStoredHash {
    /// The scheme and cost parameters, as the failure floor sees them.
    pub fn cost(&self) -> String {
        format!("{:?}", self.0.cost_class())
    }

    /// Whether verifying against this hash is cheap enough to do per input.
    pub fn is_cheap(&self) -> bool {
        match self.0.cost_class() {
            CostClass::Argon2 { m_cost, t_cost, .. } => {
                u64::from(m_cost) * u64::from(t_cost) <= CHEAP_ARGON2_WORK
            }
            CostClass::Bcrypt { cost } => cost <= CHEAP_BCRYPT_COST,
            CostClass::Pbkdf2Sha256 { iterations } => iterations <= CHEAP_PBKDF2_ITERATIONS,
        }
    }

    /// Whether a login would rehash it, at the default cost.
    pub fn needs_rehash(&self) -> bool {
        self.0.needs_rehash(&Params::default())
    }

    /// Checks `password` as a verification does (CPU-heavy unless [`Self::is_cheap`]).
    ///
    /// # Errors
    /// `UnsupportedFormat` if the hash's body turns out malformed.
    pub fn matches(&self, password: &[u8]) -> Result<bool, HashError> {
        self.0.matches(password)
    }

    /// For an argon2 hash: checks `password` the way the hasher does for
    /// hashes at its own cost (in pooled memory), taking the hash's cost as
    /// that cost. `None` for the other schemes.
    pub fn matches_pooled(&self, password: &[u8]) -> Option<Result<bool, HashError>> {
        let StoredHash::Argon2(_, params) = &self.0 else {
            return None;
        };
        let pool = BlockPool::new(params.block_count(), 0);
        Some(self.0.matches_in(password, params, &pool))
    }

    /// An argon2 hash written out again as a PHC string; `None` for the
    /// other schemes, which Latch never writes.
    pub fn reformatted(&self) -> Option<String> {
        match &self.0 {
            StoredHash::Argon2(phc, _) => Some(phc.to_string()),
            _ => None,
        }
    }
}
