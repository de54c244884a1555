use uuid::Uuid;

use crate::{AvatarUrl, DisplayName, Email, TierName, Timestamp, Username};

/// The tier a new user gets unless configured otherwise.
pub const DEFAULT_TIER: &str = "free";

/// A user's immutable identifier (UUID v7): the `sub` of their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub Uuid);

impl UserId {
    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A user account as the rest of the system sees it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Immutable id.
    pub id: UserId,
    /// Email as the user gave it; unique case-insensitively.
    pub email: Email,
    /// Optional login name; unique case-insensitively.
    pub username: Option<Username>,
    /// Display name.
    pub name: Option<DisplayName>,
    /// Link to an avatar image.
    pub avatar_url: Option<AvatarUrl>,
    /// Inactive users cannot log in or use their tokens.
    pub is_active: bool,
    /// May use staff-only tools of the products built on Latch.
    pub is_staff: bool,
    /// May use the admin API.
    pub is_superuser: bool,
    /// Rate-limit tier name.
    pub tier: TierName,
    /// Whether the email address has been confirmed.
    pub email_verified: bool,
    /// Whether a second factor (TOTP) is on: a password alone no longer logs in.
    pub mfa_enabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last changed.
    pub updated_at: Timestamp,
    /// When the user last logged in.
    pub last_login_at: Option<Timestamp>,
    /// Set when the account is soft-deleted; such a user cannot log in.
    pub deleted_at: Option<Timestamp>,
}

impl User {
    /// Whether this account may authenticate at all.
    pub fn can_authenticate(&self) -> bool {
        self.is_active && self.deleted_at.is_none()
    }
}

/// Profile fields a user may change about themself. `None` = leave as is;
/// `Some(None)` = clear the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// New display name.
    pub name: Option<Option<DisplayName>>,
    /// New username.
    pub username: Option<Option<Username>>,
    /// New avatar URL.
    pub avatar_url: Option<Option<AvatarUrl>>,
}

impl ProfilePatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.username.is_none() && self.avatar_url.is_none()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::Utc;

    /// An active, ordinary user: the fixture other modules' tests start from.
    pub(crate) fn user() -> User {
        let now = Utc::now();
        User {
            id: UserId::generate(),
            email: Email::from_stored("a@example.com".into()),
            username: None,
            name: None,
            avatar_url: None,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            tier: TierName::from_stored(DEFAULT_TIER.into()),
            email_verified: false,
            mfa_enabled: false,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            deleted_at: None,
        }
    }

    #[test]
    fn only_active_undeleted_users_authenticate() {
        assert!(user().can_authenticate());
        assert!(
            !User {
                is_active: false,
                ..user()
            }
            .can_authenticate()
        );
        assert!(
            !User {
                deleted_at: Some(Utc::now()),
                ..user()
            }
            .can_authenticate()
        );
    }
}
