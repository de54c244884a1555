//! The shared key ring: the signing keys every instance signs and verifies
//! with, kept where all instances can read them.

use async_trait::async_trait;
use latch_domain::Timestamp;

use crate::RepositoryError;

/// A signing key as the ring stores it. The private half is sealed (encrypted
/// and authenticated) by whoever writes it; the store never sees it in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// The key id tokens carry in their header (unique).
    pub kid: String,
    /// The JOSE algorithm name (`EdDSA`).
    pub algorithm: String,
    /// The public key as a JWK (JSON), as the JWKS publishes it.
    pub public_jwk: String,
    /// The private key, sealed by the master key.
    pub sealed_private_key: Vec<u8>,
    /// When the key was made.
    pub created_at: Timestamp,
    /// When it stopped signing; `None` for the active key.
    pub retired_at: Option<Timestamp>,
}

impl StoredSigningKey {
    /// Whether this is the key new tokens are signed with.
    pub fn is_active(&self) -> bool {
        self.retired_at.is_none()
    }
}

/// Why a key could not be made the active one.
#[derive(Debug, thiserror::Error)]
pub enum ActivateKeyError {
    /// The active key is not the one the caller meant to replace (another
    /// instance rotated first, or made the first key); nothing was written.
    #[error("the active signing key changed meanwhile")]
    Conflict,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where the key ring is kept.
#[async_trait]
pub trait SigningKeyRepository: Send + Sync + 'static {
    /// Every key kept, the newest first.
    async fn list(&self) -> Result<Vec<StoredSigningKey>, RepositoryError>;

    /// Stores `key` (with `retired_at: None`) as the active key, and retires
    /// the key `replacing` at `key.created_at`, in one write: a compare and
    /// swap. `replacing` MUST be the active key's kid, or `None` when the
    /// ring has no active key; otherwise `Conflict`, writing nothing. Of
    /// two concurrent calls replacing the same key, at most one succeeds.
    async fn activate(&self, key: &StoredSigningKey, replacing: Option<&str>)
    -> Result<(), ActivateKeyError>;

    /// Deletes the keys retired before `cutoff` (the active key never);
    /// returns how many.
    async fn delete_retired_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}
