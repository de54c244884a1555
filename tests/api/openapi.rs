//! `/openapi.json` and the `/docs` UI on a running server. The document is the
//! same on every backend, so these run on SQLite only.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, spawn_app};

async fn app() -> TestApp {
    spawn_app(Backend::Sqlite).await.expect("SQLite is always there")
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "0190a4b2-0000-7000-8000-000000000000")
        .replace("{name}", "free")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_with_every_scheme() {
    let app = app().await;
    let doc = app.get_json("/openapi.json").await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for name in [
        "bearer",
        "access_cookie",
        "oauth2",
        "refresh_cookie",
        "introspection_client",
    ] {
        assert!(schemes.contains_key(name), "no security scheme {name}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/login"
    );
}

/// Every documented operation reaches a handler on the real server: asked
/// without credentials or a body, none answers the router's 404 or 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let app = app().await;
    let doc = app.get_json("/openapi.json").await;
    let client = reqwest::Client::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = client
                .request(method.clone(), app.url(&concrete(path)))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !(status == StatusCode::NOT_FOUND && body["detail"] == "There is nothing at this path."),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

/// A login's answer has exactly the properties the document says a token
/// response has, and a user exactly those of a user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_response_matches_its_schema() {
    let app = app().await;
    let doc = app.get_json("/openapi.json").await;
    let tokens = app.signup_and_login("ada@example.com").await;
    let schemas = &doc["components"]["schemas"];
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&tokens), keys(&schemas["TokenBody"]["properties"]));
    assert_eq!(keys(&tokens["user"]), keys(&schemas["UserBody"]["properties"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_ui_is_served_from_the_binary() {
    let app = app().await;
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let redirect = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let page = client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and stylesheet the page names is served here: nothing from the network.
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert!(assets.len() >= 2, "the page names its scripts and styles: {html}");
    for asset in assets {
        assert!(!asset.contains("://"), "the page loads {asset} from elsewhere");
        let url = app.url(&format!("/docs/{}", asset.trim_start_matches("./")));
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
    let initializer = client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
}
