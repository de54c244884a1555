//! The admin API's use cases. Every one starts by checking that the caller
//! is an active superuser; the rules themselves live in
//! `latch_domain::authorization`.

use latch_domain::{
    AuditAction, AvatarUrl, DisplayName, PolicyViolation, ProfilePatch, TierName, User, UserId, Username,
    ValidationError, require_administrator,
};
use latch_ports::{AccountFlags, DeleteUserError, UpdateUserError, UserPage, UserQuery};

use crate::profile::parse_field;
use crate::{AuthService, Client, Principal, ProfileChanges, Unexpected};

/// Largest page the admin listing serves.
pub const MAX_PER_PAGE: u64 = 100;

/// Highest page number the admin listings serve: its row offset stays far
/// inside the signed 64-bit range the databases take (100 per page × 10^7
/// pages = 10^9 rows).
pub const MAX_PAGE: u64 = 10_000_000;

/// The bounds every admin listing applies to `page` (1-based) and `per_page`.
pub(crate) fn check_page(page: u64, per_page: u64) -> Result<(), ValidationError> {
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ValidationError::new(
            "per_page",
            format!("must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ValidationError::new(
            "page",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    Ok(())
}

/// An admin's change to a user: profile fields and the admin-only flags.
#[derive(Debug, Clone, Default)]
pub struct AdminChanges {
    /// Profile fields, as a user may change them about themself.
    pub profile: ProfileChanges,
    /// Active flag.
    pub is_active: Option<bool>,
    /// Staff flag.
    pub is_staff: Option<bool>,
    /// Superuser flag.
    pub is_superuser: Option<bool>,
    /// Tier name.
    pub tier: Option<String>,
}

/// Why an admin action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The caller is not an active superuser.
    #[error("forbidden")]
    Forbidden,
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The action would leave no active superuser.
    #[error("this would leave no active superuser")]
    LastSuperuser,
    /// A field breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The new username belongs to another account.
    #[error("username already taken")]
    UsernameTaken,
    /// A tier with this name exists.
    #[error("tier already exists")]
    TierExists,
    /// Users still have this tier.
    #[error("tier in use")]
    TierInUse,
    /// Not the client's fault.
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

impl From<PolicyViolation> for AdminError {
    fn from(violation: PolicyViolation) -> Self {
        match violation {
            PolicyViolation::NotAdministrator => Self::Forbidden,
            PolicyViolation::LastSuperuser => Self::LastSuperuser,
        }
    }
}

impl AuthService {
    /// A page of users. `per_page` must be 1..=100 and `page` at least 1.
    pub async fn admin_list_users(
        &self,
        actor: &Principal,
        query: UserQuery,
    ) -> Result<UserPage, AdminError> {
        require_administrator(&actor.user)?;
        check_page(query.page, query.per_page)?;
        Ok(self.ports.users.list(&query).await.map_err(Unexpected::from)?)
    }

    /// One user, deleted or not.
    pub async fn admin_get_user(&self, actor: &Principal, id: UserId) -> Result<User, AdminError> {
        require_administrator(&actor.user)?;
        self.ports
            .users
            .find_by_id(id)
            .await
            .map_err(Unexpected::from)?
            .ok_or(AdminError::NotFound)
    }

    /// Changes a user's profile and flags. Deactivating a user ends their
    /// sessions at once; nothing may take away the last active superuser.
    #[tracing::instrument(skip_all, fields(actor = %actor.user.id, target = %id))]
    pub async fn admin_update_user(
        &self,
        actor: &Principal,
        id: UserId,
        changes: AdminChanges,
    ) -> Result<User, AdminError> {
        require_administrator(&actor.user)?;
        let patch = ProfilePatch {
            name: parse_field(changes.profile.name, DisplayName::parse)?,
            username: parse_field(changes.profile.username, Username::parse)?,
            avatar_url: parse_field(changes.profile.avatar_url, AvatarUrl::parse)?,
        };
        let tier = changes.tier.map(|tier| TierName::parse(&tier)).transpose()?;
        if let Some(tier) = &tier
            && self
                .ports
                .tiers
                .find(tier.as_str())
                .await
                .map_err(Unexpected::from)?
                .is_none()
        {
            return Err(ValidationError::new("tier", format!("no tier is named {:?}", tier.as_str())).into());
        }
        let flags = AccountFlags {
            is_active: changes.is_active,
            is_staff: changes.is_staff,
            is_superuser: changes.is_superuser,
            tier,
        };
        let target = self.admin_get_user(actor, id).await?;
        // The last-superuser rule is the store's to apply, inside the write.
        let now = self.ports.clock.now();
        let updated = self
            .ports
            .users
            .update_account(id, patch, flags, now)
            .await
            .map_err(|err| match err {
                UpdateUserError::NotFound => AdminError::NotFound,
                UpdateUserError::UsernameTaken => AdminError::UsernameTaken,
                UpdateUserError::UnknownTier => ValidationError::new("tier", "no such tier").into(),
                UpdateUserError::LastSuperuser => AdminError::LastSuperuser,
                UpdateUserError::Repository(err) => AdminError::Unexpected(err.into()),
            })?;
        if target.is_active && !updated.is_active {
            self.ports
                .sessions
                .revoke_all_for_user(id, None, now)
                .await
                .map_err(Unexpected::from)?;
        }
        tracing::info!("user changed by an administrator");
        self.audit_admin(AuditAction::AdminUserChanged, actor, id).await;
        Ok(updated)
    }

    /// Soft-deletes a user and ends their sessions.
    #[tracing::instrument(skip_all, fields(actor = %actor.user.id, target = %id))]
    pub async fn admin_delete_user(&self, actor: &Principal, id: UserId) -> Result<(), AdminError> {
        self.admin_get_user(actor, id).await?;
        let now = self.ports.clock.now();
        self.ports
            .users
            .soft_delete(id, now)
            .await
            .map_err(|err| match err {
                DeleteUserError::LastSuperuser => AdminError::LastSuperuser,
                DeleteUserError::Repository(err) => AdminError::Unexpected(err.into()),
            })?;
        self.ports
            .sessions
            .revoke_all_for_user(id, None, now)
            .await
            .map_err(Unexpected::from)?;
        tracing::info!("user soft-deleted by an administrator");
        self.audit_admin(AuditAction::AdminUserDeleted, actor, id).await;
        Ok(())
    }

    /// Undoes a soft delete; the user can log in again.
    #[tracing::instrument(skip_all, fields(actor = %actor.user.id, target = %id))]
    pub async fn admin_restore_user(&self, actor: &Principal, id: UserId) -> Result<User, AdminError> {
        self.admin_get_user(actor, id).await?;
        self.ports
            .users
            .restore(id, self.ports.clock.now())
            .await
            .map_err(Unexpected::from)?;
        tracing::info!("user restored by an administrator");
        self.audit_admin(AuditAction::AdminUserRestored, actor, id).await;
        self.admin_get_user(actor, id).await
    }

    /// Records an administrator's action on a user.
    pub(crate) async fn audit_admin(&self, action: AuditAction, actor: &Principal, target: UserId) {
        self.audit(
            action,
            Some(actor.user.id),
            Some(target),
            &Client::of_session(&actor.session),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_are_bounded_so_the_offset_fits() {
        assert!(check_page(1, MAX_PER_PAGE).is_ok());
        assert!(check_page(MAX_PAGE, MAX_PER_PAGE).is_ok());
        for page in [0, MAX_PAGE + 1, 461_168_601_842_738_792, u64::MAX] {
            let refused = check_page(page, 20).map_err(|err| err.field);
            assert_eq!(refused, Err("page"), "page {page}");
        }
        let offset = (MAX_PAGE - 1) * MAX_PER_PAGE;
        assert!(i64::try_from(offset).is_ok());
    }
}
