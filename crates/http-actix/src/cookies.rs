//! The `access_token` and `refresh_token` cookies.

use actix_web::HttpResponseBuilder;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use latch_core::TokenPair;
use latch_domain::Timestamp;

/// The refresh cookie is only ever sent to the auth routes (below the mount path).
const REFRESH_PATH: &str = "/api/v1/auth";

/// How the cookies are named and flagged.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    /// Set `Secure` (HTTPS only). Off only for local development.
    pub secure: bool,
    /// `SameSite` of the access cookie; the refresh cookie is always `Strict`.
    pub same_site: SameSite,
    /// Name of the access-token cookie.
    pub access_name: String,
    /// Name of the refresh-token cookie.
    pub refresh_name: String,
    /// Where Latch's routes are mounted (`""`, or a host's `/auth`): the
    /// refresh cookie's path starts with it.
    pub mount_path: String,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            secure: true,
            same_site: SameSite::Lax,
            access_name: "access_token".into(),
            refresh_name: "refresh_token".into(),
            mount_path: String::new(),
        }
    }
}

fn seconds_until(at: Timestamp, now: Timestamp) -> i64 {
    (at - now).num_seconds().max(0)
}

impl CookieSettings {
    fn refresh_path(&self) -> String {
        format!("{}{REFRESH_PATH}", self.mount_path)
    }

    /// Adds both cookies for a freshly issued pair (the refresh cookie only
    /// when the pair carries a refresh token).
    pub(crate) fn set(&self, response: &mut HttpResponseBuilder, pair: &TokenPair, now: Timestamp) {
        let access = Cookie::build(self.access_name.clone(), pair.access_token.clone())
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(self.same_site)
            .max_age(CookieDuration::seconds(seconds_until(
                pair.access_expires_at,
                now,
            )))
            .finish();
        response.cookie(access);
        if let Some((token, expires_at)) = &pair.refresh {
            let refresh = Cookie::build(self.refresh_name.clone(), token.clone())
                .path(self.refresh_path())
                .http_only(true)
                .secure(self.secure)
                .same_site(SameSite::Strict)
                .max_age(CookieDuration::seconds(seconds_until(*expires_at, now)))
                .finish();
            response.cookie(refresh);
        }
    }

    /// Adds expired copies of both cookies so the browser drops them.
    pub(crate) fn clear(&self, response: &mut HttpResponseBuilder) {
        for (name, path, same_site) in [
            (&self.access_name, "/", self.same_site),
            (&self.refresh_name, self.refresh_path().as_str(), SameSite::Strict),
        ] {
            let mut cookie = Cookie::build(name.clone(), "")
                .path(path)
                .http_only(true)
                .secure(self.secure)
                .same_site(same_site)
                .finish();
            cookie.make_removal();
            response.cookie(cookie);
        }
    }
}
