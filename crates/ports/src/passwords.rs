use async_trait::async_trait;
use latch_domain::Password;

/// A stored password hash in a self-describing format (PHC string, bcrypt's
/// modular crypt format, or another scheme-prefixed string). Its `Debug` does
/// not print the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password does not match.
    Mismatch,
    /// It matches; `needs_rehash` is set when the hash uses an old scheme or
    /// old parameters and should be replaced by a fresh one.
    Match {
        /// Replace the stored hash with a current one.
        needs_rehash: bool,
    },
}

/// Why hashing or verification failed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are queued; the caller should answer 503 and retry later.
    #[error("password hashing is overloaded")]
    Overloaded,
    /// The stored hash is in no format this hasher understands.
    #[error("unsupported password hash format")]
    UnsupportedFormat,
    /// Anything else.
    #[error("password hashing failed: {0}")]
    Unexpected(String),
}

/// Hashes and verifies passwords. Implementations MUST do the CPU-heavy work
/// off the async executor, with bounded concurrency.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// A fresh hash of `password` in the current scheme and parameters.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;

    /// Checks `password` against `hash` in constant time for the scheme.
    /// A hash of the current scheme and parameters MUST report `needs_rehash: false`.
    ///
    /// Schemes and cost parameters differ several times over in cost, so a
    /// `Mismatch` MUST NOT answer sooner than a verification of the costliest
    /// kind of hash the adapter knows of takes, by waiting, not by working:
    /// the time of a failed login must not tell which scheme an account's
    /// hash is in. A `Match` answers as soon as it is known.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<Verification, HashError>;

    /// [`Self::verify`] for an account that may not log in whatever the
    /// answer (inactive, deleted): a match MUST take as long as a failure, so
    /// timing does not tell that a guessed password was right.
    async fn verify_refused(
        &self,
        password: &Password,
        hash: &PasswordHash,
    ) -> Result<Verification, HashError>;

    /// Does the same work as verifying against a current hash, discards the
    /// result and answers no sooner than a `Mismatch` of `verify` would, so a
    /// login for an unknown user costs what a wrong password costs, whatever
    /// the scheme of the account it is mistaken for.
    async fn verify_dummy(&self, password: &Password) -> Result<(), HashError>;

    /// Whether `verify` can check passwords against `hash` later: Ok for every
    /// format and parameter set this hasher verifies, `UnsupportedFormat`
    /// otherwise. Cheap: parses, never hashes. An accepted hash's cost counts
    /// among the costs failures wait for from then on.
    ///
    /// A stored hash's own cost parameters set the work of every login against
    /// it, so `check_stored` and `verify` MUST both refuse (without running
    /// it) a hash above these ceilings: bcrypt cost 16, argon2 memory 1 GiB
    /// (1_048_576 KiB) or 100 passes. A planted hash must not be able to burn
    /// a CPU for seconds or allocate gigabytes at every login attempt.
    ///
    /// # Errors
    /// `HashError::UnsupportedFormat` for any hash `verify` would refuse.
    fn check_stored(&self, hash: &PasswordHash) -> Result<(), HashError>;
}
