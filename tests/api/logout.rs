//! `POST /api/v1/auth/logout?scope=local|others|global`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, set_cookies};

crate::on_both_backends!(
    local_logout_kills_only_this_session,
    others_logout_keeps_this_session,
    global_logout_kills_every_session,
    logout_without_credentials_is_204,
    logout_clears_cookies,
    unknown_scope_is_422,
);

async fn logout(app: &TestApp, access: &str, scope: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(&format!("/api/v1/auth/logout?scope={scope}")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

async fn two_sessions(app: &TestApp) -> (Value, Value) {
    let first = app.signup_and_login("ada@example.com").await;
    let second: Value = app.login("ada@example.com", PASSWORD).await.json().await.unwrap();
    (first, second)
}

async fn local_logout_kills_only_this_session(app: TestApp) {
    let (first, second) = two_sessions(&app).await;
    assert_eq!(
        logout(&app, access(&first), "local").await.status(),
        StatusCode::NO_CONTENT
    );
    app.assert_session_ended(&first).await;
    assert_eq!(app.me(access(&second)).await.status(), StatusCode::OK);
}

async fn others_logout_keeps_this_session(app: TestApp) {
    let (first, second) = two_sessions(&app).await;
    assert_eq!(
        logout(&app, access(&first), "others").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me(access(&first)).await.status(), StatusCode::OK);
    app.assert_access_refused(&second).await;
}

async fn global_logout_kills_every_session(app: TestApp) {
    let (first, second) = two_sessions(&app).await;
    assert_eq!(
        logout(&app, access(&second), "global").await.status(),
        StatusCode::NO_CONTENT
    );
    app.assert_access_refused(&first).await;
    app.assert_access_refused(&second).await;
    // `global` needs a live session to know whose sessions to end.
    assert_problem(
        logout(&app, access(&second), "global").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

async fn logout_without_credentials_is_204(app: TestApp) {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

async fn logout_clears_cookies(app: TestApp) {
    app.signup("ada@example.com").await;
    app.login("ada@example.com", PASSWORD).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookies = set_cookies(&response);
    for name in ["access_token=", "refresh_token="] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not cleared"));
        assert!(cookie.contains("Max-Age=0"), "{cookie}");
    }
}

async fn unknown_scope_is_422(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    assert_problem(
        logout(&app, access(&tokens), "everyone").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
