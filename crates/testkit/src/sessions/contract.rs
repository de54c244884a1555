//! The `SessionRepository` contract: the behaviours every implementation must
//! show (purging's are in `purge.rs`), and the macro that expands them into tests.

use chrono::Duration;
use latch_domain::{AuthMethods, RefreshTokenRecord, Session, SessionId, Timestamp, TokenHash, UserId};
use latch_ports::{CreateSessionError, RefreshContext, RotateOutcome, SessionWithUser, VerifiedLogin};
use uuid::Uuid;

use crate::{FixedClock, Stores};
use latch_ports::Clock;

/// Expands the `SessionRepository` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! session_repository_contract {
    ($make:expr) => {
        $crate::session_repository_contract!(@tests $make;
            create_then_find_session_and_token,
            create_records_the_login_and_stores_a_rehash,
            create_refuses_an_account_that_changed,
            create_racing_an_account_change_leaves_no_live_session,
            create_refuses_a_password_only_session_once_mfa_is_enabled,
            a_session_keeps_how_its_user_logged_in,
            find_unknown_is_none,
            refresh_context_is_the_token_its_session_and_its_user,
            session_with_user_is_the_session_and_its_user,
            rotate_current_token_stores_successor,
            rotate_rotated_token_writes_nothing,
            concurrent_rotations_have_exactly_one_winner,
            revoke_is_idempotent_and_keeps_first_time,
            revoke_unknown_session_is_a_no_op,
            revoke_all_for_user_keeps_the_given_session,
            touch_sets_last_used_at,
            duplicate_token_hash_is_refused_and_writes_nothing,
            list_live_for_user_is_newest_first_and_only_live,
            purge_ended_sessions_deletes_only_those_ended_before_the_cutoff,
            purge_ended_sessions_honours_the_limit_and_continues,
            purge_refresh_tokens_keeps_every_token_of_live_sessions,
            purge_refresh_tokens_honours_the_limit_and_continues,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::sessions::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use super::*;
    use latch_domain::ProfilePatch;
    use latch_ports::{AccountFlags, PasswordHash};

    use crate::users::{new_user, verified_login};

    async fn user(stores: &Stores, email: &str) -> UserId {
        let now = FixedClock::new().now();
        stores.users.create(new_user(email, None, now)).await.unwrap().id
    }

    fn session(user_id: UserId, now: Timestamp) -> Session {
        Session {
            id: SessionId::generate(),
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: now + Duration::days(30),
            revoked_at: None,
            user_agent: Some("contract-test/1.0".into()),
            ip: Some("192.0.2.7".into()),
            auth_methods: AuthMethods::Password,
        }
    }

    /// Distinct per call, so tokens of different tests and sessions never collide.
    fn random_seed() -> [u8; 32] {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        seed
    }

    fn token(
        session_id: SessionId,
        parent_id: Option<Uuid>,
        seed: impl Into<Seed>,
        now: Timestamp,
    ) -> RefreshTokenRecord {
        RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id,
            token_hash: TokenHash(seed.into().0),
            parent_id,
            created_at: now,
            expires_at: now + Duration::days(7),
            rotated_at: None,
            successor_id: None,
            successor_sealed: None,
        }
    }

    struct Seed([u8; 32]);

    impl From<u8> for Seed {
        fn from(byte: u8) -> Self {
            let mut seed = random_seed();
            seed[0] = byte;
            Seed(seed)
        }
    }

    impl From<[u8; 32]> for Seed {
        fn from(bytes: [u8; 32]) -> Self {
            Seed(bytes)
        }
    }

    async fn logged_in(stores: &Stores, email: &str, now: Timestamp) -> (Session, RefreshTokenRecord) {
        let s = session(user(stores, email).await, now);
        let t = token(s.id, None, random_seed(), now);
        stores.sessions.create(&s, &t, &verified_login()).await.unwrap();
        (s, t)
    }

    pub async fn create_records_the_login_and_stores_a_rehash(stores: &Stores) {
        let now = FixedClock::new().now();
        let ada = user(stores, "ada@example.com").await;
        let s = session(ada, now);
        let t = token(s.id, None, random_seed(), now);
        let rehash = PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA".into());
        let login = VerifiedLogin {
            rehash: Some(rehash.clone()),
            ..verified_login()
        };
        stores.sessions.create(&s, &t, &login).await.unwrap();
        let found = stores.users.find_by_id(ada).await.unwrap().unwrap();
        assert_eq!(found.last_login_at, Some(now));
        let credentials = stores
            .users
            .find_credentials("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(credentials.password_hash, rehash);
    }

    pub async fn create_refuses_an_account_that_changed(stores: &Stores) {
        let now = FixedClock::new().now();
        let changes: [(&str, MakeChange); 3] = [
            ("deactivated", AccountChange::Deactivate),
            ("deleted", AccountChange::Delete),
            ("re-passworded", AccountChange::NewPassword),
        ];
        for (what, change) in changes {
            let id = user(stores, &format!("{what}@example.com")).await;
            change(id).apply(stores, now).await;
            let s = session(id, now);
            let t = token(s.id, None, random_seed(), now);
            let refused = stores.sessions.create(&s, &t, &verified_login()).await;
            assert!(
                matches!(refused, Err(CreateSessionError::AccountChanged)),
                "{what}: {refused:?}"
            );
            assert_eq!(stores.sessions.find(s.id).await.unwrap(), None, "{what}");
            assert_eq!(
                stores.sessions.find_refresh_token(&t.token_hash).await.unwrap(),
                None,
                "{what}"
            );
            let found = stores.users.find_by_id(id).await.unwrap().unwrap();
            assert_eq!(found.last_login_at, None, "{what}: a refused login wrote");
        }
    }

    pub async fn create_racing_an_account_change_leaves_no_live_session(stores: &Stores) {
        let now = FixedClock::new().now();
        let changes: [MakeChange; 3] = [
            AccountChange::Deactivate,
            AccountChange::Delete,
            AccountChange::NewPassword,
        ];
        for round in 0..12 {
            let id = user(stores, &format!("race{round}@example.com")).await;
            let s = session(id, now);
            let t = token(s.id, None, random_seed(), now);
            let change = changes[round % changes.len()](id);
            // The change is followed by the revocation its use case makes.
            let login = verified_login();
            let (created, ()) = tokio::join!(stores.sessions.create(&s, &t, &login), async {
                change.apply(stores, now).await;
                stores.sessions.revoke_all_for_user(id, None, now).await.unwrap();
            });
            let live = stores
                .sessions
                .find(s.id)
                .await
                .unwrap()
                .is_some_and(|found| found.is_live(now));
            assert!(
                !live,
                "round {round} ({change:?}): created {created:?}, yet the session lives"
            );
        }
    }

    /// Names the change to make to an account.
    type MakeChange = fn(UserId) -> AccountChange;

    /// A change to an account that must void a login in flight.
    #[derive(Debug, Clone, Copy)]
    enum AccountChange {
        Deactivate(UserId),
        Delete(UserId),
        NewPassword(UserId),
    }

    impl AccountChange {
        async fn apply(self, stores: &Stores, now: Timestamp) {
            match self {
                Self::Deactivate(id) => {
                    let flags = AccountFlags {
                        is_active: Some(false),
                        ..AccountFlags::default()
                    };
                    stores
                        .users
                        .update_account(id, ProfilePatch::default(), flags, now)
                        .await
                        .unwrap();
                }
                Self::Delete(id) => stores.users.soft_delete(id, now).await.unwrap(),
                Self::NewPassword(id) => {
                    let hash = PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$b3RoZXI$b3RoZXJoYXNo".into());
                    stores.users.set_password_hash(id, &hash, now).await.unwrap();
                }
            }
        }
    }

    /// A user with a confirmed second factor.
    async fn with_second_factor(stores: &Stores, email: &str) -> UserId {
        let now = FixedClock::new().now();
        let id = user(stores, email).await;
        let sealed = b"sealed-totp-secret".as_slice();
        stores.second_factors.begin_totp(id, sealed, now).await.unwrap();
        stores
            .second_factors
            .confirm_totp(id, sealed, 1, &[], now)
            .await
            .unwrap();
        id
    }

    pub async fn create_refuses_a_password_only_session_once_mfa_is_enabled(stores: &Stores) {
        let now = FixedClock::new().now();
        let ada = with_second_factor(stores, "ada@example.com").await;
        let s = session(ada, now);
        let t = token(s.id, None, random_seed(), now);
        let refused = stores.sessions.create(&s, &t, &verified_login()).await;
        assert!(
            matches!(refused, Err(CreateSessionError::AccountChanged)),
            "{refused:?}"
        );
        assert_eq!(stores.sessions.find(s.id).await.unwrap(), None);
        assert_eq!(
            stores.sessions.find_refresh_token(&t.token_hash).await.unwrap(),
            None
        );
        let found = stores.users.find_by_id(ada).await.unwrap().unwrap();
        assert_eq!(found.last_login_at, None, "a refused login wrote");

        let s = Session {
            auth_methods: AuthMethods::PasswordAndOtp,
            ..session(ada, now)
        };
        let t = token(s.id, None, random_seed(), now);
        stores.sessions.create(&s, &t, &verified_login()).await.unwrap();
        assert_eq!(stores.sessions.find(s.id).await.unwrap(), Some(s));
        let found = stores.users.find_by_id(ada).await.unwrap().unwrap();
        assert_eq!(found.last_login_at, Some(now));
    }

    /// Every read returns the methods the session was stored with.
    pub async fn a_session_keeps_how_its_user_logged_in(stores: &Stores) {
        let now = FixedClock::new().now();
        let ada = user(stores, "ada@example.com").await;
        for methods in AuthMethods::ALL {
            let s = Session {
                auth_methods: methods,
                ..session(ada, now)
            };
            let t = token(s.id, None, random_seed(), now);
            stores.sessions.create(&s, &t, &verified_login()).await.unwrap();
            assert_eq!(stores.sessions.find(s.id).await.unwrap(), Some(s.clone()));
            let with_user = stores.sessions.find_with_user(s.id).await.unwrap().unwrap();
            assert_eq!(with_user.session.auth_methods, methods);
            let context = context(stores, &t.token_hash).await.unwrap();
            assert_eq!(context.session.auth_methods, methods);
            let live = stores.sessions.list_live_for_user(ada, now).await.unwrap();
            assert!(live.contains(&s), "{methods:?}");
        }
    }

    pub async fn create_then_find_session_and_token(stores: &Stores) {
        let now = FixedClock::new().now();
        let (s, t) = logged_in(stores, "ada@example.com", now).await;
        assert_eq!(stores.sessions.find(s.id).await.unwrap(), Some(s));
        assert_eq!(
            stores.sessions.find_refresh_token(&t.token_hash).await.unwrap(),
            Some(t.clone())
        );
        assert_eq!(
            stores.sessions.find_refresh_token_by_id(t.id).await.unwrap(),
            Some(t)
        );
    }

    pub async fn find_unknown_is_none(stores: &Stores) {
        assert_eq!(stores.sessions.find(SessionId::generate()).await.unwrap(), None);
        assert_eq!(
            stores
                .sessions
                .find_refresh_token(&TokenHash([9; 32]))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            stores
                .sessions
                .find_refresh_token_by_id(Uuid::now_v7())
                .await
                .unwrap(),
            None
        );
        assert_eq!(context(stores, &TokenHash([9; 32])).await, None);
        assert_eq!(
            stores
                .sessions
                .find_with_user(SessionId::generate())
                .await
                .unwrap(),
            None
        );
    }

    /// As `find` and the user's `find_by_id` return them, in whatever state:
    /// a revoked session of a deleted user is still returned.
    pub async fn session_with_user_is_the_session_and_its_user(stores: &Stores) {
        let now = FixedClock::new().now();
        let (s, _) = logged_in(stores, "ada@example.com", now).await;
        logged_in(stores, "bob@example.com", now).await;
        let found = |s: Session| async move {
            let user = stores.users.find_by_id(s.user_id).await.unwrap().unwrap();
            assert_eq!(
                stores.sessions.find_with_user(s.id).await.unwrap(),
                Some(SessionWithUser { session: s, user })
            );
        };
        found(s.clone()).await;

        stores.sessions.revoke(s.id, now).await.unwrap();
        stores.users.soft_delete(s.user_id, now).await.unwrap();
        let ended = stores.sessions.find(s.id).await.unwrap().unwrap();
        assert!(ended.revoked_at.is_some());
        found(ended).await;
    }

    async fn context(stores: &Stores, hash: &TokenHash) -> Option<RefreshContext> {
        stores.sessions.find_refresh_context(hash).await.unwrap()
    }

    /// Each part as its own find returns it, in whatever state: a rotated
    /// token, a revoked session and a deleted user are still returned.
    pub async fn refresh_context_is_the_token_its_session_and_its_user(stores: &Stores) {
        let clock = FixedClock::new();
        let (s, parent) = logged_in(stores, "ada@example.com", clock.now()).await;
        logged_in(stores, "bob@example.com", clock.now()).await;
        let expected = |token, session, user| Some(RefreshContext { token, session, user });
        let ada = stores.users.find_by_id(s.user_id).await.unwrap().unwrap();
        assert_eq!(
            context(stores, &parent.token_hash).await,
            expected(parent.clone(), s.clone(), ada)
        );

        clock.advance(Duration::minutes(10));
        let child = token(s.id, Some(parent.id), 201, clock.now());
        stores
            .sessions
            .rotate(parent.id, b"sealed", &child)
            .await
            .unwrap();
        stores.sessions.revoke(s.id, clock.now()).await.unwrap();
        stores.users.soft_delete(s.user_id, clock.now()).await.unwrap();
        let (session, user) = (
            stores.sessions.find(s.id).await.unwrap().unwrap(),
            stores.users.find_by_id(s.user_id).await.unwrap().unwrap(),
        );
        assert!(session.revoked_at.is_some() && user.deleted_at.is_some());
        let rotated = stores
            .sessions
            .find_refresh_token_by_id(parent.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            context(stores, &parent.token_hash).await,
            expected(rotated, session.clone(), user.clone())
        );
        assert_eq!(
            context(stores, &child.token_hash).await,
            expected(child, session, user)
        );
    }

    pub async fn rotate_current_token_stores_successor(stores: &Stores) {
        let clock = FixedClock::new();
        let (s, parent) = logged_in(stores, "ada@example.com", clock.now()).await;
        clock.advance(Duration::minutes(10));
        let child = token(s.id, Some(parent.id), 200, clock.now());
        let outcome = stores
            .sessions
            .rotate(parent.id, b"sealed", &child)
            .await
            .unwrap();
        assert_eq!(outcome, RotateOutcome::Rotated);
        let parent_now = stores
            .sessions
            .find_refresh_token_by_id(parent.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(parent_now.rotated_at, Some(clock.now()));
        assert_eq!(parent_now.successor_id, Some(child.id));
        assert_eq!(parent_now.successor_sealed.as_deref(), Some(&b"sealed"[..]));
        assert_eq!(
            stores
                .sessions
                .find_refresh_token(&child.token_hash)
                .await
                .unwrap(),
            Some(child)
        );
        assert_eq!(
            stores.sessions.find(s.id).await.unwrap().unwrap().last_used_at,
            clock.now()
        );
    }

    pub async fn rotate_rotated_token_writes_nothing(stores: &Stores) {
        let now = FixedClock::new().now();
        let (s, parent) = logged_in(stores, "ada@example.com", now).await;
        let first = token(s.id, Some(parent.id), 201, now);
        stores.sessions.rotate(parent.id, b"first", &first).await.unwrap();
        let second = token(s.id, Some(parent.id), 202, now);
        let outcome = stores
            .sessions
            .rotate(parent.id, b"second", &second)
            .await
            .unwrap();
        assert_eq!(outcome, RotateOutcome::AlreadyRotated);
        assert_eq!(
            stores
                .sessions
                .find_refresh_token(&second.token_hash)
                .await
                .unwrap(),
            None
        );
        let parent_now = stores
            .sessions
            .find_refresh_token_by_id(parent.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(parent_now.successor_id, Some(first.id));
        assert_eq!(parent_now.successor_sealed.as_deref(), Some(&b"first"[..]));
    }

    pub async fn concurrent_rotations_have_exactly_one_winner(stores: &Stores) {
        let now = FixedClock::new().now();
        let (s, parent) = logged_in(stores, "ada@example.com", now).await;
        let attempts = (0..20u8).map(|i| {
            let sessions = stores.sessions.clone();
            let child = token(s.id, Some(parent.id), 100 + i, now);
            tokio::spawn(async move { sessions.rotate(parent.id, &[i], &child).await.unwrap() })
        });
        let mut winners = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            if attempt.await.unwrap() == RotateOutcome::Rotated {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }

    pub async fn revoke_is_idempotent_and_keeps_first_time(stores: &Stores) {
        let clock = FixedClock::new();
        let (s, _) = logged_in(stores, "ada@example.com", clock.now()).await;
        let first = clock.now();
        stores.sessions.revoke(s.id, first).await.unwrap();
        clock.advance(Duration::minutes(1));
        stores.sessions.revoke(s.id, clock.now()).await.unwrap();
        assert_eq!(
            stores.sessions.find(s.id).await.unwrap().unwrap().revoked_at,
            Some(first)
        );
    }

    pub async fn revoke_unknown_session_is_a_no_op(stores: &Stores) {
        let now = FixedClock::new().now();
        stores.sessions.revoke(SessionId::generate(), now).await.unwrap();
    }

    pub async fn revoke_all_for_user_keeps_the_given_session(stores: &Stores) {
        let now = FixedClock::new().now();
        let (keep, _) = logged_in(stores, "ada@example.com", now).await;
        let other = session(keep.user_id, now);
        stores
            .sessions
            .create(&other, &token(other.id, None, 50, now), &verified_login())
            .await
            .unwrap();
        let third = session(keep.user_id, now);
        stores
            .sessions
            .create(&third, &token(third.id, None, 51, now), &verified_login())
            .await
            .unwrap();
        let (stranger, _) = logged_in(stores, "bob@example.com", now).await;

        let revoked = stores
            .sessions
            .revoke_all_for_user(keep.user_id, Some(keep.id), now)
            .await
            .unwrap();
        assert_eq!(revoked, 2);
        assert!(stores.sessions.find(keep.id).await.unwrap().unwrap().is_live(now));
        assert!(
            !stores
                .sessions
                .find(other.id)
                .await
                .unwrap()
                .unwrap()
                .is_live(now)
        );
        assert!(
            !stores
                .sessions
                .find(third.id)
                .await
                .unwrap()
                .unwrap()
                .is_live(now)
        );
        assert!(
            stores
                .sessions
                .find(stranger.id)
                .await
                .unwrap()
                .unwrap()
                .is_live(now)
        );

        let revoked = stores
            .sessions
            .revoke_all_for_user(keep.user_id, None, now)
            .await
            .unwrap();
        assert_eq!(revoked, 1);
        assert!(!stores.sessions.find(keep.id).await.unwrap().unwrap().is_live(now));
    }

    pub async fn duplicate_token_hash_is_refused_and_writes_nothing(stores: &Stores) {
        let now = FixedClock::new().now();
        let (_, taken) = logged_in(stores, "ada@example.com", now).await;
        let other = session(user(stores, "bob@example.com").await, now);
        let clash = RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id: other.id,
            ..taken.clone()
        };
        assert!(
            stores
                .sessions
                .create(&other, &clash, &verified_login())
                .await
                .is_err()
        );
        assert_eq!(
            stores.sessions.find(other.id).await.unwrap(),
            None,
            "a half-written session"
        );
    }

    pub async fn list_live_for_user_is_newest_first_and_only_live(stores: &Stores) {
        let clock = FixedClock::new();
        let (first, _) = logged_in(stores, "ada@example.com", clock.now()).await;
        clock.advance(Duration::minutes(1));
        let second = session(first.user_id, clock.now());
        stores
            .sessions
            .create(
                &second,
                &token(second.id, None, 60, clock.now()),
                &verified_login(),
            )
            .await
            .unwrap();
        clock.advance(Duration::minutes(1));
        let revoked = session(first.user_id, clock.now());
        stores
            .sessions
            .create(
                &revoked,
                &token(revoked.id, None, 61, clock.now()),
                &verified_login(),
            )
            .await
            .unwrap();
        stores.sessions.revoke(revoked.id, clock.now()).await.unwrap();
        let expired = Session {
            expires_at: clock.now(),
            ..session(first.user_id, clock.now() - Duration::days(30))
        };
        stores
            .sessions
            .create(
                &expired,
                &token(expired.id, None, 62, clock.now()),
                &verified_login(),
            )
            .await
            .unwrap();
        logged_in(stores, "bob@example.com", clock.now()).await;

        let live = stores
            .sessions
            .list_live_for_user(first.user_id, clock.now())
            .await
            .unwrap();
        assert_eq!(
            live.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![second.id, first.id]
        );
    }

    pub async fn touch_sets_last_used_at(stores: &Stores) {
        let clock = FixedClock::new();
        let (s, _) = logged_in(stores, "ada@example.com", clock.now()).await;
        clock.advance(Duration::hours(2));
        stores.sessions.touch(s.id, clock.now()).await.unwrap();
        assert_eq!(
            stores.sessions.find(s.id).await.unwrap().unwrap().last_used_at,
            clock.now()
        );
    }
}

pub use behaviours::*;
