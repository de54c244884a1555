//! `POST /api/v1/auth/refresh`: rotation, the reuse grace window, theft.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app_with};

crate::on_both_backends!(
    refresh_rotates_the_token,
    reuse_inside_grace_returns_the_same_successor,
    reuse_after_grace_revokes_the_session,
    twenty_concurrent_refreshes_leave_one_live_successor,
    with_zero_grace_one_of_two_concurrent_refreshes_succeeds,
    garbage_and_missing_tokens_are_401,
);

async fn refresh_rotates_the_token(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let first = login["refresh_token"].as_str().unwrap();
    let response = app.refresh(first).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let second = body["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    assert!(second.starts_with("latch_rt_"));
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(app.refresh(second).await.status(), StatusCode::OK);
}

async fn reuse_inside_grace_returns_the_same_successor(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let first = login["refresh_token"].as_str().unwrap();
    let a: Value = app.refresh(first).await.json().await.unwrap();
    let b: Value = app.refresh(first).await.json().await.unwrap();
    assert_eq!(a["refresh_token"], b["refresh_token"]);
    assert_eq!(
        app.me(b["access_token"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
}

async fn reuse_after_grace_revokes_the_session(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("tokens.refresh_reuse_grace_seconds", "1")]).await else {
        return;
    };
    let login = app.signup_and_login("ada@example.com").await;
    let first = login["refresh_token"].as_str().unwrap();
    let successor: Value = app.refresh(first).await.json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_problem(
        app.refresh(first).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_reused",
    )
    .await;
    // The whole session is gone: the successor and its access token too.
    let successor_refresh = successor["refresh_token"].as_str().unwrap();
    assert_problem(
        app.refresh(successor_refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let successor_access = successor["access_token"].as_str().unwrap();
    assert_problem(
        app.me(successor_access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // Other sessions of the same user are untouched.
    assert_eq!(
        app.login("ada@example.com", crate::helpers::PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

async fn twenty_concurrent_refreshes_leave_one_live_successor(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["refresh_token"].as_str().unwrap().to_owned();
    let url = app.url("/api/v1/auth/refresh");
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (url, token) = (url.clone(), token.clone());
            tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .json(&serde_json::json!({ "refresh_token": token }))
                    .send()
                    .await
                    .unwrap();
                (response.status(), response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut successors = HashSet::new();
    for attempt in attempts {
        let (status, body) = attempt.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        successors.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "more than one successor: {successors:?}");
    let successor = successors.into_iter().next().unwrap();
    assert_eq!(app.refresh(&successor).await.status(), StatusCode::OK);
}

async fn with_zero_grace_one_of_two_concurrent_refreshes_succeeds(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("tokens.refresh_reuse_grace_seconds", "0")]).await else {
        return;
    };
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["refresh_token"].as_str().unwrap();
    let (a, b) = tokio::join!(app.refresh(token), app.refresh(token));
    let statuses = [a.status(), b.status()];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        1,
        "{statuses:?}"
    );
}

async fn garbage_and_missing_tokens_are_401(app: TestApp) {
    assert_problem(
        app.refresh("latch_rt_nonsense").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let unknown = format!("latch_rt_{}", "A".repeat(43));
    assert_problem(
        app.refresh(&unknown).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let none = reqwest::Client::new()
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_problem(none, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // An empty JSON object carries no token either: unauthenticated, not a validation error.
    let empty = reqwest::Client::new()
        .post(app.url("/api/v1/auth/refresh"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(empty, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
