//! The caller's own account: `/api/v1/users/me`.

use actix_web::{HttpResponse, web};

use crate::body::ApiJson;
use crate::dto::{PatchMeBody, UserBody};
use crate::extract::Authenticated;
use crate::{ApiError, HttpState};

/// `GET /users/me`.
pub(crate) async fn get_me(caller: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(UserBody::from(caller.principal.user))
}

/// `PATCH /users/me`: name, username, avatar_url only.
pub(crate) async fn patch_me(
    state: web::Data<HttpState>,
    caller: Authenticated,
    ApiJson(body): ApiJson<PatchMeBody>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .auth
        .update_profile(&caller.principal, body.into_changes())
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}
