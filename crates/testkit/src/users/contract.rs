//! The `UserRepository` contract: builders of test users, the behaviours
//! every implementation must show, and the macro that expands them into tests.

use chrono::Duration;
use latch_domain::{
    AvatarUrl, DisplayName, Email, ProfilePatch, TierName, Timestamp, User, UserId, Username,
};
use latch_ports::{
    AccountFlags, CreateUserError, DeleteUserError, ImportError, ImportedUser, NewUser, PasswordHash,
    UpdateUserError, UserPage, UserQuery, VerifiedLogin,
};

use crate::{FixedClock, Stores};
use latch_ports::Clock;

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
        name: Some(DisplayName::parse("Ada Lovelace").unwrap()),
        avatar_url: None,
        password_hash: PasswordHash(NEW_USER_HASH.into()),
        is_superuser: false,
        is_staff: false,
        tier: TierName::default(),
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
        tier: TierName::default(),
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
            tier: Some(TierName::parse("pro").unwrap()),
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
        named.name = Some(DisplayName::parse("Admiral HOPPER").unwrap());
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
            .map(|u| u.email.to_string())
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
            tier: TierName::parse("pro").unwrap(),
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
                email: Email::parse("Ada@Example.com").unwrap(),
                username: Some(Username::parse("Ada").unwrap()),
                name: Some(DisplayName::parse("Ada Lovelace").unwrap()),
                avatar_url: Some(AvatarUrl::parse("https://img.example/ada.png").unwrap()),
                is_active: false,
                is_staff: true,
                is_superuser: true,
                tier: TierName::parse("pro").unwrap(),
                email_verified: true,
                mfa_enabled: false,
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
                tier: TierName::parse("no-such-tier").unwrap(),
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
