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
}

impl AuditAction {
    const ALL: [Self; 11] = [
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
