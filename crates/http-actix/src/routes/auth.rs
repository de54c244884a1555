//! `/api/v1/auth/*`: signup, login (and its second step), refresh, session
//! check, logout.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use latch_core::{LoginRequest, LogoutScope, TokenPair};
use secrecy::SecretString;

use crate::body::{ApiJson, media_type, parse_form, parse_json, parse_optional_json};
use crate::dto::{
    LoginForm, LoginJson, LogoutQuery, MfaLoginBody, RefreshBody, SignupBody, TokenBody, UserBody,
};
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
#[utoipa::path(
    post,
    path = "/api/v1/auth/signup",
    tag = "auth",
    request_body = SignupBody,
    responses((status = 201, description = "The new user.", body = UserBody)),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    description = "`login` is an email or a username (`email` and `username` are accepted as its name). \
                   Sets the access and refresh cookies too. A request from a browser page must come \
                   from an allowed origin or Latch's own.\n\n\
                   For an account with a second factor, a correct password gets 401 `mfa_required` \
                   instead, with no cookies: its `mfa_token` and a code complete the login at \
                   `POST /api/v1/auth/login/mfa`.",
    request_body(content(
        (LoginJson = "application/json"),
        (LoginForm = "application/x-www-form-urlencoded"),
    )),
    responses((status = 200, description = "Tokens, and the user; cookies set.", body = TokenBody)),
)]
pub(crate) async fn login(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    check_login_origin(&req, &state.security)?;
    let (login, password) = login_credentials(&req, &body)?;
    let request = LoginRequest {
        login,
        password,
        client: client_of(&req, &state),
    };
    let pair = state.auth.login(request).await?;
    Ok(token_response(&state, pair))
}

/// `POST /auth/login/mfa`: the second step of a login for an account with
/// a second factor. JSON only; the same origin rule as the first step.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login/mfa",
    tag = "auth",
    description = "Completes a login that answered 401 `mfa_required`: its `mfa_token` and a code from the \
                   authenticator app, or a recovery code (each recovery code works once). The token allows \
                   a few wrong codes, then must be replaced by logging in again. Sets the access and \
                   refresh cookies; the access token's `amr` is `[\"pwd\", \"otp\"]`. A request from a \
                   browser page must come from an allowed origin or Latch's own.",
    request_body = MfaLoginBody,
    responses((status = 200, description = "Tokens, and the user; cookies set.", body = TokenBody)),
)]
pub(crate) async fn login_mfa(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Before the body is read, as for the first step: a foreign page must
    // not finish a login into the attacker's account either.
    check_login_origin(&req, &state.security)?;
    let body: MfaLoginBody = parse_json(&req, &body)?;
    let pair = state
        .auth
        .complete_mfa_login(body.into_request(client_of(&req, &state)))
        .await?;
    Ok(token_response(&state, pair))
}

/// The login and password of a login body: the OAuth2 password form, or JSON.
pub(crate) fn login_credentials(req: &HttpRequest, body: &[u8]) -> Result<(String, SecretString), ApiError> {
    match media_type(req).as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let form: LoginForm = parse_form(req, body)?;
            if form.grant_type.as_deref().is_some_and(|g| g != "password") {
                return Err(ApiError::invalid("grant_type", "grant_type must be \"password\""));
            }
            Ok((form.username, form.password))
        }
        _ => {
            let json: LoginJson = parse_json(req, body)?;
            Ok((json.login, json.password))
        }
    }
}

/// `POST /auth/refresh`: the token from the JSON body, else the cookie.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    description = "Rotates the refresh token (from the body, else the cookie): a new access and refresh \
                   token; the old refresh token is spent. Presenting a spent one after the grace window \
                   ends its session.",
    request_body(content = Option<RefreshBody>, content_type = "application/json"),
    security((), ("refresh_cookie" = [])),
    responses((status = 200, description = "New tokens; cookies set.", body = TokenBody)),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/auth/session",
    tag = "auth",
    description = "Check-and-rotate for a live session: the same access token while it has enough time \
                   left, else a fresh one for the same session. No refresh token in the answer.",
    security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    responses((status = 200, description = "The session's access token and user.", body = TokenBody)),
)]
pub(crate) async fn session(state: web::Data<HttpState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let token = access_token(&req, &state)?.ok_or(ApiError::Unauthenticated)?;
    let pair = state.auth.check_session(&token).await?;
    Ok(token_response(&state, pair))
}

/// `POST /auth/logout?scope=local|others|global` → 204.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    description = "Ends this session (`local`, the default), the caller's other sessions (`others`) or \
                   all of them (`global`). Idempotent; clears the cookies when this session ends.",
    params(LogoutQuery),
    security((), ("bearer" = []), ("oauth2" = []), ("access_cookie" = []), ("refresh_cookie" = [])),
    responses((status = 204, description = "Logged out.")),
)]
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
