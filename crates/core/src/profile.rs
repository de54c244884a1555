//! The caller's own profile.

use latch_domain::{AvatarUrl, DisplayName, ProfilePatch, User, Username, ValidationError};
use latch_ports::{LimitedAction, RateLimited, UpdateUserError};

use crate::throttle::account_key;
use crate::{AuthService, Client, Principal, Unexpected};

/// Profile changes as the client sent them: `None` = leave alone,
/// `Some(None)` = clear.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    /// Display name.
    pub name: Option<Option<String>>,
    /// Login name.
    pub username: Option<Option<String>>,
    /// Avatar URL.
    pub avatar_url: Option<Option<String>>,
}

/// Why a profile update failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateProfileError {
    /// A field breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The username belongs to another account.
    #[error("username already taken")]
    UsernameTaken,
    /// Too many username changes from this client or for this account.
    #[error("rate limited")]
    RateLimited(#[from] RateLimited),
    /// Not the client's fault (including the user vanishing mid-request).
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

pub(crate) fn parse_field<T>(
    value: Option<Option<String>>,
    parse: fn(&str) -> Result<T, ValidationError>,
) -> Result<Option<Option<T>>, ValidationError> {
    value
        .map(|inner| inner.as_deref().map(parse).transpose())
        .transpose()
}

impl AuthService {
    /// Changes the caller's own name, username or avatar. A new username
    /// spends the client's and the account's username-change budgets: its
    /// `UsernameTaken` answer tells whether a name exists, so it must not be
    /// a fast way to enumerate them.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user.id))]
    pub async fn update_profile(
        &self,
        principal: &Principal,
        changes: ProfileChanges,
        client: &Client,
    ) -> Result<User, UpdateProfileError> {
        let patch = ProfilePatch {
            name: parse_field(changes.name, DisplayName::parse)?,
            username: parse_field(changes.username, Username::parse)?,
            avatar_url: parse_field(changes.avatar_url, AvatarUrl::parse)?,
        };
        if patch.is_empty() {
            return Ok(principal.user.clone());
        }
        if matches!(patch.username, Some(Some(_))) {
            let account = account_key(principal.user.id);
            self.admit(LimitedAction::UsernameChange, client, Some(&account))
                .await?;
        }
        let now = self.ports.clock.now();
        let updated = self
            .ports
            .users
            .update_profile(principal.user.id, patch, now)
            .await
            .map_err(|err| match err {
                UpdateUserError::UsernameTaken => UpdateProfileError::UsernameTaken,
                UpdateUserError::NotFound => UpdateProfileError::Unexpected(Unexpected::new("user vanished")),
                // A profile update never touches the tier or the flags.
                UpdateUserError::UnknownTier => {
                    UpdateProfileError::Unexpected(Unexpected::new("unknown tier"))
                }
                UpdateUserError::LastSuperuser => {
                    UpdateProfileError::Unexpected(Unexpected::new("a profile update changed a flag"))
                }
                UpdateUserError::Repository(err) => UpdateProfileError::Unexpected(err.into()),
            })?;
        Ok(updated)
    }
}
