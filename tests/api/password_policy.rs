//! The password policy: each rule's 422 names the rule, at signup and at a password change.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, assert_problem, spawn_app_with};

crate::on_both_backends!(
    each_rule_is_named_at_signup,
    complexity_applies_when_configured,
    a_new_password_is_checked_against_the_account,
);

async fn assert_rule(app: &TestApp, body: serde_json::Value, rule: &str) {
    let response = app.post_json("/api/v1/auth/signup", &body).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "password", "{problem}");
    assert_eq!(problem["rule"], rule, "{problem}");
}

async fn each_rule_is_named_at_signup(backend: Backend) {
    // Eight signups for one email would spend its signup budget.
    let Some(app) = spawn_app_with(backend, &[("rate_limit.enabled", "false")]).await else {
        return;
    };
    let signup = |password: &str| json!({ "email": "ada.lovelace@example.com", "password": password, "name": "Ada Lovelace" });
    assert_rule(&app, signup("short"), "too_short").await;
    assert_rule(&app, signup(&"x".repeat(129)), "too_long").await;
    assert_rule(&app, signup("Password1"), "too_common").await;
    assert_rule(&app, signup("sunshine"), "too_common").await;
    assert_rule(&app, signup("lovelace-1815"), "contains_personal_info").await;
    assert_rule(&app, signup("ada.lovelace rules"), "contains_personal_info").await;
    // NFKC first: fullwidth "ｐａｓｓｗｏｒｄ" is "password".
    assert_rule(&app, signup("ｐａｓｓｗｏｒｄ"), "too_common").await;
    // Nothing was created by the refusals.
    let ok = app.post_json("/api/v1/auth/signup", &signup(PASSWORD)).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
}

async fn complexity_applies_when_configured(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("passwords.min_character_classes", "3")]).await else {
        return;
    };
    let body = json!({ "email": "ada@example.com", "password": PASSWORD });
    assert_rule(&app, body, "too_few_character_classes").await;
    let body = json!({ "email": "ada@example.com", "password": "Correct horse 42" });
    assert_eq!(
        app.post_json("/api/v1/auth/signup", &body).await.status(),
        StatusCode::CREATED
    );
}

async fn a_new_password_is_checked_against_the_account(app: TestApp) {
    let tokens = app.signup_and_login("grace.hopper@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    for (new_password, rule) in [
        ("grace.hopper!", "contains_personal_info"),
        ("iloveyou", "too_common"),
    ] {
        let body = json!({ "current_password": PASSWORD, "new_password": new_password });
        let response = app
            .bearer_request(Method::POST, "/api/v1/users/me/password", access, Some(body))
            .await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["field"], "new_password", "{problem}");
        assert_eq!(problem["rule"], rule, "{problem}");
    }
}
