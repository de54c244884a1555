//! Latch mounted in a host's actix `App` under `/auth`, on the host's own
//! database connection, beside the host's routes; and `TestLatch`, the
//! one-call Latch for another service's tests.

use actix_web::{App, HttpServer, web};
use latch::{EmbeddedLatch, Mount, Settings, TestLatch};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, access, assert_problem};

/// A host on port 0 with Latch at `/auth`; its base URL.
async fn host_with_latch_at_auth() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let settings = Settings::from_toml(
        &format!(
            "data_dir = {:?}\n[log]\nlevel = \"warn\"\n",
            dir.path().display().to_string()
        ),
        "test",
    )
    .unwrap();
    // The host's own pool: Latch adds its tables to the host's database.
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("host.db").display());
    let db = sea_orm::Database::connect(url).await.unwrap();
    let mount = Mount {
        path: "/auth".into(),
        public_url: format!("{base}/auth"),
    };
    let latch = EmbeddedLatch::new(&settings, db, mount).await.unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .service(latch.scope())
            .route("/", web::get().to(|| async { "the host's page" }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (base, dir)
}

#[tokio::test]
async fn latch_mounted_under_auth_serves_beside_the_hosts_routes() {
    let (base, _dir) = host_with_latch_at_auth().await;
    // A browser on the host's pages: its cookies, and its Origin on every request.
    let client = crate::helpers::browser(&base);

    assert_eq!(
        client.get(&base).send().await.unwrap().text().await.unwrap(),
        "the host's page"
    );
    let signup = client
        .post(format!("{base}/auth/api/v1/auth/signup"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let login = client
        .post(format!("{base}/auth/api/v1/auth/login"))
        .json(&json!({ "login": "ada@example.com", "password": PASSWORD }))
        .send()
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

    // The cookie comes back to the mounted refresh route.
    let refreshed = client
        .post(format!("{base}/auth/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let me = client
        .get(format!("{base}/auth/api/v1/users/me"))
        .bearer_auth(access(&tokens))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);

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
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn test_latch_starts_with_one_call_and_makes_users() {
    let latch = TestLatch::start().await.unwrap();
    let ada = latch.user("ada@example.com").await.unwrap();
    let root = latch.superuser("root@example.com").await.unwrap();
    assert!(root.user.is_superuser && !ada.user.is_superuser);
    let me: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/users/me", latch.url()))
        .bearer_auth(&ada.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com");
}
