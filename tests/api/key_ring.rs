//! The shared key ring: instances on one database sign with its active key,
//! publish its retired keys until their tokens expire, and follow a rotation
//! made elsewhere (by `latch keys rotate`, here its library call) within
//! `keys.reload_seconds`, without a restart.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, PASSWORD, TestApp, access, header_of, spawn_app_with};

crate::on_both_backends!(
    a_token_signed_before_a_rotation_verifies_after_it,
    two_instances_verify_each_others_tokens_and_follow_a_rotation,
);

/// An app that re-reads the ring every second and publishes a new key
/// three seconds before it signs, with no login budget.
async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        &[
            ("keys.reload_seconds", "1"),
            ("keys.publish_ahead_seconds", "3"),
            // The tests poll by logging in.
            ("rate_limit.enabled", "false"),
        ],
    )
    .await
}

/// The kids `app` publishes.
async fn published(app: &TestApp) -> Vec<String> {
    let jwks = app.get_json("/.well-known/jwks.json").await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Rotates the app's ring as `latch keys rotate` does; the new kid.
async fn rotate(app: &TestApp) -> String {
    let store = latch::startup::open_store(app.settings(), false).await.unwrap();
    let ring = latch::key_ring(app.settings(), &store).await.unwrap();
    let rotation = ring.rotate(chrono::Utc::now()).await.unwrap();
    store.close().await;
    rotation.kid
}

/// Logs Ada in on `app`; the token response.
async fn log_in(app: &TestApp) -> Value {
    app.login("ada@example.com", PASSWORD).await.json().await.unwrap()
}

fn kid(tokens: &Value) -> String {
    header_of(access(tokens))["kid"].as_str().unwrap().to_owned()
}

/// Polls `login` until it signs with `kid`; fails after ten reload periods.
async fn until_signing_with<F, Fut>(kid_wanted: &str, mut login: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Value>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tokens = login().await;
        if kid(&tokens) == kid_wanted {
            return tokens;
        }
        assert!(Instant::now() < deadline, "still signing with {}", kid(&tokens));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_token_signed_before_a_rotation_verifies_after_it(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let before = app.signup_and_login("ada@example.com").await;
    let old_kid = kid(&before);

    let new_kid = rotate(&app).await;
    assert_ne!(new_kid, old_kid);
    // The new key is published first, while the old one still signs.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !published(&app).await.contains(&new_kid) {
        assert!(Instant::now() < deadline, "the new key is not published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        kid(&log_in(&app).await),
        old_kid,
        "the new key signs only after it was published ahead"
    );
    let after = until_signing_with(&new_kid, || log_in(&app)).await;

    assert_eq!(app.me(access(&before)).await.status(), StatusCode::OK);
    assert_eq!(app.me(access(&after)).await.status(), StatusCode::OK);
    let mut kids = published(&app).await;
    kids.sort();
    let mut expected = vec![old_kid, new_kid];
    expected.sort();
    assert_eq!(kids, expected);
}

async fn two_instances_verify_each_others_tokens_and_follow_a_rotation(backend: Backend) {
    let Some(a) = spawn(backend).await else { return };
    let b = a.replica().await;
    let from_a = a.signup_and_login("ada@example.com").await;
    let from_b = b.login("ada@example.com").await;
    assert_eq!(kid(&from_a), kid(&from_b), "one ring, one active key");
    assert_eq!(b.me(access(&from_a)).await.status(), StatusCode::OK);
    assert_eq!(a.me(access(&from_b)).await.status(), StatusCode::OK);

    let new_kid = rotate(&a).await;
    let rotated_b = until_signing_with(&new_kid, || b.login("ada@example.com")).await;
    let rotated_a = until_signing_with(&new_kid, || log_in(&a)).await;
    for tokens in [&from_a, &from_b, &rotated_a, &rotated_b] {
        assert_eq!(a.me(access(tokens)).await.status(), StatusCode::OK);
        assert_eq!(b.me(access(tokens)).await.status(), StatusCode::OK);
    }
}
