//! The `EmailLinkRepository` contract: builders of links and mails for
//! tests, the behaviours every implementation must show, and the macro that
//! expands them into tests.

use chrono::Duration;
use latch_domain::{Email, LinkPurpose, Timestamp, TokenHash, UserId};
use latch_ports::{EmailMessage, NewEmailLink, QueuedEmail};
use uuid::Uuid;

/// How long the links [`new_link`] makes stay valid.
pub fn link_lifetime() -> Duration {
    Duration::hours(1)
}

/// A random token hash, distinct per call.
pub fn random_token_hash() -> TokenHash {
    let mut hash = [0u8; 32];
    hash[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    hash[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    TokenHash(hash)
}

/// A link of `purpose` on `user_id`'s account mailed to `address`, issued at
/// `now` and valid for [`link_lifetime`].
#[allow(clippy::unwrap_used)]
pub fn new_link(user_id: UserId, purpose: LinkPurpose, address: &str, now: Timestamp) -> NewEmailLink {
    NewEmailLink {
        token_hash: random_token_hash(),
        user_id,
        purpose,
        address: Email::parse(address).unwrap(),
        created_at: now,
        expires_at: now + link_lifetime(),
    }
}

/// A mail to `to` queued at `queued_at`, deliverable for a day, whose
/// subject and bodies are distinct per call.
pub fn queued_email(to: &str, queued_at: Timestamp) -> QueuedEmail {
    let id = Uuid::now_v7();
    QueuedEmail {
        id,
        message: EmailMessage {
            to: to.to_owned(),
            subject: format!("Confirm your address ({id}) — ✓"),
            text: format!("Open https://example.com/verify#{id}"),
            html: format!("<a href=\"https://example.com/verify#{id}\">Confirm</a>"),
        },
        queued_at,
        deliver_until: queued_at + Duration::days(1),
    }
}

/// Expands the `EmailLinkRepository` contract into one `#[tokio::test]` per
/// behaviour. `$make` is an expression whose `.await` yields
/// `Option<latch_testkit::Stores>` (`None` skips the test).
#[macro_export]
macro_rules! email_link_repository_contract {
    ($make:expr) => {
        $crate::email_link_repository_contract!(@tests $make;
            issue_queues_the_messages_and_they_are_claimable,
            peek_finds_the_account_and_spends_nothing,
            an_unknown_link_is_invalid,
            a_newer_link_voids_the_older_of_its_purpose_only,
            the_wrong_purpose_is_invalid_and_leaves_the_link,
            an_expired_link_is_invalid_and_left_unspent,
            a_spent_link_is_invalid,
            an_inactive_or_deleted_account_is_invalid_and_nothing_is_written,
            verify_and_reset_refuse_an_account_whose_email_changed,
            verify_ignores_the_case_of_the_address,
            verify_sets_email_verified,
            reset_sets_the_hash_verifies_revokes_every_session_and_is_recorded,
            change_moves_the_account_to_the_address_as_given_and_is_recorded,
            change_to_a_taken_address_is_email_taken_and_writes_nothing,
            change_to_the_same_address_in_another_case_is_stored_as_given,
            following_a_link_leaves_the_links_of_other_purposes,
            concurrent_consumes_have_exactly_one_winner,
            issue_for_an_unknown_account_writes_nothing,
            a_failed_issue_writes_nothing,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(stores) = $make.await else { return };
                $crate::email_links::$name(&stores).await;
            }
        )*
    };
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use latch_domain::{AuthMethods, RefreshTokenRecord, Session, SessionId, User};
    use latch_ports::{
        AccountFlags, AuthChange, Clock, ConsumeLinkError, LinkAction, PasswordHash, RepositoryError,
    };

    use super::*;
    use crate::users::{NEW_USER_HASH, new_user, verified_login};
    use crate::{FixedClock, Stores};

    const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA";

    fn now() -> Timestamp {
        FixedClock::new().now()
    }

    fn reset() -> LinkAction {
        LinkAction::ResetPassword {
            password_hash: PasswordHash(NEW_HASH.into()),
        }
    }

    fn action_for(purpose: LinkPurpose) -> LinkAction {
        match purpose {
            LinkPurpose::VerifyEmail => LinkAction::VerifyEmail,
            LinkPurpose::ResetPassword => reset(),
            LinkPurpose::ChangeEmail => LinkAction::ChangeEmail,
        }
    }

    async fn user(stores: &Stores, email: &str) -> User {
        stores.users.create(new_user(email, None, now())).await.unwrap()
    }

    /// Issues a link of `purpose` for `user` to `address`, with no mail.
    async fn issued(stores: &Stores, user: UserId, purpose: LinkPurpose, address: &str) -> NewEmailLink {
        let link = new_link(user, purpose, address, now());
        stores.email_links.issue(&link, &[]).await.unwrap();
        link
    }

    /// A session of `user`, logged in at `at`.
    async fn session(stores: &Stores, user: UserId, at: Timestamp) -> SessionId {
        let session = Session {
            id: SessionId::generate(),
            user_id: user,
            created_at: at,
            last_used_at: at,
            expires_at: at + Duration::days(30),
            revoked_at: None,
            user_agent: None,
            ip: None,
            auth_methods: AuthMethods::Password,
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

    async fn consume(
        stores: &Stores,
        link: &NewEmailLink,
        action: LinkAction,
        at: Timestamp,
    ) -> Result<User, ConsumeLinkError> {
        stores.email_links.consume(&link.token_hash, action, at).await
    }

    fn assert_invalid(result: Result<User, ConsumeLinkError>, what: &str) {
        assert!(
            matches!(result, Err(ConsumeLinkError::Invalid)),
            "{what}: {result:?}"
        );
    }

    async fn password_hash(stores: &Stores, login: &str) -> PasswordHash {
        let credentials = stores.users.find_credentials(login).await.unwrap().unwrap();
        credentials.password_hash
    }

    /// The changes recorded after version `after`.
    async fn changes_since(stores: &Stores, after: u64) -> Vec<AuthChange> {
        let latest = stores.changes.latest_version().await.unwrap();
        let changes = stores.changes.changes_between(after, latest).await.unwrap();
        changes.into_iter().map(|c| c.change).collect()
    }

    pub async fn issue_queues_the_messages_and_they_are_claimable(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = new_link(ada.id, LinkPurpose::VerifyEmail, "ada@example.com", now());
        let mails = [
            queued_email("ada@example.com", now()),
            queued_email("ada@example.com", now()),
        ];
        stores.email_links.issue(&link, &mails).await.unwrap();
        assert_eq!(stores.outbox.pending().await.unwrap(), 2);
        let mut claimed = stores
            .outbox
            .claim_due(now(), now() + Duration::minutes(5), 10)
            .await
            .unwrap();
        claimed.sort_by_key(|c| c.email.id);
        assert_eq!(claimed.len(), 2);
        for (claim, mail) in claimed.iter().zip(&mails) {
            assert_eq!(&claim.email, mail);
            assert_eq!(claim.attempts, 0);
        }
        let found = stores
            .email_links
            .peek(&link.token_hash, LinkPurpose::VerifyEmail, now())
            .await
            .unwrap();
        assert_eq!(found.map(|u| u.id), Some(ada.id));
    }

    pub async fn peek_finds_the_account_and_spends_nothing(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::ResetPassword, "ada@example.com").await;
        for _ in 0..2 {
            let found = stores
                .email_links
                .peek(&link.token_hash, LinkPurpose::ResetPassword, now())
                .await
                .unwrap();
            assert_eq!(found, Some(ada.clone()));
        }
        let wrong_purpose = stores
            .email_links
            .peek(&link.token_hash, LinkPurpose::VerifyEmail, now())
            .await
            .unwrap();
        assert_eq!(wrong_purpose, None);
        let expired = stores
            .email_links
            .peek(&link.token_hash, LinkPurpose::ResetPassword, link.expires_at)
            .await
            .unwrap();
        assert_eq!(expired, None);
        consume(stores, &link, reset(), now()).await.unwrap();
        let spent = stores
            .email_links
            .peek(&link.token_hash, LinkPurpose::ResetPassword, now())
            .await
            .unwrap();
        assert_eq!(spent, None);
    }

    pub async fn an_unknown_link_is_invalid(stores: &Stores) {
        user(stores, "ada@example.com").await;
        let unknown = random_token_hash();
        for purpose in LinkPurpose::ALL {
            let result = stores
                .email_links
                .consume(&unknown, action_for(purpose), now())
                .await;
            assert_invalid(result, purpose.as_str());
            let peeked = stores.email_links.peek(&unknown, purpose, now()).await.unwrap();
            assert_eq!(peeked, None);
        }
        assert_eq!(stores.changes.latest_version().await.unwrap(), 0);
    }

    pub async fn a_newer_link_voids_the_older_of_its_purpose_only(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let reset_link = issued(stores, ada.id, LinkPurpose::ResetPassword, "ada@example.com").await;
        let first = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ada@example.com").await;
        let second = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ada@example.com").await;
        assert_invalid(
            consume(stores, &first, LinkAction::VerifyEmail, now()).await,
            "the voided link",
        );
        let verified = consume(stores, &second, LinkAction::VerifyEmail, now())
            .await
            .unwrap();
        assert!(verified.email_verified);
        // Recorded, so cached copies of the user see the verification.
        assert_eq!(changes_since(stores, 0).await, vec![AuthChange::User(ada.id)]);
        consume(stores, &reset_link, reset(), now()).await.unwrap();
    }

    pub async fn the_wrong_purpose_is_invalid_and_leaves_the_link(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::ResetPassword, "ada@example.com").await;
        for action in [LinkAction::VerifyEmail, LinkAction::ChangeEmail] {
            let what = format!("{:?}", action.purpose());
            assert_invalid(consume(stores, &link, action, now()).await, &what);
        }
        assert_eq!(password_hash(stores, "ada@example.com").await.0, NEW_USER_HASH);
        assert_eq!(stores.changes.latest_version().await.unwrap(), 0);
        consume(stores, &link, reset(), now()).await.unwrap();
        assert_eq!(password_hash(stores, "ada@example.com").await.0, NEW_HASH);
    }

    pub async fn an_expired_link_is_invalid_and_left_unspent(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ada@example.com").await;
        for at in [link.expires_at, link.expires_at + Duration::days(1)] {
            assert_invalid(
                consume(stores, &link, LinkAction::VerifyEmail, at).await,
                "expired",
            );
        }
        let found = stores.users.find_by_id(ada.id).await.unwrap().unwrap();
        assert!(!found.email_verified);
        let just_before = link.expires_at - Duration::milliseconds(1);
        let user = consume(stores, &link, LinkAction::VerifyEmail, just_before)
            .await
            .unwrap();
        assert!(user.email_verified);
    }

    pub async fn a_spent_link_is_invalid(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        for purpose in LinkPurpose::ALL {
            let address = match purpose {
                LinkPurpose::ChangeEmail => "ada.new@example.com",
                _ => "ada@example.com",
            };
            let link = issued(stores, ada.id, purpose, address).await;
            consume(stores, &link, action_for(purpose), now()).await.unwrap();
            assert_invalid(
                consume(stores, &link, action_for(purpose), now()).await,
                purpose.as_str(),
            );
        }
    }

    pub async fn an_inactive_or_deleted_account_is_invalid_and_nothing_is_written(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let grace = user(stores, "grace@example.com").await;
        let inactive = AccountFlags {
            is_active: Some(false),
            ..AccountFlags::default()
        };
        stores
            .users
            .update_account(ada.id, Default::default(), inactive, now())
            .await
            .unwrap();
        stores.users.soft_delete(grace.id, now()).await.unwrap();
        for who in [&ada, &grace] {
            let email = who.email.as_str();
            let links = [
                issued(stores, who.id, LinkPurpose::VerifyEmail, email).await,
                issued(stores, who.id, LinkPurpose::ResetPassword, email).await,
                issued(stores, who.id, LinkPurpose::ChangeEmail, &format!("new.{email}")).await,
            ];
            let before = stores.changes.latest_version().await.unwrap();
            for link in &links {
                let what = format!("{email} {:?}", link.purpose);
                let peeked = stores
                    .email_links
                    .peek(&link.token_hash, link.purpose, now())
                    .await
                    .unwrap();
                assert_eq!(peeked, None, "{what}");
                assert_invalid(
                    consume(stores, link, action_for(link.purpose), now()).await,
                    &what,
                );
            }
            assert_eq!(stores.changes.latest_version().await.unwrap(), before, "{email}");
            let found = stores.users.find_by_id(who.id).await.unwrap().unwrap();
            assert!(!found.email_verified && found.email == who.email, "{email}");
            assert_eq!(password_hash(stores, email).await.0, NEW_USER_HASH, "{email}");
        }
        // Nothing was spent: once the accounts are back, the links work.
        let active = AccountFlags {
            is_active: Some(true),
            ..AccountFlags::default()
        };
        stores
            .users
            .update_account(ada.id, Default::default(), active, now())
            .await
            .unwrap();
        stores.users.restore(grace.id, now()).await.unwrap();
        for who in [&ada, &grace] {
            let link = issued(stores, who.id, LinkPurpose::VerifyEmail, who.email.as_str()).await;
            let user = consume(stores, &link, LinkAction::VerifyEmail, now())
                .await
                .unwrap();
            assert!(user.email_verified);
        }
    }

    pub async fn verify_and_reset_refuse_an_account_whose_email_changed(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let verify = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ada@example.com").await;
        let reset_link = issued(stores, ada.id, LinkPurpose::ResetPassword, "ada@example.com").await;
        let change = issued(stores, ada.id, LinkPurpose::ChangeEmail, "lovelace@example.com").await;
        consume(stores, &change, LinkAction::ChangeEmail, now())
            .await
            .unwrap();
        for (link, action) in [(&verify, LinkAction::VerifyEmail), (&reset_link, reset())] {
            let what = format!("{:?}", link.purpose);
            let peeked = stores
                .email_links
                .peek(&link.token_hash, link.purpose, now())
                .await
                .unwrap();
            assert_eq!(peeked, None, "{what}");
            assert_invalid(consume(stores, link, action, now()).await, &what);
        }
        assert_eq!(
            password_hash(stores, "lovelace@example.com").await.0,
            NEW_USER_HASH
        );
    }

    pub async fn verify_ignores_the_case_of_the_address(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ADA@Example.com").await;
        let user = consume(stores, &link, LinkAction::VerifyEmail, now())
            .await
            .unwrap();
        assert!(user.email_verified);
        assert_eq!(user.email.as_str(), "ada@example.com");
    }

    pub async fn verify_sets_email_verified(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ada@example.com").await;
        let later = now() + Duration::minutes(3);
        let user = consume(stores, &link, LinkAction::VerifyEmail, later)
            .await
            .unwrap();
        let expected = User {
            email_verified: true,
            updated_at: later,
            ..ada.clone()
        };
        assert_eq!(user, expected);
        assert_eq!(stores.users.find_by_id(ada.id).await.unwrap(), Some(expected));
        assert_eq!(password_hash(stores, "ada@example.com").await.0, NEW_USER_HASH);
    }

    pub async fn reset_sets_the_hash_verifies_revokes_every_session_and_is_recorded(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let grace = user(stores, "grace@example.com").await;
        let mut sessions = Vec::new();
        for _ in 0..2 {
            sessions.push(session(stores, ada.id, now()).await);
        }
        let bystander = session(stores, grace.id, now()).await;
        let link = issued(stores, ada.id, LinkPurpose::ResetPassword, "ada@example.com").await;
        let before = stores.changes.latest_version().await.unwrap();
        let later = now() + Duration::minutes(3);
        let user = consume(stores, &link, reset(), later).await.unwrap();
        assert!(user.email_verified);
        assert_eq!(user.updated_at, later);
        assert_eq!(stores.users.find_by_id(ada.id).await.unwrap(), Some(user));
        assert_eq!(password_hash(stores, "ada@example.com").await.0, NEW_HASH);
        for session in &sessions {
            let found = stores.sessions.find(*session).await.unwrap().unwrap();
            assert_eq!(found.revoked_at, Some(later));
        }
        let untouched = stores.sessions.find(bystander).await.unwrap().unwrap();
        assert_eq!(untouched.revoked_at, None);
        let changes = changes_since(stores, before).await;
        assert!(!changes.is_empty(), "the reset was not recorded");
        assert!(
            changes.iter().all(|c| *c == AuthChange::User(ada.id)),
            "{changes:?}"
        );
    }

    pub async fn change_moves_the_account_to_the_address_as_given_and_is_recorded(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::ChangeEmail, "Lovelace@Example.com").await;
        let before = stores.changes.latest_version().await.unwrap();
        let later = now() + Duration::minutes(3);
        let user = consume(stores, &link, LinkAction::ChangeEmail, later)
            .await
            .unwrap();
        assert_eq!(user.email.as_str(), "Lovelace@Example.com");
        assert!(user.email_verified);
        assert_eq!(user.updated_at, later);
        assert_eq!(stores.users.find_by_id(ada.id).await.unwrap(), Some(user));
        let by_new = stores
            .users
            .find_credentials("lovelace@example.com")
            .await
            .unwrap();
        assert_eq!(by_new.map(|c| c.user.id), Some(ada.id));
        assert!(
            stores
                .users
                .find_credentials("ada@example.com")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            changes_since(stores, before).await,
            vec![AuthChange::User(ada.id)]
        );
    }

    pub async fn change_to_a_taken_address_is_email_taken_and_writes_nothing(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        user(stores, "grace@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::ChangeEmail, "Grace@Example.com").await;
        let before = stores.changes.latest_version().await.unwrap();
        for _ in 0..2 {
            let result = consume(stores, &link, LinkAction::ChangeEmail, now()).await;
            assert!(matches!(result, Err(ConsumeLinkError::EmailTaken)), "{result:?}");
        }
        assert_eq!(stores.changes.latest_version().await.unwrap(), before);
        assert_eq!(stores.users.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));
        let peeked = stores
            .email_links
            .peek(&link.token_hash, LinkPurpose::ChangeEmail, now())
            .await
            .unwrap();
        assert_eq!(peeked, Some(ada), "the link was spent");
    }

    pub async fn change_to_the_same_address_in_another_case_is_stored_as_given(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let link = issued(stores, ada.id, LinkPurpose::ChangeEmail, "Ada@Example.COM").await;
        let user = consume(stores, &link, LinkAction::ChangeEmail, now())
            .await
            .unwrap();
        assert_eq!(user.email.as_str(), "Ada@Example.COM");
        let found = stores.users.find_by_id(ada.id).await.unwrap().unwrap();
        assert_eq!(found.email.as_str(), "Ada@Example.COM");
        // Links to the old spelling still reach the account: case is ignored.
        let verify = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ada@example.com").await;
        consume(stores, &verify, LinkAction::VerifyEmail, now())
            .await
            .unwrap();
    }

    pub async fn following_a_link_leaves_the_links_of_other_purposes(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let verify = issued(stores, ada.id, LinkPurpose::VerifyEmail, "ada@example.com").await;
        let reset_link = issued(stores, ada.id, LinkPurpose::ResetPassword, "ada@example.com").await;
        consume(stores, &verify, LinkAction::VerifyEmail, now())
            .await
            .unwrap();
        let peeked = stores
            .email_links
            .peek(&reset_link.token_hash, LinkPurpose::ResetPassword, now())
            .await
            .unwrap();
        assert!(peeked.is_some());
        consume(stores, &reset_link, reset(), now()).await.unwrap();
    }

    pub async fn concurrent_consumes_have_exactly_one_winner(stores: &Stores) {
        for (round, purpose) in LinkPurpose::ALL.into_iter().enumerate() {
            let email = format!("racer{round}@example.com");
            let racer = user(stores, &email).await;
            let address = match purpose {
                LinkPurpose::ChangeEmail => format!("moved{round}@example.com"),
                _ => email,
            };
            let link = issued(stores, racer.id, purpose, &address).await;
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (links, hash) = (stores.email_links.clone(), link.token_hash);
                    tokio::spawn(async move { links.consume(&hash, action_for(purpose), now()).await })
                })
                .collect();
            let mut won = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(_) => won += 1,
                    lost => assert_invalid(lost, purpose.as_str()),
                }
            }
            assert_eq!(won, 1, "{purpose:?}");
        }
    }

    pub async fn issue_for_an_unknown_account_writes_nothing(stores: &Stores) {
        let link = new_link(
            UserId::generate(),
            LinkPurpose::VerifyEmail,
            "nobody@example.com",
            now(),
        );
        let mail = queued_email("nobody@example.com", now());
        let result: Result<(), RepositoryError> = stores.email_links.issue(&link, &[mail]).await;
        assert!(result.is_err());
        assert_eq!(stores.outbox.pending().await.unwrap(), 0);
    }

    pub async fn a_failed_issue_writes_nothing(stores: &Stores) {
        let ada = user(stores, "ada@example.com").await;
        let first = new_link(ada.id, LinkPurpose::VerifyEmail, "ada@example.com", now());
        let mail = queued_email("ada@example.com", now());
        stores
            .email_links
            .issue(&first, std::slice::from_ref(&mail))
            .await
            .unwrap();
        // The same message id again: the queueing fails, so must the rest.
        let second = new_link(ada.id, LinkPurpose::VerifyEmail, "ada@example.com", now());
        let result = stores
            .email_links
            .issue(&second, &[queued_email("ada@example.com", now()), mail])
            .await;
        assert!(result.is_err());
        assert_eq!(stores.outbox.pending().await.unwrap(), 1);
        let peeked = stores
            .email_links
            .peek(&second.token_hash, LinkPurpose::VerifyEmail, now())
            .await
            .unwrap();
        assert_eq!(peeked, None, "the failed link was stored");
        consume(stores, &first, LinkAction::VerifyEmail, now())
            .await
            .unwrap();
    }
}

pub use behaviours::*;
