//! Self-service: `/users/me/password`, `DELETE /users/me`, `/users/me/sessions`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, access, assert_problem, claims_of, spawn_app_with};

crate::on_both_backends!(
    password_change_keeps_this_session_and_ends_the_others,
    password_change_checks_both_passwords,
    deleted_account_cannot_log_in_and_its_data_is_kept,
    deletion_needs_the_password,
    deletion_guesses_are_budgeted_and_back_the_account_off,
    sessions_are_listed_with_the_current_one_marked,
    a_user_revokes_their_own_other_session,
    another_users_session_is_not_found,
);

async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> reqwest::Response {
    let body = json!({ "current_password": current, "new_password": new });
    app.bearer_request(
        reqwest::Method::POST,
        "/api/v1/users/me/password",
        access,
        Some(body),
    )
    .await
}

async fn password_change_keeps_this_session_and_ends_the_others(app: TestApp) {
    let this = app.signup_and_login("ada@example.com").await;
    let other: Value = app.login("ada@example.com", PASSWORD).await.json().await.unwrap();
    let new_password = "an entirely new passphrase";
    assert_eq!(
        change_password(&app, access(&this), PASSWORD, new_password)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(app.me(access(&this)).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(this["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    app.assert_session_ended(&other).await;

    app.assert_login_refused("ada@example.com").await;
    assert_eq!(
        app.login("ada@example.com", new_password).await.status(),
        StatusCode::OK
    );
}

async fn password_change_checks_both_passwords(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let wrong = change_password(&app, access(&tokens), "not my password", "a perfectly fine one").await;
    let problem = assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "current_password");
    let weak = change_password(&app, access(&tokens), PASSWORD, "short").await;
    let problem = assert_problem(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "new_password");
    let body = json!({ "current_password": PASSWORD, "new_password": "long enough", "is_superuser": true });
    let extra = app
        .bearer_request(
            reqwest::Method::POST,
            "/api/v1/users/me/password",
            access(&tokens),
            Some(body),
        )
        .await;
    assert_problem(extra, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // Nothing changed.
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn deleted_account_cannot_log_in_and_its_data_is_kept(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let body = Some(json!({ "password": PASSWORD }));
    let response = app
        .bearer_request(reqwest::Method::DELETE, "/api/v1/users/me", access(&tokens), body)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    app.assert_session_ended(&tokens).await;
    let deleted = app.login("ada@example.com", PASSWORD).await;
    let deleted = assert_problem(deleted, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let wrong = assert_problem(
        app.login("ada@example.com", "wrong").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(deleted, wrong);
    // The row is kept (an admin can restore it), so the email stays taken.
    assert_problem(
        app.signup("ada@example.com").await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
}

async fn deletion_needs_the_password(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let body = Some(json!({ "password": "not my password" }));
    let response = app
        .bearer_request(reqwest::Method::DELETE, "/api/v1/users/me", access(&tokens), body)
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "password");
    assert_eq!(app.me(access(&tokens)).await.status(), StatusCode::OK);
}

async fn deletion_guesses_are_budgeted_and_back_the_account_off(backend: Backend) {
    let overrides = [
        ("rate_limit.password_change_per_account", "4"),
        ("rate_limit.login_free_failures", "2"),
        ("rate_limit.login_backoff_base_seconds", "30"),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let tokens = app.signup_and_login("ada@example.com").await;
    let guess = |n: usize| {
        let body = Some(json!({ "password": format!("guess number {n}") }));
        app.bearer_request(reqwest::Method::DELETE, "/api/v1/users/me", access(&tokens), body)
    };
    // Two free failures, then the account backs off.
    for n in 0..2 {
        assert_problem(
            guess(n).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    assert_problem(guess(2).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The backoff is the account's: the login waits too, even with the right password.
    assert_problem(
        app.login("ada@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert_eq!(app.me(access(&tokens)).await.status(), StatusCode::OK);
}

async fn sessions_are_listed_with_the_current_one_marked(app: TestApp) {
    let first = app.signup_and_login("ada@example.com").await;
    let agent = reqwest::Client::builder()
        .user_agent("latch-tests/1.0")
        .build()
        .unwrap();
    let second = app.login_with(&agent, "ada@example.com").await;
    let response = app
        .bearer_request(
            reqwest::Method::GET,
            "/api/v1/users/me/sessions",
            access(&second),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let current = items.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(current["id"], claims_of(access(&second))["sid"]);
    assert_eq!(current["ip"], "127.0.0.1");
    assert_eq!(current["user_agent"], "latch-tests/1.0");
    assert!(items.iter().any(|s| s["id"] == claims_of(access(&first))["sid"]));
}

async fn a_user_revokes_their_own_other_session(app: TestApp) {
    let first = app.signup_and_login("ada@example.com").await;
    let second: Value = app.login("ada@example.com", PASSWORD).await.json().await.unwrap();
    let sid = claims_of(access(&first))["sid"].clone();
    let path = format!("/api/v1/users/me/sessions/{}", sid.as_str().unwrap());
    let response = app
        .bearer_request(reqwest::Method::DELETE, &path, access(&second), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.assert_access_refused(&first).await;
    assert_eq!(app.me(access(&second)).await.status(), StatusCode::OK);
    let list: Value = app
        .bearer_request(
            reqwest::Method::GET,
            "/api/v1/users/me/sessions",
            access(&second),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn another_users_session_is_not_found(app: TestApp) {
    let ada = app.signup_and_login("ada@example.com").await;
    let bob = app.signup_and_login("bob@example.com").await;
    let bobs = claims_of(access(&bob))["sid"].clone();
    let path = format!("/api/v1/users/me/sessions/{}", bobs.as_str().unwrap());
    let response = app
        .bearer_request(reqwest::Method::DELETE, &path, access(&ada), None)
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        app.me(access(&bob)).await.status(),
        StatusCode::OK,
        "bob's session must survive"
    );
    let unknown = format!("/api/v1/users/me/sessions/{}", uuid::Uuid::now_v7());
    assert_problem(
        app.bearer_request(reqwest::Method::DELETE, &unknown, access(&ada), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let garbage = app
        .bearer_request(
            reqwest::Method::DELETE,
            "/api/v1/users/me/sessions/not-a-uuid",
            access(&ada),
            None,
        )
        .await;
    assert_problem(garbage, StatusCode::NOT_FOUND, "not_found").await;
    // And ada cannot see bob's sessions in her list.
    let list: Value = app
        .bearer_request(
            reqwest::Method::GET,
            "/api/v1/users/me/sessions",
            access(&ada),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().iter().all(|s| s["id"] != bobs));
}
