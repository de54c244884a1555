//! What resource servers ask Latch: the discovery document, token
//! introspection (RFC 7662) and the tiers' limits.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latch_core::{ClientCredentials, Introspection};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::{media_type, parse_form};
use crate::dto::{ItemsBody, TierBody};
use crate::extract::client_of;
use crate::{ApiError, HttpState};

/// Where the introspection route lives, below the public URL.
const INTROSPECTION_PATH: &str = "/api/v1/auth/introspect";
/// Where the token (login) route lives, below the public URL.
const TOKEN_PATH: &str = "/api/v1/auth/login";
/// Where the public keys live, below the public URL.
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// `GET /.well-known/openid-configuration`: where a resource server finds
/// the keys and the introspection route, and what the tokens look like.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "resource servers",
    responses((status = 200, description = "Where the keys and the introspection route are, and what tokens look like.", body = Discovery)))]
pub(crate) async fn discovery(state: web::Data<HttpState>) -> HttpResponse {
    let issuer = state.auth.token_issuer();
    let base = &state.public_url;
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(Discovery {
            issuer: issuer.issuer,
            jwks_uri: format!("{base}{JWKS_PATH}"),
            token_endpoint: format!("{base}{TOKEN_PATH}"),
            introspection_endpoint: format!("{base}{INTROSPECTION_PATH}"),
            grant_types_supported: ["password"],
            token_endpoint_auth_methods_supported: ["none"],
            introspection_endpoint_auth_methods_supported: ["client_secret_basic"],
            access_token_signing_alg_values_supported: [issuer.algorithm],
            access_token_audience: issuer.audience,
        })
}

/// The discovery document (the members of OpenID Connect Discovery that
/// apply to Latch).
#[derive(Serialize, ToSchema)]
pub(crate) struct Discovery {
    /// The `iss` of every access token.
    issuer: String,
    /// The public keys.
    jwks_uri: String,
    /// The login route (OAuth2 password grant).
    token_endpoint: String,
    /// Token introspection (RFC 7662).
    introspection_endpoint: String,
    /// `["password"]`.
    grant_types_supported: [&'static str; 1],
    /// `["none"]`.
    token_endpoint_auth_methods_supported: [&'static str; 1],
    /// `["client_secret_basic"]`.
    introspection_endpoint_auth_methods_supported: [&'static str; 1],
    /// The algorithm access tokens are signed with.
    access_token_signing_alg_values_supported: [&'static str; 1],
    /// The `aud` of every access token.
    access_token_audience: String,
}

/// The introspection request: `token`, and the optional hint RFC 7662 allows.
#[derive(Deserialize, ToSchema)]
pub(crate) struct IntrospectForm {
    /// An access token.
    token: String,
    #[allow(dead_code)] // Accepted and ignored: only access tokens are ever active.
    token_type_hint: Option<String>,
}

/// An active token's answer: RFC 7662 members plus Latch's claims, the
/// user-facing ones as the user is now.
#[derive(Serialize, ToSchema)]
pub(crate) struct ActiveToken<'a> {
    active: bool,
    token_type: &'static str,
    sub: String,
    sid: String,
    jti: String,
    iat: i64,
    exp: i64,
    iss: &'a str,
    aud: &'a str,
    email: &'a str,
    username: Option<&'a str>,
    tier: &'a str,
    is_superuser: bool,
    is_staff: bool,
}

/// Introspection's answer.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum IntrospectionBody<'a> {
    /// A live access token.
    Active(ActiveToken<'a>),
    /// Anything else: `{"active": false}`.
    Inactive(InactiveToken),
}

/// Exactly `{"active": false}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct InactiveToken {
    /// Always false.
    active: bool,
}

/// `POST /api/v1/auth/introspect`: is this access token live right now?
/// Only the configured client (HTTP Basic) may ask; any token it does not
/// accept is `{"active": false}` and nothing more.
#[utoipa::path(post, path = "/api/v1/auth/introspect", tag = "resource servers",
    description = "RFC 7662. Any token Latch does not accept right now is `{\"active\": false}` and nothing more.",
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    security(("introspection_client" = [])),
    responses((status = 200, description = "Whether the token is live, and its claims if it is.", body = IntrospectionBody)))]
pub(crate) async fn introspect(
    state: web::Data<HttpState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let credentials = basic_credentials(&req);
    if media_type(&req).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType(
            "application/x-www-form-urlencoded",
        ));
    }
    let form: IntrospectForm = parse_form(&req, &body)?;
    let answer = state
        .auth
        .introspect(&client_of(&req, &state), credentials.as_ref(), &form.token)
        .await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(match answer {
        Introspection::Inactive => {
            response.json(IntrospectionBody::Inactive(InactiveToken { active: false }))
        }
        Introspection::Active { principal, issuer } => {
            let user = &principal.user;
            let claims = &principal.claims;
            response.json(IntrospectionBody::Active(ActiveToken {
                active: true,
                token_type: "access_token",
                sub: claims.sub.to_string(),
                sid: claims.sid.to_string(),
                jti: claims.jti.to_string(),
                iat: claims.iat,
                exp: claims.exp,
                iss: &issuer.issuer,
                aud: &issuer.audience,
                email: user.email.as_str(),
                username: user.username.as_ref().map(|u| u.as_str()),
                tier: user.tier.as_str(),
                is_superuser: user.is_superuser,
                is_staff: user.is_staff,
            }))
        }
    })
}

/// `GET /api/v1/auth/tiers`: every tier and its per-path limits, for a
/// resource server enforcing them; the same client as introspection.
#[utoipa::path(get, path = "/api/v1/auth/tiers", tag = "resource servers",
    security(("introspection_client" = [])),
    responses((status = 200, description = "Every tier and its per-path limits.", body = ItemsBody<TierBody>)))]
pub(crate) async fn tiers(state: web::Data<HttpState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let credentials = basic_credentials(&req);
    let tiers = state
        .auth
        .resource_server_tiers(&client_of(&req, &state), credentials.as_ref())
        .await?;
    Ok(HttpResponse::Ok().json(ItemsBody {
        items: tiers.into_iter().map(TierBody::from).collect(),
    }))
}

/// The HTTP Basic credentials, compared as sent (no form-decoding of the
/// id and secret); `None` when absent or malformed, which is refused alike.
fn basic_credentials(req: &HttpRequest) -> Option<ClientCredentials> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some(ClientCredentials {
        id: id.to_owned(),
        secret: secret.to_owned().into(),
    })
}
