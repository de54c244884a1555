//! The caller, as a verified Latch token describes them, and the extractors
//! and rules that protect routes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use crate::{Guard, GuardError};

/// The caller of a route: an access token verified offline against Latch's
/// keys. Take it as a handler argument; `Option<AuthUser>` makes the token
/// optional (a missing, invalid or expired one is then `None`).
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user (`sub`).
    pub id: Uuid,
    /// The session (`sid`): what a logout ends.
    pub session_id: Uuid,
    /// The token's own id (`jti`).
    pub token_id: Uuid,
    /// When the token expires, seconds since the epoch (`exp`).
    pub expires_at: i64,
    /// The user's email.
    pub email: String,
    /// The user's display name.
    pub name: Option<String>,
    /// The user's avatar URL.
    pub avatar_url: Option<String>,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Staff flag.
    pub is_staff: bool,
    /// The user's tier.
    pub tier: String,
    /// How the session was opened (`amr`, RFC 8176): `["pwd"]`, or
    /// `["pwd", "otp"]` after a second factor.
    pub auth_methods: Vec<String>,
    pub(crate) tier_order: Arc<[String]>,
}

impl AuthUser {
    /// Only superusers.
    ///
    /// # Errors
    /// [`GuardError::Forbidden`] for anyone else.
    pub fn require_superuser(&self) -> Result<(), GuardError> {
        if self.is_superuser {
            Ok(())
        } else {
            Err(GuardError::Forbidden("Only superusers may do this."))
        }
    }

    /// Staff and superusers.
    ///
    /// # Errors
    /// [`GuardError::Forbidden`] for anyone else.
    pub fn require_staff(&self) -> Result<(), GuardError> {
        if self.is_staff || self.is_superuser {
            Ok(())
        } else {
            Err(GuardError::Forbidden("Only staff may do this."))
        }
    }

    /// The owner of a resource, or a superuser: the rule for changing
    /// something that belongs to a user.
    ///
    /// # Errors
    /// [`GuardError::Forbidden`] for anyone else.
    pub fn require_owner_or_superuser(&self, owner: Uuid) -> Result<(), GuardError> {
        if self.id == owner || self.is_superuser {
            Ok(())
        } else {
            Err(GuardError::Forbidden(
                "Only its owner or a superuser may do this.",
            ))
        }
    }

    /// A session opened with a second factor (`otp` in `amr`): the rule for
    /// sensitive actions.
    ///
    /// # Errors
    /// [`GuardError::Forbidden`] for a password-only session.
    pub fn require_second_factor(&self) -> Result<(), GuardError> {
        if self.auth_methods.iter().any(|method| method == "otp") {
            Ok(())
        } else {
            Err(GuardError::Forbidden("This needs a login with a second factor."))
        }
    }

    /// A tier at least as high as `minimum` in the guard's
    /// [`tier_order`](crate::GuardBuilder::tier_order).
    ///
    /// # Errors
    /// [`GuardError::Forbidden`] for a lower tier, or one not in the order.
    pub fn require_tier_at_least(&self, minimum: &str) -> Result<(), GuardError> {
        let rank = |tier: &str| self.tier_order.iter().position(|t| t == tier);
        match (rank(&self.tier), rank(minimum)) {
            (Some(have), Some(need)) if have >= need => Ok(()),
            _ => Err(GuardError::Forbidden("Your tier does not include this.")),
        }
    }
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, GuardError>>>>;

/// The guard in the app data (as itself or as `web::Data<Guard>`).
fn guard_of(req: &HttpRequest) -> Result<Guard, GuardError> {
    req.app_data::<Guard>()
        .or_else(|| req.app_data::<web::Data<Guard>>().map(|data| data.get_ref()))
        .cloned()
        .ok_or_else(|| {
            tracing::error!("latch_guard: add the Guard with App::app_data before using its extractors");
            GuardError::NotConfigured
        })
}

/// The bearer token, else the configured cookie. A malformed `Authorization`
/// header is refused, never a fall-back to the cookie.
fn token_of(req: &HttpRequest, guard: &Guard) -> Result<String, GuardError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| GuardError::InvalidToken)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(GuardError::InvalidToken)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(GuardError::InvalidToken);
        }
        return Ok(token.to_owned());
    }
    guard
        .cookie()
        .and_then(|name| req.cookie(name))
        .map(|cookie| cookie.value().to_owned())
        .ok_or(GuardError::Unauthenticated)
}

/// What each extractor does once it has the guard and the token.
async fn extract<T>(
    req: HttpRequest,
    check: impl AsyncFnOnce(&Guard, &HttpRequest, String) -> Result<T, GuardError>,
) -> Result<T, GuardError> {
    let guard = guard_of(&req)?;
    let token = token_of(&req, &guard)?;
    check(&guard, &req, token).await
}

impl FromRequest for AuthUser {
    type Error = GuardError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(extract(req.clone(), async |guard, _, token| {
            guard.verify(&token).await
        }))
    }
}

/// A superuser; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct Superuser(pub AuthUser);

impl FromRequest for Superuser {
    type Error = GuardError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(extract(req.clone(), async |guard, _, token| {
            let user = guard.verify(&token).await?;
            user.require_superuser()?;
            Ok(Self(user))
        }))
    }
}

/// Staff or a superuser; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct Staff(pub AuthUser);

impl FromRequest for Staff {
    type Error = GuardError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(extract(req.clone(), async |guard, _, token| {
            let user = guard.verify(&token).await?;
            user.require_staff()?;
            Ok(Self(user))
        }))
    }
}

/// A caller whose token Latch says is live right now (introspection, cached
/// briefly): for routes that must honour a logout at once.
#[derive(Debug, Clone)]
pub struct LiveUser(pub AuthUser);

impl FromRequest for LiveUser {
    type Error = GuardError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(extract(req.clone(), async |guard, _, token| {
            Ok(Self(guard.verify_live(&token).await?))
        }))
    }
}

/// A caller within their tier's limit for this request's path; 429 with
/// `Retry-After` and the `RateLimit-*` headers once it is spent.
#[derive(Debug, Clone)]
pub struct TierLimited(pub AuthUser);

impl FromRequest for TierLimited {
    type Error = GuardError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(extract(req.clone(), async |guard, req, token| {
            let user = guard.verify(&token).await?;
            guard.admit(&user, req.path()).await?;
            Ok(Self(user))
        }))
    }
}
