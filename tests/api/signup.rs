//! `POST /api/v1/auth/signup`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem};

crate::on_both_backends!(
    signup_returns_the_new_user,
    duplicate_email_ignoring_case_is_409,
    duplicate_username_is_409,
    invalid_email_is_422,
    short_password_is_422,
    overlong_password_is_422,
    privileged_field_is_422_and_not_applied,
);

async fn signup_returns_the_new_user(app: TestApp) {
    let body = json!({ "email": "Ada@Example.com", "password": PASSWORD, "name": "Ada", "username": "ada" });
    let response = app.post_json("/api/v1/auth/signup", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["is_superuser"], false);
    assert_eq!(user["is_staff"], false);
    assert_eq!(user["tier"], "free");
    assert_eq!(user["email_verified"], false);
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
}

async fn duplicate_email_ignoring_case_is_409(app: TestApp) {
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    assert_problem(
        app.signup("ADA@example.com").await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
}

async fn duplicate_username_is_409(app: TestApp) {
    let first = json!({ "email": "a@example.com", "password": PASSWORD, "username": "ada" });
    assert_eq!(
        app.post_json("/api/v1/auth/signup", &first).await.status(),
        StatusCode::CREATED
    );
    let second = json!({ "email": "b@example.com", "password": PASSWORD, "username": "ADA" });
    let response = app.post_json("/api/v1/auth/signup", &second).await;
    assert_problem(response, StatusCode::CONFLICT, "username_taken").await;
    // Nothing half-written: the second email is still free.
    assert_eq!(app.signup("b@example.com").await.status(), StatusCode::CREATED);
}

async fn invalid_email_is_422(app: TestApp) {
    let body = assert_problem(
        app.signup("not-an-email").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["field"], "email");
}

async fn short_password_is_422(app: TestApp) {
    let response = app
        .post_json(
            "/api/v1/auth/signup",
            &json!({ "email": "a@example.com", "password": "short" }),
        )
        .await;
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["field"], "password");
}

async fn overlong_password_is_422(app: TestApp) {
    let password = "x".repeat(129);
    let response = app
        .post_json(
            "/api/v1/auth/signup",
            &json!({ "email": "a@example.com", "password": password }),
        )
        .await;
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["field"], "password");
}

async fn privileged_field_is_422_and_not_applied(app: TestApp) {
    for field in ["is_superuser", "is_staff", "is_active", "tier", "email_verified"] {
        let mut body = json!({ "email": "mallory@example.com", "password": PASSWORD });
        body[field] = if field == "tier" {
            json!("enterprise")
        } else {
            json!(true)
        };
        let response = app.post_json("/api/v1/auth/signup", &body).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["field"], field);
    }
    // No account was created by any of them.
    assert_eq!(
        app.signup("mallory@example.com").await.status(),
        StatusCode::CREATED
    );
    let login: Value = app
        .login("mallory@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["is_superuser"], false);
}
