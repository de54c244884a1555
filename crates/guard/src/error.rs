//! Refusals, answered with the problem+json bodies Latch itself sends.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Why a request was refused. Each variant is one status and `code`, as in
/// Latch's own API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No access token was sent: 401 `unauthenticated`.
    #[error("authentication required")]
    Unauthenticated,
    /// The token is malformed, forged, foreign or revoked: 401 `invalid_token`.
    #[error("invalid token")]
    InvalidToken,
    /// The token was Latch's but has expired: 401 `token_expired`.
    #[error("token expired")]
    TokenExpired,
    /// Authenticated, but this user may not do this: 403 `forbidden`.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The user's tier allows no more requests to this path yet: 429 `rate_limited`.
    #[error("rate limited: retry after {retry_after:?}")]
    RateLimited {
        /// Requests allowed per `window`.
        limit: u32,
        /// The window the limit is counted over.
        window: Duration,
        /// How long until a request can succeed.
        retry_after: Duration,
    },
    /// Latch could not be asked (its keys or introspection): 503 `auth_unavailable`.
    #[error("authentication is unavailable")]
    Unavailable,
    /// The service was built without a [`Guard`](crate::Guard) in its app data: 500.
    #[error("no latch_guard::Guard in the app data")]
    NotConfigured,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
}

impl GuardError {
    /// The stable machine-readable code, as Latch names it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::Forbidden(_) => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "auth_unavailable",
            Self::NotConfigured => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Unauthenticated => "This route needs an access token.".into(),
            Self::InvalidToken => "The token is invalid or has been revoked.".into(),
            Self::TokenExpired => "The token has expired.".into(),
            Self::Forbidden(why) => (*why).into(),
            Self::RateLimited { retry_after, .. } => {
                format!(
                    "Too many requests; retry in {} seconds.",
                    whole_seconds(*retry_after)
                )
            }
            Self::Unavailable => "Authentication is unavailable; retry shortly.".into(),
            Self::NotConfigured => "Something went wrong on our side.".into(),
        }
    }
}

impl ResponseError for GuardError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::InvalidToken | Self::TokenExpired => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let problem = Problem {
            kind: format!("urn:latch:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code(),
        };
        let mut response = HttpResponse::build(status);
        response
            .insert_header((header::CONTENT_TYPE, "application/problem+json"))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::Unauthenticated => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::InvalidToken | Self::TokenExpired => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
            }
            Self::RateLimited {
                limit,
                window,
                retry_after,
            } => {
                let wait = whole_seconds(*retry_after);
                response
                    .insert_header((header::RETRY_AFTER, wait))
                    .insert_header((RATELIMIT_LIMIT, *limit))
                    .insert_header((RATELIMIT_REMAINING, 0))
                    .insert_header((RATELIMIT_RESET, wait));
                if let Ok(policy) = HeaderValue::from_str(&format!("{limit};w={}", whole_seconds(*window))) {
                    response.insert_header((RATELIMIT_POLICY, policy));
                }
            }
            Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, 1));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

/// The IETF draft's RateLimit fields, as Latch sends them.
const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// A wait in whole seconds, rounded up, never zero.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}
