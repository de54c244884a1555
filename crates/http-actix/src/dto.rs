//! Request and response bodies of the v1 API. They live only here; the core
//! sees its own request types.

use chrono::{DateTime, Utc};
use latch_core::{
    AdminChanges, Client, MfaLoginRequest, ProfileChanges, SessionView, SignupRequest, TokenPair,
    TotpEnrolmentStart,
};
use latch_domain::{AuditEvent, RateLimit, Tier, User};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `POST /auth/signup`. Unknown fields — including every privileged one — are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignupBody {
    #[schema(format = Email)]
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    name: Option<String>,
    username: Option<String>,
    avatar_url: Option<String>,
}

impl SignupBody {
    pub(crate) fn into_request(self, client: Client) -> SignupRequest {
        SignupRequest {
            email: self.email,
            password: self.password,
            name: self.name,
            username: self.username,
            avatar_url: self.avatar_url,
            client,
        }
    }
}

/// `POST /auth/login` as JSON. `email` and `username` are accepted as `login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginJson {
    #[serde(alias = "email", alias = "username")]
    pub(crate) login: String,
    #[schema(value_type = String, format = Password)]
    pub(crate) password: SecretString,
}

/// `POST /auth/login` as an OAuth2 password-grant form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginForm {
    pub(crate) username: String,
    #[schema(value_type = String, format = Password)]
    pub(crate) password: SecretString,
    pub(crate) grant_type: Option<String>,
    // Sent by OAuth2 clients; Latch has no scopes or clients, so they are read and ignored.
    #[allow(dead_code)]
    scope: Option<String>,
    #[allow(dead_code)]
    client_id: Option<String>,
    #[allow(dead_code)]
    #[schema(value_type = Option<String>, format = Password)]
    client_secret: Option<SecretString>,
}

/// `POST /auth/refresh` body (the cookie is the alternative).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshBody {
    /// Absent (`{}`): the cookie is used, and with no cookie either the
    /// request carries no credentials (401).
    pub(crate) refresh_token: Option<String>,
}

/// `?scope=` of `POST /auth/logout`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogoutQuery {
    pub(crate) scope: Option<String>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `PATCH /users/me`: profile fields only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchMeBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    avatar_url: Option<Option<String>>,
}

impl PatchMeBody {
    pub(crate) fn into_changes(self) -> ProfileChanges {
        ProfileChanges {
            name: self.name,
            username: self.username,
            avatar_url: self.avatar_url,
        }
    }
}

/// `POST /users/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordBody {
    #[schema(value_type = String, format = Password)]
    pub(crate) current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    pub(crate) new_password: SecretString,
}

/// `DELETE /users/me`: the password confirms the deletion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteMeBody {
    #[schema(value_type = String, format = Password)]
    pub(crate) password: SecretString,
}

/// `POST /auth/verification/request` and `/auth/password-reset/request`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailBody {
    /// The account's address.
    pub(crate) email: String,
}

/// `POST /auth/verification/confirm` and `/auth/email-change/confirm`: the
/// token from the emailed link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkTokenBody {
    /// The link's `token` query parameter.
    #[schema(value_type = String, format = Password)]
    pub(crate) token: SecretString,
}

/// `POST /auth/password-reset/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordResetBody {
    /// The link's `token` query parameter.
    #[schema(value_type = String, format = Password)]
    pub(crate) token: SecretString,
    /// The new password (the password policy applies).
    #[schema(value_type = String, format = Password)]
    pub(crate) new_password: SecretString,
}

/// `POST /users/me/email`: the password confirms the change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeEmailBody {
    /// Where the account should move.
    pub(crate) new_email: String,
    #[schema(value_type = String, format = Password)]
    pub(crate) password: SecretString,
}

/// `POST /auth/login/mfa`: the login's second step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaLoginBody {
    /// The `mfa_token` of the login's `mfa_required` answer.
    #[schema(value_type = String, format = Password)]
    mfa_token: SecretString,
    /// A code from the authenticator app, or a recovery code.
    #[schema(value_type = String, format = Password, example = "123456")]
    code: SecretString,
}

impl MfaLoginBody {
    pub(crate) fn into_request(self, client: Client) -> MfaLoginRequest {
        MfaLoginRequest {
            mfa_token: self.mfa_token.expose_secret().to_owned(),
            code: self.code,
            client,
        }
    }
}

/// `POST /users/me/mfa/totp`: the password confirms the enrolment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BeginTotpBody {
    #[schema(value_type = String, format = Password)]
    pub(crate) password: SecretString,
}

/// `POST /users/me/mfa/totp/confirm`: a code from the newly set-up app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmTotpBody {
    /// The authenticator app's current 6-digit code.
    #[schema(value_type = String, format = Password, example = "123456")]
    pub(crate) code: SecretString,
}

/// `DELETE /users/me/mfa/totp` and `POST /users/me/mfa/recovery-codes`:
/// the password and a second-factor code confirm the change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaChangeBody {
    #[schema(value_type = String, format = Password)]
    pub(crate) password: SecretString,
    /// A code from the authenticator app, or an unused recovery code.
    #[schema(value_type = String, format = Password, example = "123456")]
    pub(crate) code: SecretString,
}

/// A pending TOTP enrolment: what the authenticator app needs. Shown once;
/// no `Debug`, so it cannot reach a log.
#[derive(Serialize, ToSchema)]
pub(crate) struct TotpEnrolmentBody {
    /// The shared secret, base32 (for typing into the app).
    secret: String,
    /// The same as an `otpauth://totp/...` URI (for a QR code).
    otpauth_uri: String,
}

impl From<TotpEnrolmentStart> for TotpEnrolmentBody {
    fn from(start: TotpEnrolmentStart) -> Self {
        Self {
            secret: start.secret,
            otpauth_uri: start.otpauth_uri,
        }
    }
}

/// A fresh set of recovery codes, each good for one login. Shown once; no
/// `Debug`, so they cannot reach a log.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecoveryCodesBody {
    pub(crate) recovery_codes: Vec<String>,
}

/// `GET /users/me/mfa`: the caller's second factor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MfaStatusBody {
    /// A confirmed TOTP enrolment protects the account's logins.
    pub(crate) totp_enabled: bool,
    /// Unused recovery codes; regenerate the set before it runs out.
    pub(crate) recovery_codes_left: u64,
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionBody {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    user_agent: Option<String>,
    ip: Option<String>,
    current: bool,
}

impl From<SessionView> for SessionBody {
    fn from(view: SessionView) -> Self {
        let session = view.session;
        Self {
            id: session.id.0,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            user_agent: session.user_agent,
            ip: session.ip,
            current: view.current,
        }
    }
}

/// A list response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ItemsBody<T> {
    pub(crate) items: Vec<T>,
}

/// `GET /admin/users` query string.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AdminUsersQuery {
    #[serde(default = "first_page")]
    pub(crate) page: u64,
    #[serde(default = "default_per_page")]
    pub(crate) per_page: u64,
    pub(crate) q: Option<String>,
    #[serde(default)]
    pub(crate) include_deleted: bool,
}

fn first_page() -> u64 {
    1
}

fn default_per_page() -> u64 {
    20
}

/// `PATCH /admin/users/{id}`: profile fields and the admin-only flags.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminPatchUserBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    avatar_url: Option<Option<String>>,
    is_active: Option<bool>,
    is_staff: Option<bool>,
    is_superuser: Option<bool>,
    tier: Option<String>,
}

impl AdminPatchUserBody {
    pub(crate) fn into_changes(self) -> AdminChanges {
        AdminChanges {
            profile: ProfileChanges {
                name: self.name,
                username: self.username,
                avatar_url: self.avatar_url,
            },
            is_active: self.is_active,
            is_staff: self.is_staff,
            is_superuser: self.is_superuser,
            tier: self.tier,
        }
    }
}

/// A user as administrators see it: the user JSON plus `deleted_at`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminUserBody {
    #[serde(flatten)]
    user: UserBody,
    deleted_at: Option<DateTime<Utc>>,
}

impl From<User> for AdminUserBody {
    fn from(user: User) -> Self {
        let deleted_at = user.deleted_at;
        Self {
            user: user.into(),
            deleted_at,
        }
    }
}

/// A page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PageBody<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: u64,
    pub(crate) page: u64,
    pub(crate) per_page: u64,
}

/// One per-path limit of a tier, in requests and responses.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitBody {
    path: String,
    limit: u32,
    period_seconds: u32,
}

impl LimitBody {
    pub(crate) fn into_domain(self) -> RateLimit {
        RateLimit {
            path: self.path,
            limit: self.limit,
            period_seconds: self.period_seconds,
        }
    }
}

/// `POST /admin/tiers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTierBody {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) limits: Vec<LimitBody>,
}

/// `PATCH /admin/tiers/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchTierBody {
    pub(crate) description: Option<String>,
    pub(crate) limits: Option<Vec<LimitBody>>,
}

/// A tier.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TierBody {
    name: String,
    description: String,
    limits: Vec<LimitBody>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Tier> for TierBody {
    fn from(tier: Tier) -> Self {
        Self {
            name: tier.name,
            description: tier.description,
            limits: tier
                .limits
                .into_iter()
                .map(|l| LimitBody {
                    path: l.path,
                    limit: l.limit,
                    period_seconds: l.period_seconds,
                })
                .collect(),
            created_at: tier.created_at,
            updated_at: tier.updated_at,
        }
    }
}

/// `GET /admin/audit` query string.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    pub(crate) user_id: Option<Uuid>,
    #[serde(default = "first_page")]
    pub(crate) page: u64,
    #[serde(default = "default_per_page")]
    pub(crate) per_page: u64,
}

/// One audit-trail entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEventBody {
    id: Uuid,
    at: DateTime<Utc>,
    action: &'static str,
    actor_id: Option<Uuid>,
    target_id: Option<Uuid>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<AuditEvent> for AuditEventBody {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            at: event.at,
            action: event.action.as_str(),
            actor_id: event.actor_id.map(|u| u.0),
            target_id: event.target_id.map(|u| u.0),
            ip: event.ip,
            user_agent: event.user_agent,
        }
    }
}

/// The user as clients see it: never a password hash.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserBody {
    id: Uuid,
    email: String,
    username: Option<String>,
    name: Option<String>,
    avatar_url: Option<String>,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    tier: String,
    email_verified: bool,
    /// Logins need a second factor (TOTP or a recovery code).
    mfa_enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            email: user.email.to_string(),
            username: user.username.map(|u| u.to_string()),
            name: user.name.map(|n| n.to_string()),
            avatar_url: user.avatar_url.map(|a| a.to_string()),
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            tier: user.tier.to_string(),
            email_verified: user.email_verified,
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// The token response of login, refresh and session check.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenBody {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_expires_in: Option<i64>,
    user: UserBody,
}

impl TokenBody {
    pub(crate) fn new(pair: TokenPair, now: DateTime<Utc>) -> Self {
        // Rounded down: `exp` is a whole second, so a token issued at 10.4 s
        // for 900 s expires at 910, 899.6 s away; saying 900 would have a
        // client refresh after the token expired.
        let until = |at: DateTime<Utc>| (at - now).num_seconds().max(0);
        Self {
            access_token: pair.access_token,
            token_type: "bearer",
            expires_in: until(pair.access_expires_at),
            refresh_expires_in: pair.refresh.as_ref().map(|(_, at)| until(*at)),
            refresh_token: pair.refresh.map(|(token, _)| token),
            user: pair.user.into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_with_a_password_never_print_it() {
        let secret = "hunter2 is my password";
        let login: LoginJson =
            serde_json::from_value(serde_json::json!({ "login": "ada", "password": secret })).unwrap();
        let change: ChangePasswordBody =
            serde_json::from_value(serde_json::json!({ "current_password": secret, "new_password": secret }))
                .unwrap();
        let delete: DeleteMeBody = serde_json::from_value(serde_json::json!({ "password": secret })).unwrap();
        let signup: SignupBody =
            serde_json::from_value(serde_json::json!({ "email": "ada@example.com", "password": secret }))
                .unwrap();
        let reset: PasswordResetBody =
            serde_json::from_value(serde_json::json!({ "token": secret, "new_password": secret })).unwrap();
        let link: LinkTokenBody = serde_json::from_value(serde_json::json!({ "token": secret })).unwrap();
        let email: ChangeEmailBody =
            serde_json::from_value(serde_json::json!({ "new_email": "b@example.com", "password": secret }))
                .unwrap();
        let mfa_login: MfaLoginBody =
            serde_json::from_value(serde_json::json!({ "mfa_token": secret, "code": secret })).unwrap();
        let begin: BeginTotpBody = serde_json::from_value(serde_json::json!({ "password": secret })).unwrap();
        let confirm: ConfirmTotpBody = serde_json::from_value(serde_json::json!({ "code": secret })).unwrap();
        let mfa_change: MfaChangeBody =
            serde_json::from_value(serde_json::json!({ "password": secret, "code": secret })).unwrap();
        for printed in [
            format!("{login:?}"),
            format!("{change:?}"),
            format!("{delete:?}"),
            format!("{signup:?}"),
            format!("{reset:?}"),
            format!("{link:?}"),
            format!("{email:?}"),
            format!("{mfa_login:?}"),
            format!("{begin:?}"),
            format!("{confirm:?}"),
            format!("{mfa_change:?}"),
        ] {
            assert!(!printed.contains("hunter2"), "{printed}");
        }
    }

    #[test]
    fn the_second_step_refuses_unknown_fields() {
        let err = serde_json::from_value::<MfaLoginBody>(serde_json::json!({
            "mfa_token": "t", "code": "123456", "remember_me": true
        }))
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `remember_me`"), "{err}");
    }

    #[test]
    fn the_user_json_says_whether_mfa_is_on() {
        let now = Utc::now();
        let user = User {
            id: latch_domain::UserId::generate(),
            email: latch_domain::Email::from_stored("a@example.com".into()),
            username: None,
            name: None,
            avatar_url: None,
            is_active: true,
            is_staff: false,
            is_superuser: false,
            tier: latch_domain::TierName::from_stored("default".into()),
            email_verified: false,
            mfa_enabled: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            deleted_at: None,
        };
        let json = serde_json::to_value(UserBody::from(user)).unwrap();
        assert_eq!(json["mfa_enabled"], true);
    }
}
