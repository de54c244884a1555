//! [`InMemoryUserRepository`]: users in memory, with the SQL store's rules.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use latch_domain::{
    AuthMethods, Email, ProfilePatch, StandingChange, Timestamp, User, UserId, check_standing_change,
};
use latch_ports::{
    AccountFlags, AuthChange, ConsumeLinkError, CreateUserError, DeleteUserError, ImportError, ImportedUser,
    LinkAction, NewUser, PasswordHash, RepositoryError, UpdateUserError, UserCredentials, UserPage,
    UserQuery, UserRepository, VerifiedLogin,
};

use crate::{InMemoryAuthChangeLog, TierNames};

/// Users in a `HashMap`, with the same uniqueness rules as the SQL store.
#[derive(Debug, Default)]
pub struct InMemoryUserRepository {
    rows: Mutex<HashMap<UserId, (User, PasswordHash)>>,
    /// The tiers that exist, shared with the tiers fake as the SQL store's
    /// foreign key shares `tiers`. `None` (no tier repository): every tier is
    /// taken to exist.
    tiers: Option<Arc<TierNames>>,
    /// Where the writes the change-log contract names are recorded.
    changes: Arc<InMemoryAuthChangeLog>,
}

impl InMemoryUserRepository {
    /// A repository that records its changes in `changes` (shared with the
    /// sessions fake) and checks tiers against `tiers` (shared with the tiers fake).
    pub fn new(changes: Arc<InMemoryAuthChangeLog>, tiers: Arc<TierNames>) -> Self {
        Self {
            changes,
            tiers: Some(tiers),
            ..Self::default()
        }
    }

    fn tier_exists(&self, name: &str) -> bool {
        self.tiers.as_ref().is_none_or(|tiers| tiers.exists(name))
    }

    /// Tells the tiers fake, through the registry, that user `id` holds `tier`.
    fn holds_tier(&self, id: UserId, tier: &str) {
        if let Some(tiers) = &self.tiers {
            tiers.hold(id, tier);
        }
    }

    /// The login half of `SessionRepository::create`: if user `id` is active,
    /// not deleted, still has the checked hash, and has no second factor
    /// unless the login passed one (`methods`), sets `last_login_at` and
    /// stores the rehash, and says so.
    pub(crate) fn record_login(
        &self,
        id: UserId,
        login: &VerifiedLogin,
        methods: AuthMethods,
        at: Timestamp,
    ) -> bool {
        let mut rows = self.rows();
        let Some((user, stored)) = rows.get_mut(&id) else {
            return false;
        };
        if !user.can_authenticate() || *stored != login.password_hash {
            return false;
        }
        if user.mfa_enabled && !methods.has_second_factor() {
            return false;
        }
        user.last_login_at = Some(at);
        if let Some(rehash) = &login.rehash {
            *stored = rehash.clone();
        }
        true
    }

    /// The account half of `EmailLinkRepository::consume`: applies `action`
    /// to user `id` if it may still follow a link sent to `address` (active,
    /// not deleted, and for all but a change still at that address, ignoring
    /// case), recording the change where the SQL store does. Writes nothing
    /// on an error.
    pub(crate) fn follow_link(
        &self,
        id: UserId,
        address: &Email,
        action: &LinkAction,
        now: Timestamp,
    ) -> Result<User, ConsumeLinkError> {
        let mut rows = self.rows();
        let Some((user, _)) = rows.get(&id) else {
            return Err(ConsumeLinkError::Invalid);
        };
        let moves = matches!(action, LinkAction::ChangeEmail);
        if !user.can_authenticate() || (!moves && user.email.normalized() != address.normalized()) {
            return Err(ConsumeLinkError::Invalid);
        }
        if moves
            && rows
                .values()
                .any(|(other, _)| other.id != id && other.email.normalized() == address.normalized())
        {
            return Err(ConsumeLinkError::EmailTaken);
        }
        let Some((user, stored)) = rows.get_mut(&id) else {
            return Err(ConsumeLinkError::Invalid);
        };
        match action {
            LinkAction::VerifyEmail => {}
            LinkAction::ResetPassword { password_hash } => *stored = password_hash.clone(),
            LinkAction::ChangeEmail => user.email = address.clone(),
        }
        user.email_verified = true;
        user.updated_at = now;
        let user = user.clone();
        self.changes.record(AuthChange::User(id), now);
        Ok(user)
    }

    /// The second-factor half of `SecondFactorRepository::confirm_totp` and
    /// `remove`: sets user `id`'s `mfa_enabled` (and `updated_at` if it
    /// changes) and records the change, as the SQL store does.
    pub(crate) fn set_mfa_enabled(&self, id: UserId, enabled: bool, now: Timestamp) {
        let mut rows = self.rows();
        if let Some((user, _)) = rows.get_mut(&id)
            && user.mfa_enabled != enabled
        {
            user.mfa_enabled = enabled;
            user.updated_at = now;
        }
        self.changes.record(AuthChange::User(id), now);
    }

    /// The user with this id, whatever its state (what a foreign key sees).
    pub(crate) fn row(&self, id: UserId) -> Option<User> {
        self.rows().get(&id).map(|(user, _)| user.clone())
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (User, PasswordHash)>> {
        self.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn same_login(stored: Option<&str>, wanted: &str) -> bool {
    stored.is_some_and(|s| s.to_lowercase() == wanted.to_lowercase())
}

#[async_trait]
impl UserRepository for InMemoryUserRepository {
    async fn import_batch(&self, batch: &[ImportedUser]) -> Result<(), ImportError> {
        let mut rows = self.rows();
        // Check every row against the stored users and the earlier rows, then
        // insert: nothing is written unless all of them fit.
        let mut emails: HashSet<String> = rows.values().map(|(u, _)| u.email.to_lowercase()).collect();
        let mut usernames: HashSet<String> = rows
            .values()
            .filter_map(|(u, _)| u.username.as_deref().map(str::to_lowercase))
            .collect();
        for (row, user) in batch.iter().enumerate() {
            let row = Some(row);
            if !emails.insert(user.email.as_str().to_lowercase()) {
                return Err(ImportError::EmailTaken { row });
            }
            if let Some(username) = &user.username
                && !usernames.insert(username.as_str().to_lowercase())
            {
                return Err(ImportError::UsernameTaken { row });
            }
            if !self.tier_exists(&user.tier) {
                return Err(ImportError::UnknownTier { row });
            }
        }
        for imported in batch {
            let user = User {
                id: imported.id,
                email: imported.email.clone(),
                username: imported.username.clone(),
                name: imported.name.clone(),
                avatar_url: imported.avatar_url.clone(),
                is_active: imported.is_active,
                is_staff: imported.is_staff,
                is_superuser: imported.is_superuser,
                tier: imported.tier.clone(),
                email_verified: imported.email_verified,
                mfa_enabled: false,
                created_at: imported.created_at,
                updated_at: imported.imported_at,
                last_login_at: None,
                deleted_at: None,
            };
            self.holds_tier(user.id, &user.tier);
            rows.insert(user.id, (user, imported.password_hash.clone()));
        }
        Ok(())
    }

    async fn create(&self, new: NewUser) -> Result<User, CreateUserError> {
        let mut rows = self.rows();
        if rows
            .values()
            .any(|(u, _)| same_login(Some(&u.email), new.email.as_str()))
        {
            return Err(CreateUserError::EmailTaken);
        }
        if let Some(username) = &new.username
            && rows
                .values()
                .any(|(u, _)| same_login(u.username.as_deref(), username.as_str()))
        {
            return Err(CreateUserError::UsernameTaken);
        }
        let user = User {
            id: new.id,
            email: new.email,
            username: new.username,
            name: new.name,
            avatar_url: new.avatar_url,
            is_active: true,
            is_staff: new.is_staff,
            is_superuser: new.is_superuser,
            tier: new.tier,
            email_verified: false,
            mfa_enabled: false,
            created_at: new.now,
            updated_at: new.now,
            last_login_at: None,
            deleted_at: None,
        };
        self.holds_tier(user.id, &user.tier);
        rows.insert(user.id, (user.clone(), new.password_hash));
        Ok(user)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.rows().get(&id).map(|(u, _)| u.clone()))
    }

    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, RepositoryError> {
        Ok(self
            .rows()
            .values()
            .find(|(u, _)| same_login(Some(&u.email), login) || same_login(u.username.as_deref(), login))
            .map(|(user, hash)| UserCredentials {
                user: user.clone(),
                password_hash: hash.clone(),
            }))
    }

    async fn update_account(
        &self,
        id: UserId,
        patch: ProfilePatch,
        flags: AccountFlags,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        let mut rows = self.rows();
        if let Some(Some(username)) = &patch.username
            && rows
                .values()
                .any(|(u, _)| u.id != id && same_login(u.username.as_deref(), username.as_str()))
        {
            return Err(UpdateUserError::UsernameTaken);
        }
        let standing = StandingChange {
            is_superuser: flags.is_superuser,
            is_active: flags.is_active,
            delete: false,
        };
        if removes_the_last_superuser(&rows, id, standing) {
            return Err(UpdateUserError::LastSuperuser);
        }
        let (user, _) = rows.get_mut(&id).ok_or(UpdateUserError::NotFound)?;
        if let Some(name) = patch.name {
            user.name = name;
        }
        if let Some(username) = patch.username {
            user.username = username;
        }
        if let Some(avatar_url) = patch.avatar_url {
            user.avatar_url = avatar_url;
        }
        user.is_active = flags.is_active.unwrap_or(user.is_active);
        user.is_staff = flags.is_staff.unwrap_or(user.is_staff);
        user.is_superuser = flags.is_superuser.unwrap_or(user.is_superuser);
        if let Some(tier) = flags.tier {
            self.holds_tier(id, &tier);
            user.tier = tier;
        }
        user.updated_at = now;
        let user = user.clone();
        self.changes.record(AuthChange::User(id), now);
        drop(rows);
        Ok(user)
    }

    async fn list(&self, query: &UserQuery) -> Result<UserPage, RepositoryError> {
        let search = query
            .search
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        let contains =
            |field: Option<&str>, needle: &str| field.is_some_and(|f| f.to_lowercase().contains(needle));
        let mut matching: Vec<User> = self
            .rows()
            .values()
            .map(|(user, _)| user)
            .filter(|u| query.include_deleted || u.deleted_at.is_none())
            .filter(|u| {
                search.as_deref().is_none_or(|needle| {
                    contains(Some(&u.email), needle)
                        || contains(u.username.as_deref(), needle)
                        || contains(u.name.as_deref(), needle)
                })
            })
            .cloned()
            .collect();
        matching.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let total = matching.len() as u64;
        let skip = query.page.saturating_sub(1).saturating_mul(query.per_page);
        let items = matching
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(query.per_page).unwrap_or(usize::MAX))
            .collect();
        Ok(UserPage { items, total })
    }

    async fn restore(&self, id: UserId, now: Timestamp) -> Result<(), RepositoryError> {
        let mut rows = self.rows();
        if let Some((user, _)) = rows.get_mut(&id)
            && user.deleted_at.is_some()
        {
            user.deleted_at = None;
            user.updated_at = now;
        }
        self.changes.record(AuthChange::User(id), now);
        Ok(())
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepositoryError> {
        let mut rows = self.rows();
        if let Some((user, stored)) = rows.get_mut(&id) {
            *stored = hash.clone();
            user.updated_at = now;
        }
        self.changes.record(AuthChange::User(id), now);
        Ok(())
    }

    async fn soft_delete(&self, id: UserId, at: Timestamp) -> Result<(), DeleteUserError> {
        let mut rows = self.rows();
        let delete = StandingChange {
            delete: true,
            ..StandingChange::default()
        };
        if removes_the_last_superuser(&rows, id, delete) {
            return Err(DeleteUserError::LastSuperuser);
        }
        if let Some((user, _)) = rows.get_mut(&id)
            && user.deleted_at.is_none()
        {
            user.deleted_at = Some(at);
            user.updated_at = at;
        }
        self.changes.record(AuthChange::User(id), at);
        Ok(())
    }
}

/// Whether `change` to user `id` would take away the last active superuser,
/// decided under the same lock as the write.
fn removes_the_last_superuser(
    rows: &HashMap<UserId, (User, PasswordHash)>,
    id: UserId,
    change: StandingChange,
) -> bool {
    let Some((target, _)) = rows.get(&id) else {
        return false;
    };
    let active = rows
        .values()
        .filter(|(u, _)| latch_domain::is_active_superuser(u))
        .count() as u64;
    check_standing_change(target, change, active).is_err()
}

#[cfg(test)]
mod tests {
    crate::user_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
