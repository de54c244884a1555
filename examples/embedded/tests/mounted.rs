//! The host app with Latch at `/auth`, on the host's SQLite connection:
//! sign up, log in, refresh by cookie and discover keys through the mount,
//! and the host's own routes beside them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{App, HttpServer};
use latch::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// The host on port 0; its base URL.
async fn host() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let toml = format!(
        "data_dir = {:?}\n[log]\nlevel = \"warn\"\n",
        dir.path().display().to_string()
    );
    let settings = Settings::from_toml(&toml, "test").unwrap();
    let db = sea_orm::Database::connect(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("host.db").display()
    ))
    .await
    .unwrap();
    let latch = latch_example_embedded::mount_latch(&settings, db, &base)
        .await
        .unwrap();
    let server = HttpServer::new(move || App::new().configure(latch_example_embedded::app(latch.clone())))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    tokio::spawn(server);
    (base, dir)
}

/// A browser on the host's pages: a cookie jar, and the host as `Origin`.
fn browser(origin: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, origin.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap()
}

#[tokio::test]
async fn latch_under_auth_serves_beside_the_hosts_routes() {
    let (base, _dir) = host().await;
    let client = browser(&base);
    let home: Value = client.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(home["app"], "host");

    let post = |route: &str, body: Value| {
        client
            .post(format!("{base}/auth/api/v1/auth/{route}"))
            .json(&body)
            .send()
    };
    let signup = post(
        "signup",
        json!({ "email": "ada@example.com", "password": PASSWORD }),
    )
    .await
    .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let login = post(
        "login",
        json!({ "login": "ada@example.com", "password": PASSWORD }),
    )
    .await
    .unwrap();
    let refresh_cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("refresh_token="))
        .unwrap();
    assert!(
        refresh_cookie.contains("Path=/auth/api/v1/auth"),
        "{refresh_cookie}"
    );
    let tokens: Value = login.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    // The refresh cookie comes back to the mounted refresh route.
    let refreshed = client
        .post(format!("{base}/auth/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);

    // The host's own route asks Latch in process.
    let whoami: Value = client
        .get(format!("{base}/whoami"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["email"], "ada@example.com");
    let anonymous = client.get(format!("{base}/whoami")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let discovery: Value = client
        .get(format!("{base}/auth/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["jwks_uri"],
        format!("{base}/auth/.well-known/jwks.json")
    );
    let unknown = client
        .get(format!("{base}/auth/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let problem: Value = unknown.json().await.unwrap();
    assert_eq!(problem["code"], "not_found");
}
