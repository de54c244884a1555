//! The `EmailOutbox` contract: the behaviours every implementation must
//! show, and the macro that expands them into tests. Mails enter the outbox
//! through `EmailLinkRepository::issue`, so the suite needs both.

/// Expands the `EmailOutbox` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! email_outbox_contract {
    ($make:expr) => {
        $crate::email_outbox_contract!(@tests $make;
            an_empty_outbox_has_nothing_due,
            claim_returns_the_due_messages_oldest_first,
            claim_honours_the_limit,
            a_claimed_message_is_hidden_until_its_lease_ends,
            retry_later_makes_it_due_again_at_retry_at,
            a_sent_message_is_never_claimed_again,
            a_given_up_message_is_never_claimed_again,
            concurrent_claims_get_disjoint_messages,
            purge_deletes_only_what_finished_before_the_cutoff,
            purge_honours_the_limit_and_continues,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::outbox::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use std::collections::HashSet;

    use chrono::Duration;
    use latch_domain::{LinkPurpose, Timestamp};
    use latch_ports::{ClaimedEmail, Clock, LinkAction, QueuedEmail};
    use uuid::Uuid;

    use crate::email_links::{new_link, queued_email};
    use crate::users::new_user;
    use crate::{FixedClock, Stores};

    fn now() -> Timestamp {
        FixedClock::new().now()
    }

    fn lease() -> Duration {
        Duration::minutes(5)
    }

    /// Queues one mail per time in `queued_at`, through a link (of a new
    /// user) that expires too late for any test's purge to take it.
    async fn queue(stores: &Stores, queued_at: &[Timestamp]) -> Vec<QueuedEmail> {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let user = stores.users.create(new_user(&email, None, now())).await.unwrap();
        let mut link = new_link(user.id, LinkPurpose::VerifyEmail, &email, now());
        link.expires_at = now() + Duration::days(3650);
        let mails: Vec<QueuedEmail> = queued_at.iter().map(|at| queued_email(&email, *at)).collect();
        stores.email_links.issue(&link, &mails).await.unwrap();
        mails
    }

    fn ids(claimed: &[ClaimedEmail]) -> Vec<Uuid> {
        claimed.iter().map(|c| c.email.id).collect()
    }

    async fn claim(stores: &Stores, at: Timestamp, limit: u32) -> Vec<ClaimedEmail> {
        stores.outbox.claim_due(at, at + lease(), limit).await.unwrap()
    }

    pub async fn an_empty_outbox_has_nothing_due(stores: &Stores) {
        assert!(claim(stores, now(), 10).await.is_empty());
        assert_eq!(stores.outbox.pending().await.unwrap(), 0);
        assert_eq!(stores.outbox.purge(now(), 10).await.unwrap(), 0);
    }

    pub async fn claim_returns_the_due_messages_oldest_first(stores: &Stores) {
        let t = now();
        let mails = queue(
            stores,
            &[
                t - Duration::minutes(3),
                t - Duration::minutes(1),
                t + Duration::minutes(1),
                t - Duration::minutes(2),
                t,
            ],
        )
        .await;
        let claimed = claim(stores, t, 10).await;
        assert_eq!(
            ids(&claimed),
            vec![mails[0].id, mails[3].id, mails[1].id, mails[4].id]
        );
        for (claim, mail) in claimed.iter().zip([&mails[0], &mails[3], &mails[1], &mails[4]]) {
            assert_eq!(&claim.email, mail);
            assert_eq!(claim.attempts, 0);
        }
        assert_eq!(stores.outbox.pending().await.unwrap(), 5);
        let future = claim(stores, t + Duration::minutes(1), 10).await;
        assert_eq!(ids(&future), vec![mails[2].id]);
    }

    pub async fn claim_honours_the_limit(stores: &Stores) {
        let t = now();
        let mails = queue(
            stores,
            &[
                t - Duration::minutes(3),
                t - Duration::minutes(2),
                t - Duration::minutes(1),
            ],
        )
        .await;
        assert_eq!(ids(&claim(stores, t, 2).await), vec![mails[0].id, mails[1].id]);
        assert_eq!(ids(&claim(stores, t, 2).await), vec![mails[2].id]);
        assert!(claim(stores, t, 2).await.is_empty());
        assert!(claim(stores, t, 0).await.is_empty());
    }

    pub async fn a_claimed_message_is_hidden_until_its_lease_ends(stores: &Stores) {
        let t = now();
        let mail = queue(stores, &[t]).await.remove(0);
        let first = claim(stores, t, 10).await;
        assert_eq!(ids(&first), vec![mail.id]);
        assert!(claim(stores, t, 10).await.is_empty());
        let almost = t + lease() - Duration::milliseconds(1);
        assert!(claim(stores, almost, 10).await.is_empty());
        let again = claim(stores, t + lease(), 10).await;
        assert_eq!(ids(&again), vec![mail.id]);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].email, mail);
        let third = claim(stores, t + lease() * 2, 10).await;
        assert_eq!(third[0].attempts, 2);
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
    }

    pub async fn retry_later_makes_it_due_again_at_retry_at(stores: &Stores) {
        let t = now();
        let mail = queue(stores, &[t]).await.remove(0);
        claim(stores, t, 10).await;
        let retry_at = t + Duration::minutes(10);
        let long_error = "421 busy, try later ✗ ".repeat(200);
        stores
            .outbox
            .retry_later(mail.id, retry_at, &long_error)
            .await
            .unwrap();
        // The lease's end no longer counts: the retry time does.
        assert!(claim(stores, t + lease(), 10).await.is_empty());
        assert!(
            claim(stores, retry_at - Duration::milliseconds(1), 10)
                .await
                .is_empty()
        );
        let again = claim(stores, retry_at, 10).await;
        assert_eq!(ids(&again), vec![mail.id]);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].email, mail);
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
    }

    pub async fn a_sent_message_is_never_claimed_again(stores: &Stores) {
        let t = now();
        let mails = queue(stores, &[t, t]).await;
        claim(stores, t, 10).await;
        stores.outbox.mark_sent(mails[0].id, t).await.unwrap();
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
        let later = claim(stores, t + Duration::days(1), 10).await;
        assert_eq!(ids(&later), vec![mails[1].id]);
        // Even a late failure report from a worker whose lease ran out.
        stores
            .outbox
            .retry_later(mails[0].id, t, "timed out")
            .await
            .unwrap();
        assert!(
            claim(stores, t + Duration::days(2), 10)
                .await
                .iter()
                .all(|c| c.email.id != mails[0].id)
        );
    }

    pub async fn a_given_up_message_is_never_claimed_again(stores: &Stores) {
        let t = now();
        let mails = queue(stores, &[t, t]).await;
        claim(stores, t, 10).await;
        stores
            .outbox
            .give_up(mails[1].id, t, "550 no such user")
            .await
            .unwrap();
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
        let later = claim(stores, t + Duration::days(1), 10).await;
        assert_eq!(ids(&later), vec![mails[0].id]);
        stores.outbox.give_up(mails[0].id, t, "expired").await.unwrap();
        assert_eq!(stores.outbox.pending().await.unwrap(), 0);
        assert!(claim(stores, t + Duration::days(2), 10).await.is_empty());
    }

    pub async fn concurrent_claims_get_disjoint_messages(stores: &Stores) {
        let t = now();
        let times: Vec<Timestamp> = (0..20).map(|i| t - Duration::seconds(i)).collect();
        let mails = queue(stores, &times).await;
        let claimers: Vec<_> = (0..4)
            .map(|_| {
                let outbox = stores.outbox.clone();
                tokio::spawn(async move { outbox.claim_due(t, t + lease(), 10).await.unwrap() })
            })
            .collect();
        let mut seen = HashSet::new();
        for claimer in claimers {
            for claimed in claimer.await.unwrap() {
                assert!(
                    seen.insert(claimed.email.id),
                    "claimed twice: {}",
                    claimed.email.id
                );
                assert_eq!(claimed.attempts, 0);
            }
        }
        // Whatever the racers left is still due.
        for claimed in claim(stores, t, 20).await {
            assert!(
                seen.insert(claimed.email.id),
                "claimed twice: {}",
                claimed.email.id
            );
        }
        let all: HashSet<Uuid> = mails.iter().map(|m| m.id).collect();
        assert_eq!(seen, all);
    }

    pub async fn purge_deletes_only_what_finished_before_the_cutoff(stores: &Stores) {
        let t = now();
        let cutoff = t + Duration::days(1);
        let mails = queue(stores, &[t, t, t, t]).await;
        stores
            .outbox
            .mark_sent(mails[0].id, cutoff - Duration::hours(1))
            .await
            .unwrap();
        stores
            .outbox
            .give_up(mails[1].id, cutoff - Duration::minutes(1), "550")
            .await
            .unwrap();
        stores
            .outbox
            .mark_sent(mails[2].id, cutoff + Duration::minutes(1))
            .await
            .unwrap();
        // mails[3] is still pending.

        let email = "links@example.com";
        let owner = stores.users.create(new_user(email, None, t)).await.unwrap();
        let issue = |purpose, created_at: Timestamp, expires_at| {
            let mut link = new_link(owner.id, purpose, email, created_at);
            link.expires_at = expires_at;
            link
        };
        // Expired before the cutoff, never used: goes.
        let expired = issue(LinkPurpose::VerifyEmail, t, t + Duration::hours(1));
        // Used before the cutoff, valid after it: goes.
        let used = issue(
            LinkPurpose::ResetPassword,
            cutoff - Duration::minutes(30),
            cutoff + Duration::minutes(30),
        );
        // Used after the cutoff: stays.
        let used_late = issue(
            LinkPurpose::ChangeEmail,
            cutoff - Duration::minutes(30),
            cutoff + Duration::minutes(30),
        );
        for link in [&expired, &used, &used_late] {
            stores.email_links.issue(link, &[]).await.unwrap();
        }
        let reset = LinkAction::ResetPassword {
            password_hash: latch_ports::PasswordHash("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into()),
        };
        stores
            .email_links
            .consume(&used.token_hash, reset, cutoff - Duration::minutes(10))
            .await
            .unwrap();
        stores
            .email_links
            .consume(
                &used_late.token_hash,
                LinkAction::ChangeEmail,
                cutoff + Duration::minutes(1),
            )
            .await
            .unwrap();
        // Unused and valid past the cutoff: stays.
        let live = issue(
            LinkPurpose::VerifyEmail,
            cutoff - Duration::minutes(5),
            cutoff + Duration::hours(2),
        );
        stores.email_links.issue(&live, &[]).await.unwrap();

        assert_eq!(stores.outbox.purge(cutoff, 100).await.unwrap(), 4);
        assert_eq!(stores.outbox.purge(cutoff, 100).await.unwrap(), 0);
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
        let peeked = stores
            .email_links
            .peek(&live.token_hash, LinkPurpose::VerifyEmail, cutoff)
            .await
            .unwrap();
        assert_eq!(peeked.map(|u| u.id), Some(owner.id));
        // A day later: the late-sent mail, the late-used link and the live
        // one (expired by then) go; the pending mail and `queue`'s link stay.
        let next_day = cutoff + Duration::days(1);
        assert_eq!(stores.outbox.purge(next_day, 100).await.unwrap(), 3);
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
        assert_eq!(ids(&claim(stores, next_day, 10).await), vec![mails[3].id]);
    }

    pub async fn purge_honours_the_limit_and_continues(stores: &Stores) {
        let t = now();
        let mails = queue(stores, &[t, t, t, t]).await;
        for mail in &mails[..3] {
            stores.outbox.mark_sent(mail.id, t).await.unwrap();
        }
        let email = "links@example.com";
        let owner = stores.users.create(new_user(email, None, t)).await.unwrap();
        for purpose in [LinkPurpose::VerifyEmail, LinkPurpose::ResetPassword] {
            let link = new_link(owner.id, purpose, email, t);
            stores.email_links.issue(&link, &[]).await.unwrap();
        }
        let cutoff = t + Duration::days(1);
        let mut purged = Vec::new();
        for _ in 0..4 {
            purged.push(stores.outbox.purge(cutoff, 2).await.unwrap());
        }
        // Five finished rows: three mails, two expired links.
        assert_eq!(purged, vec![2, 2, 1, 0]);
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
    }
}

pub use behaviours::*;
