//! Users imported with the hashes a FastAPI/Django app stored (bcrypt, Django
//! and passlib PBKDF2, written by the real Python libraries) log in over
//! HTTP, and their hashes are replaced by argon2id on the way.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

crate::on_both_backends!(
    imported_legacy_hashes_log_in_and_are_rehashed,
    a_wrong_password_against_an_imported_hash_fails_and_keeps_it,
);

/// A hash from `tests/fixtures/legacy-hashes.json` and the password behind it.
struct Legacy {
    scheme: String,
    password: String,
    hash: String,
}

fn fixtures() -> Vec<Legacy> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/legacy-hashes.json");
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let field = |entry: &Value, name: &str| entry[name].as_str().unwrap().to_owned();
    all.iter()
        .map(|entry| Legacy {
            scheme: field(entry, "scheme"),
            password: field(entry, "password"),
            hash: field(entry, "hash"),
        })
        .collect()
}

fn email(index: usize) -> String {
    format!("legacy{index}@example.com")
}

/// Imports every fixture as `legacy{i}@example.com`.
async fn import_fixtures(app: &TestApp, fixtures: &[Legacy]) {
    let lines: Vec<String> = fixtures
        .iter()
        .enumerate()
        .map(|(i, legacy)| json!({ "email": email(i), "password_hash": legacy.hash }).to_string())
        .collect();
    let report = app.import_users(&lines).await;
    assert_eq!(report.rejected, vec![]);
    assert_eq!(report.imported, fixtures.len() as u64);
}

async fn imported_legacy_hashes_log_in_and_are_rehashed(app: TestApp) {
    let fixtures = fixtures();
    assert!(
        ["bcrypt", "django_pbkdf2_sha256", "passlib_pbkdf2_sha256"]
            .iter()
            .all(|scheme| fixtures.iter().any(|f| f.scheme == *scheme)),
        "the fixture file lost a scheme"
    );
    import_fixtures(&app, &fixtures).await;
    for (i, legacy) in fixtures.iter().enumerate() {
        let email = email(i);
        assert_eq!(app.stored_password_hash(&email).await, legacy.hash);
        let response = app.login(&email, &legacy.password).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}: {}",
            legacy.scheme,
            legacy.hash
        );
        let rehashed = app.stored_password_hash(&email).await;
        assert!(
            rehashed.starts_with("$argon2id$"),
            "{} not rehashed: {rehashed}",
            legacy.scheme
        );
        let again = app.login(&email, &legacy.password).await;
        assert_eq!(again.status(), StatusCode::OK, "{} after rehash", legacy.scheme);
        assert_eq!(
            app.stored_password_hash(&email).await,
            rehashed,
            "a current hash was rehashed again"
        );
    }
}

async fn a_wrong_password_against_an_imported_hash_fails_and_keeps_it(app: TestApp) {
    let fixtures = fixtures();
    import_fixtures(&app, &fixtures).await;
    for (i, legacy) in fixtures.iter().enumerate() {
        let email = email(i);
        let response = app.login(&email, "not the password at all").await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        assert_eq!(
            app.stored_password_hash(&email).await,
            legacy.hash,
            "{}: rehashed without a match",
            legacy.scheme
        );
    }
}
