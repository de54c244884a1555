//! The email flows: verification, password reset and email change. Mounted
//! only when email is on (`email.transport` is not `none`).

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;

use crate::body::ApiJson;
use crate::dto::{ChangeEmailBody, EmailBody, LinkTokenBody, PasswordResetBody, UserBody};
use crate::extract::{Authenticated, client_of};
use crate::{ApiError, HttpState};

/// `POST /auth/verification/request` → 202, whether or not the address has an account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verification/request",
    tag = "email",
    description = "Mails a verification link if the address belongs to an active account whose email \
                   is not verified yet. The answer is the same, in the same time, either way.",
    request_body = EmailBody,
    responses((status = 202, description = "Accepted; a link is mailed if the account needs one.")),
)]
pub(crate) async fn request_verification(
    state: web::Data<HttpState>,
    req: HttpRequest,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let dispatch = state.auth.request_verification(&body.email, &client).await?;
    // The lookup and the mail happen after the answer, so its timing says nothing.
    actix_web::rt::spawn(dispatch.run());
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /auth/verification/confirm` → 200 user, its email verified.
#[utoipa::path(
    post,
    path = "/api/v1/auth/verification/confirm",
    tag = "email",
    request_body = LinkTokenBody,
    responses((status = 200, description = "The user, `email_verified: true`.", body = UserBody)),
)]
pub(crate) async fn confirm_verification(
    state: web::Data<HttpState>,
    req: HttpRequest,
    ApiJson(body): ApiJson<LinkTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let user = state
        .auth
        .confirm_verification(body.token.expose_secret(), &client)
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// `POST /auth/password-reset/request` → 202, whether or not the address has an account.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/request",
    tag = "email",
    description = "Mails a password-reset link if the address belongs to an active account. The \
                   answer is the same, in the same time, either way.",
    request_body = EmailBody,
    responses((status = 202, description = "Accepted; a link is mailed if the account exists.")),
)]
pub(crate) async fn request_password_reset(
    state: web::Data<HttpState>,
    req: HttpRequest,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let dispatch = state.auth.request_password_reset(&body.email, &client).await?;
    actix_web::rt::spawn(dispatch.run());
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /auth/password-reset/confirm` → 204; every session of the user ends.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password-reset/confirm",
    tag = "email",
    description = "Sets the new password. Every session of the account ends, its login backoff is \
                   cleared, and its email counts as verified.",
    request_body = PasswordResetBody,
    responses((status = 204, description = "The password is set; log in with it.")),
)]
pub(crate) async fn confirm_password_reset(
    state: web::Data<HttpState>,
    req: HttpRequest,
    ApiJson(body): ApiJson<PasswordResetBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    state
        .auth
        .confirm_password_reset(
            body.token.expose_secret(),
            body.new_password.expose_secret(),
            &client,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /users/me/email` → 202: a link to the new address, a notice to the old one.
#[utoipa::path(
    post,
    path = "/api/v1/users/me/email",
    tag = "email",
    security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    description = "Mails a link to the new address and a notice to the current one. The email \
                   changes only when the link is followed.",
    request_body = ChangeEmailBody,
    responses((status = 202, description = "Accepted; the link is on its way to the new address.")),
)]
pub(crate) async fn request_email_change(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<ChangeEmailBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    state
        .auth
        .request_email_change(
            &caller.principal,
            &body.new_email,
            body.password.expose_secret(),
            &client,
        )
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /auth/email-change/confirm` → 200 user with the new email, verified.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email-change/confirm",
    tag = "email",
    request_body = LinkTokenBody,
    responses((status = 200, description = "The user with the new email, verified.", body = UserBody)),
)]
pub(crate) async fn confirm_email_change(
    state: web::Data<HttpState>,
    req: HttpRequest,
    ApiJson(body): ApiJson<LinkTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let user = state
        .auth
        .confirm_email_change(body.token.expose_secret(), &client)
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}
