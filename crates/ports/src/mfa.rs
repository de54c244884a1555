//! Second factors: a user's TOTP enrolment and recovery codes, and the
//! pending second step of a login (the `mfa_token`).

use async_trait::async_trait;
use latch_domain::{SessionId, Timestamp, TokenHash, UserId};

use crate::{RepositoryError, VerifiedLogin};

/// A user's TOTP enrolment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    /// Whose it is.
    pub user_id: UserId,
    /// The shared secret, sealed with the master key; a database dump alone
    /// does not open it.
    pub sealed_secret: Vec<u8>,
    /// When the enrolment was started.
    pub created_at: Timestamp,
    /// When the first code confirmed it; `None` while pending (a pending
    /// enrolment is not a second factor yet).
    pub confirmed_at: Option<Timestamp>,
    /// The last time step a code was accepted for: a code of this step or an
    /// earlier one is never accepted again.
    pub last_used_step: Option<i64>,
}

/// SHA-256 of a recovery code's canonical form: the only form stored.
pub type RecoveryCodeHash = TokenHash;

/// Why an enrolment could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BeginTotpError {
    /// The user already has a confirmed second factor. Nothing was written.
    #[error("a second factor is already enabled")]
    AlreadyEnabled,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Why an enrolment could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmTotpError {
    /// No pending enrolment with that secret: none was started, it was
    /// confirmed already, or a newer one replaced it. Nothing was written.
    #[error("no pending enrolment")]
    NotPending,
    /// Anything else.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Where second factors are kept.
#[async_trait]
pub trait SecondFactorRepository: Send + Sync + 'static {
    /// Stores a pending enrolment for `user_id`, replacing a pending one.
    ///
    /// # Errors
    /// MUST return `AlreadyEnabled`, writing nothing, when the user has a
    /// confirmed enrolment.
    async fn begin_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        now: Timestamp,
    ) -> Result<(), BeginTotpError>;

    /// The user's enrolment, pending or confirmed; `None` if there is none.
    async fn find_totp(&self, user_id: UserId) -> Result<Option<TotpEnrolment>, RepositoryError>;

    /// In one transaction: confirms the pending enrolment whose sealed secret
    /// is `sealed_secret`, records `step` as its last used step, stores
    /// `recovery_codes` as the user's set, and sets the user's `mfa_enabled`
    /// (recorded in the [`crate::AuthChangeLog`]).
    ///
    /// # Errors
    /// MUST return `NotPending`, writing nothing, unless that exact pending
    /// enrolment exists (of two concurrent confirmations one wins).
    async fn confirm_totp(
        &self,
        user_id: UserId,
        sealed_secret: &[u8],
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<(), ConfirmTotpError>;

    /// Records `step` as the confirmed enrolment's last used step if it is
    /// later than the one recorded; `true` if it was. A conditional write:
    /// of concurrent calls with one step exactly one gets `true`, and a step
    /// not after the recorded one always gets `false`.
    async fn use_totp_step(&self, user_id: UserId, step: i64) -> Result<bool, RepositoryError>;

    /// Marks the user's unused recovery code with this hash used at `now`;
    /// `true` if it was unused. Of concurrent calls exactly one gets `true`.
    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &RecoveryCodeHash,
        now: Timestamp,
    ) -> Result<bool, RepositoryError>;

    /// Replaces the user's recovery codes with a new set, voiding every old
    /// one, if the user has a confirmed enrolment; `false`, writing nothing,
    /// otherwise.
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[RecoveryCodeHash],
        now: Timestamp,
    ) -> Result<bool, RepositoryError>;

    /// How many of the user's recovery codes are unused.
    async fn recovery_codes_left(&self, user_id: UserId) -> Result<u64, RepositoryError>;

    /// In one transaction: deletes the user's enrolment (pending or
    /// confirmed) and recovery codes, clears `mfa_enabled`, and revokes every
    /// live session of the user except `keep` (all recorded in the
    /// [`crate::AuthChangeLog`]). `true` if a confirmed enrolment was removed.
    async fn remove(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError>;
}

/// A login waiting for its second factor: what `mfa_token` stands for.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    /// SHA-256 of the `mfa_token`: the only form stored.
    pub token_hash: TokenHash,
    /// The account whose password was checked.
    pub user_id: UserId,
    /// What the password check found, which must still hold when the
    /// session is stored: a password change in between voids the login.
    pub login: VerifiedLogin,
    /// The client's `User-Agent` at the first step, for the session.
    pub user_agent: Option<String>,
    /// The client's IP at the first step, for the session.
    pub ip: Option<String>,
    /// When the password was checked.
    pub created_at: Timestamp,
    /// After this instant the challenge is refused.
    pub expires_at: Timestamp,
    /// Wrong codes still allowed; at zero the challenge is dead.
    pub attempts_left: u32,
}

/// Where pending second steps are kept, so any instance can complete a
/// login another one started.
#[async_trait]
pub trait MfaChallengeRepository: Send + Sync + 'static {
    /// Stores a new challenge.
    async fn create(&self, challenge: &MfaChallenge) -> Result<(), RepositoryError>;

    /// The challenge with this hash if it is live at `now`: not expired, not
    /// spent, with attempts left. `None` otherwise.
    async fn find_live(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<MfaChallenge>, RepositoryError>;

    /// Counts one wrong code against a live challenge; the attempts left
    /// after it (`Some(0)`: the challenge is now dead), or `None` if it was
    /// not live. Concurrent calls each count: N calls on a challenge with N
    /// attempts left leave it dead.
    async fn record_failure(&self, hash: &TokenHash, now: Timestamp) -> Result<Option<u32>, RepositoryError>;

    /// Spends a live challenge; `true` if this call spent it. Of concurrent
    /// calls exactly one gets `true`.
    async fn consume(&self, hash: &TokenHash, now: Timestamp) -> Result<bool, RepositoryError>;

    /// Deletes up to `limit` challenges that expired before `cutoff`, spent
    /// or not; how many were deleted.
    async fn purge(&self, cutoff: Timestamp, limit: u64) -> Result<u64, RepositoryError>;
}
