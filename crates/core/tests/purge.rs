//! The purge pass on the in-memory fakes and a fixed clock: which cutoffs it
//! computes, what it keeps, and that each step stays within its batch.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Duration;
use latch_core::{PurgePolicy, RefreshError};

mod support;

use support::{Harness, log_out, logged_in, refresh, refreshed};

#[tokio::test]
async fn an_ended_session_and_its_tokens_go_after_the_retention() {
    let h = Harness::new();
    let auth = &h.auth;
    let policy = PurgePolicy::default();
    let ada = logged_in(auth, "ada@example.com").await;
    let bob = logged_in(auth, "bob@example.com").await;
    log_out(auth, &bob).await;
    h.clock.advance(policy.retention);

    let report = auth.purge_expired(&policy).await;

    assert_eq!(report.deleted_by("refresh_tokens"), Some(0), "{report:?}");
    assert_eq!(report.deleted_by("sessions"), Some(0), "{report:?}");
    assert_eq!(
        report.deleted_by("auth_changes"),
        Some(1),
        "the logout's change: {report:?}"
    );
    assert!(h.stores.sessions.find(bob.session.id).await.unwrap().is_some());

    h.clock.advance(Duration::seconds(1));
    let report = auth.purge_expired(&policy).await;

    assert_eq!(report.deleted_by("refresh_tokens"), Some(1), "{report:?}");
    assert_eq!(report.deleted_by("sessions"), Some(1), "{report:?}");
    assert!(report.failed.is_empty());
    assert!(h.stores.sessions.find(bob.session.id).await.unwrap().is_none());
    assert!(h.stores.sessions.find(ada.session.id).await.unwrap().is_some());
}

#[tokio::test]
async fn live_sessions_keep_their_whole_chain() {
    let h = Harness::new();
    let auth = &h.auth;
    let ada = logged_in(auth, "ada@example.com").await;
    let mut latest = ada.clone();
    for _ in 0..3 {
        h.clock.advance(Duration::minutes(15));
        latest = refreshed(auth, &latest).await;
    }
    // Past the first tokens' idle lifetime, not past the session's.
    h.clock.advance(Duration::days(8));

    let no_retention = PurgePolicy {
        retention: Duration::zero(),
        ..PurgePolicy::default()
    };

    let report = auth.purge_expired(&no_retention).await;

    assert_eq!(report.total(), 0, "{report:?}");
    // The first token is still known, so presenting it is still theft.
    assert!(matches!(refresh(auth, &ada).await, Err(RefreshError::Reused)));
}

#[tokio::test]
async fn each_step_deletes_at_most_a_batch_per_pass() {
    let h = Harness::new();
    let auth = &h.auth;
    let mut ended = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        let pair = logged_in(auth, &format!("{name}@example.com")).await;
        log_out(auth, &pair).await;
        ended.push(pair);
    }
    let policy = PurgePolicy {
        batch_size: 2,
        ..PurgePolicy::default()
    };
    h.clock.advance(policy.retention + Duration::seconds(1));

    let mut passes = Vec::new();
    for _ in 0..4 {
        let report = auth.purge_expired(&policy).await;
        passes.push((
            report.deleted_by("refresh_tokens").unwrap(),
            report.deleted_by("sessions").unwrap(),
        ));
    }

    assert!(
        passes
            .iter()
            .all(|&(tokens, sessions)| tokens <= 2 && sessions <= 2),
        "{passes:?}"
    );
    assert_eq!(
        passes.iter().map(|&(_, sessions)| sessions).sum::<u64>(),
        5,
        "{passes:?}"
    );
    assert_eq!(passes.last(), Some(&(0, 0)));
    for pair in &ended {
        assert!(h.stores.sessions.find(pair.session.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn the_change_log_is_kept_for_an_hour() {
    let h = Harness::new();
    let auth = &h.auth;
    let ada = logged_in(auth, "ada@example.com").await;
    log_out(auth, &ada).await;
    h.clock.advance(Duration::minutes(59));
    let report = auth.purge_expired(&PurgePolicy::default()).await;
    assert_eq!(report.deleted_by("auth_changes"), Some(0), "{report:?}");
    h.clock.advance(Duration::minutes(2));
    let report = auth.purge_expired(&PurgePolicy::default()).await;
    assert_eq!(report.deleted_by("auth_changes"), Some(1), "{report:?}");
}
