//! Request and response bodies of the v1 API. They live only here; the core
//! sees its own request types.

use chrono::{DateTime, Utc};
use latch_core::{AdminChanges, Client, ProfileChanges, SessionView, SignupRequest, TokenPair};
use latch_domain::{AuditEvent, RateLimit, Tier, User};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// `POST /auth/signup`. Unknown fields — including every privileged one — are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignupBody {
    email: String,
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginJson {
    #[serde(alias = "email", alias = "username")]
    pub(crate) login: String,
    pub(crate) password: SecretString,
}

/// `POST /auth/login` as an OAuth2 password-grant form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginForm {
    pub(crate) username: String,
    pub(crate) password: SecretString,
    pub(crate) grant_type: Option<String>,
    // Sent by OAuth2 clients; Latch has no scopes or clients, so they are read and ignored.
    #[allow(dead_code)]
    scope: Option<String>,
    #[allow(dead_code)]
    client_id: Option<String>,
    #[allow(dead_code)]
    client_secret: Option<SecretString>,
}

/// `POST /auth/refresh` body (the cookie is the alternative).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshBody {
    /// Absent (`{}`): the cookie is used, and with no cookie either the
    /// request carries no credentials (401).
    pub(crate) refresh_token: Option<String>,
}

/// `?scope=` of `POST /auth/logout`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogoutQuery {
    pub(crate) scope: Option<String>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `PATCH /users/me`: profile fields only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchMeBody {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordBody {
    pub(crate) current_password: SecretString,
    pub(crate) new_password: SecretString,
}

/// `DELETE /users/me`: the password confirms the deletion.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteMeBody {
    pub(crate) password: SecretString,
}

/// One of the caller's sessions.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
pub(crate) struct ItemsBody<T> {
    pub(crate) items: Vec<T>,
}

/// `GET /admin/users` query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminPatchUserBody {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
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
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
pub(crate) struct PageBody<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: u64,
    pub(crate) page: u64,
    pub(crate) per_page: u64,
}

/// One per-path limit of a tier, in requests and responses.
#[derive(Debug, Deserialize, Serialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTierBody {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) limits: Vec<LimitBody>,
}

/// `PATCH /admin/tiers/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchTierBody {
    pub(crate) description: Option<String>,
    pub(crate) limits: Option<Vec<LimitBody>>,
}

/// A tier.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    pub(crate) user_id: Option<Uuid>,
    #[serde(default = "first_page")]
    pub(crate) page: u64,
    #[serde(default = "default_per_page")]
    pub(crate) per_page: u64,
}

/// One audit-trail entry.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
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
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// The token response of login, refresh and session check.
#[derive(Debug, Serialize)]
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
        for printed in [
            format!("{login:?}"),
            format!("{change:?}"),
            format!("{delete:?}"),
            format!("{signup:?}"),
        ] {
            assert!(!printed.contains("hunter2"), "{printed}");
        }
    }
}
