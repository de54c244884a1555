//! `ApiError`: every way a request can fail, and the one place that turns
//! each into an `application/problem+json` response with a stable `code`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use latch_core::{
    AccountError, AdminError, AuthenticateError, EmailFlowError, IntrospectError, LoginError, LogoutError,
    MfaChallengeIssued, MfaError, MfaLoginError, RefreshError, RevokeSessionError, SessionCheckError,
    SignupError, Unexpected, UpdateProfileError,
};
use latch_domain::ValidationError;
use latch_ports::{ErrorChain, RateLimited};
use serde::Serialize;
use utoipa::ToSchema;

/// A failed request, as the client will see it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON or form body.
    #[error("{0}")]
    MalformedBody(String),
    /// A field is unknown, of the wrong type, or breaks a rule.
    #[error("{detail}")]
    Validation {
        /// The offending field, when known.
        field: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// A value breaks a named rule (password policy, ...); the body names it.
    #[error("{detail}")]
    BrokenRule {
        /// The offending field.
        field: &'static str,
        /// The rule, e.g. `too_common`.
        rule: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The body's content type is not the one this route reads (named).
    #[error("unsupported content type")]
    UnsupportedMediaType(&'static str),
    /// The body is over the route's limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Signup with an email that is taken.
    #[error("email taken")]
    EmailTaken,
    /// Signup or profile change with a username that is taken.
    #[error("username taken")]
    UsernameTaken,
    /// Login failed (any reason).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No credentials were sent.
    #[error("authentication required")]
    Unauthenticated,
    /// A resource server's client credentials are missing or wrong.
    #[error("invalid client")]
    InvalidClient,
    /// A token was sent and is not acceptable.
    #[error("invalid token")]
    InvalidToken,
    /// A token was sent and has expired.
    #[error("token expired")]
    TokenExpired,
    /// Authenticated, but not allowed to do this.
    #[error("forbidden")]
    Forbidden,
    /// A login, or a cookie-authenticated state change, from an origin that is not allowed.
    #[error("csrf check failed")]
    CsrfFailed,
    /// The change would leave no active superuser.
    #[error("last superuser")]
    LastSuperuser,
    /// A tier with this name exists.
    #[error("tier exists")]
    TierExists,
    /// Users still have this tier.
    #[error("tier in use")]
    TierInUse,
    /// An emailed link is unknown, spent, voided or expired.
    #[error("link invalid")]
    LinkInvalid,
    /// The password is right, but the account's email must be verified first.
    #[error("email not verified")]
    EmailNotVerified,
    /// A spent refresh token was replayed; its session is revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// The password is right; the account's second factor must complete the
    /// login. The body carries the challenge (its `Debug` hides the token).
    #[error("second factor required")]
    MfaRequired(MfaChallengeIssued),
    /// A login's second step with a wrong, replayed or expired code (401:
    /// the code is the credential there).
    #[error("mfa code invalid")]
    MfaLoginCodeInvalid,
    /// A wrong, replayed or expired code confirming a change to the caller's
    /// second factor (422: a field of an authenticated request).
    #[error("mfa code invalid")]
    MfaCodeInvalid,
    /// A login's `mfa_token` is unknown, expired, spent or out of attempts.
    #[error("mfa token invalid")]
    MfaTokenInvalid,
    /// The caller already has a second factor.
    #[error("mfa already enabled")]
    MfaAlreadyEnabled,
    /// The caller has no second factor, or no enrolment waiting to be confirmed.
    #[error("mfa not enabled")]
    MfaNotEnabled,
    /// Unknown route.
    #[error("not found")]
    NotFound,
    /// Too many attempts from this client or for this account.
    #[error("rate limited")]
    RateLimited(RateLimited),
    /// Hashing capacity exhausted.
    #[error("overloaded")]
    Overloaded,
    /// The database could not be reached or did not answer in time.
    #[error("service unavailable")]
    Unavailable,
    /// Our fault. The cause is logged, never sent.
    #[error("internal error")]
    Internal,
}

/// The IETF draft's RateLimit fields a 429 carries (CORS exposes them too).
pub(crate) const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// Attempts left in the window: always 0 on a refusal.
pub(crate) const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// Seconds until an attempt can succeed.
pub(crate) const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
/// `<limit>;w=<window seconds>`.
pub(crate) const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The RFC 9457 body of every error (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Problem<'a> {
    /// `urn:latch:problem:<code>`.
    #[serde(rename = "type")]
    kind: String,
    /// The HTTP status's reason phrase.
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for people; never internals.
    detail: String,
    /// What went wrong, for programs: stable, snake_case.
    code: &'a str,
    /// The members some problems add.
    #[serde(flatten)]
    extensions: ProblemExtensions<'a>,
}

/// RFC 9457 extension members, each present only on the problems that use it.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct ProblemExtensions<'a> {
    /// The request field at fault (422).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The rule the field breaks (422 on a password, e.g. `too_common`).
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    /// `mfa_required`: the token that, with a code, completes the login at
    /// `POST /api/v1/auth/login/mfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
    /// `mfa_required`: the kinds of code that complete the login.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["totp", "recovery_code"]))]
    methods: Option<&'a [&'a str]>,
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.to_owned()),
            detail: detail.into(),
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::Validation { .. } | Self::BrokenRule { .. } => "validation_failed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::EmailTaken => "email_taken",
            Self::UsernameTaken => "username_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidClient => "invalid_client",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::MfaRequired(_) => "mfa_required",
            Self::MfaLoginCodeInvalid | Self::MfaCodeInvalid => "mfa_code_invalid",
            Self::MfaTokenInvalid => "mfa_token_invalid",
            Self::MfaAlreadyEnabled => "mfa_already_enabled",
            Self::MfaNotEnabled => "mfa_not_enabled",
            Self::LinkInvalid => "link_invalid",
            Self::EmailNotVerified => "email_not_verified",
            Self::Forbidden => "forbidden",
            Self::CsrfFailed => "csrf_failed",
            Self::LastSuperuser => "last_superuser",
            Self::TierExists => "tier_exists",
            Self::TierInUse => "tier_in_use",
            Self::NotFound => "not_found",
            Self::RateLimited(_) => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Unavailable => "service_unavailable",
            Self::Internal => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::MalformedBody(detail) | Self::Validation { detail, .. } | Self::BrokenRule { detail, .. } => {
                detail.clone()
            }
            Self::UnsupportedMediaType(expected) => format!("Send the body as {expected}."),
            Self::PayloadTooLarge => "The request body is larger than this route accepts.".into(),
            Self::EmailTaken => "An account with this email already exists.".into(),
            Self::UsernameTaken => "This username is taken.".into(),
            Self::InvalidCredentials => "The login or password is incorrect.".into(),
            Self::Unauthenticated => "This route needs an access token.".into(),
            Self::InvalidClient => {
                "This route needs the introspection client's credentials (HTTP Basic).".into()
            }
            Self::InvalidToken => "The token is invalid or has been revoked.".into(),
            Self::TokenExpired => "The token has expired.".into(),
            Self::RefreshTokenReused => {
                "This refresh token was already used; the session has been ended. Log in again.".into()
            }
            Self::MfaRequired(_) => {
                "The password is correct, and this account has a second factor: send the mfa_token \
                 with a code from the authenticator app, or a recovery code, to POST /api/v1/auth/login/mfa."
                    .into()
            }
            Self::MfaLoginCodeInvalid => {
                "The code is wrong, already used, or expired. Try the current code from the authenticator \
                 app or an unused recovery code; the mfa_token allows only a few wrong codes."
                    .into()
            }
            Self::MfaCodeInvalid => {
                "code: is wrong, already used, or expired. Use the current code from the authenticator app \
                 (or, where accepted, an unused recovery code)."
                    .into()
            }
            Self::MfaTokenInvalid => {
                "The mfa_token is unknown, expired, already used or out of attempts. Log in with the \
                 password again."
                    .into()
            }
            Self::MfaAlreadyEnabled => {
                "This account already has a second factor; disable it before enrolling a new one.".into()
            }
            Self::MfaNotEnabled => {
                "This account has no second factor, or no enrolment is waiting to be confirmed; start one \
                 with POST /api/v1/users/me/mfa/totp."
                    .into()
            }
            Self::LinkInvalid => {
                "This link is not valid: it may have expired, been used, or been replaced by a newer one. \
                 Ask for a new one."
                    .into()
            }
            Self::EmailNotVerified => {
                "Verify your email address first: follow the link in the mail Latch sent you, or ask for a new one."
                    .into()
            }
            Self::Forbidden => "Only superusers may do this.".into(),
            Self::CsrfFailed => {
                "Logins and requests authenticated by cookie must come from an allowed origin (Origin or Referer header)."
                    .into()
            }
            Self::LastSuperuser => "This would leave no active superuser.".into(),
            Self::TierExists => "A tier with this name already exists.".into(),
            Self::TierInUse => "Users still have this tier; move them to another tier first.".into(),
            Self::NotFound => "There is nothing at this path.".into(),
            Self::RateLimited(refusal) => format!(
                "Too many attempts; retry in {} seconds.",
                whole_seconds(refusal.retry_after)
            ),
            Self::Overloaded => "The server is busy; retry shortly.".into(),
            Self::Unavailable => "The service cannot reach its database; retry shortly.".into(),
            Self::Internal => "Something went wrong on our side.".into(),
        }
    }
}

/// Writes a problem response for `status` and `code` (also used for errors
/// raised outside our handlers: unknown routes, wrong methods).
pub(crate) fn problem_response(
    status: StatusCode,
    code: &str,
    detail: String,
    extensions: ProblemExtensions<'_>,
) -> HttpResponse {
    let problem = Problem::new(status, code, detail, extensions);
    let body = serde_json::to_string(&problem).unwrap_or_default();
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body)
}

impl<'a> Problem<'a> {
    fn new(status: StatusCode, code: &'a str, detail: String, extensions: ProblemExtensions<'a>) -> Self {
        Self {
            kind: format!("urn:latch:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            code,
            extensions,
        }
    }
}

impl ApiError {
    /// The problem body this error is sent with (the OpenAPI document's examples).
    pub(crate) fn problem_body(&self) -> serde_json::Value {
        let problem = Problem::new(self.status_code(), self.code(), self.detail(), self.extensions());
        serde_json::to_value(problem).unwrap_or_default()
    }

    /// The extension members this error's problem carries: the one place
    /// that fills them.
    fn extensions(&self) -> ProblemExtensions<'_> {
        match self {
            Self::Validation { field, .. } => ProblemExtensions {
                field: field.as_deref(),
                ..ProblemExtensions::default()
            },
            Self::BrokenRule { field, rule, .. } => ProblemExtensions {
                field: Some(field),
                rule: Some(rule),
                ..ProblemExtensions::default()
            },
            Self::MfaCodeInvalid => ProblemExtensions {
                field: Some("code"),
                ..ProblemExtensions::default()
            },
            Self::MfaRequired(challenge) => ProblemExtensions {
                mfa_token: Some(&challenge.mfa_token),
                methods: Some(challenge.methods),
                ..ProblemExtensions::default()
            },
            _ => ProblemExtensions::default(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) | Self::LinkInvalid => StatusCode::BAD_REQUEST,
            Self::Validation { .. } | Self::BrokenRule { .. } | Self::MfaCodeInvalid => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::EmailTaken
            | Self::UsernameTaken
            | Self::LastSuperuser
            | Self::TierExists
            | Self::TierInUse
            | Self::MfaAlreadyEnabled
            | Self::MfaNotEnabled => StatusCode::CONFLICT,
            Self::Forbidden | Self::CsrfFailed | Self::EmailNotVerified => StatusCode::FORBIDDEN,
            Self::InvalidCredentials
            | Self::Unauthenticated
            | Self::InvalidClient
            | Self::InvalidToken
            | Self::TokenExpired
            | Self::RefreshTokenReused
            // Like `invalid_credentials`, these answer a login: no token was
            // sent, so no `WWW-Authenticate` challenge either.
            | Self::MfaRequired(_)
            | Self::MfaLoginCodeInvalid
            | Self::MfaTokenInvalid => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response =
            problem_response(self.status_code(), self.code(), self.detail(), self.extensions());
        let headers = response.headers_mut();
        match self {
            Self::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"latch\""),
                );
            }
            Self::InvalidToken | Self::TokenExpired | Self::RefreshTokenReused => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Self::RateLimited(refusal) => {
                // RFC 9110 Retry-After, plus the IETF draft's RateLimit fields so
                // clients can see the budget they ran out of.
                let wait = HeaderValue::from(whole_seconds(refusal.retry_after));
                headers.insert(header::RETRY_AFTER, wait.clone());
                headers.insert(RATELIMIT_LIMIT, refusal.limit.into());
                headers.insert(RATELIMIT_REMAINING, HeaderValue::from_static("0"));
                headers.insert(RATELIMIT_RESET, wait);
                let policy = format!("{};w={}", refusal.limit, whole_seconds(refusal.window));
                if let Ok(policy) = HeaderValue::from_str(&policy) {
                    headers.insert(RATELIMIT_POLICY, policy);
                }
            }
            Self::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // An outage lasts longer than a burst: retries every second would pile up.
            Self::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

/// A wait in whole seconds, rounded up: a client that waits this long will be let in.
fn whole_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Logs an unexpected failure and hides it from the client: a database out
/// of reach is a 503 the client may retry, anything else a 500.
fn internal(err: Unexpected) -> ApiError {
    if err.is_unavailable() {
        tracing::warn!(error = %ErrorChain(&err), "request failed: the database is unavailable");
        return ApiError::Unavailable;
    }
    tracing::error!(error = %ErrorChain(&err), "request failed unexpectedly");
    ApiError::Internal
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        match err.rule {
            Some(rule) => Self::BrokenRule {
                field: err.field,
                rule,
                detail: err.to_string(),
            },
            None => Self::invalid(err.field, err.to_string()),
        }
    }
}

impl From<SignupError> for ApiError {
    fn from(err: SignupError) -> Self {
        match err {
            SignupError::Invalid(err) => err.into(),
            SignupError::EmailTaken => Self::EmailTaken,
            SignupError::UsernameTaken => Self::UsernameTaken,
            SignupError::RateLimited(refusal) => Self::RateLimited(refusal),
            SignupError::Overloaded => Self::Overloaded,
            SignupError::Unexpected(err) => internal(err),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::InvalidCredentials => Self::InvalidCredentials,
            LoginError::EmailNotVerified => Self::EmailNotVerified,
            LoginError::MfaRequired(challenge) => Self::MfaRequired(challenge),
            LoginError::RateLimited(refusal) => Self::RateLimited(refusal),
            LoginError::Overloaded => Self::Overloaded,
            LoginError::Unexpected(err) => internal(err),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Invalid => Self::InvalidToken,
            RefreshError::Reused => Self::RefreshTokenReused,
            RefreshError::RateLimited(refusal) => Self::RateLimited(refusal),
            RefreshError::Unexpected(err) => internal(err),
        }
    }
}

impl From<AuthenticateError> for ApiError {
    fn from(err: AuthenticateError) -> Self {
        match err {
            AuthenticateError::Expired => Self::TokenExpired,
            AuthenticateError::Invalid => Self::InvalidToken,
            AuthenticateError::Unexpected(err) => internal(err),
        }
    }
}

impl From<IntrospectError> for ApiError {
    fn from(err: IntrospectError) -> Self {
        match err {
            IntrospectError::ClientRefused => Self::InvalidClient,
            IntrospectError::RateLimited(refusal) => Self::RateLimited(refusal),
            IntrospectError::Unexpected(err) => internal(err),
        }
    }
}

impl From<SessionCheckError> for ApiError {
    fn from(err: SessionCheckError) -> Self {
        match err {
            SessionCheckError::Unauthenticated(err) => err.into(),
            SessionCheckError::Unexpected(err) => internal(err),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(err: LogoutError) -> Self {
        match err {
            LogoutError::Unauthenticated => Self::Unauthenticated,
            LogoutError::Unexpected(err) => internal(err),
        }
    }
}

impl From<UpdateProfileError> for ApiError {
    fn from(err: UpdateProfileError) -> Self {
        match err {
            UpdateProfileError::Invalid(err) => err.into(),
            UpdateProfileError::UsernameTaken => Self::UsernameTaken,
            UpdateProfileError::RateLimited(refusal) => Self::RateLimited(refusal),
            UpdateProfileError::Unexpected(err) => internal(err),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::WrongPassword { field } => Self::invalid(field, format!("{field}: is incorrect")),
            AccountError::Invalid(err) => err.into(),
            AccountError::LastSuperuser => Self::LastSuperuser,
            AccountError::RateLimited(refusal) => Self::RateLimited(refusal),
            AccountError::Overloaded => Self::Overloaded,
            AccountError::Unexpected(err) => internal(err),
        }
    }
}

impl From<EmailFlowError> for ApiError {
    fn from(err: EmailFlowError) -> Self {
        match err {
            EmailFlowError::Disabled => Self::NotFound,
            EmailFlowError::Invalid(err) => err.into(),
            EmailFlowError::LinkInvalid => Self::LinkInvalid,
            EmailFlowError::EmailTaken => Self::EmailTaken,
            EmailFlowError::WrongPassword { field } => Self::invalid(field, format!("{field}: is incorrect")),
            EmailFlowError::RateLimited(refusal) => Self::RateLimited(refusal),
            EmailFlowError::Overloaded => Self::Overloaded,
            EmailFlowError::Unexpected(err) => internal(err),
        }
    }
}

impl From<MfaError> for ApiError {
    fn from(err: MfaError) -> Self {
        match err {
            MfaError::AlreadyEnabled => Self::MfaAlreadyEnabled,
            MfaError::NotEnabled => Self::MfaNotEnabled,
            MfaError::CodeInvalid => Self::MfaCodeInvalid,
            MfaError::WrongPassword { field } => Self::invalid(field, format!("{field}: is incorrect")),
            MfaError::RateLimited(refusal) => Self::RateLimited(refusal),
            MfaError::Overloaded => Self::Overloaded,
            MfaError::Unexpected(err) => internal(err),
        }
    }
}

impl From<MfaLoginError> for ApiError {
    fn from(err: MfaLoginError) -> Self {
        match err {
            MfaLoginError::TokenInvalid => Self::MfaTokenInvalid,
            MfaLoginError::CodeInvalid => Self::MfaLoginCodeInvalid,
            MfaLoginError::RateLimited(refusal) => Self::RateLimited(refusal),
            MfaLoginError::Unexpected(err) => internal(err),
        }
    }
}

impl From<RevokeSessionError> for ApiError {
    fn from(err: RevokeSessionError) -> Self {
        match err {
            RevokeSessionError::NotFound => Self::NotFound,
            RevokeSessionError::Unexpected(err) => internal(err),
        }
    }
}

impl From<Unexpected> for ApiError {
    fn from(err: Unexpected) -> Self {
        internal(err)
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Forbidden => Self::Forbidden,
            AdminError::NotFound => Self::NotFound,
            AdminError::LastSuperuser => Self::LastSuperuser,
            AdminError::Invalid(err) => err.into(),
            AdminError::UsernameTaken => Self::UsernameTaken,
            AdminError::TierExists => Self::TierExists,
            AdminError::TierInUse => Self::TierInUse,
            AdminError::Unexpected(err) => internal(err),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use actix_web::body::MessageBody;

    use super::*;

    fn refusal() -> RateLimited {
        RateLimited {
            retry_after: Duration::from_millis(2_500),
            limit: 30,
            window: Duration::from_secs(60),
        }
    }

    fn challenge() -> MfaChallengeIssued {
        MfaChallengeIssued {
            mfa_token: "q3Zp0nV7sKc2XyWb9TfLhE4uRj6aMd1oGi8NwQe5Bts".into(),
            methods: &["totp", "recovery_code"],
        }
    }

    fn body_of(error: &ApiError) -> serde_json::Value {
        let body = error.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Headers a response must carry, by name.
    type Headers = Vec<(&'static str, &'static str)>;

    /// Every error: its status, its code, and the headers it must carry.
    fn contract() -> Vec<(ApiError, StatusCode, &'static str, Headers)> {
        let bearer = vec![("www-authenticate", "Bearer error=\"invalid_token\"")];
        vec![
            (
                ApiError::MalformedBody("bad".into()),
                StatusCode::BAD_REQUEST,
                "malformed_body",
                vec![],
            ),
            (
                ApiError::invalid("email", "bad"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                vec![],
            ),
            (
                ApiError::BrokenRule {
                    field: "password",
                    rule: "too_common",
                    detail: "bad".into(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                vec![],
            ),
            (
                ApiError::UnsupportedMediaType("application/json"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                vec![],
            ),
            (
                ApiError::PayloadTooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                vec![],
            ),
            (ApiError::EmailTaken, StatusCode::CONFLICT, "email_taken", vec![]),
            (
                ApiError::UsernameTaken,
                StatusCode::CONFLICT,
                "username_taken",
                vec![],
            ),
            (
                ApiError::InvalidCredentials,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                vec![],
            ),
            (
                ApiError::Unauthenticated,
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                vec![("www-authenticate", "Bearer")],
            ),
            (
                ApiError::InvalidClient,
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                vec![("www-authenticate", "Basic realm=\"latch\"")],
            ),
            (
                ApiError::InvalidToken,
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                bearer.clone(),
            ),
            (
                ApiError::TokenExpired,
                StatusCode::UNAUTHORIZED,
                "token_expired",
                bearer.clone(),
            ),
            (
                ApiError::RefreshTokenReused,
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                bearer,
            ),
            (
                ApiError::MfaRequired(challenge()),
                StatusCode::UNAUTHORIZED,
                "mfa_required",
                vec![],
            ),
            (
                ApiError::MfaLoginCodeInvalid,
                StatusCode::UNAUTHORIZED,
                "mfa_code_invalid",
                vec![],
            ),
            (
                ApiError::MfaCodeInvalid,
                StatusCode::UNPROCESSABLE_ENTITY,
                "mfa_code_invalid",
                vec![],
            ),
            (
                ApiError::MfaTokenInvalid,
                StatusCode::UNAUTHORIZED,
                "mfa_token_invalid",
                vec![],
            ),
            (
                ApiError::MfaAlreadyEnabled,
                StatusCode::CONFLICT,
                "mfa_already_enabled",
                vec![],
            ),
            (
                ApiError::MfaNotEnabled,
                StatusCode::CONFLICT,
                "mfa_not_enabled",
                vec![],
            ),
            (ApiError::Forbidden, StatusCode::FORBIDDEN, "forbidden", vec![]),
            (ApiError::CsrfFailed, StatusCode::FORBIDDEN, "csrf_failed", vec![]),
            (
                ApiError::LastSuperuser,
                StatusCode::CONFLICT,
                "last_superuser",
                vec![],
            ),
            (ApiError::TierExists, StatusCode::CONFLICT, "tier_exists", vec![]),
            (ApiError::TierInUse, StatusCode::CONFLICT, "tier_in_use", vec![]),
            (ApiError::NotFound, StatusCode::NOT_FOUND, "not_found", vec![]),
            (
                ApiError::RateLimited(refusal()),
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                vec![
                    ("retry-after", "3"),
                    ("ratelimit-limit", "30"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", "3"),
                    ("ratelimit-policy", "30;w=60"),
                ],
            ),
            (
                ApiError::Overloaded,
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                vec![("retry-after", "1")],
            ),
            (
                ApiError::Unavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                vec![("retry-after", "5")],
            ),
            (
                ApiError::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                vec![],
            ),
        ]
    }

    #[test]
    fn every_error_has_its_status_code_body_and_headers() {
        for (error, status, code, headers) in contract() {
            let response = error.error_response();
            assert_eq!(response.status(), status, "{code}");
            let got = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            assert_eq!(
                got("content-type").as_deref(),
                Some("application/problem+json"),
                "{code}"
            );
            assert_eq!(got("cache-control").as_deref(), Some("no-store"), "{code}");
            for (name, value) in headers {
                assert_eq!(got(name).as_deref(), Some(value), "{code}: {name}");
            }
            let body = response.into_body().try_into_bytes().unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["code"], code);
            assert_eq!(body["status"], status.as_u16());
            assert_eq!(body["type"], format!("urn:latch:problem:{code}"));
            assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{code}");
        }
    }

    #[test]
    fn a_broken_rule_names_its_field_and_rule() {
        let error = ApiError::BrokenRule {
            field: "password",
            rule: "too_common",
            detail: "password: is too common".into(),
        };
        let body = error.error_response().into_body().try_into_bytes().unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (body["field"].as_str(), body["rule"].as_str()),
            (Some("password"), Some("too_common"))
        );
    }

    #[test]
    fn mfa_required_carries_the_challenge_as_extension_members() {
        let error = ApiError::from(LoginError::MfaRequired(challenge()));
        let body = body_of(&error);
        assert_eq!(
            (&body["code"], &body["mfa_token"], &body["methods"]),
            (
                &serde_json::json!("mfa_required"),
                &serde_json::json!("q3Zp0nV7sKc2XyWb9TfLhE4uRj6aMd1oGi8NwQe5Bts"),
                &serde_json::json!(["totp", "recovery_code"])
            )
        );
    }

    #[test]
    fn mfa_required_sets_no_cookie_and_no_bearer_challenge() {
        let response = ApiError::MfaRequired(challenge()).error_response();
        let headers = response.headers();
        assert!(
            !headers.contains_key(header::SET_COOKIE) && !headers.contains_key(header::WWW_AUTHENTICATE),
            "{headers:?}"
        );
    }

    #[test]
    fn mfa_required_prints_no_token() {
        let error = ApiError::MfaRequired(challenge());
        let printed = format!("{error} {error:?}");
        assert!(!printed.contains("q3Zp0nV7"), "{printed}");
    }

    #[test]
    fn other_problems_carry_no_mfa_members() {
        let body = body_of(&ApiError::InvalidCredentials);
        assert!(
            body.get("mfa_token").is_none() && body.get("methods").is_none(),
            "{body}"
        );
    }

    #[test]
    fn a_wrong_code_on_an_account_route_names_the_code_field() {
        let body = body_of(&ApiError::from(MfaError::CodeInvalid));
        assert_eq!(
            (body["status"].as_u64(), body["field"].as_str()),
            (Some(422), Some("code"))
        );
    }

    #[test]
    fn a_wrong_code_at_login_is_a_401() {
        let error = ApiError::from(MfaLoginError::CodeInvalid);
        assert_eq!(
            (error.status_code(), error.code()),
            (StatusCode::UNAUTHORIZED, "mfa_code_invalid")
        );
    }

    #[test]
    fn mfa_errors_map_to_their_codes() {
        let cases = [
            (ApiError::from(MfaError::AlreadyEnabled), "mfa_already_enabled"),
            (ApiError::from(MfaError::NotEnabled), "mfa_not_enabled"),
            (
                ApiError::from(MfaError::WrongPassword { field: "password" }),
                "validation_failed",
            ),
            (ApiError::from(MfaError::RateLimited(refusal())), "rate_limited"),
            (ApiError::from(MfaError::Overloaded), "overloaded"),
            (ApiError::from(MfaLoginError::TokenInvalid), "mfa_token_invalid"),
            (
                ApiError::from(MfaLoginError::RateLimited(refusal())),
                "rate_limited",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn an_unavailable_store_is_a_503_and_anything_else_a_500() {
        let down = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = internal(latch_ports::RepositoryError::unavailable(down).into());
        assert_eq!(err.code(), "service_unavailable");
        let err = internal(latch_ports::RepositoryError::new("a malformed row").into());
        assert_eq!(err.code(), "internal_error");
    }

    #[test]
    fn an_internal_error_tells_the_client_nothing() {
        let error = internal(Unexpected::new("connection refused to 10.0.0.5:5432"));
        let body = error.error_response().into_body().try_into_bytes().unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("10.0.0.5"));
    }
}
