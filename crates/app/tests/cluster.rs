//! `latch` processes as a deployment runs them: two instances on one fresh
//! PostgreSQL database (and one Redis) honour each other's tokens, logouts,
//! refresh-token reuse, login backoff and key rotations; and one instance
//! whose database or Redis goes away (cut, or silent, through a TCP proxy in
//! the test) answers 503 problem+json in bounded time, writes no half rows,
//! and recovers by itself.
//!
//! Each test has its own database, Redis key prefix and processes, killed
//! when the test ends. Without PostgreSQL (or Redis, for the tests that need
//! it) a test prints SKIPPED and passes, except under `CI`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use latch_testkit::databases::TestDatabase;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use proxy::{Mode, Proxy};

mod support;

/// 32 zero bytes: every instance of a test shares this master key.
const MASTER_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const PASSWORD: &str = "correct horse battery staple";
/// The pool and statement timeouts the fault tests run with, in ms.
const ACQUIRE_MS: u64 = 1000;
const STATEMENT_MS: u64 = 1000;

// ---------------------------------------------------------------- instances

/// A running `latch serve`, killed (and reaped) when dropped.
struct Instance {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    /// Starts `latch serve` on `database_url` with `settings` (`section.key`,
    /// value) on top of the test defaults, once it says it is listening.
    async fn start(database_url: &str, settings: &[(&str, &str)]) -> Self {
        let url = database_url.to_owned();
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        // Reading the child's log blocks: off the runtime, whose tasks may be
        // the proxy the child connects through.
        tokio::task::spawn_blocking(move || Self::spawn(&url, &settings))
            .await
            .unwrap()
    }

    #[allow(clippy::zombie_processes)] // `Drop` kills and waits.
    fn spawn(database_url: &str, settings: &[(String, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = latch(dir.path());
        command
            .arg("serve")
            .env("LATCH__DATABASE__URL", database_url)
            .env("LATCH__HTTP__PORT", "0")
            .env("LATCH__HTTP__WORKERS", "1")
            .env("LATCH__DATABASE__MAX_CONNECTIONS", "4");
        for (key, value) in settings {
            command.env(env_name(key), value);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "latch exited before listening:\n{}",
                    log.lock().unwrap().join("\n")
                );
            };
            log.lock().unwrap().push(line.clone());
            if line.contains("latch is listening")
                && let Some(after) = line.split("port=").nth(1)
            {
                break after
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "not listening after 60 s"
            );
        };
        // Keep draining stderr (so the child never blocks on a full pipe), for failure messages.
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The last lines this instance logged, for a failure message.
    fn tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(30)..].join("\n")
    }
}

/// `latch` with a private data directory and the test master key.
fn latch(data_dir: &std::path::Path) -> Command {
    let mut command = support::latch(data_dir);
    command.env("LATCH__KEYS__MASTER_KEY", MASTER_KEY);
    command
}

/// `section.key` → `LATCH__SECTION__KEY`.
fn env_name(key: &str) -> String {
    format!("LATCH__{}", key.to_uppercase().replace('.', "__"))
}

/// Two instances on one database: A first, so only one applies the migrations.
async fn pair(database_url: &str, settings: &[(&str, &str)]) -> (Instance, Instance) {
    let a = Instance::start(database_url, settings).await;
    let b = Instance::start(database_url, settings).await;
    (a, b)
}

/// The Redis the tests share, as `host:port`, or `None` (with SKIPPED) when
/// it does not answer outside CI.
async fn redis_address() -> Option<String> {
    let url = std::env::var("LATCH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let address = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let answers = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&address).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut reply = [0; 5];
        stream.read_exact(&mut reply).await.ok()?;
        (&reply == b"+PONG").then_some(())
    };
    let answered = tokio::time::timeout(Duration::from_secs(2), answers).await;
    if matches!(answered, Ok(Some(()))) {
        return Some(address);
    }
    assert!(std::env::var_os("CI").is_none(), "CI needs Redis at {url}");
    eprintln!("SKIPPED: no Redis at {url}; set LATCH_TEST_REDIS_URL");
    None
}

/// Settings that count rate limits in the Redis at `address`, under a prefix
/// of this test's own.
fn redis_settings(address: &str) -> Vec<(&'static str, String)> {
    vec![
        ("rate_limit.redis_url", format!("redis://{address}")),
        (
            "rate_limit.redis_prefix",
            format!("latch-test:{}:", uuid::Uuid::new_v4().simple()),
        ),
    ]
}

fn borrowed<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect()
}

// ---------------------------------------------------------------- requests

fn client() -> reqwest::Client {
    // Generous: a request that has not answered by then has hung.
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn post(instance: &Instance, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = client().post(instance.url(path)).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn signup(instance: &Instance, email: &str) -> StatusCode {
    let body = json!({ "email": email, "password": PASSWORD });
    post(instance, "/api/v1/auth/signup", None, body).await.0
}

async fn login(instance: &Instance, email: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({ "login": email, "password": password });
    post(instance, "/api/v1/auth/login", None, body).await
}

/// Signs `email` up on `instance` and logs in: the token response.
async fn signed_in(instance: &Instance, email: &str) -> Value {
    assert_eq!(
        signup(instance, email).await,
        StatusCode::CREATED,
        "{}",
        instance.tail()
    );
    let (status, tokens) = login(instance, email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

async fn refresh(instance: &Instance, token: &str) -> (StatusCode, Value) {
    post(
        instance,
        "/api/v1/auth/refresh",
        None,
        json!({ "refresh_token": token }),
    )
    .await
}

async fn me(instance: &Instance, access: &str) -> StatusCode {
    let response = client()
        .get(instance.url("/api/v1/users/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    response.status()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
}

/// The `kid` in a JWT's header.
fn kid(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    text(&header, "kid").to_owned()
}

async fn jwks_kids(instance: &Instance) -> Vec<String> {
    let jwks: Value = client()
        .get(instance.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| text(key, "kid").to_owned())
        .collect()
}

// ---------------------------------------------------------------- two instances

#[tokio::test(flavor = "multi_thread")]
async fn a_token_from_a_works_on_b_until_a_logout_on_a() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let (a, b) = pair(database.url(), &[]).await;
    let tokens = signed_in(&a, "ada@example.com").await;
    let access = text(&tokens, "access_token");
    // B checks the token, and now holds the session in its cache.
    assert_eq!(me(&b, access).await, StatusCode::OK, "{}", b.tail());
    assert_eq!(me(&b, access).await, StatusCode::OK);

    let (status, _) = post(&a, "/api/v1/auth/logout", Some(access), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        me(&b, access).await,
        StatusCode::UNAUTHORIZED,
        "the very next request on B"
    );
    let (status, _) = refresh(&b, text(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_token_reuse_on_b_revokes_the_session_on_a() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let (a, b) = pair(database.url(), &[("tokens.refresh_reuse_grace_seconds", "0")]).await;
    let first = signed_in(&a, "ada@example.com").await;
    let (status, second) = refresh(&a, text(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let access = text(&second, "access_token");
    assert_eq!(me(&a, access).await, StatusCode::OK);

    let (status, problem) = refresh(&b, text(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["code"], "refresh_token_reused");

    assert_eq!(
        me(&a, access).await,
        StatusCode::UNAUTHORIZED,
        "the successor's access token"
    );
    let (status, _) = refresh(&a, text(&second, "refresh_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the successor refresh token");
}

/// Three free failures: a fourth attempt backs off only if A and B count together.
const FREE_FAILURES: &str = "3";

fn backoff_settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("rate_limit.login_free_failures", FREE_FAILURES),
        ("rate_limit.login_backoff_base_seconds", "60"),
        ("rate_limit.login_per_ip", "10000"),
        ("rate_limit.login_per_account", "10000"),
        ("rate_limit.signup_per_ip", "10000"),
    ]
}

/// Fails `email`'s login on A, B, A, then tries the right password on B.
async fn backoff_across(a: &Instance, b: &Instance, email: &str) -> (StatusCode, Value) {
    for instance in [a, b, a] {
        let (status, body) = login(instance, email, "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    login(b, email, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_backoff_counts_failures_on_a_and_b_together() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let Some(redis) = redis_address().await else {
        return;
    };
    let mut settings = redis_settings(&redis);
    settings.extend(backoff_settings().into_iter().map(|(k, v)| (k, v.to_owned())));
    let (a, b) = pair(database.url(), &borrowed(&settings)).await;
    assert_eq!(signup(&a, "ada@example.com").await, StatusCode::CREATED);

    let (status, body) = backoff_across(&a, &b, "ada@example.com").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "rate_limited");
    let (status, _) = login(&a, "ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "A waits too");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_rotated_with_the_cli_is_published_and_then_signs_on_b() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let publish_ahead = Duration::from_secs(5);
    let settings = [
        ("keys.reload_seconds", "1"),
        ("keys.publish_ahead_seconds", "5"),
        ("rate_limit.enabled", "false"),
    ];
    let (a, b) = pair(database.url(), &settings).await;
    let before = signed_in(&b, "ada@example.com").await;
    let old_kid = kid(text(&before, "access_token"));

    let dir = tempfile::tempdir().unwrap();
    // The new key cannot sign before this + publish-ahead.
    let rotating_at = Instant::now();
    let rotated = latch(dir.path())
        .args(["keys", "rotate"])
        .env("LATCH__DATABASE__URL", database.url())
        .env("LATCH__KEYS__PUBLISH_AHEAD_SECONDS", "5")
        .output()
        .unwrap();
    let rotated_at = Instant::now();
    let printed = String::from_utf8_lossy(&rotated.stdout).into_owned();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let new_kid = printed
        .split("new key ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no new key in {printed:?}"))
        .to_owned();
    assert_ne!(new_kid, old_kid);

    // Published on B within its reload interval (polled generously).
    let published = loop {
        if jwks_kids(&b).await.contains(&new_kid) {
            break rotated_at.elapsed();
        }
        assert!(
            rotated_at.elapsed() < Duration::from_secs(20),
            "B never published {new_kid}:\n{}",
            b.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("B published the new key {published:?} after the rotation");
    if published < publish_ahead - Duration::from_secs(2) {
        // Published ahead: B still signs with the old key.
        let (_, early) = login(&b, "ada@example.com", PASSWORD).await;
        if rotated_at.elapsed() < publish_ahead - Duration::from_secs(1) {
            assert_eq!(
                kid(text(&early, "access_token")),
                old_kid,
                "signing before publish-ahead"
            );
        }
    }

    // Once publish-ahead has passed, B signs with the new key, and A accepts it.
    let signing = loop {
        let (status, tokens) = login(&b, "ada@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let access = text(&tokens, "access_token").to_owned();
        if kid(&access) == new_kid {
            break access;
        }
        assert!(
            rotated_at.elapsed() < publish_ahead + Duration::from_secs(20),
            "B still signs with {old_kid}:\n{}",
            b.tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        rotating_at.elapsed() >= publish_ahead,
        "the new key signed before it was published ahead"
    );
    assert_eq!(me(&a, &signing).await, StatusCode::OK);
    assert_eq!(
        me(&a, text(&before, "access_token")).await,
        StatusCode::OK,
        "old tokens still verify"
    );
}

// ---------------------------------------------------------------- faults

/// What one request during a fault run got.
#[derive(Debug)]
struct Outcome {
    route: &'static str,
    /// 0: no answer at all (the client gave up or could not connect).
    status: u16,
    code: Option<String>,
    retry_after: Option<String>,
    elapsed: Duration,
    /// The account a signup tried to create.
    email: Option<String>,
}

async fn timed(route: &'static str, request: reqwest::RequestBuilder, email: Option<String>) -> Outcome {
    let started = Instant::now();
    let (status, code, retry_after) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body["code"].as_str().map(str::to_owned), retry_after)
        }
        Err(_) => (0, None, None),
    };
    Outcome {
        route,
        status,
        code,
        retry_after,
        elapsed: started.elapsed(),
        email,
    }
}

/// A small steady load until `stop`: signups, logins and `GET /users/me`,
/// two loops of each.
fn load(
    instance: &Instance,
    access: &str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    use std::sync::atomic::Ordering;
    let mut loops = Vec::new();
    for worker in 0..6 {
        let base = instance.base.clone();
        let access = access.to_owned();
        let stop = stop.clone();
        loops.push(tokio::spawn(async move {
            let client = client();
            let mut outcomes = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let outcome = match worker % 3 {
                    0 => {
                        let email = format!("load-{worker}-{n}@example.com");
                        let request = client
                            .post(format!("{base}/api/v1/auth/signup"))
                            .json(&json!({ "email": email, "password": PASSWORD }));
                        timed("signup", request, Some(email)).await
                    }
                    1 => {
                        let request = client
                            .post(format!("{base}/api/v1/auth/login"))
                            .json(&json!({ "login": "ada@example.com", "password": PASSWORD }));
                        timed("login", request, None).await
                    }
                    _ => {
                        let request = client.get(format!("{base}/api/v1/users/me")).bearer_auth(&access);
                        timed("me", request, None).await
                    }
                };
                outcomes.push(outcome);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            outcomes
        }));
    }
    loops
}

/// The status and time of a probe.
async fn probe(instance: &Instance, path: &str) -> (StatusCode, Duration) {
    let started = Instant::now();
    let status = client().get(instance.url(path)).send().await.unwrap().status();
    (status, started.elapsed())
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
}

/// `postgres://user@host:port/db` → (`host:port`, the URL with `{proxy}` in
/// place of `host:port`).
fn through_proxy(url: &str) -> (String, String) {
    let after_at = url.split('@').nth(1).unwrap();
    let address = after_at.split('/').next().unwrap().to_owned();
    let templated = url.replacen(&address, "{proxy}", 1);
    (address, templated)
}

/// One instance whose database is cut off in `mode` for a while under load:
/// every answer is the one expected, none slower than its bound, the
/// instance says it is not ready meanwhile, recovers alone, and the database
/// holds no half-written rows.
async fn database_outage(mode: Mode) {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let (upstream, templated) = through_proxy(database.url());
    let proxy = Proxy::start(upstream).await;
    let url = templated.replace("{proxy}", &format!("127.0.0.1:{}", proxy.port));
    let (acquire, statement) = (ACQUIRE_MS.to_string(), STATEMENT_MS.to_string());
    let instance = Instance::start(
        &url,
        &[
            ("database.acquire_timeout_ms", &acquire),
            ("database.statement_timeout_ms", &statement),
            ("rate_limit.enabled", "false"),
        ],
    )
    .await;
    let tokens = signed_in(&instance, "ada@example.com").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops = load(&instance, text(&tokens, "access_token"), stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    proxy.set(mode);
    let cut_at = Instant::now();
    let not_ready = loop {
        let (status, took) = probe(&instance, "/readyz").await;
        assert!(took < Duration::from_secs(3), "/readyz took {took:?}");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break cut_at.elapsed();
        }
        assert!(cut_at.elapsed() < Duration::from_secs(10), "/readyz still ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (health, took) = probe(&instance, "/healthz").await;
    assert_eq!(health, StatusCode::OK, "/healthz while the database is away");
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    // A silent database stays away longer than a request may take, so a
    // request that waited for it instead of giving up would show.
    let outage = match mode {
        Mode::Blackhole => Duration::from_secs(10),
        _ => Duration::from_secs(4),
    };
    tokio::time::sleep(outage.saturating_sub(cut_at.elapsed())).await;

    proxy.set(Mode::Open);
    let restored_at = Instant::now();
    let recovered = loop {
        let email = format!("after-{}@example.com", uuid::Uuid::new_v4().simple());
        let signed_up = signup(&instance, &email).await == StatusCode::CREATED;
        if signed_up && login(&instance, &email, PASSWORD).await.0 == StatusCode::OK {
            break restored_at.elapsed();
        }
        assert!(
            restored_at.elapsed() < Duration::from_secs(20),
            "no recovery within 20 s:\n{}",
            instance.tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(probe(&instance, "/readyz").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for handle in loops {
        outcomes.extend(handle.await.unwrap());
    }

    // A request that needs the database gives up within the pool's wait plus
    // the statement bound (and 0.5 s) per query it still had to make: allow three.
    let bound = Duration::from_millis(3 * (ACQUIRE_MS + STATEMENT_MS + 500));
    let unavailable: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 503).collect();
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap();
    let slowest_503 = unavailable.iter().map(|o| o.elapsed).max().unwrap_or_default();
    eprintln!(
        "{mode:?}: {} requests, {} answered 503, slowest {slowest:?} (503: {slowest_503:?}); \
         /readyz not ready after {not_ready:?}; recovered {recovered:?} after the restore",
        outcomes.len(),
        unavailable.len()
    );
    assert!(!unavailable.is_empty(), "the outage was never seen");
    for outcome in &outcomes {
        let expected: &[u16] = match outcome.route {
            "signup" => &[201, 503],
            // `/users/me` may be answered from the session cache while its lease holds.
            _ => &[200, 503],
        };
        assert!(
            expected.contains(&outcome.status),
            "{outcome:?}\n{}",
            instance.tail()
        );
        assert!(outcome.elapsed < bound, "slower than {bound:?}: {outcome:?}");
        if outcome.status == 503 {
            assert_eq!(
                outcome.code.as_deref(),
                Some("service_unavailable"),
                "{outcome:?}"
            );
            assert_eq!(outcome.retry_after.as_deref(), Some("5"), "{outcome:?}");
        }
    }

    // Every account that got a 201 exists once; one that got a 503 either
    // does not exist or exists whole (the insert is one statement).
    let db = Database::connect(database.url()).await.unwrap();
    for outcome in outcomes.iter().filter(|o| o.route == "signup") {
        let email = outcome.email.as_deref().unwrap();
        let found = rows(
            &db,
            &format!("SELECT password_hash, tier FROM users WHERE email = '{email}'"),
        )
        .await;
        match outcome.status {
            201 => assert_eq!(found.len(), 1, "{email}"),
            _ => assert!(found.len() <= 1, "{email}"),
        }
        for row in found {
            let hash: String = row.try_get_by_index(0).unwrap();
            let tier: String = row.try_get_by_index(1).unwrap();
            assert!(
                hash.starts_with("$argon2id$") && !tier.is_empty(),
                "{email}: {hash} {tier}"
            );
        }
    }
    // A login writes its session and refresh token in one transaction.
    let orphans = rows(
        &db,
        "SELECT s.id FROM sessions s WHERE NOT EXISTS \
         (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)",
    )
    .await;
    assert!(
        orphans.is_empty(),
        "{} sessions without a refresh token",
        orphans.len()
    );
    let _ = db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_refuses_connections_gets_503s_and_recovers_alone() {
    database_outage(Mode::Refuse).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_stops_answering_gets_503s_in_bounded_time_and_recovers_alone() {
    database_outage(Mode::Blackhole).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_logins_answer_as_usual_and_counts_return_to_redis() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let Some(redis) = redis_address().await else {
        return;
    };
    let proxy = Proxy::start(redis.clone()).await;
    let direct = redis_settings(&redis);
    let mut proxied = direct.clone();
    proxied[0].1 = format!("redis://127.0.0.1:{}", proxy.port);
    let limits: Vec<(&'static str, String)> = backoff_settings()
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
    // A counts through the proxy, B straight in the same Redis, same prefix.
    let a = Instance::start(database.url(), &borrowed(&[proxied, limits.clone()].concat())).await;
    let b = Instance::start(database.url(), &borrowed(&[direct, limits].concat())).await;
    assert_eq!(signup(&a, "ada@example.com").await, StatusCode::CREATED);

    for mode in [Mode::Refuse, Mode::Blackhole] {
        proxy.set(mode);
        let wrong = format!("wrong-{}@example.com", uuid::Uuid::new_v4().simple());
        assert_eq!(signup(&b, &wrong).await, StatusCode::CREATED);
        let mut slowest = Duration::ZERO;
        for attempt in 0..4 {
            let started = Instant::now();
            let (status, body) = login(&a, "ada@example.com", PASSWORD).await;
            assert_eq!(status, StatusCode::OK, "{mode:?}: {body}\n{}", a.tail());
            if attempt < 2 {
                let (status, body) = login(&a, &wrong, "not the password").await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{mode:?}: {body}");
            }
            slowest = slowest.max(started.elapsed());
        }
        eprintln!("{mode:?}: with Redis away the slowest login round took {slowest:?}");
        assert!(slowest < Duration::from_secs(5), "{mode:?}: {slowest:?}");

        proxy.set(Mode::Open);
        // Once A reaches Redis again, failures on A and B count together.
        let restored_at = Instant::now();
        loop {
            let email = format!("shared-{}@example.com", uuid::Uuid::new_v4().simple());
            assert_eq!(signup(&b, &email).await, StatusCode::CREATED);
            let (status, body) = backoff_across(&a, &b, &email).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(
                restored_at.elapsed() < Duration::from_secs(20),
                "{mode:?}: A does not count in Redis again:\n{}",
                a.tail()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        eprintln!(
            "{mode:?}: counts shared again {:?} after the restore",
            restored_at.elapsed()
        );
    }
}

// ---------------------------------------------------------------- the proxy

/// A TCP proxy in front of PostgreSQL or Redis that can be cut: the
/// database seen from Latch goes away without touching the real one, which
/// other tests share.
mod proxy {
    use tokio::io::copy_bidirectional;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    /// What the proxy does with connections.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// Forwards.
        Open,
        /// Closes every connection, and each new one as soon as it is accepted.
        Refuse,
        /// Stops forwarding and holds every connection open, old and new: a
        /// peer that never answers. Restoring closes them.
        Blackhole,
    }

    /// A running proxy; stops (closing its connections) when dropped.
    pub struct Proxy {
        pub port: u16,
        mode: watch::Sender<Mode>,
        accepting: tokio::task::JoinHandle<()>,
    }

    impl Proxy {
        /// A proxy on a free loopback port, forwarding to `upstream` (`host:port`).
        pub async fn start(upstream: String) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let (mode, watching) = watch::channel(Mode::Open);
            let accepting = tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(serve(client, upstream.clone(), watching.clone()));
                }
            });
            Self {
                port,
                mode,
                accepting,
            }
        }

        pub fn set(&self, mode: Mode) {
            self.mode.send_replace(mode);
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            // Ends every connection; dropping the sender then wakes nothing more.
            self.mode.send_replace(Mode::Refuse);
            self.accepting.abort();
        }
    }

    async fn serve(mut client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Refuse => return,
            Mode::Blackhole => {
                let _ = mode.wait_for(|m| *m != Mode::Blackhole).await;
                return;
            }
            Mode::Open => {}
        }
        let Ok(mut server) = TcpStream::connect(&upstream).await else {
            return;
        };
        tokio::select! {
            _ = copy_bidirectional(&mut client, &mut server) => return,
            _ = mode.wait_for(|m| *m != Mode::Open) => {}
        }
        let held = *mode.borrow();
        if held == Mode::Blackhole {
            let _ = mode.wait_for(|m| *m != Mode::Blackhole).await;
        }
        // Dropping both ends closes them.
    }
}
