//! A user turning their second factor on and off, and replacing their
//! recovery codes; an administrator removing it.

use latch_domain::{AuditAction, UserId};
use latch_ports::{BeginTotpError, ConfirmTotpError};

use super::{MfaError, new_recovery_codes, new_totp_secret, totp_context};
use crate::{AdminError, AuthService, Client, Principal, Unexpected};

/// What a started enrolment gives the user to put in their authenticator
/// app. Its `Debug` omits the secret.
#[derive(Clone)]
pub struct TotpEnrolmentStart {
    /// The shared secret in base32, to type in by hand.
    pub secret: String,
    /// The `otpauth://totp/...` URI, to open or show as a QR code.
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpEnrolmentStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolmentStart(<redacted>)")
    }
}

impl AuthService {
    /// Starts a TOTP enrolment once the caller's password checks out: a new
    /// secret, sealed at rest, pending until a first code confirms it. A
    /// pending enrolment started earlier is replaced.
    ///
    /// The password check is budgeted and feeds the login backoff, as for a
    /// password change.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn begin_totp_enrolment(
        &self,
        principal: &Principal,
        password: &str,
        client: &Client,
    ) -> Result<TotpEnrolmentStart, MfaError> {
        if principal.user.mfa_enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let account = self.admit_confirmation(principal, client).await?;
        self.confirm_password(principal, &account, password, "password")
            .await?;
        let user = &principal.user;
        let secret = new_totp_secret();
        let sealed = self
            .ports
            .sealer
            .seal(secret.as_bytes(), &totp_context(user.id))
            .map_err(|err| Unexpected::new(err.to_string()))?;
        let now = self.ports.clock.now();
        self.ports
            .second_factors
            .begin_totp(user.id, &sealed, now)
            .await
            .map_err(|err| match err {
                BeginTotpError::AlreadyEnabled => MfaError::AlreadyEnabled,
                BeginTotpError::Repository(err) => MfaError::Unexpected(err.into()),
            })?;
        tracing::info!("TOTP enrolment started");
        self.audit_own(AuditAction::MfaEnrolmentStarted, principal).await;
        Ok(TotpEnrolmentStart {
            secret: secret.base32(),
            otpauth_uri: secret.otpauth_uri(&self.config.mfa.issuer, user.email.as_str()),
        })
    }

    /// Confirms the caller's pending enrolment with a first code from the
    /// app: the second factor is on from now, and the ten recovery codes
    /// returned are the only time they are shown.
    ///
    /// The check is budgeted, and a wrong code feeds the login backoff.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn confirm_totp_enrolment(
        &self,
        principal: &Principal,
        code: &str,
        client: &Client,
    ) -> Result<Vec<String>, MfaError> {
        let account = self.admit_confirmation(principal, client).await?;
        let user_id = principal.user.id;
        let enrolment = self
            .ports
            .second_factors
            .find_totp(user_id)
            .await
            .map_err(Unexpected::from)?;
        let Some(enrolment) = enrolment else {
            return Err(MfaError::NotEnabled);
        };
        if enrolment.confirmed_at.is_some() {
            return Err(MfaError::AlreadyEnabled);
        }
        let secret = self.open_totp_secret(user_id, &enrolment.sealed_secret)?;
        let now = self.ports.clock.now();
        let Some(step) = secret.verify(code, now.timestamp(), None) else {
            self.ports.limiter.record_login_failure(&account).await;
            tracing::info!("TOTP enrolment not confirmed: wrong code");
            return Err(MfaError::CodeInvalid);
        };
        let (shown, stored) = new_recovery_codes();
        self.ports
            .second_factors
            .confirm_totp(user_id, &enrolment.sealed_secret, step, &stored, now)
            .await
            .map_err(|err| match err {
                // Replaced or confirmed by a concurrent request meanwhile.
                ConfirmTotpError::NotPending => MfaError::CodeInvalid,
                ConfirmTotpError::Repository(err) => MfaError::Unexpected(err.into()),
            })?;
        tracing::info!("second factor enabled");
        self.audit_own(AuditAction::MfaEnabled, principal).await;
        Ok(shown)
    }

    /// Turns the caller's second factor off, given their password and a
    /// current code (TOTP or recovery). Every other session of theirs ends.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn disable_totp(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
        client: &Client,
    ) -> Result<(), MfaError> {
        self.confirm_both_factors(principal, password, code, client)
            .await?;
        let now = self.ports.clock.now();
        self.ports
            .second_factors
            .remove(principal.user.id, Some(principal.session.id), now)
            .await
            .map_err(Unexpected::from)?;
        tracing::info!("second factor disabled; other sessions revoked");
        self.audit_own(AuditAction::MfaDisabled, principal).await;
        Ok(())
    }

    /// Replaces the caller's recovery codes, given their password and a
    /// current code; every old code is void. Returns the new set.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
        client: &Client,
    ) -> Result<Vec<String>, MfaError> {
        self.confirm_both_factors(principal, password, code, client)
            .await?;
        let (shown, stored) = new_recovery_codes();
        let now = self.ports.clock.now();
        let replaced = self
            .ports
            .second_factors
            .replace_recovery_codes(principal.user.id, &stored, now)
            .await
            .map_err(Unexpected::from)?;
        if !replaced {
            // Removed by an administrator since the code was checked.
            return Err(MfaError::NotEnabled);
        }
        tracing::info!("recovery codes regenerated");
        self.audit_own(AuditAction::RecoveryCodesRegenerated, principal)
            .await;
        Ok(shown)
    }

    /// How many of the caller's recovery codes are unused.
    pub async fn recovery_codes_left(&self, principal: &Principal) -> Result<u64, Unexpected> {
        Ok(self
            .ports
            .second_factors
            .recovery_codes_left(principal.user.id)
            .await?)
    }

    /// Removes a user's second factor (a lost phone) and ends every session
    /// of theirs. Idempotent: a user without one has their sessions ended
    /// all the same.
    #[tracing::instrument(skip_all, fields(actor = %actor.user.id, target = %id))]
    pub async fn admin_remove_mfa(&self, actor: &Principal, id: UserId) -> Result<(), AdminError> {
        self.admin_get_user(actor, id).await?;
        let now = self.ports.clock.now();
        let removed = self
            .ports
            .second_factors
            .remove(id, None, now)
            .await
            .map_err(Unexpected::from)?;
        tracing::info!(
            removed,
            "second factor removed by an administrator; sessions revoked"
        );
        self.audit_admin(AuditAction::AdminMfaRemoved, actor, id).await;
        Ok(())
    }

    /// The checks before a change to an enabled second factor: budgets, the
    /// password, then a code. Either secret wrong feeds the login backoff.
    async fn confirm_both_factors(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
        client: &Client,
    ) -> Result<(), MfaError> {
        if !principal.user.mfa_enabled {
            return Err(MfaError::NotEnabled);
        }
        let account = self.admit_confirmation(principal, client).await?;
        self.confirm_password(principal, &account, password, "password")
            .await?;
        if self.spend_second_factor(principal.user.id, code).await?.is_none() {
            self.ports.limiter.record_login_failure(&account).await;
            tracing::info!("second-factor change refused: wrong code");
            return Err(MfaError::CodeInvalid);
        }
        Ok(())
    }
}
