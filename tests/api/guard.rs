//! `latch-guard` in a resource server, against a real Latch: offline
//! verification from the JWKS, refetch on an unknown `kid` at a bounded rate,
//! the route rules, introspection and tier limits read from Latch.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latch_guard::{AuthUser, Guard, LiveUser, Superuser, TierLimited, TierLimits};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Backend, PASSWORD, TestApp, access, assert_problem, claims_of, header_of, spawn_app_with,
};

const CLIENT_ID: &str = "notes-service";
const CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A Latch with an introspection client, on SQLite (the guard speaks HTTP
/// only, so the backend is not what these tests are about).
async fn latch(extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = vec![
        ("introspection.client_id", CLIENT_ID),
        ("introspection.client_secret", CLIENT_SECRET),
        ("keys.reload_seconds", "1"),
        ("keys.publish_ahead_seconds", "1"),
        ("rate_limit.enabled", "false"),
    ];
    overrides.extend_from_slice(extra);
    spawn_app_with(Backend::Sqlite, &overrides).await.unwrap()
}

/// A guard on `latch`, refetching the JWKS at most every 500 ms.
fn guard_for(latch: &TestApp) -> Guard {
    Guard::jwks(latch.url(""))
        .jwks_refetch_interval(Duration::from_millis(500))
        .introspection(CLIENT_ID, CLIENT_SECRET)
        .introspection_cache(Duration::ZERO)
        .tier_order(["free", "pro"])
        .tier_limits(TierLimits::from_latch(Duration::from_secs(60)))
        .build()
        .unwrap()
}

/// The example resource server: one route per rule. Its base URL.
async fn resource_server(guard: Guard) -> String {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(guard.clone())
            .route("/public", web::get().to(|| async { "anyone" }))
            .route(
                "/me",
                web::get().to(|user: AuthUser| async move {
                    HttpResponse::Ok().json(json!({ "id": user.id, "email": user.email, "tier": user.tier }))
                }),
            )
            .route(
                "/maybe",
                web::get().to(|user: Option<AuthUser>| async move {
                    user.map_or_else(|| "anonymous".to_owned(), |user| user.email)
                }),
            )
            .route(
                "/notes/{owner}",
                web::patch().to(|user: AuthUser, owner: web::Path<Uuid>| async move {
                    user.require_owner_or_superuser(owner.into_inner())?;
                    Ok::<_, latch_guard::GuardError>("changed")
                }),
            )
            .route("/admin", web::get().to(|_: Superuser| async { "admin" }))
            .route(
                "/premium",
                web::get().to(|user: AuthUser| async move {
                    user.require_tier_at_least("pro")?;
                    Ok::<_, latch_guard::GuardError>("premium")
                }),
            )
            .route(
                "/sensitive",
                web::get().to(|user: AuthUser| async move {
                    user.require_second_factor()?;
                    Ok::<_, latch_guard::GuardError>("sensitive")
                }),
            )
            .route("/live", web::get().to(|_: LiveUser| async { "live" }))
            .route(
                "/reports/{id}",
                web::get().to(|_: TierLimited| async { "report" }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let address = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    address
}

async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Signs `claims` with a key Latch never had, naming `kid`.
fn sign_with_a_strangers_key(claims: &Value, kid: &str) -> String {
    let stranger = latch_tokens_jwt::SigningKey::generate_ed25519().unwrap();
    let key = EncodingKey::from_ed_pem(stranger.to_pem().unwrap().as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_and_none_is_anonymous() {
    let latch = latch(&[]).await;
    let server = resource_server(guard_for(&latch)).await;
    let login = latch.signup_and_login("ada@example.com").await;

    let me: Value = get(&format!("{server}/me"), Some(access(&login)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({ "id": login["user"]["id"], "email": "ada@example.com", "tier": "free" })
    );
    assert_eq!(
        get(&format!("{server}/public"), None).await.status(),
        StatusCode::OK
    );
    let anonymous = get(&format!("{server}/maybe"), None).await.text().await.unwrap();
    assert_eq!(anonymous, "anonymous");
    let known = get(&format!("{server}/maybe"), Some(access(&login)))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(known, "ada@example.com");

    let missing = get(&format!("{server}/me"), None).await;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_problem(missing, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn tokens_latch_would_refuse_are_refused_with_its_problems() {
    let latch = latch(&[]).await;
    let server = resource_server(guard_for(&latch)).await;
    let login = latch.signup_and_login("ada@example.com").await;
    let token = access(&login);
    let claims = claims_of(token);
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut changed = claims.clone();
        for (claim, value) in changes.as_object().unwrap() {
            changed[claim] = value.clone();
        }
        changed
    };

    let expired = latch
        .sign(&with(json!({ "iat": now - 3600, "exp": now - 120 })))
        .await;
    let wrong_audience = latch.sign(&with(json!({ "aud": "another-service" }))).await;
    let wrong_issuer = latch.sign(&with(json!({ "iss": "https://evil.example" }))).await;
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&with(json!({ "is_superuser": true }))).unwrap()),
        parts[2]
    );
    let mut none_header = header_of(token);
    none_header["alg"] = json!("none");
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&none_header).unwrap()),
        parts[1]
    );
    // HS256 keyed with the published public key: the algorithm-confusion attack.
    let jwks = latch.get_json("/.well-known/jwks.json").await;
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.typ = Some("at+jwt".into());
    hs_header.kid = header_of(token)["kid"].as_str().map(str::to_owned);
    let public_x = jwks["keys"][0]["x"].as_str().unwrap();
    let confused = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &EncodingKey::from_secret(public_x.as_bytes()),
    )
    .unwrap();
    let unknown_kid = sign_with_a_strangers_key(&claims, "not-a-latch-kid");
    let known_kid_wrong_key = sign_with_a_strangers_key(&claims, header_of(token)["kid"].as_str().unwrap());

    let me = format!("{server}/me");
    let expired_response = get(&me, Some(&expired)).await;
    assert_problem(expired_response, StatusCode::UNAUTHORIZED, "token_expired").await;
    for (what, token) in [
        ("wrong audience", wrong_audience.as_str()),
        ("wrong issuer", wrong_issuer.as_str()),
        ("tampered", tampered.as_str()),
        ("alg none", alg_none.as_str()),
        ("HS256 keyed with the public key", confused.as_str()),
        ("unknown kid", unknown_kid.as_str()),
        ("a stranger's key under Latch's kid", known_kid_wrong_key.as_str()),
        ("garbage", "not-a-token"),
    ] {
        let response = get(&me, Some(token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{what}"
        );
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_and_a_burst_of_them_does_not_flood_latch() {
    let latch = latch(&[]).await;
    let guard = guard_for(&latch);
    let server = resource_server(guard.clone()).await;
    let login = latch.signup_and_login("ada@example.com").await;
    let me = format!("{server}/me");

    assert_eq!(get(&me, Some(access(&login))).await.status(), StatusCode::OK);
    assert_eq!(guard.jwks_fetches(), 1, "the first token fetched the keys");
    assert_eq!(get(&me, Some(access(&login))).await.status(), StatusCode::OK);
    assert_eq!(guard.jwks_fetches(), 1, "a known kid fetches nothing");

    // Past the refetch interval, fifty junk kids at once: one fetch.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let claims = claims_of(access(&login));
    let junk: Vec<String> = (0..50)
        .map(|i| sign_with_a_strangers_key(&claims, &format!("junk-{i}")))
        .collect();
    let responses = futures_join(junk.into_iter().map(|token| {
        let me = me.clone();
        async move { get(&me, Some(&token)).await }
    }))
    .await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::UNAUTHORIZED));
    assert_eq!(guard.jwks_fetches(), 2, "a burst of unknown kids costs one fetch");

    // Latch rotates: the new kid is unknown to the guard, which fetches and accepts it.
    let store = latch::startup::open_store(latch.settings(), false).await.unwrap();
    let ring = latch::key_ring(latch.settings(), &store).await.unwrap();
    let new_kid = ring.rotate(chrono::Utc::now()).await.unwrap().kid;
    store.close().await;
    let rotated = loop {
        let tokens: Value = latch
            .login("ada@example.com", PASSWORD)
            .await
            .json()
            .await
            .unwrap();
        if header_of(access(&tokens))["kid"] == new_kid.as_str() {
            break tokens;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(&me, Some(access(&rotated))).await.status(), StatusCode::OK);
    assert_eq!(guard.jwks_fetches(), 3);
    // The token signed before the rotation still verifies: its key is still published.
    assert_eq!(get(&me, Some(access(&login))).await.status(), StatusCode::OK);
}

/// Sends all requests at once.
async fn futures_join<F: Future<Output = reqwest::Response> + Send + 'static>(
    requests: impl Iterator<Item = F>,
) -> Vec<reqwest::Response> {
    let tasks: Vec<_> = requests.map(tokio::spawn).collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap());
    }
    responses
}

#[tokio::test]
async fn owners_and_superusers_may_change_a_note_and_nobody_else() {
    let latch = latch(&[]).await;
    let server = resource_server(guard_for(&latch)).await;
    let ada = latch.signup_and_login("ada@example.com").await;
    let bob = latch.signup_and_login("bob@example.com").await;
    let root = latch.superuser_login("root@example.com").await;
    let adas_note = format!("{server}/notes/{}", ada["user"]["id"].as_str().unwrap());
    let patch = |token: String| {
        let url = adas_note.clone();
        async move {
            reqwest::Client::new()
                .patch(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };

    assert_eq!(patch(access(&ada).to_owned()).await.status(), StatusCode::OK);
    assert_eq!(patch(access(&root).to_owned()).await.status(), StatusCode::OK);
    assert_problem(
        patch(access(&bob).to_owned()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    assert_problem(
        get(&format!("{server}/admin"), Some(access(&ada))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        get(&format!("{server}/admin"), Some(access(&root)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_sensitive_route_needs_a_session_opened_with_the_second_factor() {
    let latch = latch(&[]).await;
    let server = resource_server(guard_for(&latch)).await;
    let sensitive = format!("{server}/sensitive");
    let (enrolled, both_factors) = crate::mfa::enrolled_and_logged_in(&latch).await;

    // The session the user enrolled from was opened with the password alone.
    assert_problem(
        get(&sensitive, Some(access(&enrolled.tokens))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let response = get(&sensitive, Some(access(&both_factors))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "sensitive");
}

#[tokio::test]
async fn a_logout_is_seen_at_once_by_a_live_route() {
    let latch = latch(&[]).await;
    let server = resource_server(guard_for(&latch)).await;
    let login = latch.signup_and_login("ada@example.com").await;
    let live = format!("{server}/live");
    assert_eq!(get(&live, Some(access(&login))).await.status(), StatusCode::OK);
    let logout = reqwest::Client::new()
        .post(latch.url("/api/v1/auth/logout"))
        .bearer_auth(access(&login))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_problem(
        get(&live, Some(access(&login))).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // Offline verification cannot know: the token passes until it expires.
    assert_eq!(
        get(&format!("{server}/me"), Some(access(&login))).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_tier_limit_stops_a_free_user_before_a_pro_user() {
    let latch = latch(&[]).await;
    let root = latch.superuser_login("root@example.com").await;
    let admin = |method: reqwest::Method, path: &'static str, body: Value| {
        let latch = &latch;
        let token = access(&root).to_owned();
        async move { latch.bearer_request(method, path, &token, Some(body)).await }
    };
    let limits = |n: u32| json!({ "limits": [{ "path": "/reports", "limit": n, "period_seconds": 3600 }] });
    let free = admin(reqwest::Method::PATCH, "/api/v1/admin/tiers/free", limits(2)).await;
    assert_eq!(free.status(), StatusCode::OK);
    let mut pro = limits(5);
    pro["name"] = json!("pro");
    assert_eq!(
        admin(reqwest::Method::POST, "/api/v1/admin/tiers", pro)
            .await
            .status(),
        StatusCode::CREATED
    );

    let server = resource_server(guard_for(&latch)).await;
    let ada = latch.signup_and_login("ada@example.com").await;
    let bob = latch.signup_and_login("bob@example.com").await;
    let bobs_id = bob["user"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/users/{bobs_id}");
    let promoted = latch
        .bearer_request(
            reqwest::Method::PATCH,
            &path,
            access(&root),
            Some(json!({ "tier": "pro" })),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    let bob: Value = latch
        .login("bob@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();

    let report = |token: String, n: u32| {
        let url = format!("{server}/reports/{n}");
        async move { get(&url, Some(&token)).await }
    };
    for n in 0..2 {
        assert_eq!(report(access(&ada).to_owned(), n).await.status(), StatusCode::OK);
    }
    let refused = report(access(&ada).to_owned(), 2).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["ratelimit-limit"], "2");
    assert_eq!(refused.headers()["ratelimit-policy"], "2;w=3600");
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    for n in 0..5 {
        assert_eq!(
            report(access(&bob).to_owned(), n).await.status(),
            StatusCode::OK,
            "pro request {n}"
        );
    }
    assert_eq!(
        report(access(&bob).to_owned(), 5).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // The minimum-tier rule, both ways.
    let premium = format!("{server}/premium");
    assert_problem(
        get(&premium, Some(access(&ada))).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(get(&premium, Some(access(&bob))).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_shared_hs256_secret_verifies_latchs_hs256_tokens_only() {
    let secret = "an-hs256-secret-of-at-least-32-bytes!!";
    let latch = latch(&[("tokens.algorithm", "HS256"), ("tokens.hs256_secret", secret)]).await;
    let guard = Guard::hs256(secret).build().unwrap();
    let server = resource_server(guard).await;
    let login = latch.signup_and_login("ada@example.com").await;
    assert_eq!(
        get(&format!("{server}/me"), Some(access(&login))).await.status(),
        StatusCode::OK
    );

    let forged = jsonwebtoken::encode(
        &{
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some("at+jwt".into());
            header
        },
        &claims_of(access(&login)),
        &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!!"),
    )
    .unwrap();
    assert_problem(
        get(&format!("{server}/me"), Some(&forged)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}
