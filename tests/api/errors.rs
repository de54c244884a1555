//! Bad requests get a clear problem+json, never a 500.

use reqwest::StatusCode;

use crate::helpers::{TestApp, access, assert_problem};

crate::on_both_backends!(
    malformed_json_is_400,
    wrong_content_type_is_415,
    wrongly_typed_field_is_422_naming_it,
    missing_field_is_422,
    a_body_that_is_not_an_object_is_422,
    oversized_body_is_413,
    unknown_route_is_404,
    wrong_method_is_405,
);

async fn malformed_json_is_400(app: TestApp) {
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
    ] {
        let response = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body("{ \"")
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::BAD_REQUEST, "malformed_body").await;
    }
    // Truncated after an unknown field: the syntax is checked before the fields.
    let truncated = r#"{"nickname": "x", "password": "abc"#;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(truncated)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "malformed_body").await;
}

async fn wrong_content_type_is_415(app: TestApp) {
    for path in ["/api/v1/auth/signup", "/api/v1/auth/login"] {
        let response = app
            .client
            .post(app.url(path))
            .header("content-type", "text/plain")
            .body("{\"email\":\"a@example.com\",\"password\":\"long enough\"}")
            .send()
            .await
            .unwrap();
        assert_problem(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
}

async fn wrongly_typed_field_is_422_naming_it(app: TestApp) {
    let body = serde_json::json!({ "email": 42, "password": "long enough" });
    let response = app.post_json("/api/v1/auth/signup", &body).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "email");
}

async fn missing_field_is_422(app: TestApp) {
    let response = app
        .post_json(
            "/api/v1/auth/signup",
            &serde_json::json!({ "email": "a@example.com" }),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "password");
}

async fn oversized_body_is_413(app: TestApp) {
    let body = serde_json::json!({ "email": "a@example.com", "password": "x".repeat(70 * 1024) });
    for path in ["/api/v1/auth/signup", "/api/v1/auth/login"] {
        let response = app.post_json(path, &body).await;
        assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
}

async fn unknown_route_is_404(app: TestApp) {
    let response = app.client.get(app.url("/api/v1/nope")).send().await.unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

async fn wrong_method_is_405(app: TestApp) {
    let response = app
        .client
        .get(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

/// serde would read a struct from an array by position: `[null, null]` must
/// not pass as a profile change (found by schemathesis).
async fn a_body_that_is_not_an_object_is_422(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    for body in ["[null, null]", "[\"Ada\"]", "null", "\"name\"", "3"] {
        let response = app
            .client
            .patch(app.url("/api/v1/users/me"))
            .bearer_auth(access(&tokens))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let login = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(r#"["ada@example.com", "correct horse battery staple"]"#)
        .send()
        .await
        .unwrap();
    assert_problem(login, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}
