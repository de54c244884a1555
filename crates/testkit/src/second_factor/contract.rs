//! The `SecondFactorRepository` contract: builders of sealed secrets and
//! recovery-code sets for tests, the behaviours every implementation must
//! show, and the macro that expands them into tests.

use latch_ports::RecoveryCodeHash;

use crate::email_links::random_token_hash;

/// A stand-in for a sealed TOTP secret, distinct per `tag`.
pub fn sealed_secret(tag: u8) -> Vec<u8> {
    let mut sealed = b"sealed-totp-secret-".to_vec();
    sealed.push(tag);
    sealed
}

/// `count` random recovery-code hashes, distinct from every other call's.
pub fn recovery_code_hashes(count: usize) -> Vec<RecoveryCodeHash> {
    (0..count).map(|_| random_token_hash()).collect()
}

/// Expands the `SecondFactorRepository` contract into one `#[tokio::test]`
/// per behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! second_factor_repository_contract {
    ($make:expr) => {
        $crate::second_factor_repository_contract!(@tests $make;
            begin_then_find_is_a_pending_enrolment,
            begin_replaces_a_pending_enrolment,
            begin_is_refused_once_confirmed_and_writes_nothing,
            begin_for_an_unknown_user_is_an_error,
            confirm_with_a_stale_or_unknown_secret_is_not_pending,
            a_refused_confirm_writes_nothing,
            confirm_sets_mfa_enabled_stores_the_codes_and_is_recorded,
            concurrent_confirms_have_exactly_one_winner,
            use_totp_step_only_moves_forward,
            use_totp_step_needs_a_confirmed_enrolment,
            concurrent_uses_of_one_step_have_exactly_one_winner,
            a_recovery_code_is_single_use,
            concurrent_uses_of_a_recovery_code_have_exactly_one_winner,
            another_users_code_is_refused,
            replace_voids_every_old_code,
            replace_without_a_confirmed_enrolment_is_refused_and_writes_nothing,
            recovery_codes_left_counts_the_unused,
            remove_clears_everything_and_revokes_every_session_but_keep,
            remove_without_a_confirmed_enrolment_is_false,
            a_new_enrolment_can_begin_after_remove,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::second_factor::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use chrono::Duration;
    use latch_domain::{AuthMethods, RefreshTokenRecord, Session, SessionId, Timestamp, UserId};
    use latch_ports::{AuthChange, BeginTotpError, Clock, ConfirmTotpError, TotpEnrolment};
    use uuid::Uuid;

    use super::*;
    use crate::users::{new_user, verified_login};
    use crate::{FixedClock, Stores};

    /// The time step the contract's confirmations use.
    const STEP: i64 = 63_115_200;

    fn now() -> Timestamp {
        FixedClock::new().now()
    }

    async fn user(stores: &Stores, email: &str) -> UserId {
        stores
            .users
            .create(new_user(email, None, now()))
            .await
            .unwrap()
            .id
    }

    /// A user with a confirmed enrolment (`sealed_secret(1)`, step
    /// [`STEP`]) and `codes` as their recovery codes.
    async fn enrolled(stores: &Stores, email: &str, codes: &[RecoveryCodeHash]) -> UserId {
        let id = user(stores, email).await;
        let factors = &stores.second_factors;
        factors.begin_totp(id, &sealed_secret(1), now()).await.unwrap();
        factors
            .confirm_totp(id, &sealed_secret(1), STEP, codes, now())
            .await
            .unwrap();
        id
    }

    /// A session of `user` logged in by `methods` at `now()`.
    async fn session(stores: &Stores, user: UserId, methods: AuthMethods) -> SessionId {
        let at = now();
        let session = Session {
            id: SessionId::generate(),
            user_id: user,
            created_at: at,
            last_used_at: at,
            expires_at: at + Duration::days(30),
            revoked_at: None,
            user_agent: None,
            ip: None,
            auth_methods: methods,
        };
        let token = RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id: session.id,
            token_hash: random_token_hash(),
            parent_id: None,
            created_at: at,
            expires_at: at + Duration::days(7),
            rotated_at: None,
            successor_id: None,
            successor_sealed: None,
        };
        stores
            .sessions
            .create(&session, &token, &verified_login())
            .await
            .unwrap();
        session.id
    }

    async fn is_live(stores: &Stores, id: SessionId) -> bool {
        let session = stores.sessions.find(id).await.unwrap().unwrap();
        session.is_live(now())
    }

    async fn mfa_enabled(stores: &Stores, id: UserId) -> bool {
        stores.users.find_by_id(id).await.unwrap().unwrap().mfa_enabled
    }

    /// The changes recorded after version `after`.
    async fn changes_since(stores: &Stores, after: u64) -> Vec<AuthChange> {
        let latest = stores.changes.latest_version().await.unwrap();
        let changes = stores.changes.changes_between(after, latest).await.unwrap();
        changes.into_iter().map(|c| c.change).collect()
    }

    pub async fn begin_then_find_is_a_pending_enrolment(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        assert_eq!(stores.second_factors.find_totp(ada).await.unwrap(), None);
        stores
            .second_factors
            .begin_totp(ada, &sealed_secret(1), now())
            .await
            .unwrap();
        let found = stores.second_factors.find_totp(ada).await.unwrap();
        let pending = TotpEnrolment {
            user_id: ada,
            sealed_secret: sealed_secret(1),
            created_at: now(),
            confirmed_at: None,
            last_used_step: None,
        };
        assert_eq!(found, Some(pending));
        assert!(
            !mfa_enabled(stores, ada).await,
            "a pending enrolment is no second factor"
        );
        assert_eq!(stores.changes.latest_version().await.unwrap(), 0);
    }

    pub async fn begin_replaces_a_pending_enrolment(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        let later = now() + Duration::minutes(3);
        factors.begin_totp(ada, &sealed_secret(2), later).await.unwrap();
        let found = factors.find_totp(ada).await.unwrap().unwrap();
        assert_eq!(found.sealed_secret, sealed_secret(2));
        assert_eq!(found.created_at, later);
        assert_eq!(found.confirmed_at, None);
    }

    pub async fn begin_is_refused_once_confirmed_and_writes_nothing(stores: &Stores) {
        let ada = enrolled(stores, "ada@example.com", &recovery_code_hashes(3)).await;
        let before = stores.second_factors.find_totp(ada).await.unwrap();
        let later = now() + Duration::minutes(3);
        let refused = stores
            .second_factors
            .begin_totp(ada, &sealed_secret(2), later)
            .await;
        assert!(
            matches!(refused, Err(BeginTotpError::AlreadyEnabled)),
            "{refused:?}"
        );
        assert_eq!(stores.second_factors.find_totp(ada).await.unwrap(), before);
        assert!(mfa_enabled(stores, ada).await);
        assert_eq!(stores.second_factors.recovery_codes_left(ada).await.unwrap(), 3);
    }

    pub async fn begin_for_an_unknown_user_is_an_error(stores: &Stores) {
        let nobody = UserId::generate();
        let result = stores
            .second_factors
            .begin_totp(nobody, &sealed_secret(1), now())
            .await;
        assert!(matches!(result, Err(BeginTotpError::Repository(_))), "{result:?}");
        assert_eq!(stores.second_factors.find_totp(nobody).await.unwrap(), None);
    }

    pub async fn confirm_with_a_stale_or_unknown_secret_is_not_pending(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        let codes = recovery_code_hashes(2);
        let nothing_begun = factors
            .confirm_totp(ada, &sealed_secret(1), STEP, &codes, now())
            .await;
        assert!(
            matches!(nothing_begun, Err(ConfirmTotpError::NotPending)),
            "{nothing_begun:?}"
        );
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        factors.begin_totp(ada, &sealed_secret(2), now()).await.unwrap();
        let replaced = factors
            .confirm_totp(ada, &sealed_secret(1), STEP, &codes, now())
            .await;
        assert!(
            matches!(replaced, Err(ConfirmTotpError::NotPending)),
            "{replaced:?}"
        );
        factors
            .confirm_totp(ada, &sealed_secret(2), STEP, &codes, now())
            .await
            .unwrap();
        let again = factors
            .confirm_totp(ada, &sealed_secret(2), STEP + 1, &codes, now())
            .await;
        assert!(matches!(again, Err(ConfirmTotpError::NotPending)), "{again:?}");
        let found = factors.find_totp(ada).await.unwrap().unwrap();
        assert_eq!(found.last_used_step, Some(STEP), "the refused confirm wrote");
    }

    pub async fn a_refused_confirm_writes_nothing(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        let before = stores.users.find_by_id(ada).await.unwrap().unwrap();
        let codes = recovery_code_hashes(2);
        let refused = factors
            .confirm_totp(ada, &sealed_secret(9), STEP, &codes, now() + Duration::minutes(1))
            .await;
        assert!(
            matches!(refused, Err(ConfirmTotpError::NotPending)),
            "{refused:?}"
        );
        assert_eq!(stores.changes.latest_version().await.unwrap(), 0);
        assert_eq!(stores.users.find_by_id(ada).await.unwrap(), Some(before));
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 0);
        assert!(!factors.use_recovery_code(ada, &codes[0], now()).await.unwrap());
        let found = factors.find_totp(ada).await.unwrap().unwrap();
        assert_eq!((found.confirmed_at, found.last_used_step), (None, None));
    }

    pub async fn confirm_sets_mfa_enabled_stores_the_codes_and_is_recorded(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        let codes = recovery_code_hashes(10);
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        let confirmed_at = now() + Duration::minutes(1);
        let before = stores.changes.latest_version().await.unwrap();
        factors
            .confirm_totp(ada, &sealed_secret(1), STEP, &codes, confirmed_at)
            .await
            .unwrap();
        let found = factors.find_totp(ada).await.unwrap().unwrap();
        assert_eq!(found.confirmed_at, Some(confirmed_at));
        assert_eq!(found.last_used_step, Some(STEP));
        assert_eq!(found.sealed_secret, sealed_secret(1));
        let read = stores.users.find_by_id(ada).await.unwrap().unwrap();
        assert!(read.mfa_enabled);
        assert_eq!(read.updated_at, confirmed_at);
        // Recorded, so cached copies of the user see the flag.
        assert_eq!(changes_since(stores, before).await, vec![AuthChange::User(ada)]);
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 10);
        // The confirming code's step is spent.
        assert!(!factors.use_totp_step(ada, STEP).await.unwrap());
    }

    pub async fn concurrent_confirms_have_exactly_one_winner(stores: &Stores) {
        for round in 0..4 {
            let racer = user(stores, &format!("racer{round}@example.com")).await;
            let factors = &stores.second_factors;
            factors.begin_totp(racer, &sealed_secret(1), now()).await.unwrap();
            let before = stores.changes.latest_version().await.unwrap();
            let tasks: Vec<_> = (0..6)
                .map(|_| {
                    let factors = stores.second_factors.clone();
                    tokio::spawn(async move {
                        let codes = recovery_code_hashes(10);
                        factors
                            .confirm_totp(racer, &sealed_secret(1), STEP, &codes, now())
                            .await
                    })
                })
                .collect();
            let mut won = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(()) => won += 1,
                    lost => assert!(
                        matches!(lost, Err(ConfirmTotpError::NotPending)),
                        "round {round}: {lost:?}"
                    ),
                }
            }
            assert_eq!(won, 1, "round {round}");
            // Only the winner's set is stored, and only it was recorded.
            assert_eq!(factors.recovery_codes_left(racer).await.unwrap(), 10);
            assert_eq!(changes_since(stores, before).await, vec![AuthChange::User(racer)]);
        }
    }

    pub async fn use_totp_step_only_moves_forward(stores: &Stores) {
        let ada = enrolled(stores, "ada@example.com", &[]).await;
        let factors = &stores.second_factors;
        assert!(
            !factors.use_totp_step(ada, STEP).await.unwrap(),
            "the confirming step"
        );
        assert!(
            !factors.use_totp_step(ada, STEP - 1).await.unwrap(),
            "an earlier step"
        );
        assert!(factors.use_totp_step(ada, STEP + 1).await.unwrap());
        assert!(
            !factors.use_totp_step(ada, STEP + 1).await.unwrap(),
            "the same step again"
        );
        assert!(
            factors.use_totp_step(ada, STEP + 5).await.unwrap(),
            "a later step"
        );
        assert!(
            !factors.use_totp_step(ada, STEP + 2).await.unwrap(),
            "a step before the last"
        );
        let found = factors.find_totp(ada).await.unwrap().unwrap();
        assert_eq!(found.last_used_step, Some(STEP + 5));
    }

    pub async fn use_totp_step_needs_a_confirmed_enrolment(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        assert!(!factors.use_totp_step(ada, STEP).await.unwrap(), "no enrolment");
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        assert!(
            !factors.use_totp_step(ada, STEP).await.unwrap(),
            "a pending enrolment"
        );
        let found = factors.find_totp(ada).await.unwrap().unwrap();
        assert_eq!(found.last_used_step, None);
    }

    pub async fn concurrent_uses_of_one_step_have_exactly_one_winner(stores: &Stores) {
        let ada = enrolled(stores, "ada@example.com", &[]).await;
        for step in STEP + 1..STEP + 4 {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let factors = stores.second_factors.clone();
                    tokio::spawn(async move { factors.use_totp_step(ada, step).await.unwrap() })
                })
                .collect();
            let mut won = 0;
            for task in tasks {
                won += usize::from(task.await.unwrap());
            }
            assert_eq!(won, 1, "step {step}");
        }
    }

    pub async fn a_recovery_code_is_single_use(stores: &Stores) {
        let codes = recovery_code_hashes(3);
        let ada = enrolled(stores, "ada@example.com", &codes).await;
        let factors = &stores.second_factors;
        assert!(factors.use_recovery_code(ada, &codes[1], now()).await.unwrap());
        assert!(!factors.use_recovery_code(ada, &codes[1], now()).await.unwrap());
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 2);
        assert!(factors.use_recovery_code(ada, &codes[0], now()).await.unwrap());
        let unknown = random_token_hash();
        assert!(!factors.use_recovery_code(ada, &unknown, now()).await.unwrap());
    }

    pub async fn concurrent_uses_of_a_recovery_code_have_exactly_one_winner(stores: &Stores) {
        let codes = recovery_code_hashes(3);
        let ada = enrolled(stores, "ada@example.com", &codes).await;
        for code in codes {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let factors = stores.second_factors.clone();
                    tokio::spawn(async move { factors.use_recovery_code(ada, &code, now()).await.unwrap() })
                })
                .collect();
            let mut won = 0;
            for task in tasks {
                won += usize::from(task.await.unwrap());
            }
            assert_eq!(won, 1);
        }
        assert_eq!(stores.second_factors.recovery_codes_left(ada).await.unwrap(), 0);
    }

    pub async fn another_users_code_is_refused(stores: &Stores) {
        let ada_codes = recovery_code_hashes(2);
        let ada = enrolled(stores, "ada@example.com", &ada_codes).await;
        let grace = enrolled(stores, "grace@example.com", &recovery_code_hashes(2)).await;
        let factors = &stores.second_factors;
        assert!(
            !factors
                .use_recovery_code(grace, &ada_codes[0], now())
                .await
                .unwrap()
        );
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 2);
        assert_eq!(factors.recovery_codes_left(grace).await.unwrap(), 2);
        assert!(
            factors
                .use_recovery_code(ada, &ada_codes[0], now())
                .await
                .unwrap()
        );
    }

    pub async fn replace_voids_every_old_code(stores: &Stores) {
        let old = recovery_code_hashes(3);
        let ada = enrolled(stores, "ada@example.com", &old).await;
        let factors = &stores.second_factors;
        assert!(factors.use_recovery_code(ada, &old[0], now()).await.unwrap());
        let new = recovery_code_hashes(10);
        assert!(factors.replace_recovery_codes(ada, &new, now()).await.unwrap());
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 10);
        for code in &old {
            assert!(!factors.use_recovery_code(ada, code, now()).await.unwrap());
        }
        assert!(factors.use_recovery_code(ada, &new[9], now()).await.unwrap());
        assert!(
            mfa_enabled(stores, ada).await,
            "replacing codes leaves the factor"
        );
    }

    pub async fn replace_without_a_confirmed_enrolment_is_refused_and_writes_nothing(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        let codes = recovery_code_hashes(2);
        assert!(
            !factors.replace_recovery_codes(ada, &codes, now()).await.unwrap(),
            "no enrolment"
        );
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        assert!(
            !factors.replace_recovery_codes(ada, &codes, now()).await.unwrap(),
            "a pending one"
        );
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 0);
        assert!(!factors.use_recovery_code(ada, &codes[0], now()).await.unwrap());
        let unknown = UserId::generate();
        assert!(
            !factors
                .replace_recovery_codes(unknown, &codes, now())
                .await
                .unwrap()
        );
    }

    pub async fn recovery_codes_left_counts_the_unused(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 0);
        assert_eq!(factors.recovery_codes_left(UserId::generate()).await.unwrap(), 0);
        let codes = recovery_code_hashes(10);
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        factors
            .confirm_totp(ada, &sealed_secret(1), STEP, &codes, now())
            .await
            .unwrap();
        for (used, code) in codes.iter().enumerate().take(4) {
            assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 10 - used as u64);
            assert!(factors.use_recovery_code(ada, code, now()).await.unwrap());
        }
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 6);
    }

    pub async fn remove_clears_everything_and_revokes_every_session_but_keep(stores: &Stores) {
        let ada_id = user(stores, "ada@example.com").await;
        let before_enrolment = session(stores, ada_id, AuthMethods::Password).await;
        let codes = recovery_code_hashes(3);
        let factors = &stores.second_factors;
        factors
            .begin_totp(ada_id, &sealed_secret(1), now())
            .await
            .unwrap();
        factors
            .confirm_totp(ada_id, &sealed_secret(1), STEP, &codes, now())
            .await
            .unwrap();
        let other = session(stores, ada_id, AuthMethods::PasswordAndOtp).await;
        let keep = session(stores, ada_id, AuthMethods::PasswordAndOtp).await;
        let grace = enrolled(stores, "grace@example.com", &recovery_code_hashes(1)).await;
        let graces = session(stores, grace, AuthMethods::PasswordAndOtp).await;
        let before = stores.changes.latest_version().await.unwrap();
        let removed_at = now() + Duration::minutes(1);

        assert!(factors.remove(ada_id, Some(keep), removed_at).await.unwrap());

        assert_eq!(factors.find_totp(ada_id).await.unwrap(), None);
        assert_eq!(factors.recovery_codes_left(ada_id).await.unwrap(), 0);
        assert!(!factors.use_recovery_code(ada_id, &codes[1], now()).await.unwrap());
        assert!(!factors.use_totp_step(ada_id, STEP + 1).await.unwrap());
        let read = stores.users.find_by_id(ada_id).await.unwrap().unwrap();
        assert!(!read.mfa_enabled);
        let with_user = stores.sessions.find_with_user(keep).await.unwrap().unwrap();
        assert!(!with_user.user.mfa_enabled);
        assert_eq!(
            changes_since(stores, before).await,
            vec![AuthChange::User(ada_id)]
        );
        for ended in [before_enrolment, other] {
            let found = stores.sessions.find(ended).await.unwrap().unwrap();
            assert_eq!(found.revoked_at, Some(removed_at));
        }
        assert!(is_live(stores, keep).await, "the kept session ended");
        assert!(is_live(stores, graces).await, "another user's session ended");
        assert!(
            mfa_enabled(stores, grace).await,
            "another user's factor was removed"
        );
        // A password alone logs in again.
        session(stores, ada_id, AuthMethods::Password).await;
    }

    /// The removal happens all the same (pending enrolment, flag, sessions);
    /// only the answer says there was no second factor.
    pub async fn remove_without_a_confirmed_enrolment_is_false(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let factors = &stores.second_factors;
        assert!(!factors.remove(ada, None, now()).await.unwrap(), "no enrolment");
        factors.begin_totp(ada, &sealed_secret(1), now()).await.unwrap();
        let live = session(stores, ada, AuthMethods::Password).await;
        assert!(
            !factors.remove(ada, None, now()).await.unwrap(),
            "a pending enrolment"
        );
        assert_eq!(factors.find_totp(ada).await.unwrap(), None);
        assert!(!mfa_enabled(stores, ada).await);
        assert!(
            !is_live(stores, live).await,
            "the sessions are revoked all the same"
        );
        assert!(
            !factors.remove(UserId::generate(), None, now()).await.unwrap(),
            "an unknown user"
        );
    }

    pub async fn a_new_enrolment_can_begin_after_remove(stores: &Stores) {
        let ada = enrolled(stores, "ada@example.com", &recovery_code_hashes(2)).await;
        let factors = &stores.second_factors;
        assert!(factors.remove(ada, None, now()).await.unwrap());
        factors.begin_totp(ada, &sealed_secret(2), now()).await.unwrap();
        let codes = recovery_code_hashes(2);
        factors
            .confirm_totp(ada, &sealed_secret(2), STEP, &codes, now())
            .await
            .unwrap();
        assert!(mfa_enabled(stores, ada).await);
        assert_eq!(factors.recovery_codes_left(ada).await.unwrap(), 2);
    }
}

pub use behaviours::*;
