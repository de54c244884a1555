//! Liveness, readiness, and the public keys.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::HttpState;

/// A probe's answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatusBody {
    /// `ok`, `ready` or `unavailable`.
    status: &'static str,
}

/// The JWKS document (RFC 7517), as the documentation describes it; the
/// body itself is rendered by the token codec.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes a body; never built.
pub(crate) struct JwkSet {
    /// The published keys: the signing key, keys about to sign, and retired
    /// keys until every token they signed has expired.
    keys: Vec<Jwk>,
}

/// One public key.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes a body; never built.
pub(crate) struct Jwk {
    /// `OKP` (Ed25519) or `RSA`.
    kty: String,
    /// The key id tokens name in their header.
    kid: String,
    /// `EdDSA` or `RS256`.
    alg: String,
    /// `sig`.
    #[schema(rename = "use")]
    key_use: String,
    /// `Ed25519` (OKP keys).
    crv: Option<String>,
    /// The public key (OKP keys), base64url.
    x: Option<String>,
    /// The modulus (RSA keys), base64url.
    n: Option<String>,
    /// The exponent (RSA keys), base64url.
    e: Option<String>,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "The process is up.", body = StatusBody)))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(StatusBody { status: "ok" })
}

/// `GET /readyz`: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses(
        (status = 200, description = "Ready: the database answers.", body = StatusBody),
        (status = 503, description = "Not ready.", body = StatusBody),
    ))]
pub(crate) async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    if state.readiness.ready().await {
        HttpResponse::Ok().json(StatusBody { status: "ready" })
    } else {
        HttpResponse::ServiceUnavailable().json(StatusBody {
            status: "unavailable",
        })
    }
}

/// `GET /.well-known/jwks.json`: public signing keys; cacheable for 30 s
/// (less than `keys.publish_ahead_seconds`, so a cached copy has a new key
/// before it signs).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "system",
    responses((status = 200, description = "The public keys access tokens are signed with (RFC 7517); never an HS256 secret.", body = JwkSet)))]
pub(crate) async fn jwks(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=30"))
        .content_type("application/json")
        .body(state.auth.jwks_json())
}
