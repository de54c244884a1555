//! The audit trail: who did what to whom, and from where.

use uuid::Uuid;

use crate::{Timestamp, UserId};

/// A security-relevant event. Never carries a password or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// An account was created.
    Signup,
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed (unknown account, wrong password, inactive or deleted).
    LoginFailed,
    /// A spent refresh token was replayed; the session was revoked.
    RefreshReuseDetected,
    /// Sessions were ended by logout.
    Logout,
    /// A user changed their password.
    PasswordChanged,
    /// A user ended one of their sessions.
    SessionRevoked,
    /// A user deleted their own account.
    AccountDeleted,
    /// An administrator changed a user.
    AdminUserChanged,
    /// An administrator soft-deleted a user.
    AdminUserDeleted,
    /// An administrator restored a user.
    AdminUserRestored,
    /// A verification link was mailed.
    VerificationRequested,
    /// A verification link was followed: the email is verified.
    EmailVerified,
    /// A password-reset link was mailed.
    PasswordResetRequested,
    /// A password-reset link was followed: the password is new, every session ended.
    PasswordReset,
    /// A user asked to move their account to another address; a link was mailed there.
    EmailChangeRequested,
    /// An email-change link was followed: the account has its new address.
    EmailChanged,
    /// A user started a TOTP enrolment (not a second factor until confirmed).
    MfaEnrolmentStarted,
    /// A user confirmed their TOTP enrolment: the second factor is on.
    MfaEnabled,
    /// A user turned their second factor off.
    MfaDisabled,
    /// A user replaced their recovery codes; the old ones are void.
    RecoveryCodesRegenerated,
    /// A login's second step was completed with a recovery code.
    RecoveryCodeUsed,
    /// An administrator removed a user's second factor; their sessions ended.
    AdminMfaRemoved,
}

impl AuditAction {
    const ALL: [Self; 23] = [
        Self::Signup,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::RefreshReuseDetected,
        Self::Logout,
        Self::PasswordChanged,
        Self::SessionRevoked,
        Self::AccountDeleted,
        Self::AdminUserChanged,
        Self::AdminUserDeleted,
        Self::AdminUserRestored,
        Self::VerificationRequested,
        Self::EmailVerified,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::MfaEnrolmentStarted,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::RecoveryCodesRegenerated,
        Self::RecoveryCodeUsed,
        Self::AdminMfaRemoved,
    ];

    /// The stable name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::Logout => "logout",
            Self::PasswordChanged => "password_changed",
            Self::SessionRevoked => "session_revoked",
            Self::AccountDeleted => "account_deleted",
            Self::AdminUserChanged => "admin_user_changed",
            Self::AdminUserDeleted => "admin_user_deleted",
            Self::AdminUserRestored => "admin_user_restored",
            Self::VerificationRequested => "verification_requested",
            Self::EmailVerified => "email_verified",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::MfaEnrolmentStarted => "mfa_enrolment_started",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::AdminMfaRemoved => "admin_mfa_removed",
        }
    }

    /// The action with this stable name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Entry id (UUID v7, so ids sort by time).
    pub id: Uuid,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub action: AuditAction,
    /// Who did it, when known.
    pub actor_id: Option<UserId>,
    /// Whom it was done to, when it concerns an account.
    pub target_id: Option<UserId>,
    /// The client's IP.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("password"), None);
    }
}
