//! Attempt budgets on the auth endpoints: 429 `rate_limited` with `Retry-After`
//! and the RateLimit headers, per client IP and per account, and the capped
//! backoff of an account after repeated failed logins.

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, assert_problem, spawn_app_with};

crate::on_both_backends!(
    logins_past_the_ip_budget_get_429_with_headers,
    failed_logins_back_the_account_off_from_every_address,
    an_accounts_email_and_username_share_its_budget_and_backoff,
    signups_and_refreshes_have_ip_budgets,
    limits_can_be_turned_off,
    with_redis_two_instances_count_an_accounts_failures_together,
);

/// Requests pass through a trusted proxy (this test) that names the client,
/// so one test can speak for several addresses.
async fn login_from(app: &TestApp, ip: &str, login: &str, password: &str) -> Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

async fn assert_rate_limited(response: Response, limit: u32, window: u64) -> u64 {
    let headers = response.headers().clone();
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let retry_after: u64 = header(&headers, "retry-after").parse().unwrap();
    assert!((1..=window).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header(&headers, "ratelimit-limit"), limit.to_string());
    assert_eq!(header(&headers, "ratelimit-remaining"), "0");
    assert_eq!(header(&headers, "ratelimit-reset"), retry_after.to_string());
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        format!("{limit};w={window}")
    );
    assert_eq!(header(&headers, "cache-control"), "no-store");
    retry_after
}

async fn logins_past_the_ip_budget_get_429_with_headers(backend: Backend) {
    let overrides = [
        ("http.trusted_proxies", "127.0.0.1"),
        ("rate_limit.login_per_ip", "3"),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    for n in 0..3 {
        let response = login_from(&app, "203.0.113.7", &format!("user{n}@example.com"), PASSWORD).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = login_from(&app, "203.0.113.7", "someone@example.com", PASSWORD).await;
    assert_rate_limited(refused, 3, 60).await;
    // Another client is not affected.
    let other = login_from(&app, "203.0.113.8", "someone@example.com", PASSWORD).await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

async fn failed_logins_back_the_account_off_from_every_address(backend: Backend) {
    let overrides = [
        ("http.trusted_proxies", "127.0.0.1"),
        ("rate_limit.login_free_failures", "2"),
        ("rate_limit.login_backoff_base_seconds", "30"),
        ("rate_limit.login_backoff_max_seconds", "120"),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    assert_eq!(
        app.signup("grace@example.com").await.status(),
        StatusCode::CREATED
    );
    // An attacker spreads guesses over addresses; the account counts them all.
    for (n, ip) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        let guess = login_from(&app, ip, "ada@example.com", &format!("guess number {n}")).await;
        assert_problem(guess, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // Two failures, two free: the account now waits 30 s, even with the right password.
    let waiting = login_from(&app, "192.0.2.50", "Ada@Example.com", PASSWORD).await;
    let retry_after = assert_rate_limited(waiting, 2, 120).await;
    assert!(retry_after > 20, "Retry-After {retry_after}");
    // Asking again does not lengthen the wait.
    let again = login_from(&app, "192.0.2.50", "ada@example.com", PASSWORD).await;
    assert!(assert_rate_limited(again, 2, 120).await <= retry_after);
    // Other accounts are not affected.
    let grace = login_from(&app, "198.51.100.1", "grace@example.com", PASSWORD).await;
    assert_eq!(grace.status(), StatusCode::OK);
}

async fn an_accounts_email_and_username_share_its_budget_and_backoff(backend: Backend) {
    let overrides = [
        ("http.trusted_proxies", "127.0.0.1"),
        ("rate_limit.login_per_account", "4"),
        ("rate_limit.login_free_failures", "3"),
        ("rate_limit.login_backoff_base_seconds", "30"),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let signup = json!({ "email": "ada@example.com", "username": "ada", "password": PASSWORD });
    let created = app.post_json("/api/v1/auth/signup", &signup).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    // Guesses alternate between the two names of the one account.
    for (n, login) in ["ada@example.com", "ADA", "ada"].iter().enumerate() {
        let guess = login_from(&app, &format!("198.51.100.{n}"), login, "wrong guess").await;
        assert_problem(guess, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // Three failures, three free: the account backs off under either name.
    for login in ["ada", "ada@example.com"] {
        let waiting = login_from(&app, "192.0.2.50", login, PASSWORD).await;
        assert_problem(waiting, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
}

async fn signups_and_refreshes_have_ip_budgets(backend: Backend) {
    let overrides = [
        ("rate_limit.signup_per_ip", "2"),
        ("rate_limit.refresh_per_ip", "2"),
    ];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    assert_eq!(app.signup("a@example.com").await.status(), StatusCode::CREATED);
    let tokens = app
        .login("a@example.com", PASSWORD)
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(app.signup("b@example.com").await.status(), StatusCode::CREATED);
    assert_rate_limited(app.signup("c@example.com").await, 2, 60).await;

    let first = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let next = first.json::<serde_json::Value>().await.unwrap();
    let second = app.refresh(next["refresh_token"].as_str().unwrap()).await;
    assert_eq!(second.status(), StatusCode::OK);
    let third = app.refresh("latch_rt_whatever").await;
    assert_rate_limited(third, 2, 60).await;
}

async fn limits_can_be_turned_off(backend: Backend) {
    let overrides = [("rate_limit.enabled", "false"), ("rate_limit.login_per_ip", "1")];
    let Some(app) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    for _ in 0..12 {
        let response = app.login("nobody@example.com", "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

/// Whether the test Redis (`127.0.0.1:6379`) answers; under CI it must.
fn redis_is_up() -> bool {
    let up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().unwrap(),
        std::time::Duration::from_secs(1),
    )
    .is_ok();
    assert!(
        up || std::env::var_os("CI").is_none(),
        "CI needs Redis on 127.0.0.1:6379"
    );
    if !up {
        eprintln!("SKIPPED: no Redis on 127.0.0.1:6379");
    }
    up
}

async fn with_redis_two_instances_count_an_accounts_failures_together(backend: Backend) {
    if !redis_is_up() {
        return;
    }
    let prefix = format!("latch-test:{}:", uuid::Uuid::new_v4());
    let overrides = [
        ("http.trusted_proxies", "127.0.0.1"),
        ("rate_limit.redis_url", "redis://127.0.0.1:6379/0"),
        ("rate_limit.redis_prefix", prefix.as_str()),
        ("rate_limit.login_free_failures", "2"),
        ("rate_limit.login_backoff_base_seconds", "30"),
    ];
    let Some(a) = spawn_app_with(backend, &overrides).await else {
        return;
    };
    let b = a.replica().await;
    assert_eq!(a.signup("ada@example.com").await.status(), StatusCode::CREATED);
    // One wrong guess on each instance: the account has had its two free failures.
    let on_a = login_from(&a, "198.51.100.1", "ada@example.com", "guess one").await;
    assert_problem(on_a, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let on_b = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", b.address))
        .header("x-forwarded-for", "198.51.100.2")
        .json(&json!({ "login": "ada@example.com", "password": "guess two" }))
        .send()
        .await
        .unwrap();
    assert_problem(on_b, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Either instance now makes the account wait, even with the right password.
    let waiting = login_from(&a, "192.0.2.50", "ada@example.com", PASSWORD).await;
    assert_problem(waiting, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
