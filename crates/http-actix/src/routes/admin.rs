//! `/api/v1/admin/*`: user and tier administration, for superusers only (the core
//! checks; anyone else gets 403 `forbidden`).

use actix_web::{HttpResponse, web};
use latch_domain::UserId;
use latch_ports::UserQuery;
use uuid::Uuid;

use crate::body::ApiJson;
use crate::dto::{
    AdminPatchUserBody, AdminUserBody, AdminUsersQuery, AuditEventBody, AuditQuery, CreateTierBody,
    ItemsBody, LimitBody, PageBody, PatchTierBody, TierBody,
};
use crate::extract::Authenticated;
use crate::{ApiError, HttpState};

/// A user id from the path; a malformed one is simply not found.
fn user_id(raw: &str) -> Result<UserId, ApiError> {
    Uuid::parse_str(raw).map(UserId).map_err(|_| ApiError::NotFound)
}

/// `GET /admin/users?page=&per_page=&q=&include_deleted=`.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    params(AdminUsersQuery),
    responses((status = 200, description = "A page of users.", body = PageBody<AdminUserBody>)))]
pub(crate) async fn list_users(
    state: web::Data<HttpState>,
    caller: Authenticated,
    query: web::Query<AdminUsersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = UserQuery {
        search: query.q,
        include_deleted: query.include_deleted,
        page: query.page,
        per_page: query.per_page,
    };
    let page = state.auth.admin_list_users(&caller.principal, request).await?;
    Ok(HttpResponse::Ok().json(PageBody {
        items: page.items.into_iter().map(AdminUserBody::from).collect(),
        total: page.total,
        page: query.page,
        per_page: query.per_page,
    }))
}

/// `GET /admin/users/{id}`.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])), params(("id" = String, Path, description = "The user's id.")),
    responses((status = 200, description = "The user.", body = AdminUserBody)))]
pub(crate) async fn get_user(
    state: web::Data<HttpState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .auth
        .admin_get_user(&caller.principal, user_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(user)))
}

/// `PATCH /admin/users/{id}`.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])), params(("id" = String, Path, description = "The user's id.")),
    request_body = AdminPatchUserBody,
    responses((status = 200, description = "The changed user.", body = AdminUserBody)))]
pub(crate) async fn patch_user(
    state: web::Data<HttpState>,
    caller: Authenticated,
    id: web::Path<String>,
    ApiJson(body): ApiJson<AdminPatchUserBody>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .auth
        .admin_update_user(&caller.principal, user_id(&id)?, body.into_changes())
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(user)))
}

/// `DELETE /admin/users/{id}` → 204 (soft delete).
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])), params(("id" = String, Path, description = "The user's id.")),
    responses((status = 204, description = "Soft-deleted; every session of the user ended.")))]
pub(crate) async fn delete_user(
    state: web::Data<HttpState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .auth
        .admin_delete_user(&caller.principal, user_id(&id)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /admin/users/{id}/restore` → 200 user.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/restore", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])), params(("id" = String, Path, description = "The user's id.")),
    responses((status = 200, description = "The restored user.", body = AdminUserBody)))]
pub(crate) async fn restore_user(
    state: web::Data<HttpState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .auth
        .admin_restore_user(&caller.principal, user_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(user)))
}

/// `DELETE /admin/users/{id}/mfa` → 204: the user's second factor is gone.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/mfa", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])), params(("id" = String, Path, description = "The user's id.")),
    description = "Removes the user's second factor (TOTP, pending or confirmed, and recovery codes), for \
                   a user who lost it. Every session of the user ends; the action is audited.",
    responses((status = 204, description = "Removed; every session of the user ended.")))]
pub(crate) async fn remove_user_mfa(
    state: web::Data<HttpState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .auth
        .admin_remove_mfa(&caller.principal, user_id(&id)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /admin/tiers`.
#[utoipa::path(get, path = "/api/v1/admin/tiers", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    responses((status = 200, description = "Every tier.", body = ItemsBody<TierBody>)))]
pub(crate) async fn list_tiers(
    state: web::Data<HttpState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let tiers = state.auth.admin_list_tiers(&caller.principal).await?;
    Ok(HttpResponse::Ok().json(ItemsBody {
        items: tiers.into_iter().map(TierBody::from).collect(),
    }))
}

/// `POST /admin/tiers` → 201 tier.
#[utoipa::path(post, path = "/api/v1/admin/tiers", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    request_body = CreateTierBody,
    responses((status = 201, description = "The new tier.", body = TierBody)))]
pub(crate) async fn create_tier(
    state: web::Data<HttpState>,
    caller: Authenticated,
    ApiJson(body): ApiJson<CreateTierBody>,
) -> Result<HttpResponse, ApiError> {
    let limits = body.limits.into_iter().map(LimitBody::into_domain).collect();
    let tier = state
        .auth
        .admin_create_tier(&caller.principal, &body.name, body.description, limits)
        .await?;
    Ok(HttpResponse::Created().json(TierBody::from(tier)))
}

/// `PATCH /admin/tiers/{name}`.
#[utoipa::path(patch, path = "/api/v1/admin/tiers/{name}", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])), params(("name" = String, Path, description = "The tier's name.")),
    request_body = PatchTierBody,
    responses((status = 200, description = "The changed tier.", body = TierBody)))]
pub(crate) async fn patch_tier(
    state: web::Data<HttpState>,
    caller: Authenticated,
    name: web::Path<String>,
    ApiJson(body): ApiJson<PatchTierBody>,
) -> Result<HttpResponse, ApiError> {
    let limits = body
        .limits
        .map(|limits| limits.into_iter().map(LimitBody::into_domain).collect());
    let tier = state
        .auth
        .admin_update_tier(&caller.principal, &name, body.description, limits)
        .await?;
    Ok(HttpResponse::Ok().json(TierBody::from(tier)))
}

/// `DELETE /admin/tiers/{name}` → 204; 409 `tier_in_use` while users have it.
#[utoipa::path(delete, path = "/api/v1/admin/tiers/{name}", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])), params(("name" = String, Path, description = "The tier's name.")),
    responses((status = 204, description = "Deleted.")))]
pub(crate) async fn delete_tier(
    state: web::Data<HttpState>,
    caller: Authenticated,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.auth.admin_delete_tier(&caller.principal, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /admin/audit?user_id=&page=&per_page=`: newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    params(AuditQuery),
    responses((status = 200, description = "A page of the audit trail, newest first.", body = PageBody<AuditEventBody>)))]
pub(crate) async fn list_audit(
    state: web::Data<HttpState>,
    caller: Authenticated,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let user = query.user_id.map(UserId);
    let page = state
        .auth
        .admin_list_audit(&caller.principal, user, query.page, query.per_page)
        .await?;
    Ok(HttpResponse::Ok().json(PageBody {
        items: page.items.into_iter().map(AuditEventBody::from).collect(),
        total: page.total,
        page: query.page,
        per_page: query.per_page,
    }))
}
