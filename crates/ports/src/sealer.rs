//! Sealing secrets that must be read back in clear (second-factor seeds).

/// Why a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    /// The sealed value is damaged, belongs to another context, or was
    /// sealed under another key.
    #[error("the sealed value does not open")]
    Unopenable,
    /// The sealer itself failed (its random source); not the caller's fault.
    #[error("sealing failed: {0}")]
    Failed(String),
}

/// Encrypts and authenticates secrets at rest, under a key that lives only
/// in configuration, so a database dump alone reveals none of them.
pub trait SecretSealer: Send + Sync + 'static {
    /// `plaintext` sealed and bound to `context` (say, the owning user's
    /// id): it opens only with the same context. Sealing one value twice
    /// MUST give different bytes (a fresh nonce each time).
    fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealingError>;

    /// The plaintext of a value sealed with `context`.
    ///
    /// # Errors
    /// MUST return `Unopenable` for a value sealed with another context or
    /// key, or altered in any byte.
    fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealingError>;
}
