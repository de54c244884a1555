//! Access tokens: expired, tampered and unsigned ones are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, claims_of, header_of};

crate::on_both_backends!(
    expired_token_is_401_token_expired,
    tampered_token_is_401,
    alg_none_token_is_401,
    token_signed_by_a_stranger_is_401,
    token_carries_the_documented_claims,
    malformed_authorization_header_is_401,
    tokens_in_the_query_string_are_ignored,
);

async fn expired_token_is_401_token_expired(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["access_token"].as_str().unwrap();
    // Sanity: our own signature over the unchanged claims is accepted.
    let same = app.sign(&claims_of(token)).await;
    assert_eq!(app.me(&same).await.status(), StatusCode::OK);

    let mut claims = claims_of(token);
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 3600);
    claims["exp"] = json!(now - 120); // beyond the 30 s leeway
    let expired = app.sign(&claims).await;
    let response = app.me(&expired).await;
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_problem(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}

async fn tampered_token_is_401(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["access_token"].as_str().unwrap();
    let mut claims = claims_of(token);
    claims["is_superuser"] = json!(true);
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_problem(app.me(&tampered).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn alg_none_token_is_401(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["access_token"].as_str().unwrap();
    let mut header = header_of(token);
    header["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        token.split('.').nth(1).unwrap()
    );
    assert_problem(app.me(&unsigned).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn token_signed_by_a_stranger_is_401(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["access_token"].as_str().unwrap();
    // HS256 keyed with the public JWKS `x`: the classic algorithm-confusion attack.
    let jwks: Value = reqwest::get(app.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = header_of(token)["kid"].as_str().map(str::to_owned);
    let forged = jsonwebtoken::encode(
        &header,
        &claims_of(token),
        &EncodingKey::from_secret(x.as_bytes()),
    )
    .unwrap();
    assert_problem(app.me(&forged).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn token_carries_the_documented_claims(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["access_token"].as_str().unwrap();
    let header = header_of(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    let claims = claims_of(token);
    for claim in ["iss", "aud", "sub", "sid", "jti", "iat", "exp", "email", "tier"] {
        assert!(!claims[claim].is_null(), "missing {claim}: {claims}");
    }
    assert_eq!(claims["sub"], login["user"]["id"]);
    assert_eq!(claims["is_superuser"], false);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
}

async fn malformed_authorization_header_is_401(app: TestApp) {
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/users/me"))
        .header("authorization", "Basic YWRhOnB3")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let none = reqwest::Client::new()
        .get(app.url("/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_problem(none, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn tokens_in_the_query_string_are_ignored(app: TestApp) {
    let login = app.signup_and_login("ada@example.com").await;
    let token = login["access_token"].as_str().unwrap();
    let url = app.url(&format!("/api/v1/users/me?access_token={token}"));
    let response = reqwest::Client::new().get(url).send().await.unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
