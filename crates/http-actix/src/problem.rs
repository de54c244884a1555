//! `ApiError`: every way a request can fail, and the one place that turns
//! each into an `application/problem+json` response with a stable `code`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use latch_core::{
    AccountError, AdminError, AuthenticateError, IntrospectError, LoginError, LogoutError, RefreshError,
    RevokeSessionError, SessionCheckError, SignupError, Unexpected, UpdateProfileError,
};
use latch_domain::ValidationError;
use latch_ports::{ErrorChain, RateLimited};
use serde::Serialize;

/// A failed request, as the client will see it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON or form body.
    #[error("{0}")]
    MalformedBody(String),
    /// A field is unknown, of the wrong type, or breaks a rule.
    #[error("{detail}")]
    Validation {
        /// The offending field, when known.
        field: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// A value breaks a named rule (password policy, ...); the body names it.
    #[error("{detail}")]
    BrokenRule {
        /// The offending field.
        field: &'static str,
        /// The rule, e.g. `too_common`.
        rule: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The body's content type is not the one this route reads (named).
    #[error("unsupported content type")]
    UnsupportedMediaType(&'static str),
    /// The body is over the route's limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Signup with an email that is taken.
    #[error("email taken")]
    EmailTaken,
    /// Signup or profile change with a username that is taken.
    #[error("username taken")]
    UsernameTaken,
    /// Login failed (any reason).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No credentials were sent.
    #[error("authentication required")]
    Unauthenticated,
    /// A resource server's client credentials are missing or wrong.
    #[error("invalid client")]
    InvalidClient,
    /// A token was sent and is not acceptable.
    #[error("invalid token")]
    InvalidToken,
    /// A token was sent and has expired.
    #[error("token expired")]
    TokenExpired,
    /// Authenticated, but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    /// A login, or a cookie-authenticated state change, from an origin that is not allowed.
    #[error("csrf check failed")]
    CsrfFailed,
    /// The change would leave no active superuser.
    #[error("last superuser")]
    LastSuperuser,
    /// A tier with this name exists.
    #[error("tier exists")]
    TierExists,
    /// Users still have this tier.
    #[error("tier in use")]
    TierInUse,
    /// A spent refresh token was replayed; its session is revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// Unknown route.
    #[error("not found")]
    NotFound,
    /// Too many attempts from this client or for this account.
    #[error("rate limited")]
    RateLimited(RateLimited),
    /// Hashing capacity exhausted.
    #[error("overloaded")]
    Overloaded,
    /// Our fault. The cause is logged, never sent.
    #[error("internal error")]
    Internal,
}

/// The IETF draft's RateLimit fields a 429 carries (CORS exposes them too).
pub(crate) const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// Attempts left in the window: always 0 on a refusal.
pub(crate) const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// Seconds until an attempt can succeed.
pub(crate) const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
/// `<limit>;w=<window seconds>`.
pub(crate) const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The RFC 9457 body.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.to_owned()),
            detail: detail.into(),
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::Validation { .. } | Self::BrokenRule { .. } => "validation_failed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::EmailTaken => "email_taken",
            Self::UsernameTaken => "username_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidClient => "invalid_client",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::Forbidden => "forbidden",
            Self::CsrfFailed => "csrf_failed",
            Self::LastSuperuser => "last_superuser",
            Self::TierExists => "tier_exists",
            Self::TierInUse => "tier_in_use",
            Self::NotFound => "not_found",
            Self::RateLimited(_) => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Internal => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::MalformedBody(detail) | Self::Validation { detail, .. } | Self::BrokenRule { detail, .. } => {
                detail.clone()
            }
            Self::UnsupportedMediaType(expected) => format!("Send the body as {expected}."),
            Self::PayloadTooLarge => "The request body is larger than this route accepts.".into(),
            Self::EmailTaken => "An account with this email already exists.".into(),
            Self::UsernameTaken => "This username is taken.".into(),
            Self::InvalidCredentials => "The login or password is incorrect.".into(),
            Self::Unauthenticated => "This route needs an access token.".into(),
            Self::InvalidClient => {
                "This route needs the introspection client's credentials (HTTP Basic).".into()
            }
            Self::InvalidToken => "The token is invalid or has been revoked.".into(),
            Self::TokenExpired => "The token has expired.".into(),
            Self::RefreshTokenReused => {
                "This refresh token was already used; the session has been ended. Log in again.".into()
            }
            Self::Forbidden => "Only superusers may do this.".into(),
            Self::CsrfFailed => {
                "Logins and requests authenticated by cookie must come from an allowed origin (Origin or Referer header)."
                    .into()
            }
            Self::LastSuperuser => "This would leave no active superuser.".into(),
            Self::TierExists => "A tier with this name already exists.".into(),
            Self::TierInUse => "Users still have this tier; move them to another tier first.".into(),
            Self::NotFound => "There is nothing at this path.".into(),
            Self::RateLimited(refusal) => format!(
                "Too many attempts; retry in {} seconds.",
                whole_seconds(refusal.retry_after)
            ),
            Self::Overloaded => "The server is busy; retry shortly.".into(),
            Self::Internal => "Something went wrong on our side.".into(),
        }
    }
}

/// Writes a problem response for `status` and `code` (also used for errors
/// raised outside our handlers: unknown routes, wrong methods).
pub(crate) fn problem_response(
    status: StatusCode,
    code: &str,
    detail: String,
    field: Option<&str>,
    rule: Option<&str>,
) -> HttpResponse {
    let problem = Problem {
        kind: format!("urn:latch:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        code,
        field,
        rule,
    };
    let body = serde_json::to_string(&problem).unwrap_or_default();
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::Validation { .. } | Self::BrokenRule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::EmailTaken
            | Self::UsernameTaken
            | Self::LastSuperuser
            | Self::TierExists
            | Self::TierInUse => StatusCode::CONFLICT,
            Self::Forbidden | Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::InvalidCredentials
            | Self::Unauthenticated
            | Self::InvalidClient
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (field, rule) = match self {
            Self::Validation { field, .. } => (field.as_deref(), None),
            Self::BrokenRule { field, rule, .. } => (Some(*field), Some(*rule)),
            _ => (None, None),
        };
        let mut response = problem_response(self.status_code(), self.code(), self.detail(), field, rule);
        let headers = response.headers_mut();
        match self {
            Self::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"latch\""),
                );
            }
            Self::InvalidToken | Self::TokenExpired | Self::RefreshTokenReused => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Self::RateLimited(refusal) => {
                // RFC 9110 Retry-After, plus the IETF draft's RateLimit fields so
                // clients can see the budget they ran out of.
                let wait = HeaderValue::from(whole_seconds(refusal.retry_after));
                headers.insert(header::RETRY_AFTER, wait.clone());
                headers.insert(RATELIMIT_LIMIT, refusal.limit.into());
                headers.insert(RATELIMIT_REMAINING, HeaderValue::from_static("0"));
                headers.insert(RATELIMIT_RESET, wait);
                let policy = format!("{};w={}", refusal.limit, whole_seconds(refusal.window));
                if let Ok(policy) = HeaderValue::from_str(&policy) {
                    headers.insert(RATELIMIT_POLICY, policy);
                }
            }
            Self::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// A wait in whole seconds, rounded up: a client that waits this long will be let in.
fn whole_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Logs an unexpected failure and hides it from the client.
fn internal(err: Unexpected) -> ApiError {
    tracing::error!(error = %ErrorChain(&err), "request failed unexpectedly");
    ApiError::Internal
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        match err.rule {
            Some(rule) => Self::BrokenRule {
                field: err.field,
                rule,
                detail: err.to_string(),
            },
            None => Self::invalid(err.field, err.to_string()),
        }
    }
}

impl From<SignupError> for ApiError {
    fn from(err: SignupError) -> Self {
        match err {
            SignupError::Invalid(err) => err.into(),
            SignupError::EmailTaken => Self::EmailTaken,
            SignupError::UsernameTaken => Self::UsernameTaken,
            SignupError::RateLimited(refusal) => Self::RateLimited(refusal),
            SignupError::Overloaded => Self::Overloaded,
            SignupError::Unexpected(err) => internal(err),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::InvalidCredentials => Self::InvalidCredentials,
            LoginError::RateLimited(refusal) => Self::RateLimited(refusal),
            LoginError::Overloaded => Self::Overloaded,
            LoginError::Unexpected(err) => internal(err),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Invalid => Self::InvalidToken,
            RefreshError::Reused => Self::RefreshTokenReused,
            RefreshError::RateLimited(refusal) => Self::RateLimited(refusal),
            RefreshError::Unexpected(err) => internal(err),
        }
    }
}

impl From<AuthenticateError> for ApiError {
    fn from(err: AuthenticateError) -> Self {
        match err {
            AuthenticateError::Expired => Self::TokenExpired,
            AuthenticateError::Invalid => Self::InvalidToken,
            AuthenticateError::Unexpected(err) => internal(err),
        }
    }
}

impl From<IntrospectError> for ApiError {
    fn from(err: IntrospectError) -> Self {
        match err {
            IntrospectError::ClientRefused => Self::InvalidClient,
            IntrospectError::RateLimited(refusal) => Self::RateLimited(refusal),
            IntrospectError::Unexpected(err) => internal(err),
        }
    }
}

impl From<SessionCheckError> for ApiError {
    fn from(err: SessionCheckError) -> Self {
        match err {
            SessionCheckError::Unauthenticated(err) => err.into(),
            SessionCheckError::Unexpected(err) => internal(err),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(err: LogoutError) -> Self {
        match err {
            LogoutError::Unauthenticated => Self::Unauthenticated,
            LogoutError::Unexpected(err) => internal(err),
        }
    }
}

impl From<UpdateProfileError> for ApiError {
    fn from(err: UpdateProfileError) -> Self {
        match err {
            UpdateProfileError::Invalid(err) => err.into(),
            UpdateProfileError::UsernameTaken => Self::UsernameTaken,
            UpdateProfileError::RateLimited(refusal) => Self::RateLimited(refusal),
            UpdateProfileError::Unexpected(err) => internal(err),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::WrongPassword { field } => Self::invalid(field, format!("{field}: is incorrect")),
            AccountError::Invalid(err) => err.into(),
            AccountError::LastSuperuser => Self::LastSuperuser,
            AccountError::RateLimited(refusal) => Self::RateLimited(refusal),
            AccountError::Overloaded => Self::Overloaded,
            AccountError::Unexpected(err) => internal(err),
        }
    }
}

impl From<RevokeSessionError> for ApiError {
    fn from(err: RevokeSessionError) -> Self {
        match err {
            RevokeSessionError::NotFound => Self::NotFound,
            RevokeSessionError::Unexpected(err) => internal(err),
        }
    }
}

impl From<Unexpected> for ApiError {
    fn from(err: Unexpected) -> Self {
        internal(err)
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Forbidden => Self::Forbidden,
            AdminError::NotFound => Self::NotFound,
            AdminError::LastSuperuser => Self::LastSuperuser,
            AdminError::Invalid(err) => err.into(),
            AdminError::UsernameTaken => Self::UsernameTaken,
            AdminError::TierExists => Self::TierExists,
            AdminError::TierInUse => Self::TierInUse,
            AdminError::Unexpected(err) => internal(err),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use actix_web::body::MessageBody;

    use super::*;

    fn refusal() -> RateLimited {
        RateLimited {
            retry_after: Duration::from_millis(2_500),
            limit: 30,
            window: Duration::from_secs(60),
        }
    }

    /// Headers a response must carry, by name.
    type Headers = Vec<(&'static str, &'static str)>;

    /// Every error: its status, its code, and the headers it must carry.
    fn contract() -> Vec<(ApiError, StatusCode, &'static str, Headers)> {
        let bearer = vec![("www-authenticate", "Bearer error=\"invalid_token\"")];
        vec![
            (
                ApiError::MalformedBody("bad".into()),
                StatusCode::BAD_REQUEST,
                "malformed_body",
                vec![],
            ),
            (
                ApiError::invalid("email", "bad"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                vec![],
            ),
            (
                ApiError::BrokenRule {
                    field: "password",
                    rule: "too_common",
                    detail: "bad".into(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                vec![],
            ),
            (
                ApiError::UnsupportedMediaType("application/json"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                vec![],
            ),
            (
                ApiError::PayloadTooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                vec![],
            ),
            (ApiError::EmailTaken, StatusCode::CONFLICT, "email_taken", vec![]),
            (
                ApiError::UsernameTaken,
                StatusCode::CONFLICT,
                "username_taken",
                vec![],
            ),
            (
                ApiError::InvalidCredentials,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                vec![],
            ),
            (
                ApiError::Unauthenticated,
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                vec![("www-authenticate", "Bearer")],
            ),
            (
                ApiError::InvalidClient,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                vec![("www-authenticate", "Basic realm=\"latch\"")],
            ),
            (
                ApiError::InvalidToken,
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                bearer.clone(),
            ),
            (
                ApiError::TokenExpired,
                StatusCode::UNAUTHORIZED,
                "token_expired",
                bearer.clone(),
            ),
            (
                ApiError::RefreshTokenReused,
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                bearer,
            ),
            (ApiError::Forbidden, StatusCode::FORBIDDEN, "forbidden", vec![]),
            (ApiError::CsrfFailed, StatusCode::FORBIDDEN, "csrf_failed", vec![]),
            (
                ApiError::LastSuperuser,
                StatusCode::CONFLICT,
                "last_superuser",
                vec![],
            ),
            (ApiError::TierExists, StatusCode::CONFLICT, "tier_exists", vec![]),
            (ApiError::TierInUse, StatusCode::CONFLICT, "tier_in_use", vec![]),
            (ApiError::NotFound, StatusCode::NOT_FOUND, "not_found", vec![]),
            (
                ApiError::RateLimited(refusal()),
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                vec![
                    ("retry-after", "3"),
                    ("ratelimit-limit", "30"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", "3"),
                    ("ratelimit-policy", "30;w=60"),
                ],
            ),
            (
                ApiError::Overloaded,
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                vec![("retry-after", "1")],
            ),
            (
                ApiError::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                vec![],
            ),
        ]
    }

    #[test]
    fn every_error_has_its_status_code_body_and_headers() {
        for (error, status, code, headers) in contract() {
            let response = error.error_response();
            assert_eq!(response.status(), status, "{code}");
            let got = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            assert_eq!(
                got("content-type").as_deref(),
                Some("application/problem+json"),
                "{code}"
            );
            assert_eq!(got("cache-control").as_deref(), Some("no-store"), "{code}");
            for (name, value) in headers {
                assert_eq!(got(name).as_deref(), Some(value), "{code}: {name}");
            }
            let body = response.into_body().try_into_bytes().unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["code"], code);
            assert_eq!(body["status"], status.as_u16());
            assert_eq!(body["type"], format!("urn:latch:problem:{code}"));
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{code}");
        }
    }

    #[test]
    fn a_broken_rule_names_its_field_and_rule() {
        let error = ApiError::BrokenRule {
            field: "password",
            rule: "too_common",
            detail: "password: is too common".into(),
        };
        let body = error.error_response().into_body().try_into_bytes().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (body["field"].as_str(), body["rule"].as_str()),
            (Some("password"), Some("too_common"))
        );
    }

    #[test]
    fn an_internal_error_tells_the_client_nothing() {
        let error = internal(Unexpected::new("connection refused to 10.0.0.5:5432"));
        let body = error.error_response().into_body().try_into_bytes().unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("10.0.0.5"));
    }
}
