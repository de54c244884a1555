//! `spawn_app` and typed request helpers.

use latch::{Application, Settings};
use latch_session_cache::CacheLease;
use latch_testkit::databases::TestDatabase;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running Latch and a cookie-keeping client pointed at it.
pub struct TestApp {
    pub address: String,
    /// `http://127.0.0.1:PORT` of the listener `metrics.listen` opened, if any.
    pub metrics_address: Option<String>,
    /// The instance's session-cache lease (to ask whether it is held).
    pub lease: CacheLease,
    pub client: Client,
    _data_dir: tempfile::TempDir,
    settings: Settings,
    _database: TestDatabase,
}

/// Expands each scenario into a test on SQLite and one on PostgreSQL. A
/// scenario is `async fn name(app: TestApp)`, run on an app with the test
/// defaults, or `async fn name(backend: Backend)` when it starts its own.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::helpers::Scenario::run(super::$name, $crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::helpers::Scenario::run(super::$name, $crate::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// What [`on_both_backends!`] can run: an `async fn` taking the app or the
/// backend (`Input` tells the two apart).
pub trait Scenario<Input> {
    /// Runs the scenario on `backend`; nothing if the backend is unavailable.
    fn run(self, backend: Backend) -> impl Future<Output = ()>;
}

impl<F, Fut> Scenario<Backend> for F
where
    F: FnOnce(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    fn run(self, backend: Backend) -> impl Future<Output = ()> {
        self(backend)
    }
}

impl<F, Fut> Scenario<TestApp> for F
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    async fn run(self, backend: Backend) {
        if let Some(app) = spawn_app(backend).await {
            self(app).await;
        }
    }
}

/// Starts the app with the test defaults; `None` if the backend is unavailable.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

/// Starts the app with extra settings overrides (`("tokens.refresh_reuse_grace_seconds", "0")`).
pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
    let database = match backend {
        Backend::Sqlite => TestDatabase::sqlite(),
        Backend::Postgres => TestDatabase::postgres().await?,
    };
    let data_dir = tempfile::tempdir().unwrap();
    let data_dir_str = data_dir.path().display().to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("http.port", "0"),
        ("http.workers", "2"),
        ("data_dir", &data_dir_str),
        ("database.url", database.url()),
        ("database.max_connections", "8"),
        ("log.level", "warn"),
    ];
    all.extend_from_slice(overrides);
    let settings = Settings::with_overrides(&all).unwrap();
    let app = Application::build(settings.clone())
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
    let lease = app.cache_lease().clone();
    tokio::spawn(app.run_until_stopped());
    Some(TestApp {
        client: browser(&address),
        address,
        metrics_address,
        lease,
        _data_dir: data_dir,
        settings,
        _database: database,
    })
}

/// A second Latch on a test app's database and signing key: another
/// replica behind the same load balancer.
pub struct Replica {
    pub address: String,
    /// The replica's session-cache lease.
    pub lease: CacheLease,
}

impl TestApp {
    /// Starts another instance with this app's settings (its own port).
    pub async fn replica(&self) -> Replica {
        let settings = self.settings.clone();
        let app = Application::build(settings).await.expect("the replica starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let lease = app.cache_lease().clone();
        tokio::spawn(app.run_until_stopped());
        Replica { address, lease }
    }
}

/// Logs `login` in with [`PASSWORD`] at the login route `url`; the token response.
async fn log_in_at(client: &Client, url: &str, login: &str) -> Value {
    client
        .post(url)
        .json(&json!({ "login": login, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

impl Replica {
    /// Logs `login` in with [`PASSWORD`]; the token response.
    pub async fn login(&self, login: &str) -> Value {
        log_in_at(
            &Client::new(),
            &format!("{}/api/v1/auth/login", self.address),
            login,
        )
        .await
    }

    /// `GET /users/me` with a Bearer token.
    pub async fn me(&self, access_token: &str) -> Response {
        Client::new()
            .get(format!("{}/api/v1/users/me", self.address))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }
}

/// A client with its own cookie jar that, like a browser on a page served
/// from `origin`, sends `Origin` with every request.
pub fn browser(origin: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, origin.parse().unwrap());
    Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap()
}

impl TestApp {
    /// The settings the app was built with (to open its database from a test).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn signup(&self, email: &str) -> Response {
        self.post_json(
            "/api/v1/auth/signup",
            &json!({ "email": email, "password": PASSWORD }),
        )
        .await
    }

    /// Signs up `email` and logs in; returns the token response.
    pub async fn signup_and_login(&self, email: &str) -> Value {
        assert_eq!(self.signup(email).await.status(), StatusCode::CREATED);
        self.login(email, PASSWORD).await.json().await.unwrap()
    }

    /// Logs `login` in with [`PASSWORD`] through `client` (its own cookies,
    /// agent and headers); the token response.
    pub async fn login_with(&self, client: &Client, login: &str) -> Value {
        log_in_at(client, &self.url("/api/v1/auth/login"), login).await
    }

    pub async fn login(&self, login: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({ "login": login, "password": password }),
        )
        .await
    }

    /// `POST /auth/refresh` with the token in the body, on a cookie-less client.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        Client::new()
            .post(self.url("/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap()
    }

    /// `method path` with a Bearer token (and a JSON body) on a cookie-less client.
    pub async fn bearer_request(
        &self,
        method: reqwest::Method,
        path: &str,
        access: &str,
        body: Option<Value>,
    ) -> Response {
        let request = Client::new().request(method, self.url(path)).bearer_auth(access);
        match body {
            Some(body) => request.json(&body).send().await.unwrap(),
            None => request.send().await.unwrap(),
        }
    }

    /// `GET /users/me` with a Bearer token on a cookie-less client.
    pub async fn me(&self, access_token: &str) -> Response {
        Client::new()
            .get(self.url("/api/v1/users/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// Creates a superuser the way `latch create-superuser` does, and logs in.
    pub async fn superuser_login(&self, email: &str) -> Value {
        let store = latch::startup::open_store(&self.settings, false).await.unwrap();
        let auth = latch::startup::auth_service(&self.settings, &store)
            .await
            .unwrap();
        let request = latch_core::SignupRequest {
            email: email.into(),
            password: PASSWORD.into(),
            ..Default::default()
        };
        auth.create_superuser(request).await.unwrap();
        store.close().await;
        self.login(email, PASSWORD).await.json().await.unwrap()
    }

    /// Signs `claims` with the key ring's active key (EdDSA default), as the app would.
    pub async fn sign(&self, claims: &Value) -> String {
        let store = latch::startup::open_store(&self.settings, false).await.unwrap();
        let ring = latch::key_ring(&self.settings, &store).await.unwrap();
        let active = ring.load(None, chrono::Utc::now()).await.unwrap().signer;
        store.close().await;
        let key = jsonwebtoken::EncodingKey::from_ed_pem(active.to_pem().unwrap().as_bytes()).unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(active.kid().to_owned());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }
}

impl TestApp {
    /// Asserts that the access token in `tokens` is refused as `invalid_token`.
    pub async fn assert_access_refused(&self, tokens: &Value) {
        let response = self.me(access(tokens)).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }

    /// Asserts that the session behind `tokens` is over: its access token
    /// and its refresh token are both refused as `invalid_token`.
    pub async fn assert_session_ended(&self, tokens: &Value) {
        self.assert_access_refused(tokens).await;
        let response = self.refresh(tokens["refresh_token"].as_str().unwrap()).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }

    /// Asserts that `login` with [`PASSWORD`] is refused as `invalid_credentials`.
    pub async fn assert_login_refused(&self, login: &str) {
        let response = self.login(login, PASSWORD).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

/// The access token of a token response.
pub fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

/// Asserts a problem+json response with `status` and `code`; returns the body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content-type {content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(),
        "{body}"
    );
    body
}

impl TestApp {
    /// `GET path` on the app's client, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The decoded JSON header of a compact JWT.
pub fn header_of(token: &str) -> Value {
    decode_segment(token, 0)
}

/// The decoded JSON claims of a compact JWT.
pub fn claims_of(token: &str) -> Value {
    decode_segment(token, 1)
}

fn decode_segment(token: &str, index: usize) -> Value {
    use base64::Engine;
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap(),
    )
    .unwrap()
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

impl TestApp {
    /// Imports JSON Lines the way `latch import-users` does, on the app's database.
    pub async fn import_users(&self, lines: &[String]) -> latch::json_lines::ImportReport {
        let store = latch::startup::open_store(&self.settings, false).await.unwrap();
        let auth = latch::startup::auth_service(&self.settings, &store)
            .await
            .unwrap();
        let report = latch::json_lines::import_lines(
            &auth,
            lines.iter().map(String::as_str),
            latch_core::ImportOptions::default(),
        )
        .await
        .unwrap();
        store.close().await;
        report
    }

    /// The password hash stored for `login` (an email or username), read from the database.
    pub async fn stored_password_hash(&self, login: &str) -> String {
        use latch_ports::UserRepository;
        let store = latch::startup::open_store(&self.settings, false).await.unwrap();
        let credentials = store.users().find_credentials(login).await.unwrap();
        store.close().await;
        credentials.expect("the user exists").password_hash.0
    }
}
