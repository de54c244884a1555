//! The session cache across instances: two Latch instances on one database,
//! a write on one honoured by the very next request on the other, in both
//! coherences that allow several instances (`change_log` and `lease`).

use std::time::{Duration, Instant};

use latch_session_cache::CacheLease;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, Replica, TestApp, spawn_app_with};

crate::on_both_backends!(
    a_logout_on_one_instance_is_honoured_by_the_next_request_on_another,
    a_profile_change_on_one_instance_is_served_by_the_other,
    with_leases_a_logout_is_honoured_by_the_next_request_on_another,
    with_leases_a_profile_change_is_served_by_the_other,
    auto_coherence_holds_a_lease_on_postgres_only,
);

/// The two coherences that let several instances share one database.
#[derive(Clone, Copy)]
enum Coherence {
    /// A version read per request (SQLite's `auto` is `single_process`, so
    /// two processes on one file need this named).
    ChangeLog,
    /// No read while the instance holds its lease; a short lease, so that a
    /// lagging instance costs a write at most a second.
    Lease,
}

impl Coherence {
    fn overrides(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::ChangeLog => &[("session_cache.coherence", "change_log")],
            Self::Lease => &[
                ("session_cache.coherence", "lease"),
                ("session_cache.lease_millis", "1000"),
            ],
        }
    }

    /// Whether the second instance must answer from its lease, with no version read.
    fn leased(self) -> bool {
        matches!(self, Self::Lease)
    }
}

/// Two instances on one database; A writes, B must honour it at once.
struct Pair {
    a: TestApp,
    b: Replica,
    coherence: Coherence,
}

async fn a_logout_on_one_instance_is_honoured_by_the_next_request_on_another(backend: Backend) {
    if let Some(pair) = two_instances(backend, Coherence::ChangeLog).await {
        a_logout_is_honoured_by_the_next_request(&pair).await;
    }
}

async fn a_profile_change_on_one_instance_is_served_by_the_other(backend: Backend) {
    if let Some(pair) = two_instances(backend, Coherence::ChangeLog).await {
        a_profile_change_is_served(&pair).await;
    }
}

async fn with_leases_a_logout_is_honoured_by_the_next_request_on_another(backend: Backend) {
    if let Some(pair) = two_instances(backend, Coherence::Lease).await {
        a_logout_is_honoured_by_the_next_request(&pair).await;
    }
}

async fn with_leases_a_profile_change_is_served_by_the_other(backend: Backend) {
    if let Some(pair) = two_instances(backend, Coherence::Lease).await {
        a_profile_change_is_served(&pair).await;
    }
}

/// `auto` is `lease` on PostgreSQL and `single_process` (no lease) on SQLite.
async fn auto_coherence_holds_a_lease_on_postgres_only(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    match backend {
        Backend::Postgres => wait_for_lease(&app.lease).await,
        // In single_process there is no lease to wait for: the answer is final at once.
        Backend::Sqlite => assert!(!app.lease.held()),
    }
}

/// Two instances on one database in `coherence`; with leases, once both
/// hold theirs (so the test exercises the path with no query).
async fn two_instances(backend: Backend, coherence: Coherence) -> Option<Pair> {
    let a = spawn_app_with(backend, coherence.overrides()).await?;
    let b = a.replica().await;
    if coherence.leased() {
        wait_for_lease(&a.lease).await;
        wait_for_lease(&b.lease).await;
    }
    Some(Pair { a, b, coherence })
}

async fn wait_for_lease(lease: &CacheLease) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lease.held() {
        assert!(Instant::now() < deadline, "no cache lease within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_logout_is_honoured_by_the_next_request(Pair { a, b, coherence }: &Pair) {
    let tokens = a.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    // Both instances hold the session in their caches now.
    assert_eq!(a.me(access).await.status(), StatusCode::OK);
    assert_eq!(b.me(access).await.status(), StatusCode::OK);

    let logout = reqwest::Client::new()
        .post(a.url("/api/v1/auth/logout?scope=local"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(b.lease.held(), coherence.leased());
    assert_eq!(b.me(access).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(a.me(access).await.status(), StatusCode::UNAUTHORIZED);
}

async fn a_profile_change_is_served(Pair { a, b, coherence }: &Pair) {
    let tokens = a.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let before: serde_json::Value = b.me(access).await.json().await.unwrap();
    assert_eq!(before["name"], serde_json::Value::Null);

    let patch = a
        .bearer_request(
            reqwest::Method::PATCH,
            "/api/v1/users/me",
            access,
            Some(json!({ "name": "Ada Lovelace" })),
        )
        .await;
    assert_eq!(patch.status(), StatusCode::OK);
    assert_eq!(b.lease.held(), coherence.leased());
    let after: serde_json::Value = b.me(access).await.json().await.unwrap();
    assert_eq!(after["name"], "Ada Lovelace");
}
