//! `POST /api/v1/auth/login`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, assert_problem, set_cookies, spawn_app};

crate::on_both_backends!(
    login_returns_tokens_and_sets_cookies,
    login_by_username_and_email_alias,
    login_with_oauth2_password_form,
    wrong_password_and_unknown_user_fail_alike,
    email_is_matched_ignoring_case,
);

async fn login_returns_tokens_and_sets_cookies(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.signup("ada@example.com").await;
    let response = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = set_cookies(&response);
    let access = cookies
        .iter()
        .find(|c| c.starts_with("access_token="))
        .expect("access cookie");
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Lax") && access.contains("Path=/"),
        "{access}"
    );
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("refresh_token="))
        .expect("refresh cookie");
    assert!(
        refresh.contains("HttpOnly")
            && refresh.contains("SameSite=Strict")
            && refresh.contains("Path=/api/v1/auth"),
        "{refresh}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert!(
        (899..=900).contains(&body["expires_in"].as_i64().unwrap()),
        "{body}"
    );
    assert!(body["refresh_token"].as_str().unwrap().starts_with("latch_rt_"));
    assert!(body["refresh_expires_in"].as_i64().unwrap() > 600_000);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(body["user"]["last_login_at"].is_string());
}

async fn login_by_username_and_email_alias(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let signup = json!({ "email": "ada@example.com", "password": PASSWORD, "username": "ada" });
    app.post_json("/api/v1/auth/signup", &signup).await;
    assert_eq!(app.login("ADA", PASSWORD).await.status(), StatusCode::OK);
    let by_alias = app
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(by_alias.status(), StatusCode::OK);
    let by_alias = app
        .post_json(
            "/api/v1/auth/login",
            &json!({ "username": "ada", "password": PASSWORD }),
        )
        .await;
    assert_eq!(by_alias.status(), StatusCode::OK);
}

async fn login_with_oauth2_password_form(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.signup("ada@example.com").await;
    let form = [
        ("grant_type", "password"),
        ("username", "ada@example.com"),
        ("password", PASSWORD),
        ("scope", ""),
    ];
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    let bad_grant = [
        ("grant_type", "client_credentials"),
        ("username", "ada@example.com"),
        ("password", PASSWORD),
    ];
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .form(&bad_grant)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn wrong_password_and_unknown_user_fail_alike(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.signup("ada@example.com").await;
    let wrong = app.login("ada@example.com", "not the password").await;
    let wrong_headers = wrong.headers().clone();
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = app.login("nobody@example.com", "not the password").await;
    let unknown_headers = unknown.headers().clone();
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
    assert_eq!(
        wrong_headers.get("www-authenticate"),
        unknown_headers.get("www-authenticate")
    );
    assert!(wrong_headers.get("set-cookie").is_none());
}

async fn email_is_matched_ignoring_case(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.signup("Ada@Example.com").await;
    assert_eq!(
        app.login("ada@EXAMPLE.COM", PASSWORD).await.status(),
        StatusCode::OK
    );
}
