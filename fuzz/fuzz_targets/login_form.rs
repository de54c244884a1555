//! The body parsing of `POST /api/v1/auth/login`, JSON and the OAuth2
//! password form, as the route runs it (`latch_http::fuzzing::login_body`).
//!
//! An input is `content type \0 body`, or a body sent without a content
//! type. A refusal is always a client error (4xx) with a problem+json body,
//! never a 500 or a panic; what is accepted is exactly the login and password
//! the body holds.

#![no_main]

use latch_http::fuzzing::{LoginFields, login_body};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|&b| b == 0) {
        Some(at) => (Some(&data[..at]), &data[at + 1..]),
        None => (None, data),
    };
    let Some(outcome) = login_body(content_type, body) else {
        return;
    };
    match outcome {
        Ok(fields) if is_form(content_type) => check_form(body, &fields),
        Ok(fields) => check_json(body, &fields),
        Err(refusal) => {
            assert!((400..500).contains(&refusal.status), "{refusal:?}");
            assert_eq!(
                refusal.content_type.as_deref(),
                Some("application/problem+json"),
                "{refusal:?}"
            );
        }
    }
});

/// The route's rule: the media type, without parameters, ignoring case.
fn is_form(content_type: Option<&[u8]>) -> bool {
    content_type
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn check_form(body: &[u8], fields: &LoginFields) {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).expect("an accepted form parses");
    let value = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value);
    assert_eq!(value("username"), Some(&fields.login), "{pairs:?}");
    assert_eq!(value("password"), Some(&fields.password), "{pairs:?}");
    assert!(
        value("grant_type").is_none_or(|grant| grant == "password"),
        "{pairs:?}"
    );
}

fn check_json(body: &[u8], fields: &LoginFields) {
    let value: Value = serde_json::from_slice(body).expect("an accepted body is JSON");
    let object = value.as_object().expect("an accepted body is an object");
    let logins: Vec<&Value> = ["login", "email", "username"]
        .iter()
        .filter_map(|name| object.get(*name))
        .collect();
    assert_eq!(logins, [&Value::String(fields.login.clone())], "{value}");
    assert_eq!(
        object.get("password"),
        Some(&Value::String(fields.password.clone())),
        "{value}"
    );
    assert_eq!(object.len(), 2, "unknown fields are refused: {value}");
}
