//! The argon2id adapter of the `PasswordHasher` port.

use std::fmt;
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use async_trait::async_trait;
use latch_domain::Password;
use latch_ports::{HashError, PasswordHash, PasswordHasher, Verification};

use crate::HasherConfig;
use crate::limiter::Limiter;
use crate::stored_hash::StoredHash;

/// What `verify_dummy` checks against; any value works, nobody knows its hash's salt.
const DUMMY_PASSWORD: &[u8] = b"latch dummy password for unknown users";

/// Hashes new passwords with argon2id and verifies argon2 and bcrypt hashes,
/// on blocking threads with bounded concurrency.
pub struct Argon2Hasher {
    params: Params,
    limiter: Limiter,
    /// An argon2id hash at the current cost, so an unknown user costs what a wrong password costs.
    dummy: Arc<StoredHash>,
}

impl Argon2Hasher {
    /// A hasher for `config`; computes the dummy hash, so it takes one hash's time.
    ///
    /// # Errors
    /// `HashError::Unexpected` if the argon2 parameters are invalid or
    /// `max_concurrent` is zero.
    pub fn new(config: HasherConfig) -> Result<Self, HashError> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|err| HashError::Unexpected(format!("invalid argon2 parameters: {err}")))?;
        let limiter = Limiter::new(config.max_concurrent, config.max_queue)?;
        let dummy = StoredHash::parse(&hash_argon2id(&params, DUMMY_PASSWORD)?)?;
        Ok(Self { params, limiter, dummy: Arc::new(dummy) })
    }
}

impl fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    #[tracing::instrument(skip_all)]
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let password = password.duplicate();
        let params = self.params.clone();
        let phc = self.limiter.run(move || hash_argon2id(&params, password.expose().as_bytes())).await??;
        Ok(PasswordHash(phc))
    }

    #[tracing::instrument(skip_all)]
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<Verification, HashError> {
        let stored = StoredHash::parse(&hash.0)?;
        let needs_rehash = stored.needs_rehash(&self.params);
        let password = password.duplicate();
        let matched = self.limiter.run(move || stored.matches(password.expose().as_bytes())).await??;
        Ok(if matched { Verification::Match { needs_rehash } } else { Verification::Mismatch })
    }

    #[tracing::instrument(skip_all)]
    async fn verify_dummy(&self, password: &Password) -> Result<(), HashError> {
        let dummy = Arc::clone(&self.dummy);
        let password = password.duplicate();
        self.limiter.run(move || dummy.matches(password.expose().as_bytes())).await??;
        Ok(())
    }
}

/// A fresh argon2id PHC string with a random salt.
fn hash_argon2id(params: &Params, password: &[u8]) -> Result<String, HashError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password)
        .map(|phc| phc.to_string())
        .map_err(|err| HashError::Unexpected(format!("argon2 hashing failed: {err}")))
}
