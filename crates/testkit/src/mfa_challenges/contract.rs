//! The `MfaChallengeRepository` contract: a builder of challenges for tests,
//! the behaviours every implementation must show, and the macro that
//! expands them into tests.

use chrono::Duration;
use latch_domain::{Timestamp, UserId};
use latch_ports::MfaChallenge;

use crate::email_links::random_token_hash;
use crate::users::verified_login;

/// How long the challenges [`new_challenge`] makes stay live.
pub fn challenge_lifetime() -> Duration {
    Duration::minutes(5)
}

/// A challenge on `user_id`'s account (its password checked against a
/// [`crate::users::new_user`]'s hash) created at `now`, live for
/// [`challenge_lifetime`] and allowing `attempts` wrong codes.
pub fn new_challenge(user_id: UserId, attempts: u32, now: Timestamp) -> MfaChallenge {
    MfaChallenge {
        token_hash: random_token_hash(),
        user_id,
        login: verified_login(),
        user_agent: Some("contract-test/1.0".into()),
        ip: Some("192.0.2.7".into()),
        created_at: now,
        expires_at: now + challenge_lifetime(),
        attempts_left: attempts,
    }
}

/// Expands the `MfaChallengeRepository` contract into one `#[tokio::test]`
/// per behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! mfa_challenge_repository_contract {
    ($make:expr) => {
        $crate::mfa_challenge_repository_contract!(@tests $make;
            create_then_find_live_returns_every_field,
            an_unknown_challenge_is_not_live,
            a_challenge_is_live_until_it_expires,
            record_failure_counts_down_to_dead,
            concurrent_failures_each_count,
            record_failure_on_a_challenge_that_is_not_live_is_none,
            consume_spends_once,
            concurrent_consumes_have_exactly_one_winner,
            an_expired_or_dead_challenge_cannot_be_consumed,
            purge_deletes_only_those_expired_before_the_cutoff,
            purge_honours_the_limit_and_continues,
            create_refuses_a_duplicate_hash_and_an_unknown_user,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::mfa_challenges::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use latch_domain::TokenHash;
    use latch_ports::{Clock, PasswordHash, VerifiedLogin};

    use super::*;
    use crate::users::new_user;
    use crate::{FixedClock, Stores};

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

    /// A stored challenge for a new user, allowing `attempts` wrong codes.
    async fn created(stores: &Stores, email: &str, attempts: u32) -> MfaChallenge {
        let challenge = new_challenge(user(stores, email).await, attempts, now());
        stores.mfa_challenges.create(&challenge).await.unwrap();
        challenge
    }

    async fn live_at(stores: &Stores, hash: &TokenHash, at: Timestamp) -> bool {
        stores.mfa_challenges.find_live(hash, at).await.unwrap().is_some()
    }

    pub async fn create_then_find_live_returns_every_field(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let rehash = PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA".into());
        let challenge = MfaChallenge {
            login: VerifiedLogin {
                rehash: Some(rehash.clone()),
                ..verified_login()
            },
            ..new_challenge(ada, 5, now())
        };
        stores.mfa_challenges.create(&challenge).await.unwrap();
        let found = stores
            .mfa_challenges
            .find_live(&challenge.token_hash, now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.token_hash, challenge.token_hash);
        assert_eq!(found.user_id, ada);
        assert_eq!(found.login.password_hash, verified_login().password_hash);
        assert_eq!(found.login.rehash, Some(rehash));
        assert_eq!(found.user_agent, challenge.user_agent);
        assert_eq!(found.ip, challenge.ip);
        assert_eq!(found.created_at, challenge.created_at);
        assert_eq!(found.expires_at, challenge.expires_at);
        assert_eq!(found.attempts_left, 5);

        let bare = MfaChallenge {
            user_agent: None,
            ip: None,
            ..new_challenge(ada, 1, now())
        };
        stores.mfa_challenges.create(&bare).await.unwrap();
        let found = stores
            .mfa_challenges
            .find_live(&bare.token_hash, now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.user_agent, found.ip, found.login.rehash),
            (None, None, None)
        );
    }

    pub async fn an_unknown_challenge_is_not_live(stores: &Stores) {
        created(stores, "ada@example.com", 5).await;
        let unknown = random_token_hash();
        assert!(!live_at(stores, &unknown, now()).await);
        assert!(!stores.mfa_challenges.consume(&unknown, now()).await.unwrap());
    }

    pub async fn a_challenge_is_live_until_it_expires(stores: &Stores) {
        let challenge = created(stores, "ada@example.com", 5).await;
        let hash = &challenge.token_hash;
        let just_before = challenge.expires_at - Duration::milliseconds(1);
        assert!(live_at(stores, hash, just_before).await);
        assert!(
            !live_at(stores, hash, challenge.expires_at).await,
            "at its expiry"
        );
        assert!(!live_at(stores, hash, challenge.expires_at + Duration::days(1)).await);
    }

    pub async fn record_failure_counts_down_to_dead(stores: &Stores) {
        let challenge = created(stores, "ada@example.com", 3).await;
        let (challenges, hash) = (&stores.mfa_challenges, &challenge.token_hash);
        for left in [2, 1] {
            assert_eq!(challenges.record_failure(hash, now()).await.unwrap(), Some(left));
            let found = challenges.find_live(hash, now()).await.unwrap().unwrap();
            assert_eq!(found.attempts_left, left);
        }
        assert_eq!(challenges.record_failure(hash, now()).await.unwrap(), Some(0));
        assert!(!live_at(stores, hash, now()).await, "a dead challenge is live");
        assert_eq!(challenges.record_failure(hash, now()).await.unwrap(), None);
    }

    pub async fn concurrent_failures_each_count(stores: &Stores) {
        const ATTEMPTS: u32 = 5;
        let challenge = created(stores, "ada@example.com", ATTEMPTS).await;
        let tasks: Vec<_> = (0..ATTEMPTS)
            .map(|_| {
                let (challenges, hash) = (stores.mfa_challenges.clone(), challenge.token_hash);
                tokio::spawn(async move { challenges.record_failure(&hash, now()).await.unwrap() })
            })
            .collect();
        let mut left = Vec::new();
        for task in tasks {
            left.push(task.await.unwrap());
        }
        left.sort_unstable();
        let expected: Vec<Option<u32>> = (0..ATTEMPTS).map(Some).collect();
        assert_eq!(left, expected, "each failure counts once");
        assert!(!live_at(stores, &challenge.token_hash, now()).await);
    }

    pub async fn record_failure_on_a_challenge_that_is_not_live_is_none(stores: &Stores) {
        let challenges = &stores.mfa_challenges;
        let spent = created(stores, "ada@example.com", 5).await;
        assert!(challenges.consume(&spent.token_hash, now()).await.unwrap());
        assert_eq!(
            challenges.record_failure(&spent.token_hash, now()).await.unwrap(),
            None
        );
        let expired = created(stores, "grace@example.com", 5).await;
        let after = expired.expires_at + Duration::seconds(1);
        assert_eq!(
            challenges
                .record_failure(&expired.token_hash, after)
                .await
                .unwrap(),
            None
        );
        // Nothing was counted against it.
        let found = challenges
            .find_live(&expired.token_hash, now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.attempts_left, 5);
        let unknown = random_token_hash();
        assert_eq!(challenges.record_failure(&unknown, now()).await.unwrap(), None);
    }

    pub async fn consume_spends_once(stores: &Stores) {
        let challenge = created(stores, "ada@example.com", 5).await;
        let (challenges, hash) = (&stores.mfa_challenges, &challenge.token_hash);
        assert!(challenges.record_failure(hash, now()).await.unwrap().is_some());
        assert!(challenges.consume(hash, now()).await.unwrap());
        assert!(!live_at(stores, hash, now()).await, "a spent challenge is live");
        assert!(!challenges.consume(hash, now()).await.unwrap());
    }

    pub async fn concurrent_consumes_have_exactly_one_winner(stores: &Stores) {
        for round in 0..4 {
            let challenge = created(stores, &format!("racer{round}@example.com"), 5).await;
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (challenges, hash) = (stores.mfa_challenges.clone(), challenge.token_hash);
                    tokio::spawn(async move { challenges.consume(&hash, now()).await.unwrap() })
                })
                .collect();
            let mut won = 0;
            for task in tasks {
                won += usize::from(task.await.unwrap());
            }
            assert_eq!(won, 1, "round {round}");
        }
    }

    pub async fn an_expired_or_dead_challenge_cannot_be_consumed(stores: &Stores) {
        let challenges = &stores.mfa_challenges;
        let expired = created(stores, "ada@example.com", 5).await;
        assert!(
            !challenges
                .consume(&expired.token_hash, expired.expires_at)
                .await
                .unwrap()
        );
        let dead = created(stores, "grace@example.com", 1).await;
        assert_eq!(
            challenges.record_failure(&dead.token_hash, now()).await.unwrap(),
            Some(0)
        );
        assert!(!challenges.consume(&dead.token_hash, now()).await.unwrap());
        let exhausted_at_creation = new_challenge(dead.user_id, 0, now());
        challenges.create(&exhausted_at_creation).await.unwrap();
        assert!(!live_at(stores, &exhausted_at_creation.token_hash, now()).await);
        assert!(
            !challenges
                .consume(&exhausted_at_creation.token_hash, now())
                .await
                .unwrap()
        );
    }

    pub async fn purge_deletes_only_those_expired_before_the_cutoff(stores: &Stores) {
        let challenges = &stores.mfa_challenges;
        let ada = user(stores, "ada@example.com").await;
        let old = new_challenge(ada, 5, now() - Duration::hours(2));
        let old_spent = new_challenge(ada, 5, now() - Duration::hours(2));
        let at_cutoff = new_challenge(ada, 5, now() - challenge_lifetime());
        let current = new_challenge(ada, 5, now());
        for challenge in [&old, &old_spent, &at_cutoff, &current] {
            challenges.create(challenge).await.unwrap();
        }
        assert!(
            challenges
                .consume(&old_spent.token_hash, old_spent.created_at)
                .await
                .unwrap()
        );
        // `at_cutoff` expires exactly at the cutoff: not before it.
        let cutoff = now();
        assert_eq!(challenges.purge(cutoff, 100).await.unwrap(), 2);
        // Read at their creation, when a kept one would still be live.
        assert!(
            !live_at(stores, &old.token_hash, old.created_at).await,
            "not purged"
        );
        assert!(
            live_at(stores, &at_cutoff.token_hash, at_cutoff.created_at).await,
            "purged"
        );
        assert!(live_at(stores, &current.token_hash, now()).await, "purged");
        assert_eq!(challenges.purge(cutoff, 100).await.unwrap(), 0);
    }

    pub async fn purge_honours_the_limit_and_continues(stores: &Stores) {
        let challenges = &stores.mfa_challenges;
        let ada = user(stores, "ada@example.com").await;
        let created_at = now() - Duration::days(1);
        for _ in 0..5 {
            challenges
                .create(&new_challenge(ada, 5, created_at))
                .await
                .unwrap();
        }
        let current = new_challenge(ada, 5, now());
        challenges.create(&current).await.unwrap();
        assert_eq!(challenges.purge(now(), 2).await.unwrap(), 2);
        assert_eq!(challenges.purge(now(), 2).await.unwrap(), 2);
        assert_eq!(challenges.purge(now(), 2).await.unwrap(), 1);
        assert_eq!(challenges.purge(now(), 2).await.unwrap(), 0);
        assert!(live_at(stores, &current.token_hash, now()).await);
    }

    pub async fn create_refuses_a_duplicate_hash_and_an_unknown_user(stores: &Stores) {
        let challenges = &stores.mfa_challenges;
        let first = created(stores, "ada@example.com", 5).await;
        let duplicate = MfaChallenge {
            attempts_left: 1,
            ..new_challenge(first.user_id, 5, now())
        };
        let duplicate = MfaChallenge {
            token_hash: first.token_hash,
            ..duplicate
        };
        assert!(challenges.create(&duplicate).await.is_err());
        let found = challenges
            .find_live(&first.token_hash, now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.attempts_left, 5, "the duplicate replaced the first");
        let orphan = new_challenge(UserId::generate(), 5, now());
        assert!(challenges.create(&orphan).await.is_err());
        assert!(!live_at(stores, &orphan.token_hash, now()).await);
    }
}

pub use behaviours::*;
