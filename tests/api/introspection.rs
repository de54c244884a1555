//! `POST /api/v1/auth/introspect` (RFC 7662) and the discovery document, as
//! a resource server sees them.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, access, assert_problem, claims_of, spawn_app_with};

crate::on_both_backends!(
    a_live_token_is_active_with_its_session_and_tier,
    tokens_latch_would_refuse_are_inactive_and_say_nothing_else,
    a_logged_out_token_is_inactive_at_once,
    the_client_must_authenticate,
    introspection_spends_the_client_ips_budget,
    bad_requests_are_4xx_problems,
    discovery_names_the_keys_and_introspection,
    the_tiers_limits_are_read_by_the_introspection_client_only,
);

const CLIENT_ID: &str = "resource-server";
const CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef";

async fn spawn(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let mut overrides = vec![
        ("introspection.client_id", CLIENT_ID),
        ("introspection.client_secret", CLIENT_SECRET),
    ];
    overrides.extend_from_slice(extra);
    spawn_app_with(backend, &overrides).await
}

/// `POST /auth/introspect` with `token`, authenticated as `(id, secret)` if given.
async fn introspect_as(app: &TestApp, client: Option<(&str, &str)>, token: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url("/api/v1/auth/introspect"))
        .form(&[("token", token)]);
    if let Some((id, secret)) = client {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

/// Introspects `token` as the configured client; the 200 answer.
async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = introspect_as(app, Some((CLIENT_ID, CLIENT_SECRET)), token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn a_live_token_is_active_with_its_session_and_tier(backend: Backend) {
    let Some(app) = spawn(backend, &[]).await else {
        return;
    };
    let login = app.signup_and_login("ada@example.com").await;
    let claims = claims_of(access(&login));
    let answer = introspect(&app, access(&login)).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "access_token");
    for claim in ["sub", "sid", "jti", "iat", "exp", "iss", "aud"] {
        assert_eq!(answer[claim], claims[claim], "{claim}: {answer}");
    }
    assert_eq!(answer["sub"], login["user"]["id"]);
    assert_eq!(answer["tier"], "free");
    assert_eq!(answer["email"], "ada@example.com");
    assert_eq!(answer["is_superuser"], false);
}

async fn tokens_latch_would_refuse_are_inactive_and_say_nothing_else(backend: Backend) {
    let Some(app) = spawn(backend, &[]).await else {
        return;
    };
    let login = app.signup_and_login("ada@example.com").await;
    let token = access(&login);
    let now = chrono::Utc::now().timestamp();

    let mut expired = claims_of(token);
    expired["iat"] = json!(now - 3600);
    expired["exp"] = json!(now - 120);
    let expired = app.sign(&expired).await;

    let mut tampered = claims_of(token);
    tampered["tier"] = json!("pro");
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered).unwrap()),
        parts[2]
    );

    // Signed by another Latch (its own key ring): valid-looking, foreign.
    let stranger = spawn(backend, &[]).await.unwrap();
    let foreign = stranger.signup_and_login("ada@example.com").await;

    let refresh = login["refresh_token"].as_str().unwrap();
    for (what, token) in [
        ("expired", expired.as_str()),
        ("tampered", tampered.as_str()),
        ("foreign", access(&foreign)),
        ("refresh token", refresh),
        ("garbage", "not.a.jwt"),
        ("empty", ""),
    ] {
        assert_eq!(
            introspect(&app, token).await,
            json!({ "active": false }),
            "{what}"
        );
    }
}

async fn a_logged_out_token_is_inactive_at_once(backend: Backend) {
    let Some(app) = spawn(backend, &[]).await else {
        return;
    };
    let login = app.signup_and_login("ada@example.com").await;
    assert_eq!(introspect(&app, access(&login)).await["active"], true);
    let logout = reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(access(&login))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(introspect(&app, access(&login)).await, json!({ "active": false }));
}

async fn the_client_must_authenticate(backend: Backend) {
    let Some(app) = spawn(backend, &[]).await else {
        return;
    };
    let login = app.signup_and_login("ada@example.com").await;
    let token = access(&login);
    for client in [
        None,
        Some((CLIENT_ID, "wrong")),
        Some(("someone-else", CLIENT_SECRET)),
        Some((CLIENT_ID, "")),
    ] {
        let response = introspect_as(&app, client, token).await;
        assert_eq!(response.headers()["www-authenticate"], "Basic realm=\"latch\"");
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    // Malformed Basic credentials are refused alike, not a 400 or a 500.
    for header in [
        "Basic",
        "Basic !!!",
        &format!("Basic {}", STANDARD.encode("no-colon")),
        "Bearer x",
    ] {
        let response = reqwest::Client::new()
            .post(app.url("/api/v1/auth/introspect"))
            .header("authorization", header)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
    // With no client configured, nobody may introspect.
    let closed = spawn_app_with(backend, &[]).await.unwrap();
    let login = closed.signup_and_login("ada@example.com").await;
    let response = introspect_as(&closed, Some((CLIENT_ID, CLIENT_SECRET)), access(&login)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

async fn introspection_spends_the_client_ips_budget(backend: Backend) {
    let Some(app) = spawn(backend, &[("rate_limit.introspect_per_ip", "3")]).await else {
        return;
    };
    // Failed client authentications spend it too: a secret cannot be guessed faster.
    assert_eq!(
        introspect_as(&app, Some((CLIENT_ID, "guess")), "x")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(introspect(&app, "x").await["active"], false);
    assert_eq!(introspect(&app, "x").await["active"], false);
    let refused = introspect_as(&app, Some((CLIENT_ID, CLIENT_SECRET)), "x").await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

async fn bad_requests_are_4xx_problems(backend: Backend) {
    let Some(app) = spawn(backend, &[]).await else {
        return;
    };
    let url = app.url("/api/v1/auth/introspect");
    let client = reqwest::Client::new();
    let json_body = client
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&json!({ "token": "x" }))
        .send()
        .await
        .unwrap();
    assert_problem(
        json_body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let no_token = client
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    let body = assert_problem(no_token, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["field"], "token", "{body}");
    let get = client.get(&url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn discovery_names_the_keys_and_introspection(backend: Backend) {
    let public_url = "https://auth.example.com/latch";
    let Some(app) = spawn(backend, &[("http.public_url", public_url)]).await else {
        return;
    };
    let document = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(document["issuer"], "latch");
    assert_eq!(
        document["jwks_uri"],
        format!("{public_url}/.well-known/jwks.json")
    );
    assert_eq!(
        document["token_endpoint"],
        format!("{public_url}/api/v1/auth/login")
    );
    assert_eq!(
        document["introspection_endpoint"],
        format!("{public_url}/api/v1/auth/introspect")
    );
    assert_eq!(
        document["access_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    assert_eq!(
        document["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic"])
    );

    // Unset, the URLs are the address Latch listens on.
    let local = spawn_app_with(backend, &[]).await.unwrap();
    let document = local.get_json("/.well-known/openid-configuration").await;
    assert_eq!(document["jwks_uri"], local.url("/.well-known/jwks.json"));
}

async fn the_tiers_limits_are_read_by_the_introspection_client_only(backend: Backend) {
    let Some(app) = spawn(backend, &[]).await else {
        return;
    };
    let admin = app.superuser_login("root@example.com").await;
    let created = app
        .bearer_request(
            reqwest::Method::POST,
            "/api/v1/admin/tiers",
            access(&admin),
            Some(json!({ "name": "pro", "limits": [{ "path": "/reports", "limit": 100, "period_seconds": 60 }] })),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let url = app.url("/api/v1/auth/tiers");
    let client = reqwest::Client::new();
    let tiers: Value = client
        .get(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pro = tiers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tier| tier["name"] == "pro")
        .unwrap_or_else(|| panic!("{tiers}"));
    assert_eq!(
        pro["limits"],
        json!([{ "path": "/reports", "limit": 100, "period_seconds": 60 }])
    );

    let anonymous = client.get(&url).send().await.unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let user = app.signup_and_login("ada@example.com").await;
    let with_a_token = client.get(&url).bearer_auth(access(&user)).send().await.unwrap();
    assert_problem(with_a_token, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
