//! The background purge, as `serve` runs it: ended sessions disappear from
//! the database, live ones and their tokens stay.

use std::time::Duration;

use latch_domain::SessionId;
use latch_ports::SessionRepository;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, claims_of, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(the_running_service_purges_ended_sessions_and_keeps_live_ones);

fn session_id(tokens: &Value) -> SessionId {
    let sid = claims_of(tokens["access_token"].as_str().unwrap())["sid"].clone();
    SessionId(sid.as_str().unwrap().parse().unwrap())
}

/// Whether the session's row is still in the database, asked on a connection of our own.
async fn stored(app: &TestApp, id: SessionId) -> bool {
    let store = latch::startup::open_store(app.settings(), false).await.unwrap();
    let found = store.sessions().find(id).await.unwrap().is_some();
    store.close().await;
    found
}

async fn the_running_service_purges_ended_sessions_and_keeps_live_ones(backend: Backend) {
    let overrides = [("purge.interval_seconds", "1"), ("purge.retention_seconds", "0")];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let ada = app.signup_and_login("ada@example.com").await;
    let bob = app.signup_and_login("bob@example.com").await;
    let logout = app
        .bearer_request(
            reqwest::Method::POST,
            "/api/v1/auth/logout?scope=local",
            bob["access_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    let mut purged = false;
    for _ in 0..50 {
        if !stored(&app, session_id(&bob)).await {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert!(
        purged,
        "bob's ended session is still stored after 10 s of 1 s passes"
    );
    assert!(stored(&app, session_id(&ada)).await, "a live session was purged");
    let refreshed = app.refresh(ada["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "a live session lost its refresh token"
    );
}
