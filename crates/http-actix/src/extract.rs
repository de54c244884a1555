//! Who is calling: the access token (Bearer header first, cookie second),
//! the authenticated principal, and the client's address and agent.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use latch_core::{Client, Principal};

use crate::security::check_csrf;
use crate::{ApiError, HttpState};

/// The access token a request carries, if any. Never read from the query string.
///
/// An `Authorization` header that is not a well-formed Bearer credential is an
/// error rather than a reason to fall back to the cookie. A token from the
/// cookie has passed the CSRF check.
pub(crate) fn access_token(req: &HttpRequest, state: &HttpState) -> Result<Option<String>, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(ApiError::InvalidToken);
        }
        return Ok(Some(token.to_owned()));
    }
    cookie(req, state, &state.cookies.access_name)
}

/// The refresh-token cookie, if any, once it has passed the CSRF check.
pub(crate) fn refresh_cookie(req: &HttpRequest, state: &HttpState) -> Result<Option<String>, ApiError> {
    cookie(req, state, &state.cookies.refresh_name)
}

/// A non-empty credential cookie. Browsers attach cookies to cross-site
/// requests too, so using one for a state change needs an allowed origin.
fn cookie(req: &HttpRequest, state: &HttpState, name: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = req
        .cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    check_csrf(req, &state.security)?;
    Ok(Some(value))
}

/// The app state; its absence is a wiring bug, reported as a 500.
pub(crate) fn state(req: &HttpRequest) -> Result<web::Data<HttpState>, ApiError> {
    req.app_data::<web::Data<HttpState>>().cloned().ok_or_else(|| {
        tracing::error!("HttpState is not registered");
        ApiError::Internal
    })
}

/// An authenticated caller: a valid access token of a live session.
pub(crate) struct Authenticated {
    pub(crate) principal: Principal,
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let token = access_token(&req, &state)?.ok_or(ApiError::Unauthenticated)?;
            let principal = state.auth.authenticate(&token).await?;
            Ok(Self { principal })
        })
    }
}

/// The client's IP (the socket peer, or as forwarded by a trusted proxy) and
/// `User-Agent`: rate-limit keys, and recorded with sessions and in the audit trail.
pub(crate) fn client_of(req: &HttpRequest, state: &HttpState) -> Client {
    Client {
        ip: state
            .security
            .trusted_proxies
            .client_ip(req)
            .map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}
