//! `/api/v1/auth/*`: signup, login, refresh, session check, logout.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use latch_core::{LoginRequest, LogoutScope, TokenPair};

use crate::body::{ApiJson, media_type, parse_form, parse_json, parse_optional_json};
use crate::dto::{LoginForm, LoginJson, LogoutQuery, RefreshBody, SignupBody, TokenBody, UserBody};
use crate::extract::{access_token, client_of, refresh_cookie};
use crate::security::check_login_origin;
use crate::{ApiError, HttpState};

/// The token response, with both cookies set. `Cache-Control: no-store` is on
/// every response; RFC 6749 §5.1 asks token responses for `Pragma: no-cache`
/// too, for HTTP/1.0 caches.
fn token_response(state: &HttpState, pair: TokenPair) -> HttpResponse {
    let now = state.auth.now();
    let mut response = HttpResponse::Ok();
    response.insert_header((header::PRAGMA, "no-cache"));
    state.cookies.set(&mut response, &pair, now);
    response.json(TokenBody::new(pair, now))
}

/// `POST /auth/signup` → 201 user.
pub(crate) async fn signup(
    state: web::Data<HttpState>,
    req: HttpRequest,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .auth
        .signup(body.into_request(client_of(&req, &state)))
        .await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
}

/// `POST /auth/login`: JSON `{login, password}` or the OAuth2 password form,
/// from a page of an allowed origin or from a client that names no page.
pub(crate) async fn login(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    check_login_origin(&req, &state.security)?;
    let (login, password) = match media_type(&req).as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let form: LoginForm = parse_form(&req, &body)?;
            if form.grant_type.as_deref().is_some_and(|g| g != "password") {
                return Err(ApiError::invalid("grant_type", "grant_type must be \"password\""));
            }
            (form.username, form.password)
        }
        _ => {
            let json: LoginJson = parse_json(&req, &body)?;
            (json.login, json.password)
        }
    };
    let request = LoginRequest {
        login,
        password,
        client: client_of(&req, &state),
    };
    let pair = state.auth.login(request).await?;
    Ok(token_response(&state, pair))
}

/// `POST /auth/refresh`: the token from the JSON body, else the cookie.
pub(crate) async fn refresh(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let from_body = parse_optional_json::<RefreshBody>(&req, &body)?.and_then(|b| b.refresh_token);
    let token = from_body
        .map_or_else(|| refresh_cookie(&req, &state), |token| Ok(Some(token)))?
        .ok_or(ApiError::Unauthenticated)?;
    let pair = state.auth.refresh(&token, &client_of(&req, &state)).await?;
    Ok(token_response(&state, pair))
}

/// `POST /auth/session`: Next-Auth style check-and-rotate of an access token.
pub(crate) async fn session(state: web::Data<HttpState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let token = access_token(&req, &state)?.ok_or(ApiError::Unauthenticated)?;
    let pair = state.auth.check_session(&token).await?;
    Ok(token_response(&state, pair))
}

/// `POST /auth/logout?scope=local|others|global` → 204.
pub(crate) async fn logout(
    state: web::Data<HttpState>,
    req: HttpRequest,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = match query.into_inner().scope.as_deref() {
        None | Some("local") => LogoutScope::Local,
        Some("others") => LogoutScope::Others,
        Some("global") => LogoutScope::Global,
        Some(_) => {
            return Err(ApiError::invalid(
                "scope",
                "scope must be local, others or global",
            ));
        }
    };
    // A malformed Authorization header must not stop a local logout; a
    // cross-site one (failed CSRF check) must not end the session.
    let access = match access_token(&req, &state) {
        Err(ApiError::CsrfFailed) => return Err(ApiError::CsrfFailed),
        other => other.ok().flatten(),
    };
    let refresh = refresh_cookie(&req, &state)?;
    let outcome = state
        .auth
        .logout(access.as_deref(), refresh.as_deref(), scope)
        .await?;
    let mut response = HttpResponse::NoContent();
    if outcome.ended_current {
        state.cookies.clear(&mut response);
    }
    Ok(response.finish())
}
