//! Reading request bodies: content-type checks, size limits and parse
//! errors that name the field, all mapped to `ApiError` here.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::{ApiError, HttpState};

/// Auth routes accept at most this many bytes of body.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// The body's media type, lower-cased and without parameters.
pub(crate) fn media_type(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

/// Field names whose values never reach a log, even with body logging on.
const SECRET_FIELDS: [&str; 3] = ["password", "token", "secret"];

/// Logs `bytes` at debug level when `log.request_bodies` is on, with every
/// secret-looking field (`password`, `new_password`, `refresh_token`, ...)
/// replaced. A body that is not JSON or a form is not logged at all.
fn log_body(req: &HttpRequest, bytes: &[u8], form: bool) {
    let enabled = req
        .app_data::<web::Data<HttpState>>()
        .is_some_and(|state| state.log_request_bodies);
    if !enabled || !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let redacted = if form {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
            .ok()
            .map(|pairs| {
                let pairs: serde_json::Map<String, serde_json::Value> = pairs
                    .into_iter()
                    .map(|(key, value)| {
                        let value = if is_secret(&key) { REDACTED.into() } else { value };
                        (key, serde_json::Value::String(value))
                    })
                    .collect();
                serde_json::Value::Object(pairs)
            })
    } else {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .map(redact)
    };
    if let Some(body) = redacted {
        tracing::debug!(method = %req.method(), path = req.path(), %body, "request body");
    }
}

/// What a logged secret is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// Whether a field or parameter name looks like it holds a secret: one of
/// [`SECRET_FIELDS`], or a second-factor or OAuth-style `code`
/// (`recovery_code`, ...).
pub(crate) fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_FIELDS.iter().any(|secret| key.contains(secret)) || key == "code" || key.ends_with("_code")
}

fn redact(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = if is_secret(&key) {
                        Value::from(REDACTED)
                    } else {
                        redact(value)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Parses `bytes` as JSON `T`, requiring a JSON content type.
pub(crate) fn parse_json<T: DeserializeOwned>(req: &HttpRequest, bytes: &[u8]) -> Result<T, ApiError> {
    if !media_type(req).is_some_and(|m| is_json(&m)) {
        return Err(ApiError::UnsupportedMediaType("application/json"));
    }
    log_body(req, bytes, false);
    // Syntax before fields: a truncated body is malformed (400), whatever
    // the fields read so far would have said.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|err| {
        ApiError::MalformedBody(format!("Malformed JSON: {}", strip_position(&err.to_string())))
    })?;
    // Every body of this API is an object; serde would also read a struct
    // from an array, by position (`[null, null]` as a PATCH).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::Validation {
            field: None,
            detail: "The body must be a JSON object.".into(),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(json_error)?;
    deserializer
        .end()
        .map_err(|err| ApiError::MalformedBody(format!("Malformed JSON: {err}")))?;
    Ok(value)
}

/// Parses an optional JSON body: an empty body is `None`.
pub(crate) fn parse_optional_json<T: DeserializeOwned>(
    req: &HttpRequest,
    bytes: &[u8],
) -> Result<Option<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(req, bytes).map(Some)
}

/// Parses an `application/x-www-form-urlencoded` body (flat structs only).
pub(crate) fn parse_form<T: DeserializeOwned>(req: &HttpRequest, bytes: &[u8]) -> Result<T, ApiError> {
    log_body(req, bytes, true);
    serde_urlencoded::from_bytes(bytes).map_err(|err| validation(".".into(), err.to_string()))
}

fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.is_data() {
        validation(path, strip_position(&inner.to_string()))
    } else {
        ApiError::MalformedBody(format!("Malformed JSON: {inner}"))
    }
}

/// A 422 naming the field: the path for type errors, or the unknown field itself.
fn validation(path: String, message: String) -> ApiError {
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned);
    let field = unknown.or_else(|| (path != ".").then_some(path)).or_else(|| {
        message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    });
    let detail = match &field {
        Some(field) => format!("{field}: {message}"),
        None => message,
    };
    ApiError::Validation { field, detail }
}

/// serde_json appends " at line 1 column 12"; clients need the field, not that.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Reads the raw body within [`BODY_LIMIT`] (set as the app's `PayloadConfig`).
async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, ApiError> {
    web::Bytes::from_request(req, payload).await.map_err(|err| {
        if err.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::MalformedBody("The request body could not be read.".into())
        }
    })
}

/// A JSON body of type `T`, with Latch's error mapping.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_body(&req, &mut payload).await?;
            parse_json(&req, &bytes).map(ApiJson)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unknown_fields() {
        let ApiError::Validation { field, .. } = validation(
            ".".into(),
            "unknown field `is_superuser`, expected one of `email`".into(),
        ) else {
            unreachable!()
        };
        assert_eq!(field.as_deref(), Some("is_superuser"));
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let body = serde_json::json!({
            "email": "a@example.com",
            "password": "hunter2hunter2",
            "nested": { "new_password": "x", "Refresh_Token": "latch_rt_y", "name": "Ada" },
            "list": [{ "client_secret": "z" }],
            "code": "123456",
            "mfa_token": "q3Zp0nV7",
        });
        let logged = redact(body).to_string();
        for secret in [
            "hunter2hunter2",
            "\"x\"",
            "latch_rt_y",
            "\"z\"",
            "123456",
            "q3Zp0nV7",
        ] {
            assert!(!logged.contains(secret), "{logged}");
        }
        assert!(
            logged.contains("a@example.com") && logged.contains("Ada"),
            "{logged}"
        );
    }

    #[test]
    fn strips_positions() {
        assert_eq!(
            strip_position("invalid type: integer `5`, expected a string at line 1 column 9"),
            "invalid type: integer `5`, expected a string"
        );
    }
}
