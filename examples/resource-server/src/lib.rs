//! A notes service behind Latch: one route per kind of protection
//! `latch-guard` offers.

use actix_web::{HttpResponse, web};
use latch_guard::{AuthUser, GuardError, Superuser, TierLimited};
use serde_json::json;
use uuid::Uuid;

/// Every route of the service (the `Guard` goes in the app data beside them).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(public))
        .route("/me", web::get().to(me))
        .route("/notes/{owner}", web::patch().to(edit_note))
        .route("/admin/stats", web::get().to(stats))
        .route("/reports/{id}", web::get().to(report));
}

/// Anyone.
async fn public() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "service": "notes" }))
}

/// Any signed-in user: who Latch says they are.
async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": user.id, "email": user.email, "tier": user.tier }))
}

/// Only the note's owner, or a superuser.
async fn edit_note(user: AuthUser, owner: web::Path<Uuid>) -> Result<HttpResponse, GuardError> {
    user.require_owner_or_superuser(owner.into_inner())?;
    Ok(HttpResponse::Ok().json(json!({ "edited_by": user.id })))
}

/// Superusers only.
async fn stats(Superuser(admin): Superuser) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "notes": 0, "asked_by": admin.email }))
}

/// Within the caller's tier limit for `/reports`.
async fn report(TierLimited(user): TierLimited, id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "report": id.into_inner(), "tier": user.tier }))
}
