//! The caller's own account: `/api/v1/users/me` and below.

use actix_web::{HttpRequest, HttpResponse, web};
use latch_domain::SessionId;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::body::ApiJson;
use crate::dto::{ChangePasswordBody, DeleteMeBody, ItemsBody, PatchMeBody, SessionBody, UserBody};
use crate::extract::{Authenticated, client_of};
use crate::{ApiError, HttpState};

/// `GET /users/me`.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    responses((status = 200, description = "The caller.", body = UserBody)))]
pub(crate) async fn get_me(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(UserBody::from(caller.principal.user))
}

/// `PATCH /users/me`: name, username, avatar_url only.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    request_body = PatchMeBody,
    responses((status = 200, description = "The changed user.", body = UserBody)))]
pub(crate) async fn patch_me(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<PatchMeBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let user = state
        .auth
        .update_profile(&caller.principal, body.into_changes(), &client)
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /users/me/password` → 204; the caller's other sessions end.
#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    request_body = ChangePasswordBody,
    responses((status = 204, description = "Changed; the caller's other sessions have ended.")))]
pub(crate) async fn change_password(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    state
        .auth
        .change_password(
            &caller.principal,
            body.current_password.expose_secret(),
            body.new_password.expose_secret(),
            &client,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /users/me` → 204: soft delete, every session ends, cookies cleared.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    request_body = DeleteMeBody,
    responses((status = 204, description = "Deleted (an administrator can restore the account); every session ended.")))]
pub(crate) async fn delete_me(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<DeleteMeBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    state
        .auth
        .delete_account(&caller.principal, body.password.expose_secret(), &client)
        .await?;
    let mut response = HttpResponse::NoContent();
    state.cookies.clear(&mut response);
    Ok(response.finish())
}

/// `GET /users/me/sessions`: the caller's live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/users/me/sessions", tag = "users", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    responses((status = 200, description = "The caller's live sessions, newest first.", body = ItemsBody<SessionBody>)))]
pub(crate) async fn list_sessions(
    state: web::Data<HttpState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.auth.list_sessions(&caller.principal).await?;
    Ok(HttpResponse::Ok().json(ItemsBody {
        items: sessions.into_iter().map(SessionBody::from).collect(),
    }))
}

/// `DELETE /users/me/sessions/{id}` → 204. Another user's session, or no
/// session at all, is the same 404: ids cannot be probed.
#[utoipa::path(delete, path = "/api/v1/users/me/sessions/{id}", tag = "users", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    params(("id" = String, Path, description = "The session's id (the `sid` claim).")),
    responses((status = 204, description = "The session has ended.")))]
pub(crate) async fn revoke_session(
    state: web::Data<HttpState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    state
        .auth
        .revoke_session(&caller.principal, SessionId(id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
