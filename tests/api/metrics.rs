//! `GET /metrics`: the Prometheus text format, what is counted (logins by
//! outcome, refresh-token reuse, rate-limit refusals, requests by route
//! template), bounded labels, and the listener of its own.

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, access, assert_problem, spawn_app_with};

crate::on_both_backends!(
    metrics_are_prometheus_text,
    logins_are_counted_by_outcome,
    refresh_token_reuse_is_counted,
    rate_limit_refusals_are_counted_by_action_and_limit,
    requests_are_labelled_by_route_template_never_by_path,
    the_database_pool_and_hashing_are_reported,
    session_cache_hits_and_misses_are_counted,
    a_listener_of_its_own_serves_metrics_and_the_main_port_does_not,
    metrics_can_be_turned_off,
);

/// One sample line: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the text format strictly enough to catch a malformed line: every
/// line is blank, a `# HELP`/`# TYPE` comment, or `name{k="v",...} value`.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split(' ');
            assert!(matches!(words.next(), Some("HELP" | "TYPE")), "comment: {line}");
            assert!(words.next().is_some_and(is_name), "comment: {line}");
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or_else(|_| panic!("value: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').unwrap_or_else(|| panic!("labels: {line}"));
                let labels = inner
                    .split("\",")
                    .map(|pair| {
                        let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("label: {line}"));
                        assert!(is_name(key), "label name: {line}");
                        (key.to_owned(), value.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
        };
        assert!(is_name(name), "metric name: {line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The value of `name` whose labels include every one of `labels`, if any.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
}

async fn scrape_at(base: &str) -> (String, Vec<Sample>) {
    let response = Client::new().get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    scrape_at(&app.address).await.1
}

async fn start(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
    spawn_app_with(backend, overrides).await
}

async fn metrics_are_prometheus_text(app: TestApp) {
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();
    let samples = parse(&text);
    assert!(text.contains("# TYPE latch_logins_total counter"), "{text}");
    assert!(
        text.contains("# TYPE latch_http_request_duration_seconds histogram"),
        "{text}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(&samples, "latch_build_info", &[("version", version)]),
        Some(1.0)
    );
}

async fn logins_are_counted_by_outcome(app: TestApp) {
    app.signup_and_login("ada@example.com").await;
    assert_problem(
        app.login("ada@example.com", "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let samples = scrape(&app).await;
    let logins = |outcome| value(&samples, "latch_logins_total", &[("outcome", outcome)]);
    assert_eq!(logins("success"), Some(1.0));
    assert_eq!(logins("invalid_credentials"), Some(1.0));
    assert_eq!(logins("rate_limited"), Some(0.0));
}

async fn refresh_token_reuse_is_counted(backend: Backend) {
    let Some(app) = start(backend, &[("tokens.refresh_reuse_grace_seconds", "0")]).await else {
        return;
    };
    let reuse = |samples: &[Sample]| value(samples, "latch_refresh_token_reuse_detected_total", &[]);
    assert_eq!(reuse(&scrape(&app).await), Some(0.0));
    let login = app.signup_and_login("ada@example.com").await;
    let first = login["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh(first).await.status(), StatusCode::OK);
    assert_problem(
        app.refresh(first).await,
        StatusCode::UNAUTHORIZED,
        "refresh_token_reused",
    )
    .await;
    assert_eq!(reuse(&scrape(&app).await), Some(1.0));
}

async fn rate_limit_refusals_are_counted_by_action_and_limit(backend: Backend) {
    let Some(app) = start(backend, &[("rate_limit.refresh_per_ip", "1")]).await else {
        return;
    };
    let nonsense = "latch_rt_not-a-real-token";
    assert_eq!(app.refresh(nonsense).await.status(), StatusCode::UNAUTHORIZED);
    assert_problem(
        app.refresh(nonsense).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    let samples = scrape(&app).await;
    let refused = [("action", "refresh"), ("limit", "ip")];
    assert_eq!(value(&samples, "latch_rate_limited_total", &refused), Some(1.0));
    let answered = [
        ("method", "POST"),
        ("route", "/api/v1/auth/refresh"),
        ("status", "429"),
    ];
    assert_eq!(value(&samples, "latch_http_requests_total", &answered), Some(1.0));
}

async fn requests_are_labelled_by_route_template_never_by_path(app: TestApp) {
    let tokens = app.signup_and_login("ada@example.com").await;
    let sid = uuid::Uuid::now_v7().to_string();
    let path = format!("/api/v1/users/me/sessions/{sid}");
    let revoke = app
        .bearer_request(reqwest::Method::DELETE, &path, access(&tokens), None)
        .await;
    assert_eq!(revoke.status(), StatusCode::NOT_FOUND);
    let (text, before) = scrape_at(&app.address).await;
    assert!(!text.contains(&sid), "the session id is not a label");
    let template = [
        ("method", "DELETE"),
        ("route", "/api/v1/users/me/sessions/{id}"),
        ("status", "404"),
    ];
    assert_eq!(value(&before, "latch_http_requests_total", &template), Some(1.0));

    for unknown in ["/no/such/path", "/another/unknown/path", "/api/v1/nope"] {
        let response = app.client.get(app.url(unknown)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let (text, after) = scrape_at(&app.address).await;
    assert!(!text.contains("unknown") && !text.contains("nope"), "{text}");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&after, "latch_http_requests_total", &unmatched), Some(3.0));
    let routes = |samples: &[Sample]| {
        let mut routes: Vec<String> = samples
            .iter()
            .filter(|s| s.name == "latch_http_requests_total")
            .filter_map(|s| s.label("route").map(str::to_owned))
            .collect();
        routes.sort();
        routes.dedup();
        routes
    };
    let mut expected = routes(&before);
    // The scrape before is counted by the one after, and the unknown paths as one.
    expected.extend(["/metrics".to_owned(), "unmatched".to_owned()]);
    expected.sort();
    expected.dedup();
    assert_eq!(routes(&after), expected);
}

async fn the_database_pool_and_hashing_are_reported(app: TestApp) {
    app.signup_and_login("ada@example.com").await;
    let samples = scrape(&app).await;
    // `database.max_connections` is 8 in the tests.
    assert_eq!(value(&samples, "latch_db_pool_max_connections", &[]), Some(8.0));
    let open: f64 = ["idle", "in_use"]
        .iter()
        .filter_map(|state| value(&samples, "latch_db_pool_connections", &[("state", state)]))
        .sum();
    assert!((1.0..=8.0).contains(&open), "open connections: {open}");
    assert_eq!(value(&samples, "latch_password_hash_queue_depth", &[]), Some(0.0));
    assert!(value(&samples, "latch_password_hash_slots", &[]).is_some_and(|n| n >= 1.0));
    // Signup hashed once and login verified once.
    let hashes = value(&samples, "latch_password_hash_duration_seconds_count", &[]);
    assert!(hashes.is_some_and(|n| n >= 2.0), "{hashes:?}");
    let waits = value(&samples, "latch_password_hash_wait_seconds_count", &[]);
    assert_eq!(waits, hashes);
}

async fn session_cache_hits_and_misses_are_counted(backend: Backend) {
    // One instance: nothing else can make it forget (PostgreSQL's `auto` is `lease`).
    let Some(app) = start(backend, &[("session_cache.coherence", "single_process")]).await else {
        return;
    };
    let tokens = app.signup_and_login("ada@example.com").await;
    for _ in 0..3 {
        assert_eq!(app.me(access(&tokens)).await.status(), StatusCode::OK);
    }
    let samples = scrape(&app).await;
    let lookups = |result| {
        value(
            &samples,
            "latch_session_cache_lookups_total",
            &[("result", result)],
        )
    };
    // The first read of the session misses and fills the cache; the others hit.
    assert_eq!(lookups("miss"), Some(1.0));
    assert_eq!(lookups("hit"), Some(2.0));
}

async fn a_listener_of_its_own_serves_metrics_and_the_main_port_does_not(backend: Backend) {
    let Some(app) = start(backend, &[("metrics.listen", "127.0.0.1:0")]).await else {
        return;
    };
    let tokens = app.signup_and_login("ada@example.com").await;
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_problem(main, StatusCode::NOT_FOUND, "not_found").await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    let (_, samples) = scrape_at(&metrics).await;
    let logins = [("outcome", "success")];
    assert_eq!(value(&samples, "latch_logins_total", &logins), Some(1.0));
    // The main port's requests are counted, /metrics among them as unknown.
    let refused = [("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&samples, "latch_http_requests_total", &refused), Some(1.0));
    // Only /metrics is served there.
    let other = Client::new()
        .get(format!("{metrics}/api/v1/users/me"))
        .bearer_auth(access(&tokens))
        .send()
        .await
        .unwrap();
    assert_problem(other, StatusCode::NOT_FOUND, "not_found").await;
}

async fn metrics_can_be_turned_off(backend: Backend) {
    let Some(app) = start(backend, &[("metrics.enabled", "false")]).await else {
        return;
    };
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({ "login": "nobody@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
}
