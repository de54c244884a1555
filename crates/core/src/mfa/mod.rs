//! The second factor: TOTP enrolment with recovery codes, and the login's
//! second step.
//!
//! The arithmetic (RFC 6238, the recovery-code format) lives in
//! `latch_domain`; this module orchestrates it: it seals the shared secret
//! with the master key, hashes recovery codes, spends attempt budgets, and
//! spends each accepted code so it is never accepted again.

mod enrolment;
mod login_step;

use chrono::Duration;
use latch_domain::{
    RECOVERY_CODE_BYTES, RECOVERY_CODE_COUNT, RecoveryCode, TOTP_SECRET_LEN, TokenHash, TotpSecret, UserId,
    looks_like_totp_code,
};
use latch_ports::{RateLimited, RecoveryCodeHash};
use sha2::{Digest, Sha256};

pub use enrolment::TotpEnrolmentStart;
pub use login_step::{MfaChallengeIssued, MfaLoginError, MfaLoginRequest};

use crate::{AccountError, AuthService, Unexpected};

/// How the second factor behaves.
#[derive(Debug, Clone)]
pub struct MfaConfig {
    /// The issuer an authenticator app shows next to the account (`mfa.issuer`).
    pub issuer: String,
    /// How long a login's `mfa_token` lives (`mfa.challenge_ttl_seconds`).
    pub challenge_ttl: Duration,
    /// Wrong codes one `mfa_token` allows before it dies.
    pub max_attempts: u32,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self {
            issuer: "Latch".into(),
            challenge_ttl: Duration::seconds(300),
            max_attempts: 5,
        }
    }
}

/// Why a second-factor action on the caller's account was refused.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The caller already has a second factor; disable it first.
    #[error("a second factor is already enabled")]
    AlreadyEnabled,
    /// The caller has no second factor (or, to confirm, no pending enrolment).
    #[error("no second factor is enabled")]
    NotEnabled,
    /// The code is wrong, already used, or outside the time window.
    #[error("the code is not valid")]
    CodeInvalid,
    /// The password given to confirm the action is not the account's.
    #[error("{field} is incorrect")]
    WrongPassword {
        /// The request field that carried it.
        field: &'static str,
    },
    /// Too many attempts from this client or for this account; retry later.
    #[error("rate limited")]
    RateLimited(#[from] RateLimited),
    /// Too many password hashes in flight; retry later.
    #[error("overloaded")]
    Overloaded,
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl From<AccountError> for MfaError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::WrongPassword { field } => Self::WrongPassword { field },
            AccountError::RateLimited(refusal) => Self::RateLimited(refusal),
            AccountError::Overloaded => Self::Overloaded,
            AccountError::Unexpected(err) => Self::Unexpected(err),
            // A password check raises neither.
            AccountError::Invalid(err) => Self::Unexpected(Unexpected::new(err.to_string())),
            AccountError::LastSuperuser => Self::Unexpected(Unexpected::new("last superuser")),
        }
    }
}

/// Which second factor an accepted code was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FactorUsed {
    /// A TOTP code from the authenticator app.
    Totp,
    /// One of the recovery codes.
    RecoveryCode,
}

/// The context a user's TOTP secret is sealed for: a sealed secret copied
/// onto another user's row does not open.
fn totp_context(user_id: UserId) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

/// The stored form of a recovery code.
fn hash_recovery_code(code: &RecoveryCode) -> RecoveryCodeHash {
    TokenHash(Sha256::digest(code.canonical().as_bytes()).into())
}

/// A fresh set of recovery codes: as shown to the user once, and as stored.
fn new_recovery_codes() -> (Vec<String>, Vec<RecoveryCodeHash>) {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_CODE_BYTES];
            rand::fill(&mut bytes[..]);
            let code = RecoveryCode::from_bytes(bytes);
            (code.display(), hash_recovery_code(&code))
        })
        .unzip()
}

/// A fresh random TOTP secret.
fn new_totp_secret() -> TotpSecret {
    let mut bytes = [0u8; TOTP_SECRET_LEN];
    rand::fill(&mut bytes[..]);
    TotpSecret::from_bytes(bytes)
}

impl AuthService {
    /// The sealed secret, opened for the user it was sealed for.
    fn open_totp_secret(&self, user_id: UserId, sealed: &[u8]) -> Result<TotpSecret, Unexpected> {
        let bytes = self
            .ports
            .sealer
            .open(sealed, &totp_context(user_id))
            .map_err(|err| {
                Unexpected::new(format!("the TOTP secret of user {user_id} does not open: {err}"))
            })?;
        TotpSecret::from_slice(&bytes).ok_or_else(|| {
            Unexpected::new(format!(
                "the TOTP secret of user {user_id} is not {TOTP_SECRET_LEN} bytes"
            ))
        })
    }

    /// Checks `code` against the user's confirmed second factor and spends
    /// it: a TOTP code's time step is recorded, a recovery code is used up.
    /// `None` for a wrong, replayed or spent code, or when the user has no
    /// confirmed second factor. The spending is a conditional write, so of
    /// two requests with one code at most one gets it accepted.
    pub(crate) async fn spend_second_factor(
        &self,
        user_id: UserId,
        code: &str,
    ) -> Result<Option<FactorUsed>, Unexpected> {
        let factors = &self.ports.second_factors;
        let enrolment = factors.find_totp(user_id).await?;
        let Some(enrolment) = enrolment.filter(|e| e.confirmed_at.is_some()) else {
            return Ok(None);
        };
        let now = self.ports.clock.now();
        if looks_like_totp_code(code) {
            let secret = self.open_totp_secret(user_id, &enrolment.sealed_secret)?;
            let Some(step) = secret.verify(code, now.timestamp(), enrolment.last_used_step) else {
                return Ok(None);
            };
            let fresh = factors.use_totp_step(user_id, step).await?;
            return Ok(fresh.then_some(FactorUsed::Totp));
        }
        let Some(code) = RecoveryCode::parse(code) else {
            return Ok(None);
        };
        let unused = factors
            .use_recovery_code(user_id, &hash_recovery_code(&code), now)
            .await?;
        Ok(unused.then_some(FactorUsed::RecoveryCode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_ten_distinct_codes_whose_hashes_match() {
        let (shown, stored) = new_recovery_codes();
        assert_eq!(shown.len(), RECOVERY_CODE_COUNT);
        let mut unique = shown.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        for (code, hash) in shown.iter().zip(&stored) {
            let parsed = RecoveryCode::parse(code).map(|c| hash_recovery_code(&c));
            assert_eq!(parsed.as_ref(), Some(hash));
        }
    }

    #[test]
    fn contexts_differ_per_user() {
        assert_ne!(totp_context(UserId::generate()), totp_context(UserId::generate()));
    }
}
