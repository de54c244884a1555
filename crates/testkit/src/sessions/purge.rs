//! Purging ended sessions: the fake's implementation, and the contract
//! behaviours every `SessionRepository` must show.

use latch_domain::{Session, SessionId, Timestamp};
use uuid::Uuid;

use super::fake::Tables;

/// Ended before `cutoff`: expired or revoked before it.
fn ended_before(session: &Session, cutoff: Timestamp) -> bool {
    session.expires_at < cutoff || session.revoked_at.is_some_and(|at| at < cutoff)
}

fn capped(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

impl Tables {
    pub(super) fn purge_ended_sessions(&mut self, cutoff: Timestamp, limit: u64) -> u64 {
        let ended: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| ended_before(s, cutoff))
            .map(|s| s.id)
            .take(capped(limit))
            .collect();
        self.tokens.retain(|_, t| !ended.contains(&t.session_id));
        for id in &ended {
            self.sessions.remove(id);
        }
        ended.len() as u64
    }

    pub(super) fn purge_refresh_tokens_of_ended_sessions(&mut self, cutoff: Timestamp, limit: u64) -> u64 {
        let spent: Vec<Uuid> = self
            .tokens
            .values()
            .filter(|t| {
                self.sessions
                    .get(&t.session_id)
                    .is_some_and(|s| ended_before(s, cutoff))
            })
            .map(|t| t.id)
            .take(capped(limit))
            .collect();
        for id in &spent {
            self.tokens.remove(id);
        }
        spent.len() as u64
    }
}

#[allow(clippy::unwrap_used, missing_docs)]
mod behaviours {
    use chrono::Duration;
    use latch_domain::{AuthMethods, RefreshTokenRecord, Session, SessionId, Timestamp, TokenHash};
    use latch_ports::Clock;
    use uuid::Uuid;

    use crate::users::{new_user, verified_login};
    use crate::{FixedClock, Stores};

    /// A session of a new user, created at `created_at`, ending at `expires_at`,
    /// with a chain of `tokens` refresh tokens (all but the last rotated).
    async fn session_with_chain(
        stores: &Stores,
        created_at: Timestamp,
        expires_at: Timestamp,
        tokens: usize,
    ) -> (Session, Vec<RefreshTokenRecord>) {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let user = stores
            .users
            .create(new_user(&email, None, created_at))
            .await
            .unwrap();
        let session = Session {
            id: SessionId::generate(),
            user_id: user.id,
            created_at,
            last_used_at: created_at,
            expires_at,
            revoked_at: None,
            user_agent: None,
            ip: None,
            auth_methods: AuthMethods::Password,
        };
        let mut chain = vec![token(&session, None, created_at)];
        stores
            .sessions
            .create(&session, &chain[0], &verified_login())
            .await
            .unwrap();
        for i in 1..tokens {
            let at = created_at + Duration::minutes(i64::try_from(i).unwrap());
            let child = token(&session, Some(chain[i - 1].id), at);
            stores
                .sessions
                .rotate(chain[i - 1].id, b"sealed", &child)
                .await
                .unwrap();
            chain.push(child);
        }
        let session = stores.sessions.find(session.id).await.unwrap().unwrap();
        (session, chain)
    }

    fn token(session: &Session, parent_id: Option<Uuid>, at: Timestamp) -> RefreshTokenRecord {
        let mut hash = [0u8; 32];
        hash[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        hash[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        RefreshTokenRecord {
            id: Uuid::now_v7(),
            session_id: session.id,
            token_hash: TokenHash(hash),
            parent_id,
            created_at: at,
            expires_at: (at + Duration::days(7)).min(session.expires_at),
            rotated_at: None,
            successor_id: None,
            successor_sealed: None,
        }
    }

    async fn revoked_at(
        stores: &Stores,
        created_at: Timestamp,
        at: Timestamp,
    ) -> (Session, Vec<RefreshTokenRecord>) {
        let (session, chain) =
            session_with_chain(stores, created_at, created_at + Duration::days(30), 2).await;
        stores.sessions.revoke(session.id, at).await.unwrap();
        (stores.sessions.find(session.id).await.unwrap().unwrap(), chain)
    }

    async fn tokens_left(stores: &Stores, chain: &[RefreshTokenRecord]) -> usize {
        let mut left = 0;
        for t in chain {
            let by_id = stores.sessions.find_refresh_token_by_id(t.id).await.unwrap();
            let by_hash = stores.sessions.find_refresh_token(&t.token_hash).await.unwrap();
            assert_eq!(by_id.is_some(), by_hash.is_some(), "token {} half deleted", t.id);
            left += usize::from(by_id.is_some());
        }
        left
    }

    async fn exists(stores: &Stores, session: &Session) -> bool {
        stores.sessions.find(session.id).await.unwrap().is_some()
    }

    pub async fn purge_ended_sessions_deletes_only_those_ended_before_the_cutoff(stores: &Stores) {
        let now = FixedClock::new().now();
        let cutoff = now - Duration::days(1);
        let (live, live_chain) =
            session_with_chain(stores, now - Duration::days(20), now + Duration::days(10), 3).await;
        let (expired, expired_chain) =
            session_with_chain(stores, now - Duration::days(32), now - Duration::days(2), 2).await;
        let (revoked, revoked_chain) =
            revoked_at(stores, now - Duration::days(3), now - Duration::days(2)).await;
        // Ended, but not before the cutoff: kept for now.
        let (recently_expired, recent_chain) =
            session_with_chain(stores, now - Duration::days(30), now - Duration::hours(1), 1).await;
        let (recently_revoked, recently_revoked_chain) =
            revoked_at(stores, now - Duration::days(3), cutoff).await;

        let deleted = stores.sessions.purge_ended_sessions(cutoff, 100).await.unwrap();

        assert_eq!(deleted, 2);
        assert!(!exists(stores, &expired).await);
        assert!(!exists(stores, &revoked).await);
        assert_eq!(tokens_left(stores, &expired_chain).await, 0);
        assert_eq!(tokens_left(stores, &revoked_chain).await, 0);
        for (kept, chain) in [
            (&live, &live_chain),
            (&recently_expired, &recent_chain),
            (&recently_revoked, &recently_revoked_chain),
        ] {
            assert_eq!(stores.sessions.find(kept.id).await.unwrap().as_ref(), Some(kept));
            assert_eq!(tokens_left(stores, chain).await, chain.len());
        }
        assert_eq!(
            stores.sessions.purge_ended_sessions(cutoff, 100).await.unwrap(),
            0
        );
    }

    pub async fn purge_ended_sessions_honours_the_limit_and_continues(stores: &Stores) {
        let now = FixedClock::new().now();
        let (live, live_chain) = session_with_chain(stores, now, now + Duration::days(30), 2).await;
        let mut ended = Vec::new();
        for _ in 0..5 {
            ended
                .push(session_with_chain(stores, now - Duration::days(31), now - Duration::days(1), 2).await);
        }

        let counts = [
            stores.sessions.purge_ended_sessions(now, 2).await.unwrap(),
            stores.sessions.purge_ended_sessions(now, 2).await.unwrap(),
            stores.sessions.purge_ended_sessions(now, 2).await.unwrap(),
            stores.sessions.purge_ended_sessions(now, 2).await.unwrap(),
        ];

        assert_eq!(counts, [2, 2, 1, 0]);
        for (session, chain) in &ended {
            assert!(!exists(stores, session).await);
            assert_eq!(tokens_left(stores, chain).await, 0);
        }
        assert!(exists(stores, &live).await);
        assert_eq!(tokens_left(stores, &live_chain).await, live_chain.len());
    }

    pub async fn purge_refresh_tokens_keeps_every_token_of_live_sessions(stores: &Stores) {
        let now = FixedClock::new().now();
        // Live for another 12 days; its oldest rotated tokens expired long ago,
        // and still revoke the session if presented again.
        let (long_lived, long_chain) =
            session_with_chain(stores, now - Duration::days(18), now + Duration::days(12), 4).await;
        assert!(long_chain[0].expires_at < now);
        let (revoked, revoked_chain) =
            revoked_at(stores, now - Duration::days(1), now - Duration::minutes(1)).await;
        let (expired, expired_chain) =
            session_with_chain(stores, now - Duration::days(30), now - Duration::seconds(1), 3).await;

        let deleted = stores
            .sessions
            .purge_refresh_tokens_of_ended_sessions(now, 100)
            .await
            .unwrap();

        assert_eq!(deleted, 5);
        assert_eq!(tokens_left(stores, &revoked_chain).await, 0);
        assert_eq!(tokens_left(stores, &expired_chain).await, 0);
        assert_eq!(tokens_left(stores, &long_chain).await, long_chain.len());
        // The session rows stay until `purge_ended_sessions` takes them.
        assert!(exists(stores, &revoked).await);
        assert!(exists(stores, &expired).await);
        assert!(exists(stores, &long_lived).await);
    }

    pub async fn purge_refresh_tokens_honours_the_limit_and_continues(stores: &Stores) {
        let now = FixedClock::new().now();
        let (live, live_chain) = session_with_chain(stores, now, now + Duration::days(30), 2).await;
        let (ended, chain) =
            session_with_chain(stores, now - Duration::days(31), now - Duration::days(1), 5).await;

        let mut counts = Vec::new();
        for _ in 0..4 {
            counts.push(
                stores
                    .sessions
                    .purge_refresh_tokens_of_ended_sessions(now, 2)
                    .await
                    .unwrap(),
            );
        }

        assert_eq!(counts, [2, 2, 1, 0]);
        assert_eq!(tokens_left(stores, &chain).await, 0);
        assert_eq!(tokens_left(stores, &live_chain).await, live_chain.len());
        assert_eq!(stores.sessions.purge_ended_sessions(now, 10).await.unwrap(), 1);
        assert!(!exists(stores, &ended).await);
        assert!(exists(stores, &live).await);
    }
}

pub use behaviours::*;
