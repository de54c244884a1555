//! The whole journey: signup → login → me → refresh → logout, with cookies.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem};

crate::on_both_backends!(full_flow_with_cookies, full_flow_with_bearer_tokens);

async fn full_flow_with_cookies(app: TestApp) {
    let signup = json!({ "email": "ada@example.com", "password": PASSWORD, "name": "Ada" });
    assert_eq!(
        app.post_json("/api/v1/auth/signup", &signup).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );

    // The cookie jar now authenticates.
    let me = app.client.get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.headers()["cache-control"], "no-store");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["name"], "Ada");

    // Refresh with the refresh cookie alone.
    let refreshed = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(refreshed["user"]["id"], me["id"]);

    // Logout clears the cookies; the jar no longer authenticates.
    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let me = app.client.get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_problem(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // And the tokens themselves are dead, even if someone kept them.
    assert_problem(
        app.me(refreshed["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_problem(
        app.refresh(refreshed["refresh_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

async fn full_flow_with_bearer_tokens(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let access = login["access_token"].as_str().unwrap();
    let me = app.me(access).await;
    assert_eq!(me.status(), StatusCode::OK);

    let refreshed: Value = app
        .refresh(login["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_ne!(refreshed["refresh_token"], login["refresh_token"]);
    assert_eq!(app.me(new_access).await.status(), StatusCode::OK);

    let logout = reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(new_access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.me(new_access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // Logging out again is fine.
    let again = reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(new_access)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
}
