//! Health, readiness and the JWKS.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, header_of, spawn_app_with};

crate::on_both_backends!(
    health_and_readiness_answer,
    jwks_publishes_the_public_key_only,
    hs256_signs_tokens_and_publishes_no_key,
    rs256_signs_tokens_and_publishes_its_public_key,
);

/// Logs in and returns the access token's header and the JWKS.
async fn header_and_jwks(app: &TestApp) -> (Value, Value) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["access_token"].as_str().unwrap();
    assert_eq!(app.me(token).await.status(), StatusCode::OK);
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let header = header_of(token);
    (header, jwks)
}

async fn hs256_signs_tokens_and_publishes_no_key(backend: Backend) {
    let secret = "an HS256 secret of at least 32 bytes for tests";
    let overrides = [("tokens.algorithm", "HS256"), ("tokens.hs256_secret", secret)];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let (header, jwks) = header_and_jwks(&app).await;
    assert_eq!(header["alg"], "HS256");
    assert_eq!(jwks["keys"], serde_json::json!([]));
}

async fn rs256_signs_tokens_and_publishes_its_public_key(backend: Backend) {
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/tokens-jwt/tests/fixtures/rs256-test-key.pem"
    );
    let overrides = [
        ("tokens.algorithm", "RS256"),
        ("tokens.rs256_private_key_path", key),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let (header, jwks) = header_and_jwks(&app).await;
    assert_eq!(header["alg"], "RS256");
    let published = &jwks["keys"][0];
    assert_eq!(published["kty"], "RSA");
    assert_eq!(published["kid"], header["kid"]);
    assert!(published.get("d").is_none(), "private key published: {published}");
}

async fn health_and_readiness_answer(app: TestApp) {
    assert_eq!(
        app.client.get(app.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
}

async fn jwks_publishes_the_public_key_only(app: TestApp) {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert!(key["kid"].is_string() && key["x"].is_string());
    assert!(key.get("d").is_none(), "private key published: {key}");
}
