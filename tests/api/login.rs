//! `POST /api/v1/auth/login`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_problem, set_cookies, spawn_app_with};

crate::on_both_backends!(
    a_login_racing_a_deactivation_keeps_no_session,
    a_login_racing_a_password_change_keeps_no_session,
    login_returns_tokens_and_sets_cookies,
    login_by_username_and_email_alias,
    login_with_oauth2_password_form,
    wrong_password_and_unknown_user_fail_alike,
    email_is_matched_ignoring_case,
);

async fn login_returns_tokens_and_sets_cookies(app: TestApp) {
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
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((899..=900).contains(&expires_in), "{body}");
    // Never more than is really left: a client refreshing at `expires_in` is on time.
    let exp = crate::helpers::claims_of(body["access_token"].as_str().unwrap())["exp"]
        .as_i64()
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(expires_in * 1000 <= exp * 1000 - now + 50, "{body}");
    assert!(body["refresh_token"].as_str().unwrap().starts_with("latch_rt_"));
    assert!(body["refresh_expires_in"].as_i64().unwrap() > 600_000);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(body["user"]["last_login_at"].is_string());
}

async fn login_by_username_and_email_alias(app: TestApp) {
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

async fn login_with_oauth2_password_form(app: TestApp) {
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

async fn wrong_password_and_unknown_user_fail_alike(app: TestApp) {
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

async fn email_is_matched_ignoring_case(app: TestApp) {
    app.signup("Ada@Example.com").await;
    assert_eq!(
        app.login("ada@EXAMPLE.COM", PASSWORD).await.status(),
        StatusCode::OK
    );
}

/// No limits: the races below log in many times.
const NO_LIMITS: [(&str, &str); 1] = [("rate_limit.enabled", "false")];

/// Whether a login's answer gave tokens that still work.
async fn still_works(app: &crate::helpers::TestApp, login: reqwest::Response) -> bool {
    if login.status() != StatusCode::OK {
        return false;
    }
    let tokens: Value = login.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    app.me(access).await.status() == StatusCode::OK
}

async fn a_login_racing_a_deactivation_keeps_no_session(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &NO_LIMITS).await else {
        return;
    };
    let root = app.superuser_login("root@example.com").await;
    let root_access = root["access_token"].as_str().unwrap();
    let ada = app.signup_and_login("ada@example.com").await;
    let path = format!("/api/v1/admin/users/{}", ada["user"]["id"].as_str().unwrap());
    let set_active = |active: bool| {
        app.bearer_request(
            reqwest::Method::PATCH,
            &path,
            root_access,
            Some(json!({ "is_active": active })),
        )
    };
    for round in 0..8 {
        // The deactivation lands while the login hashes; then the account comes back.
        let (login, deactivated) = tokio::join!(app.login("ada@example.com", PASSWORD), async {
            tokio::time::sleep(std::time::Duration::from_millis(5 * round)).await;
            set_active(false).await
        });
        assert_eq!(deactivated.status(), StatusCode::OK);
        assert_eq!(set_active(true).await.status(), StatusCode::OK);
        assert!(
            !still_works(&app, login).await,
            "round {round}: a login overlapping a deactivation kept its session"
        );
    }
}

async fn a_login_racing_a_password_change_keeps_no_session(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &NO_LIMITS).await else {
        return;
    };
    let ada = app.signup_and_login("ada@example.com").await;
    let access = ada["access_token"].as_str().unwrap();
    let mut current = PASSWORD.to_owned();
    for round in 0..10 {
        let next = format!("a brand new passphrase {round}");
        let change = json!({ "current_password": current, "new_password": next });
        // The change hashes twice before it writes: the login starts later
        // each round, so its check and its write straddle the change's.
        let login = async {
            tokio::time::sleep(std::time::Duration::from_millis(8 * round)).await;
            app.login("ada@example.com", &current).await
        };
        let change = app.bearer_request(
            reqwest::Method::POST,
            "/api/v1/users/me/password",
            access,
            Some(change),
        );
        let (login, changed) = tokio::join!(login, change);
        assert_eq!(changed.status(), StatusCode::NO_CONTENT, "round {round}");
        assert!(
            !still_works(&app, login).await,
            "round {round}: a login with the old password outlived the change"
        );
        current = next;
        // The session that changed the password keeps working.
        assert_eq!(app.me(access).await.status(), StatusCode::OK);
    }
}
