//! Browser-facing defences: security headers, CORS, CSRF on cookie-authenticated
//! requests, and the client address behind trusted proxies.

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, assert_problem, set_cookies, spawn_app, spawn_app_with};

crate::on_both_backends!(
    security_headers_are_on_success_and_error_responses,
    hsts_is_sent_when_cookies_are_secure,
    cookie_authenticated_post_needs_an_allowed_origin,
    cookie_refresh_is_checked_too,
    bearer_requests_are_exempt_from_the_origin_check,
    cors_preflight_answers_allowed_origins_only,
    forwarded_client_address_is_believed_only_from_trusted_proxies,
    a_client_forwarded_header_does_not_override_the_proxy_x_forwarded_for,
    with_forwarded_configured_a_client_x_forwarded_for_is_ignored,
    an_http_page_of_the_same_host_is_foreign_to_an_https_service,
    a_form_login_from_a_foreign_page_is_refused_without_cookies,
    a_json_login_from_a_foreign_page_is_refused,
    logins_from_own_allowed_or_no_page_succeed,
    token_responses_forbid_caching,
);

const APP_ORIGIN: &str = "https://app.example.com";
const EVIL_ORIGIN: &str = "https://evil.example";

async fn spawn_with_frontend(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[("cors.allowed_origins", APP_ORIGIN)]).await
}

/// A request carrying `cookie` the way a browser would, from `origin` (none if `None`).
fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
) -> RequestBuilder {
    let request = Client::new()
        .request(method, app.url(path))
        .header(header::COOKIE, cookie);
    match origin {
        Some(origin) => request.header(header::ORIGIN, origin),
        None => request,
    }
}

fn access_cookie(tokens: &Value) -> String {
    format!("access_token={}", tokens["access_token"].as_str().unwrap())
}

fn assert_security_headers(headers: &HeaderMap) {
    let expect = [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in expect {
        assert_eq!(
            headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}"
        );
    }
    assert!(headers.get("server").is_none(), "no Server banner");
    assert!(headers.get("x-powered-by").is_none());
}

async fn security_headers_are_on_success_and_error_responses(app: TestApp) {
    let ok = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_security_headers(ok.headers());
    assert!(
        ok.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain development HTTP"
    );

    let unauthenticated = app.client.get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(unauthenticated.headers());

    let missing = app.client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(missing.headers());

    let wrong_method = app
        .client
        .put(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_security_headers(wrong_method.headers());
}

async fn hsts_is_sent_when_cookies_are_secure(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("cookies.secure", "true")]).await else {
        return;
    };
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

async fn cookie_authenticated_post_needs_an_allowed_origin(backend: Backend) {
    let Some(app) = spawn_with_frontend(backend).await else {
        return;
    };
    let cookie = access_cookie(&app.signup_and_login("ada@example.com").await);
    let session = "/api/v1/auth/session";

    let no_origin = with_cookie(&app, Method::POST, session, &cookie, None)
        .send()
        .await
        .unwrap();
    assert_problem(no_origin, StatusCode::FORBIDDEN, "csrf_failed").await;
    let foreign = with_cookie(&app, Method::POST, session, &cookie, Some(EVIL_ORIGIN));
    assert_problem(
        foreign.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    let foreign_referer = with_cookie(&app, Method::POST, session, &cookie, None)
        .header(header::REFERER, format!("{EVIL_ORIGIN}/page"));
    assert_problem(
        foreign_referer.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;

    let allowed = with_cookie(&app, Method::POST, session, &cookie, Some(APP_ORIGIN));
    assert_eq!(allowed.send().await.unwrap().status(), StatusCode::OK);
    let allowed_referer = with_cookie(&app, Method::POST, session, &cookie, None)
        .header(header::REFERER, format!("{APP_ORIGIN}/account"));
    assert_eq!(allowed_referer.send().await.unwrap().status(), StatusCode::OK);
    // A page served by Latch's own origin is same-origin.
    let same_origin = with_cookie(&app, Method::POST, session, &cookie, Some(&app.address));
    assert_eq!(same_origin.send().await.unwrap().status(), StatusCode::OK);

    // Other verbs: a cross-site PATCH changes nothing.
    let patch = with_cookie(
        &app,
        Method::PATCH,
        "/api/v1/users/me",
        &cookie,
        Some(EVIL_ORIGIN),
    )
    .json(&json!({ "name": "Mallory" }));
    assert_problem(patch.send().await.unwrap(), StatusCode::FORBIDDEN, "csrf_failed").await;
    let me = with_cookie(&app, Method::GET, "/api/v1/users/me", &cookie, None)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK, "reads need no origin");
    assert_eq!(me.json::<Value>().await.unwrap()["name"], Value::Null);
    // A cross-site logout does not end the session.
    let logout = with_cookie(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &cookie,
        Some(EVIL_ORIGIN),
    );
    assert_problem(logout.send().await.unwrap(), StatusCode::FORBIDDEN, "csrf_failed").await;
    let me = with_cookie(&app, Method::GET, "/api/v1/users/me", &cookie, None)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

async fn cookie_refresh_is_checked_too(backend: Backend) {
    let Some(app) = spawn_with_frontend(backend).await else {
        return;
    };
    let tokens = app.signup_and_login("ada@example.com").await;
    let cookie = format!("refresh_token={}", tokens["refresh_token"].as_str().unwrap());
    let refresh = "/api/v1/auth/refresh";
    let foreign = with_cookie(&app, Method::POST, refresh, &cookie, Some(EVIL_ORIGIN));
    assert_problem(
        foreign.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    let missing = with_cookie(&app, Method::POST, refresh, &cookie, None);
    assert_problem(
        missing.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    // The refused attempts did not spend the token.
    let allowed = with_cookie(&app, Method::POST, refresh, &cookie, Some(APP_ORIGIN));
    assert_eq!(allowed.send().await.unwrap().status(), StatusCode::OK);
}

async fn bearer_requests_are_exempt_from_the_origin_check(backend: Backend) {
    let Some(app) = spawn_with_frontend(backend).await else {
        return;
    };
    let tokens = app.signup_and_login("ada@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let response = Client::new()
        .post(app.url("/api/v1/auth/session"))
        .bearer_auth(access)
        .header(header::ORIGIN, EVIL_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A refresh token in the body is not a cookie: no origin needed.
    let refresh = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refresh.status(), StatusCode::OK);
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    Client::new()
        .request(Method::OPTIONS, app.url("/api/v1/auth/login"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .send()
        .await
        .unwrap()
}

async fn cors_preflight_answers_allowed_origins_only(backend: Backend) {
    let Some(app) = spawn_with_frontend(backend).await else {
        return;
    };
    let allowed = preflight(&app, APP_ORIGIN).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");

    let foreign = preflight(&app, EVIL_ORIGIN).await;
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
    assert!(
        foreign
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );

    // An actual cross-origin request from the allowed origin is readable by it.
    let simple = Client::new()
        .get(app.url("/healthz"))
        .header(header::ORIGIN, APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(simple.headers()["access-control-allow-origin"], APP_ORIGIN);
}

async fn session_ip(app: &TestApp, forwarded_for: &str) -> Value {
    session_ip_with(app, &[("x-forwarded-for", forwarded_for)]).await
}

/// Logs in ada with `headers` and returns the address her new session recorded.
async fn session_ip_with(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let mut request = app.client.post(app.url("/api/v1/auth/login"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .json(&json!({ "login": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    let sessions: Value = app
        .bearer_request(
            Method::GET,
            "/api/v1/users/me/sessions",
            tokens["access_token"].as_str().unwrap(),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let current = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap();
    current["ip"].clone()
}

async fn forwarded_client_address_is_believed_only_from_trusted_proxies(backend: Backend) {
    let Some(direct) = spawn_app(backend).await else {
        return;
    };
    assert_eq!(
        direct.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        session_ip(&direct, "203.0.113.5").await,
        "127.0.0.1",
        "forged header ignored"
    );

    let Some(proxied) = spawn_app_with(backend, &[("http.trusted_proxies", "127.0.0.1/32")]).await else {
        return;
    };
    assert_eq!(
        proxied.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(session_ip(&proxied, "6.6.6.6, 203.0.113.5").await, "203.0.113.5");
}

async fn a_client_forwarded_header_does_not_override_the_proxy_x_forwarded_for(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("http.trusted_proxies", "127.0.0.1")]).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    // What nginx forwards: the client's own Forwarded untouched, the real address appended to X-Forwarded-For.
    let ip = session_ip_with(
        &app,
        &[
            ("forwarded", "for=198.51.100.66"),
            ("x-forwarded-for", "203.0.113.5"),
        ],
    )
    .await;
    assert_eq!(ip, "203.0.113.5");
}

async fn with_forwarded_configured_a_client_x_forwarded_for_is_ignored(backend: Backend) {
    let overrides = [
        ("http.trusted_proxies", "127.0.0.1"),
        ("http.forwarded_header", "forwarded"),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    let ip = session_ip_with(
        &app,
        &[
            ("x-forwarded-for", "198.51.100.66"),
            ("forwarded", "for=203.0.113.5"),
        ],
    )
    .await;
    assert_eq!(ip, "203.0.113.5");
}

async fn an_http_page_of_the_same_host_is_foreign_to_an_https_service(backend: Backend) {
    // Secure cookies: Latch is served over HTTPS (by a proxy in front of this plain listener).
    let Some(app) = spawn_app_with(backend, &[("cookies.secure", "true")]).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    let tokens = app.login_with(&Client::new(), "ada@example.com").await;
    let cookie = access_cookie(&tokens);
    let session = "/api/v1/auth/session";
    let http_page = app.address.clone();
    let https_page = app.address.replacen("http://", "https://", 1);

    let downgraded = with_cookie(&app, Method::POST, session, &cookie, Some(&http_page));
    assert_problem(
        downgraded.send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "csrf_failed",
    )
    .await;
    let same = with_cookie(&app, Method::POST, session, &cookie, Some(&https_page));
    assert_eq!(same.send().await.unwrap().status(), StatusCode::OK);
}

/// The OAuth2 password form a page would post, sent with `origin` (none if `None`).
async fn form_login(app: &TestApp, origin: Option<&str>) -> Response {
    let request = Client::new().post(app.url("/api/v1/auth/login")).form(&[
        ("grant_type", "password"),
        ("username", "ada@example.com"),
        ("password", PASSWORD),
    ]);
    match origin {
        Some(origin) => request.header(header::ORIGIN, origin),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

async fn a_form_login_from_a_foreign_page_is_refused_without_cookies(backend: Backend) {
    let Some(app) = spawn_with_frontend(backend).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    let foreign = form_login(&app, Some(EVIL_ORIGIN)).await;
    assert!(set_cookies(&foreign).is_empty(), "{:?}", set_cookies(&foreign));
    assert_problem(foreign, StatusCode::FORBIDDEN, "csrf_failed").await;
    let foreign_referer = Client::new()
        .post(app.url("/api/v1/auth/login"))
        .header(header::REFERER, format!("{EVIL_ORIGIN}/login"))
        .form(&[("username", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&foreign_referer).is_empty());
    assert_problem(foreign_referer, StatusCode::FORBIDDEN, "csrf_failed").await;
}

async fn a_json_login_from_a_foreign_page_is_refused(backend: Backend) {
    let Some(app) = spawn_with_frontend(backend).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    let foreign = Client::new()
        .post(app.url("/api/v1/auth/login"))
        .header(header::ORIGIN, EVIL_ORIGIN)
        .json(&json!({ "login": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&foreign).is_empty());
    assert_problem(foreign, StatusCode::FORBIDDEN, "csrf_failed").await;
}

async fn logins_from_own_allowed_or_no_page_succeed(backend: Backend) {
    let Some(app) = spawn_with_frontend(backend).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    for origin in [Some(app.address.as_str()), Some(APP_ORIGIN), None] {
        let response = form_login(&app, origin).await;
        assert_eq!(response.status(), StatusCode::OK, "from {origin:?}");
        assert_eq!(set_cookies(&response).len(), 2, "from {origin:?}");
    }
}

fn assert_not_cacheable(response: &Response, what: &str) {
    assert_eq!(response.status(), StatusCode::OK, "{what}");
    let headers = response.headers();
    assert_eq!(headers.get("cache-control").unwrap(), "no-store", "{what}");
    assert_eq!(
        headers.get("pragma").map(|v| v.to_str().unwrap()),
        Some("no-cache"),
        "{what}"
    );
}

async fn token_responses_forbid_caching(app: TestApp) {
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_not_cacheable(&login, "login");
    let tokens: Value = login.json().await.unwrap();
    let refresh = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_not_cacheable(&refresh, "refresh");
    let tokens: Value = refresh.json().await.unwrap();
    let session = app
        .bearer_request(
            Method::POST,
            "/api/v1/auth/session",
            tokens["access_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_not_cacheable(&session, "session check");
}
