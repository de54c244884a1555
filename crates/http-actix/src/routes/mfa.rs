//! The caller's second factor: `/api/v1/users/me/mfa` and below (TOTP
//! enrolment, recovery codes). The login's second step is in `auth`.
//!
//! Answers that carry a secret or recovery codes are never cached: every
//! response carries `Cache-Control: no-store` (`security::security_headers`).

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;

use crate::body::ApiJson;
use crate::dto::{
    BeginTotpBody, ConfirmTotpBody, MfaChangeBody, MfaStatusBody, RecoveryCodesBody, TotpEnrolmentBody,
};
use crate::extract::{Authenticated, client_of};
use crate::{ApiError, HttpState};

/// `GET /users/me/mfa`: whether TOTP is on, and how many recovery codes are left.
#[utoipa::path(get, path = "/api/v1/users/me/mfa", tag = "mfa", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    responses((status = 200, description = "The caller's second factor.", body = MfaStatusBody)))]
pub(crate) async fn mfa_status(
    state: web::Data<HttpState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let recovery_codes_left = state.auth.recovery_codes_left(&caller.principal).await?;
    Ok(HttpResponse::Ok().json(MfaStatusBody {
        totp_enabled: caller.principal.user.mfa_enabled,
        recovery_codes_left,
    }))
}

/// `POST /users/me/mfa/totp` → 200 the secret; pending until confirmed.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/totp", tag = "mfa", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    description = "Starts a TOTP enrolment: a new secret for the authenticator app (as base32 and as an \
                   `otpauth://` URI for a QR code). Logins need no second factor until the enrolment is \
                   confirmed with a code; starting again replaces a pending enrolment.",
    request_body = BeginTotpBody,
    responses((status = 200, description = "The secret, shown once.", body = TotpEnrolmentBody)))]
pub(crate) async fn begin_totp(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<BeginTotpBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let start = state
        .auth
        .begin_totp_enrolment(&caller.principal, body.password.expose_secret(), &client)
        .await?;
    Ok(HttpResponse::Ok().json(TotpEnrolmentBody::from(start)))
}

/// `POST /users/me/mfa/totp/confirm` → 200 the recovery codes; TOTP is on.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/totp/confirm", tag = "mfa", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    description = "Confirms the pending enrolment with the app's current code. From now on a login needs \
                   a second factor. The answer holds ten single-use recovery codes, shown only this once.",
    request_body = ConfirmTotpBody,
    responses((status = 200, description = "TOTP is on; the recovery codes.", body = RecoveryCodesBody)))]
pub(crate) async fn confirm_totp(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<ConfirmTotpBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let recovery_codes = state
        .auth
        .confirm_totp_enrolment(&caller.principal, body.code.expose_secret(), &client)
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesBody { recovery_codes }))
}

/// `DELETE /users/me/mfa/totp` → 204; the caller's other sessions end.
#[utoipa::path(delete, path = "/api/v1/users/me/mfa/totp", tag = "mfa", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    description = "Turns the second factor off (TOTP and recovery codes), confirmed by the password and \
                   a code (TOTP or recovery code). Every other session of the caller ends.",
    request_body = MfaChangeBody,
    responses((status = 204, description = "The second factor is off; the caller's other sessions have ended.")))]
pub(crate) async fn disable_totp(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<MfaChangeBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    state
        .auth
        .disable_totp(
            &caller.principal,
            body.password.expose_secret(),
            body.code.expose_secret(),
            &client,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /users/me/mfa/recovery-codes` → 200 a new set; the old set is void.
#[utoipa::path(post, path = "/api/v1/users/me/mfa/recovery-codes", tag = "mfa", security(("bearer" = []), ("oauth2" = []), ("access_cookie" = [])),
    description = "Replaces the recovery codes, confirmed by the password and a code (TOTP or recovery \
                   code). The old codes stop working; the new ones are shown only this once.",
    request_body = MfaChangeBody,
    responses((status = 200, description = "The new recovery codes.", body = RecoveryCodesBody)))]
pub(crate) async fn regenerate_recovery_codes(
    state: web::Data<HttpState>,
    req: HttpRequest,
    caller: Authenticated,
    ApiJson(body): ApiJson<MfaChangeBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_of(&req, &state);
    let recovery_codes = state
        .auth
        .regenerate_recovery_codes(
            &caller.principal,
            body.password.expose_secret(),
            body.code.expose_secret(),
            &client,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesBody { recovery_codes }))
}
