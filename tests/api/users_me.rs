//! `GET`/`PATCH /api/v1/users/me` and the session check.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_problem, spawn_app_with};

crate::on_both_backends!(
    me_returns_the_caller,
    patch_me_changes_profile_fields,
    patch_me_refuses_privileged_fields,
    patch_me_to_a_taken_username_is_409,
    username_probes_spend_a_budget,
    session_check_returns_the_same_access_token,
    session_check_of_a_dead_session_is_401,
);

async fn patch(app: &TestApp, access: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .patch(app.url("/api/v1/users/me"))
        .bearer_auth(access)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn me_returns_the_caller(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let me: Value = app
        .me(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me, tokens["user"]);
}

async fn patch_me_changes_profile_fields(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let body = json!({ "name": "Countess", "username": "ada", "avatar_url": "https://img.example/ada.png" });
    let response = patch(&app, access, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["name"], "Countess");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["avatar_url"], "https://img.example/ada.png");
    // null clears; absent leaves alone.
    let user: Value = patch(&app, access, &json!({ "avatar_url": null }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["avatar_url"], Value::Null);
    assert_eq!(user["name"], "Countess");
    // The new username logs in.
    assert_eq!(app.login("ada", PASSWORD).await.status(), StatusCode::OK);
}

async fn patch_me_refuses_privileged_fields(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    for (field, value) in [
        ("is_superuser", json!(true)),
        ("is_staff", json!(true)),
        ("tier", json!("pro")),
        ("email", json!("x@example.com")),
    ] {
        let mut body = json!({ "name": "Sneaky" });
        body[field] = value;
        let problem = assert_problem(
            patch(&app, access, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field);
    }
    let me: Value = app.me(access).await.json().await.unwrap();
    assert_eq!(me["is_superuser"], false);
    assert_eq!(me["name"], Value::Null);
}

async fn patch_me_to_a_taken_username_is_409(app: TestApp) {
    let signup = json!({ "email": "bob@example.com", "password": PASSWORD, "username": "bob" });
    app.post_json("/api/v1/auth/signup", &signup).await;
    let tokens = app.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_problem(
        patch(&app, access, &json!({ "username": "BOB" })).await,
        StatusCode::CONFLICT,
        "username_taken",
    )
    .await;
    let body = json!({ "username": "no spaces allowed" });
    assert_problem(
        patch(&app, access, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

async fn session_check_returns_the_same_access_token(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/session"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["access_token"], access);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(body["expires_in"].as_i64().unwrap() > 800);
}

async fn session_check_of_a_dead_session_is_401(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/session"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let none = reqwest::Client::new()
        .post(app.url("/api/v1/auth/session"))
        .send()
        .await
        .unwrap();
    assert_problem(none, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn username_probes_spend_a_budget(backend: Backend) {
    let overrides = [("rate_limit.username_change_per_account", "3")];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let tokens = app.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    // A 409 says the name exists: each probe spends the account's budget.
    for n in 0..3 {
        let probe = patch(&app, access, &json!({ "username": format!("taken{n}") })).await;
        assert_eq!(probe.status(), StatusCode::OK, "probe {n}");
    }
    let refused = patch(&app, access, &json!({ "username": "one-more" })).await;
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Changes that name no username are not limited.
    let renamed = patch(&app, access, &json!({ "name": "Ada" })).await;
    assert_eq!(renamed.status(), StatusCode::OK);
}
