//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`).
//! Not part of the API: they run the login route's body parsing, which is
//! otherwise private, without a server or an `HttpState`.

use actix_web::ResponseError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::test::TestRequest;
use secrecy::ExposeSecret;

use crate::routes::auth::login_credentials;

/// What the login route read from a body.
#[derive(Debug)]
pub struct LoginFields {
    /// The email or username.
    pub login: String,
    /// The password, exposed: the fuzz target compares it with its input.
    pub password: String,
}

/// How the login route refused a body: the response the client would get.
#[derive(Debug)]
pub struct Refusal {
    /// The response's status code.
    pub status: u16,
    /// The response's `Content-Type`.
    pub content_type: Option<String>,
    /// The error as the server describes it.
    pub detail: String,
}

/// Parses `body` as `POST /api/v1/auth/login` does, sent with `content_type`
/// (no header when `None`). `None` when `content_type` is not a valid header
/// value, which no request that reaches a route carries.
pub fn login_body(content_type: Option<&[u8]>, body: &[u8]) -> Option<Result<LoginFields, Refusal>> {
    let mut request = TestRequest::post().uri("/api/v1/auth/login");
    if let Some(content_type) = content_type {
        let value = HeaderValue::from_bytes(content_type).ok()?;
        request = request.insert_header((header::CONTENT_TYPE, value));
    }
    let req = request.to_http_request();
    Some(match login_credentials(&req, body) {
        Ok((login, password)) => Ok(LoginFields {
            login,
            password: password.expose_secret().to_owned(),
        }),
        Err(err) => {
            let response = err.error_response();
            Err(Refusal {
                status: response.status().as_u16(),
                content_type: response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
                detail: err.to_string(),
            })
        }
    })
}
