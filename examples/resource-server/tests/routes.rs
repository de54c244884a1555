//! The notes service against a real Latch, started in the test with one call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use actix_web::{App, HttpServer};
use latch::TestLatch;
use latch_guard::{Guard, TierLimits};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CLIENT_ID: &str = "notes";
const CLIENT_SECRET: &str = "notes-service-secret-0123456789abcdef";

/// A Latch with the notes service's introspection client, and the service
/// on port 0 trusting it.
async fn latch_and_notes() -> (TestLatch, String) {
    let latch = TestLatch::start_with(&[
        ("introspection.client_id", CLIENT_ID),
        ("introspection.client_secret", CLIENT_SECRET),
    ])
    .await
    .unwrap();
    let guard = Guard::jwks(latch.url())
        .introspection(CLIENT_ID, CLIENT_SECRET)
        .tier_limits(TierLimits::from_latch(Duration::from_secs(60)))
        .build()
        .unwrap();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(guard.clone())
            .configure(latch_example_resource_server::routes)
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let notes = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    (latch, notes)
}

async fn call(method: reqwest::Method, url: String, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn code(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn each_route_lets_in_whom_it_should() {
    let (latch, notes) = latch_and_notes().await;
    let ada = latch.user("ada@example.com").await.unwrap();
    let bob = latch.user("bob@example.com").await.unwrap();
    let root = latch.superuser("root@example.com").await.unwrap();
    let (get, patch) = (reqwest::Method::GET, reqwest::Method::PATCH);

    assert_eq!(
        call(get.clone(), format!("{notes}/"), None).await.status(),
        StatusCode::OK
    );

    assert_eq!(
        code(call(get.clone(), format!("{notes}/me"), None).await).await,
        (StatusCode::UNAUTHORIZED, "unauthenticated".into())
    );
    let me: Value = call(get.clone(), format!("{notes}/me"), Some(&ada.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com");

    let adas_note = format!("{notes}/notes/{}", ada.user.id);
    assert_eq!(
        call(patch.clone(), adas_note.clone(), Some(&ada.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        call(patch.clone(), adas_note.clone(), Some(&root.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        code(call(patch, adas_note, Some(&bob.access_token)).await).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );

    let stats = format!("{notes}/admin/stats");
    assert_eq!(
        code(call(get.clone(), stats.clone(), Some(&ada.access_token)).await).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    assert_eq!(
        call(get, stats, Some(&root.access_token)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_free_tier_runs_out_of_reports_before_the_pro_tier() {
    let (latch, notes) = latch_and_notes().await;
    let root = latch.superuser("root@example.com").await.unwrap();
    let admin = |method: reqwest::Method, path: String, body: Value| {
        let url = format!("{}{path}", latch.url());
        let token = root.access_token.clone();
        async move {
            reqwest::Client::new()
                .request(method, url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let reports = |limit: u32| json!([{ "path": "/reports", "limit": limit, "period_seconds": 3600 }]);
    let free = admin(
        reqwest::Method::PATCH,
        "/api/v1/admin/tiers/free".into(),
        json!({ "limits": reports(2) }),
    )
    .await;
    assert_eq!(free.status(), StatusCode::OK);
    let pro = admin(
        reqwest::Method::POST,
        "/api/v1/admin/tiers".into(),
        json!({ "name": "pro", "limits": reports(4) }),
    )
    .await;
    assert_eq!(pro.status(), StatusCode::CREATED);
    let bob = latch.user("bob@example.com").await.unwrap();
    let promote = admin(
        reqwest::Method::PATCH,
        format!("/api/v1/admin/users/{}", bob.user.id),
        json!({ "tier": "pro" }),
    )
    .await;
    assert_eq!(promote.status(), StatusCode::OK);
    let bob = latch.login("bob@example.com").await.unwrap();
    let ada = latch.user("ada@example.com").await.unwrap();

    let report = |token: String, n: u32| {
        let url = format!("{notes}/reports/{n}");
        async move { call(reqwest::Method::GET, url, Some(&token)).await }
    };
    for n in 0..2 {
        assert_eq!(report(ada.access_token.clone(), n).await.status(), StatusCode::OK);
    }
    let refused = report(ada.access_token.clone(), 2).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        code(refused).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
    for n in 0..4 {
        assert_eq!(
            report(bob.access_token.clone(), n).await.status(),
            StatusCode::OK,
            "pro report {n}"
        );
    }
    assert_eq!(
        report(bob.access_token.clone(), 4).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
