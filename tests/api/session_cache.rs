//! The session cache across instances: two Latch processes on one database,
//! a write on one honoured by the very next request on the other.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, spawn_app_with};

crate::on_both_backends!(
    a_logout_on_one_instance_is_honoured_by_the_next_request_on_another,
    a_profile_change_on_one_instance_is_served_by_the_other,
);

/// SQLite's `auto` is `single_process`; two processes on one file need the log too.
const SHARED: &[(&str, &str)] = &[("session_cache.coherence", "change_log")];

async fn a_logout_on_one_instance_is_honoured_by_the_next_request_on_another(backend: Backend) {
    let Some(a) = spawn_app_with(backend, SHARED).await else {
        return;
    };
    let b = a.replica().await;
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
    assert_eq!(b.me(access).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(a.me(access).await.status(), StatusCode::UNAUTHORIZED);
}

async fn a_profile_change_on_one_instance_is_served_by_the_other(backend: Backend) {
    let Some(a) = spawn_app_with(backend, SHARED).await else {
        return;
    };
    let b = a.replica().await;
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
    let after: serde_json::Value = b.me(access).await.json().await.unwrap();
    assert_eq!(after["name"], "Ada Lovelace");
}
