//! Liveness, readiness, and the public keys.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::HttpState;

/// `GET /healthz`: the process is up.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers.
pub(crate) async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    if state.readiness.ready().await {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable" }))
    }
}

/// `GET /.well-known/jwks.json`: public signing keys; cacheable for 30 s
/// (less than `keys.publish_ahead_seconds`, so a cached copy has a new key
/// before it signs).
pub(crate) async fn jwks(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=30"))
        .content_type("application/json")
        .body(state.auth.jwks_json())
}
