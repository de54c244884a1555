//! The `UserRepository` contract, and an in-memory fake that passes it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use latch_domain::{
    DisplayName, Email, ProfilePatch, StandingChange, Timestamp, User, UserId, Username,
    check_standing_change,
};
use latch_ports::{
    AccountFlags, AuthChange, CreateUserError, DeleteUserError, ImportError, ImportedUser, NewUser,
    PasswordHash, RepositoryError, UpdateUserError, UserCredentials, UserPage, UserQuery, UserRepository,
    VerifiedLogin,
};

use crate::{FixedClock, InMemoryAuthChangeLog, Stores};
use latch_ports::Clock;

/// Users in a `HashMap`, with the same uniqueness rules as the SQL store.
#[derive(Debug, Default)]
pub struct InMemoryUserRepository {
    rows: Mutex<HashMap<UserId, (User, PasswordHash)>>,
    /// The tiers that exist, kept up to date by an `InMemoryTierRepository`
    /// over this repository, as the SQL store's foreign key sees `tiers`.
    /// `None` (no tier repository): every tier is taken to exist.
    tiers: Mutex<Option<HashSet<String>>>,
    /// Where the writes the change-log contract names are recorded.
    changes: Arc<InMemoryAuthChangeLog>,
}

impl InMemoryUserRepository {
    /// A repository that records its changes in `changes` (shared with the sessions fake).
    pub fn with_change_log(changes: Arc<InMemoryAuthChangeLog>) -> Self {
        Self {
            changes,
            ..Self::default()
        }
    }

    /// Records that tier `name` now exists (`true`) or no longer does.
    pub(crate) fn set_tier_exists(&self, name: &str, exists: bool) {
        let mut tiers = self.tiers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tiers = tiers.get_or_insert_with(HashSet::new);
        if exists {
            tiers.insert(name.to_owned());
        } else {
            tiers.remove(name);
        }
    }

    fn tier_exists(&self, name: &str) -> bool {
        let tiers = self.tiers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        tiers.as_ref().is_none_or(|tiers| tiers.contains(name))
    }

    /// Whether any user, deleted or not, has tier `name`.
    pub(crate) fn any_has_tier(&self, name: &str) -> bool {
        self.rows().values().any(|(user, _)| user.tier == name)
    }

    /// The login half of `SessionRepository::create`: if user `id` is active,
    /// not deleted and still has the checked hash, sets `last_login_at` and
    /// stores the rehash, and says so.
    pub(crate) fn record_login(&self, id: UserId, login: &VerifiedLogin, at: Timestamp) -> bool {
        let mut rows = self.rows();
        let Some((user, stored)) = rows.get_mut(&id) else {
            return false;
        };
        if !user.can_authenticate() || *stored != login.password_hash {
            return false;
        }
        user.last_login_at = Some(at);
        if let Some(rehash) = &login.rehash {
            *stored = rehash.clone();
        }
        true
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
                email: imported.email.as_str().to_owned(),
                username: imported.username.as_ref().map(|u| u.as_str().to_owned()),
                name: imported.name.as_ref().map(|n| n.as_str().to_owned()),
                avatar_url: imported.avatar_url.as_ref().map(|a| a.as_str().to_owned()),
                is_active: imported.is_active,
                is_staff: imported.is_staff,
                is_superuser: imported.is_superuser,
                tier: imported.tier.clone(),
                email_verified: imported.email_verified,
                created_at: imported.created_at,
                updated_at: imported.imported_at,
                last_login_at: None,
                deleted_at: None,
            };
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
            email: new.email.as_str().to_owned(),
            username: new.username.map(|u| u.as_str().to_owned()),
            name: new.name,
            avatar_url: new.avatar_url,
            is_active: true,
            is_staff: new.is_staff,
            is_superuser: new.is_superuser,
            tier: new.tier,
            email_verified: false,
            created_at: new.now,
            updated_at: new.now,
            last_login_at: None,
            deleted_at: None,
        };
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

    async fn update_profile(
        &self,
        id: UserId,
        patch: ProfilePatch,
        now: Timestamp,
    ) -> Result<User, UpdateUserError> {
        self.update_account(id, patch, AccountFlags::default(), now).await
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
            user.name = name.map(|n| n.as_str().to_owned());
        }
        if let Some(username) = patch.username {
            user.username = username.map(|u| u.as_str().to_owned());
        }
        if let Some(avatar_url) = patch.avatar_url {
            user.avatar_url = avatar_url.map(|a| a.as_str().to_owned());
        }
        user.is_active = flags.is_active.unwrap_or(user.is_active);
        user.is_staff = flags.is_staff.unwrap_or(user.is_staff);
        user.is_superuser = flags.is_superuser.unwrap_or(user.is_superuser);
        if let Some(tier) = flags.tier {
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

// ---- the contract ---------------------------------------------------------

/// The password hash [`new_user`] gives every user.
pub const NEW_USER_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

/// What a login that checked a [`new_user`]'s password hands `SessionRepository::create`.
pub fn verified_login() -> VerifiedLogin {
    VerifiedLogin {
        password_hash: PasswordHash(NEW_USER_HASH.into()),
        rehash: None,
    }
}

/// A valid `NewUser` for tests, created at `now`.
#[allow(clippy::unwrap_used)]
pub fn new_user(email: &str, username: Option<&str>, now: Timestamp) -> NewUser {
    NewUser {
        id: UserId::generate(),
        email: Email::parse(email).unwrap(),
        username: username.map(|u| Username::parse(u).unwrap()),
        name: Some("Ada Lovelace".into()),
        avatar_url: None,
        password_hash: PasswordHash(NEW_USER_HASH.into()),
        is_superuser: false,
        is_staff: false,
        tier: latch_domain::DEFAULT_TIER.into(),
        now,
    }
}

/// A valid `ImportedUser` for tests: active, no privileges, default tier,
/// created a year before `now` and imported at `now`.
#[allow(clippy::unwrap_used)]
pub fn imported_user(email: &str, username: Option<&str>, now: Timestamp) -> ImportedUser {
    ImportedUser {
        id: UserId::generate(),
        email: Email::parse(email).unwrap(),
        username: username.map(|u| Username::parse(u).unwrap()),
        name: None,
        avatar_url: None,
        password_hash: PasswordHash("$2b$04$p0GgzLaBuR5TaTyoo.TAse0NeNXSOx1xuc6PHhCB4qv638fVr4l3i".into()),
        is_active: true,
        is_staff: false,
        is_superuser: false,
        email_verified: false,
        tier: latch_domain::DEFAULT_TIER.into(),
        created_at: now - Duration::days(365),
        imported_at: now,
    }
}

/// Expands the `UserRepository` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! user_repository_contract {
    ($make:expr) => {
        $crate::user_repository_contract!(@tests $make;
            create_then_find_by_id,
            find_unknown_is_none,
            find_credentials_by_email_ignores_case,
            find_credentials_by_username_ignores_case,
            duplicate_email_ignoring_case_is_email_taken,
            duplicate_username_ignoring_case_is_username_taken,
            users_without_username_do_not_collide,
            update_profile_changes_only_given_fields,
            update_profile_to_taken_username_is_rejected,
            update_profile_of_unknown_user_is_not_found,
            set_password_hash_replaces_it,
            soft_delete_keeps_the_row_and_its_first_time,
            update_account_changes_flags_and_profile_together,
            list_pages_in_creation_order_with_a_total,
            list_searches_email_username_and_name_ignoring_case,
            list_hides_deleted_users_unless_asked,
            the_last_active_superuser_keeps_their_standing,
            concurrent_removals_leave_one_superuser,
            restore_undoes_a_soft_delete,
            import_batch_inserts_all,
            import_batch_of_nothing_is_a_no_op,
            imported_users_keep_flags_and_dates,
            import_batch_is_all_or_nothing_on_conflict,
            import_batch_names_a_taken_username,
            import_batch_refuses_duplicates_within_the_batch,
            import_batch_refuses_an_unknown_tier,
            import_batch_larger_than_one_statement,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::users::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use super::*;

    pub async fn create_then_find_by_id(stores: &Stores) {
        let now = FixedClock::new().now();
        let created = stores
            .users
            .create(new_user("Ada@Example.com", Some("ada"), now))
            .await
            .unwrap();
        assert_eq!(created.email, "Ada@Example.com");
        assert_eq!(created.username.as_deref(), Some("ada"));
        assert!(created.is_active && !created.is_superuser && !created.is_staff);
        assert_eq!(created.tier, latch_domain::DEFAULT_TIER);
        assert_eq!((created.created_at, created.updated_at), (now, now));
        let found = stores.users.find_by_id(created.id).await.unwrap().unwrap();
        assert_eq!(found, created);
    }

    pub async fn find_unknown_is_none(stores: &Stores) {
        assert!(
            stores
                .users
                .find_by_id(UserId::generate())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            stores
                .users
                .find_credentials("nobody@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn find_credentials_by_email_ignores_case(stores: &Stores) {
        let now = FixedClock::new().now();
        let new = new_user("Ada@Example.com", None, now);
        let hash = new.password_hash.clone();
        let created = stores.users.create(new).await.unwrap();
        let found = stores
            .users
            .find_credentials("ada@EXAMPLE.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.user.id, created.id);
        assert_eq!(found.password_hash, hash);
    }

    pub async fn find_credentials_by_username_ignores_case(stores: &Stores) {
        let now = FixedClock::new().now();
        let created = stores
            .users
            .create(new_user("ada@example.com", Some("Ada.L"), now))
            .await
            .unwrap();
        let found = stores.users.find_credentials("ada.l").await.unwrap().unwrap();
        assert_eq!(found.user.id, created.id);
    }

    pub async fn duplicate_email_ignoring_case_is_email_taken(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .users
            .create(new_user("ada@example.com", None, now))
            .await
            .unwrap();
        let again = stores
            .users
            .create(new_user("ADA@example.com", Some("other"), now))
            .await;
        assert!(matches!(again, Err(CreateUserError::EmailTaken)), "{again:?}");
        assert!(
            stores.users.find_credentials("other").await.unwrap().is_none(),
            "a row was written"
        );
    }

    pub async fn duplicate_username_ignoring_case_is_username_taken(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .users
            .create(new_user("ada@example.com", Some("ada"), now))
            .await
            .unwrap();
        let again = stores
            .users
            .create(new_user("bob@example.com", Some("ADA"), now))
            .await;
        assert!(matches!(again, Err(CreateUserError::UsernameTaken)), "{again:?}");
        assert!(
            stores
                .users
                .find_credentials("bob@example.com")
                .await
                .unwrap()
                .is_none(),
            "a row was written"
        );
    }

    pub async fn users_without_username_do_not_collide(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .users
            .create(new_user("a@example.com", None, now))
            .await
            .unwrap();
        stores
            .users
            .create(new_user("b@example.com", None, now))
            .await
            .unwrap();
    }

    pub async fn update_profile_changes_only_given_fields(stores: &Stores) {
        let clock = FixedClock::new();
        let created = stores
            .users
            .create(new_user("ada@example.com", Some("ada"), clock.now()))
            .await
            .unwrap();
        clock.advance(Duration::seconds(5));
        let patch = ProfilePatch {
            name: Some(Some(DisplayName::parse("Countess").unwrap())),
            username: None,
            avatar_url: Some(None),
        };
        let updated = stores
            .users
            .update_profile(created.id, patch, clock.now())
            .await
            .unwrap();
        assert_eq!(updated.name.as_deref(), Some("Countess"));
        assert_eq!(updated.username.as_deref(), Some("ada"));
        assert_eq!(updated.avatar_url, None);
        assert_eq!(updated.updated_at, clock.now());
        assert_eq!(updated.created_at, created.created_at);
        assert_eq!(
            stores.users.find_by_id(created.id).await.unwrap().unwrap(),
            updated
        );
    }

    pub async fn update_profile_to_taken_username_is_rejected(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .users
            .create(new_user("ada@example.com", Some("ada"), now))
            .await
            .unwrap();
        let bob = stores
            .users
            .create(new_user("bob@example.com", Some("bob"), now))
            .await
            .unwrap();
        let patch = ProfilePatch {
            name: Some(Some(DisplayName::parse("Changed").unwrap())),
            username: Some(Some(Username::parse("ADA").unwrap())),
            avatar_url: None,
        };
        let result = stores.users.update_profile(bob.id, patch, now).await;
        assert!(
            matches!(result, Err(UpdateUserError::UsernameTaken)),
            "{result:?}"
        );
        let unchanged = stores.users.find_by_id(bob.id).await.unwrap().unwrap();
        assert_eq!(unchanged, bob, "a partial update was written");
        // Changing the case of one's own username is not a collision.
        let own = ProfilePatch {
            username: Some(Some(Username::parse("BOB").unwrap())),
            ..Default::default()
        };
        assert_eq!(
            stores
                .users
                .update_profile(bob.id, own, now)
                .await
                .unwrap()
                .username
                .as_deref(),
            Some("BOB")
        );
    }

    pub async fn update_profile_of_unknown_user_is_not_found(stores: &Stores) {
        let now = FixedClock::new().now();
        let patch = ProfilePatch {
            name: Some(None),
            ..Default::default()
        };
        let result = stores.users.update_profile(UserId::generate(), patch, now).await;
        assert!(matches!(result, Err(UpdateUserError::NotFound)), "{result:?}");
    }

    pub async fn set_password_hash_replaces_it(stores: &Stores) {
        let now = FixedClock::new().now();
        let created = stores
            .users
            .create(new_user("ada@example.com", None, now))
            .await
            .unwrap();
        let hash = PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA".into());
        stores
            .users
            .set_password_hash(created.id, &hash, now)
            .await
            .unwrap();
        let found = stores
            .users
            .find_credentials("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.password_hash, hash);
    }

    pub async fn soft_delete_keeps_the_row_and_its_first_time(stores: &Stores) {
        let clock = FixedClock::new();
        let created = stores
            .users
            .create(new_user("ada@example.com", Some("ada"), clock.now()))
            .await
            .unwrap();
        clock.advance(Duration::minutes(1));
        let deleted_at = clock.now();
        stores.users.soft_delete(created.id, deleted_at).await.unwrap();
        clock.advance(Duration::minutes(1));
        stores.users.soft_delete(created.id, clock.now()).await.unwrap();
        let found = stores.users.find_by_id(created.id).await.unwrap().unwrap();
        assert_eq!(found.deleted_at, Some(deleted_at));
        assert_eq!(found.email, created.email);
        assert!(!found.can_authenticate());
        // Still found by login, so a login costs the same whatever the account's state.
        assert!(stores.users.find_credentials("ada").await.unwrap().is_some());
        stores
            .users
            .soft_delete(UserId::generate(), clock.now())
            .await
            .unwrap();
    }

    pub async fn update_account_changes_flags_and_profile_together(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .tiers
            .create(&crate::tiers::tier("pro", now))
            .await
            .unwrap();
        let created = stores
            .users
            .create(new_user("ada@example.com", None, now))
            .await
            .unwrap();
        let flags = AccountFlags {
            is_active: Some(false),
            is_staff: Some(true),
            is_superuser: Some(true),
            tier: Some("pro".into()),
        };
        let patch = ProfilePatch {
            name: Some(None),
            ..Default::default()
        };
        let updated = stores
            .users
            .update_account(created.id, patch, flags, now)
            .await
            .unwrap();
        assert!(!updated.is_active && updated.is_staff && updated.is_superuser);
        assert_eq!(updated.tier, "pro");
        assert_eq!(updated.name, None);
        assert_eq!(
            stores.users.find_by_id(created.id).await.unwrap().unwrap(),
            updated
        );
    }

    async fn users_created_one_second_apart(stores: &Stores, emails: &[&str]) -> Vec<User> {
        let clock = FixedClock::new();
        let mut created = Vec::new();
        for email in emails {
            created.push(
                stores
                    .users
                    .create(new_user(email, None, clock.now()))
                    .await
                    .unwrap(),
            );
            clock.advance(Duration::seconds(1));
        }
        created
    }

    fn query(page: u64, per_page: u64) -> UserQuery {
        UserQuery {
            search: None,
            include_deleted: false,
            page,
            per_page,
        }
    }

    pub async fn list_pages_in_creation_order_with_a_total(stores: &Stores) {
        let emails = [
            "a@example.com",
            "b@example.com",
            "c@example.com",
            "d@example.com",
            "e@example.com",
        ];
        let created = users_created_one_second_apart(stores, &emails).await;
        let ids = |page: &UserPage| page.items.iter().map(|u| u.id).collect::<Vec<_>>();
        let first = stores.users.list(&query(1, 2)).await.unwrap();
        assert_eq!(
            (ids(&first), first.total),
            (vec![created[0].id, created[1].id], 5)
        );
        let last = stores.users.list(&query(3, 2)).await.unwrap();
        assert_eq!((ids(&last), last.total), (vec![created[4].id], 5));
        let beyond = stores.users.list(&query(4, 2)).await.unwrap();
        assert_eq!((beyond.items.len(), beyond.total), (0, 5));
    }

    pub async fn list_searches_email_username_and_name_ignoring_case(stores: &Stores) {
        let now = FixedClock::new().now();
        let by_email = stores
            .users
            .create(new_user("Grace.Hopper@navy.example", None, now))
            .await
            .unwrap();
        let by_username = stores
            .users
            .create(new_user("x@example.com", Some("HopperFan"), now))
            .await
            .unwrap();
        let mut named = new_user("y@example.com", None, now);
        named.name = Some("Admiral HOPPER".into());
        let by_name = stores.users.create(named).await.unwrap();
        stores
            .users
            .create(new_user("unrelated@example.com", None, now))
            .await
            .unwrap();
        let found = stores
            .users
            .list(&UserQuery {
                search: Some("hopper".into()),
                ..query(1, 10)
            })
            .await
            .unwrap();
        let mut ids: Vec<_> = found.items.iter().map(|u| u.id).collect();
        ids.sort();
        let mut expected = vec![by_email.id, by_username.id, by_name.id];
        expected.sort();
        assert_eq!((ids, found.total), (expected, 3));
        // LIKE wildcards in the search are literal characters.
        for wildcard in ["%", "_"] {
            let page = stores
                .users
                .list(&UserQuery {
                    search: Some(wildcard.into()),
                    ..query(1, 10)
                })
                .await
                .unwrap();
            assert_eq!(page.total, 0, "{wildcard} matched as a wildcard");
        }
    }

    pub async fn list_hides_deleted_users_unless_asked(stores: &Stores) {
        let created = users_created_one_second_apart(stores, &["a@example.com", "b@example.com"]).await;
        stores
            .users
            .soft_delete(created[0].id, FixedClock::new().now())
            .await
            .unwrap();
        assert_eq!(stores.users.list(&query(1, 10)).await.unwrap().total, 1);
        let all = stores
            .users
            .list(&UserQuery {
                include_deleted: true,
                ..query(1, 10)
            })
            .await
            .unwrap();
        assert_eq!(all.total, 2);
    }

    /// Creates a user with `is_superuser`, returning its id.
    async fn superuser(stores: &Stores, email: &str, is_superuser: bool) -> UserId {
        let mut new = new_user(email, None, FixedClock::new().now());
        new.is_superuser = is_superuser;
        stores.users.create(new).await.unwrap().id
    }

    fn flags(is_active: Option<bool>, is_superuser: Option<bool>) -> AccountFlags {
        AccountFlags {
            is_active,
            is_superuser,
            ..AccountFlags::default()
        }
    }

    pub async fn the_last_active_superuser_keeps_their_standing(stores: &Stores) {
        let now = FixedClock::new().now();
        let last = superuser(stores, "a@example.com", true).await;
        // An inactive and a deleted superuser do not count; an ordinary user does not either.
        let inactive = superuser(stores, "b@example.com", true).await;
        stores
            .users
            .update_account(inactive, ProfilePatch::default(), flags(Some(false), None), now)
            .await
            .unwrap();
        let deleted = superuser(stores, "c@example.com", true).await;
        stores.users.soft_delete(deleted, now).await.unwrap();
        let ordinary = superuser(stores, "d@example.com", false).await;
        let before = stores.users.find_by_id(last).await.unwrap().unwrap();

        let later = now + Duration::minutes(1);
        for change in [flags(None, Some(false)), flags(Some(false), None)] {
            let refused = stores
                .users
                .update_account(last, ProfilePatch::default(), change.clone(), later)
                .await;
            assert!(
                matches!(refused, Err(UpdateUserError::LastSuperuser)),
                "{change:?}: {refused:?}"
            );
        }
        let refused = stores.users.soft_delete(last, later).await;
        assert!(
            matches!(refused, Err(DeleteUserError::LastSuperuser)),
            "{refused:?}"
        );
        assert_eq!(
            stores.users.find_by_id(last).await.unwrap().unwrap(),
            before,
            "a refused change wrote something"
        );

        // Changes that leave the standing alone pass; so does removing a second superuser.
        let staff = AccountFlags {
            is_staff: Some(true),
            ..flags(Some(true), Some(true))
        };
        stores
            .users
            .update_account(last, ProfilePatch::default(), staff, later)
            .await
            .unwrap();
        stores.users.soft_delete(ordinary, later).await.unwrap();
        stores
            .users
            .update_account(inactive, ProfilePatch::default(), flags(Some(true), None), later)
            .await
            .unwrap();
        stores
            .users
            .update_account(last, ProfilePatch::default(), flags(None, Some(false)), later)
            .await
            .unwrap();
        let refused = stores.users.soft_delete(inactive, later).await;
        assert!(
            matches!(refused, Err(DeleteUserError::LastSuperuser)),
            "{refused:?}"
        );
    }

    pub async fn concurrent_removals_leave_one_superuser(stores: &Stores) {
        let now = FixedClock::new().now();
        let mut survivor = superuser(stores, "first@example.com", true).await;
        for round in 0..8 {
            let newcomer = superuser(stores, &format!("su{round}@example.com"), true).await;
            // Two superusers, and each is removed at the same moment by a different path.
            let (demoted, deleted) = tokio::join!(
                stores
                    .users
                    .update_account(survivor, ProfilePatch::default(), flags(None, Some(false)), now),
                stores.users.soft_delete(newcomer, now),
            );
            let outcome = format!("round {round}: demote {demoted:?}, delete {deleted:?}");
            let demotion_won = matches!((&demoted, &deleted), (Ok(_), Err(DeleteUserError::LastSuperuser)));
            let deletion_won = matches!(
                (&demoted, &deleted),
                (Err(UpdateUserError::LastSuperuser), Ok(()))
            );
            assert!(
                demotion_won || deletion_won,
                "exactly one removal must win: {outcome}"
            );
            if demotion_won {
                survivor = newcomer;
            }
            let admins = stores
                .users
                .list(&UserQuery {
                    search: None,
                    include_deleted: false,
                    page: 1,
                    per_page: 100,
                })
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(latch_domain::is_active_superuser)
                .map(|u| u.id)
                .collect::<Vec<_>>();
            assert_eq!(admins, [survivor], "{outcome}");
        }
    }

    pub async fn restore_undoes_a_soft_delete(stores: &Stores) {
        let clock = FixedClock::new();
        let created = stores
            .users
            .create(new_user("ada@example.com", None, clock.now()))
            .await
            .unwrap();
        stores.users.soft_delete(created.id, clock.now()).await.unwrap();
        clock.advance(Duration::minutes(1));
        stores.users.restore(created.id, clock.now()).await.unwrap();
        let restored = stores.users.find_by_id(created.id).await.unwrap().unwrap();
        assert_eq!(restored.deleted_at, None);
        assert_eq!(restored.updated_at, clock.now());
        assert!(restored.can_authenticate());
    }
    async fn stored_emails(stores: &Stores) -> Vec<String> {
        let all = UserQuery {
            search: None,
            include_deleted: true,
            page: 1,
            per_page: 10_000,
        };
        let mut emails: Vec<String> = stores
            .users
            .list(&all)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|u| u.email)
            .collect();
        emails.sort();
        emails
    }

    pub async fn import_batch_inserts_all(stores: &Stores) {
        let now = FixedClock::new().now();
        let batch = [
            imported_user("a@example.com", Some("ann"), now),
            imported_user("b@example.com", None, now),
            imported_user("c@example.com", Some("cid"), now),
        ];
        stores.users.import_batch(&batch).await.unwrap();
        for user in &batch {
            let found = stores
                .users
                .find_credentials(user.email.as_str())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(found.user.id, user.id);
            assert_eq!(found.password_hash, user.password_hash);
        }
        assert!(stores.users.find_credentials("CID").await.unwrap().is_some());
    }

    pub async fn import_batch_of_nothing_is_a_no_op(stores: &Stores) {
        stores.users.import_batch(&[]).await.unwrap();
        assert!(stored_emails(stores).await.is_empty());
    }

    pub async fn imported_users_keep_flags_and_dates(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .tiers
            .create(&crate::tiers::tier("pro", now))
            .await
            .unwrap();
        let created_at = now - Duration::days(1000);
        let user = ImportedUser {
            name: Some(DisplayName::parse("Ada Lovelace").unwrap()),
            avatar_url: Some(latch_domain::AvatarUrl::parse("https://img.example/ada.png").unwrap()),
            is_active: false,
            is_staff: true,
            is_superuser: true,
            email_verified: true,
            tier: "pro".into(),
            created_at,
            ..imported_user("Ada@Example.com", Some("Ada"), now)
        };
        stores
            .users
            .import_batch(std::slice::from_ref(&user))
            .await
            .unwrap();
        let found = stores.users.find_by_id(user.id).await.unwrap().unwrap();
        assert_eq!(
            found,
            User {
                id: user.id,
                email: "Ada@Example.com".into(),
                username: Some("Ada".into()),
                name: Some("Ada Lovelace".into()),
                avatar_url: Some("https://img.example/ada.png".into()),
                is_active: false,
                is_staff: true,
                is_superuser: true,
                tier: "pro".into(),
                email_verified: true,
                created_at,
                updated_at: now,
                last_login_at: None,
                deleted_at: None,
            }
        );
    }

    pub async fn import_batch_is_all_or_nothing_on_conflict(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .users
            .create(new_user("taken@example.com", None, now))
            .await
            .unwrap();
        let batch = [
            imported_user("first@example.com", None, now),
            imported_user("TAKEN@example.com", None, now),
            imported_user("third@example.com", None, now),
        ];
        let outcome = stores.users.import_batch(&batch).await;
        assert!(
            matches!(outcome, Err(ImportError::EmailTaken { row: Some(1) })),
            "{outcome:?}"
        );
        assert_eq!(stored_emails(stores).await, vec!["taken@example.com"]);
    }

    pub async fn import_batch_names_a_taken_username(stores: &Stores) {
        let now = FixedClock::new().now();
        stores
            .users
            .create(new_user("ada@example.com", Some("ada"), now))
            .await
            .unwrap();
        let batch = [
            imported_user("first@example.com", Some("first"), now),
            imported_user("second@example.com", None, now),
            imported_user("third@example.com", Some("ADA"), now),
        ];
        let outcome = stores.users.import_batch(&batch).await;
        assert!(
            matches!(outcome, Err(ImportError::UsernameTaken { row: Some(2) })),
            "{outcome:?}"
        );
        assert_eq!(stored_emails(stores).await, vec!["ada@example.com"]);
    }

    /// A later row repeating an earlier one's email or username (ignoring case) is the one at fault.
    pub async fn import_batch_refuses_duplicates_within_the_batch(stores: &Stores) {
        let now = FixedClock::new().now();
        let same_email = [
            imported_user("a@example.com", None, now),
            imported_user("b@example.com", None, now),
            imported_user("A@EXAMPLE.COM", None, now),
        ];
        let outcome = stores.users.import_batch(&same_email).await;
        assert!(
            matches!(outcome, Err(ImportError::EmailTaken { row: Some(2) })),
            "{outcome:?}"
        );
        let same_username = [
            imported_user("a@example.com", Some("ada"), now),
            imported_user("b@example.com", Some("Ada"), now),
        ];
        let outcome = stores.users.import_batch(&same_username).await;
        assert!(
            matches!(outcome, Err(ImportError::UsernameTaken { row: Some(1) })),
            "{outcome:?}"
        );
        assert!(stored_emails(stores).await.is_empty(), "a row was written");
    }

    pub async fn import_batch_refuses_an_unknown_tier(stores: &Stores) {
        let now = FixedClock::new().now();
        let batch = [
            imported_user("a@example.com", None, now),
            ImportedUser {
                tier: "no-such-tier".into(),
                ..imported_user("b@example.com", None, now)
            },
        ];
        let outcome = stores.users.import_batch(&batch).await;
        assert!(
            matches!(outcome, Err(ImportError::UnknownTier { row: Some(1) })),
            "{outcome:?}"
        );
        assert!(stored_emails(stores).await.is_empty(), "a row was written");
    }

    /// Batches larger than what one SQL statement can carry still land whole,
    /// and a conflict in their last row still keeps all of them out.
    pub async fn import_batch_larger_than_one_statement(stores: &Stores) {
        let now = FixedClock::new().now();
        let batch: Vec<ImportedUser> = (0..2500)
            .map(|i| imported_user(&format!("user{i}@example.com"), Some(&format!("user{i}")), now))
            .collect();
        let mut conflicting = batch.clone();
        conflicting.push(imported_user("user7@EXAMPLE.com", None, now));
        let outcome = stores.users.import_batch(&conflicting).await;
        assert!(
            matches!(outcome, Err(ImportError::EmailTaken { row: Some(2500) })),
            "{outcome:?}"
        );
        assert!(stored_emails(stores).await.is_empty(), "a row was written");
        stores.users.import_batch(&batch).await.unwrap();
        assert_eq!(stored_emails(stores).await.len(), 2500);
    }
}

pub use behaviours::*;

#[cfg(test)]
mod tests {
    crate::user_repository_contract!(async { Some(crate::Stores::in_memory()) });
}
