//! Browser-facing defences: the headers every response carries, the CORS
//! policy, and the CSRF check for requests authenticated by a cookie.

use actix_cors::Cors;
use actix_web::HttpRequest;
use actix_web::http::{Method, header};
use actix_web::middleware::DefaultHeaders;

use crate::ApiError;
use crate::client_ip::TrustedProxies;
use crate::problem::{RATELIMIT_LIMIT, RATELIMIT_POLICY, RATELIMIT_REMAINING, RATELIMIT_RESET};

/// The browser-facing security settings.
#[derive(Debug, Clone, Default)]
pub struct SecuritySettings {
    /// Origins that may call with CORS and pass the CSRF check.
    pub allowed_origins: AllowedOrigins,
    /// Let those origins send cookies and Authorization (`Access-Control-Allow-Credentials`).
    pub allow_credentials: bool,
    /// Send `Strict-Transport-Security` (on when cookies are `Secure`).
    pub hsts: bool,
    /// Peers whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
}

/// Configured origins, as `scheme://host[:port]` in lower case; `*` = any (CORS only).
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins {
    exact: Vec<String>,
    any: bool,
}

/// A `cors.allowed_origins` entry that is not an origin.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an origin: write scheme://host[:port], with no path (or \"*\")")]
pub struct InvalidOrigin(String);

impl AllowedOrigins {
    /// Parses `https://app.example.com`, `http://localhost:3000` or `*`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidOrigin> {
        let mut origins = Self::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry == "*" {
                origins.any = true;
                continue;
            }
            let normalized = entry.strip_suffix('/').unwrap_or(entry).to_ascii_lowercase();
            let valid = ["http://", "https://"].iter().any(|scheme| {
                normalized.strip_prefix(scheme).is_some_and(|authority| {
                    !authority.is_empty()
                        && header::HeaderValue::from_str(&normalized).is_ok()
                        && !authority.contains(['/', '?', '#', '@', ' ', '*'])
                })
            });
            if !valid {
                return Err(InvalidOrigin(entry.to_owned()));
            }
            origins.exact.push(normalized);
        }
        Ok(origins)
    }

    /// Whether `*` was configured.
    pub fn is_wildcard(&self) -> bool {
        self.any
    }

    fn contains(&self, origin: &str) -> bool {
        self.exact
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

/// Headers on every response, errors included.
pub(crate) fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::CACHE_CONTROL, "no-store"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"));
    if hsts {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// The CORS middleware. Start-up refuses `*` together with credentials, so
/// here a wildcard never reflects an origin with credentials allowed.
pub(crate) fn cors(settings: &SecuritySettings) -> Cors {
    let origins = &settings.allowed_origins;
    let mut cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([
            header::RETRY_AFTER,
            RATELIMIT_LIMIT,
            RATELIMIT_REMAINING,
            RATELIMIT_RESET,
            RATELIMIT_POLICY,
        ])
        .max_age(600);
    if origins.any && !settings.allow_credentials {
        cors = cors.allow_any_origin();
    }
    for origin in &origins.exact {
        cors = cors.allowed_origin(origin);
    }
    if settings.allow_credentials && !origins.any {
        cors = cors.supports_credentials();
    }
    cors
}

/// CSRF defence for a request authenticated by a cookie: a state-changing
/// method must come from an allowed origin or from this service's own origin
/// (`Origin`, else `Referer`; neither is refused). Browsers set both headers
/// themselves, so a cross-site page cannot forge them. A request carrying
/// `Authorization` is exempt: a cross-site page cannot add that header without
/// a CORS preflight, which only allowed origins pass.
pub(crate) fn check_csrf(req: &HttpRequest, allowed: &AllowedOrigins) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.headers().contains_key(header::AUTHORIZATION)
    {
        return Ok(());
    }
    let headers = req.headers();
    let origin = match headers.get(header::ORIGIN) {
        Some(value) => value.to_str().ok().map(str::to_owned),
        None => headers
            .get(header::REFERER)
            .and_then(|value| value.to_str().ok())
            .and_then(origin_of_url),
    };
    let Some(origin) = origin else {
        return Err(ApiError::CsrfFailed);
    };
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    let same_origin = host.is_some_and(|host| authority_of(&origin).eq_ignore_ascii_case(host));
    if same_origin || allowed.contains(&origin) {
        Ok(())
    } else {
        Err(ApiError::CsrfFailed)
    }
}

/// `https://host:port` of a URL, or `None` for anything without a scheme and host.
fn origin_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// The `host[:port]` part of an origin; `null` and other opaque origins have
/// none and so never equal a `Host` header.
fn authority_of(origin: &str) -> &str {
    origin.split_once("://").map_or("", |(_, authority)| authority)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn allowed() -> AllowedOrigins {
        AllowedOrigins::parse(&["https://app.example.com", "http://localhost:3000/"]).unwrap()
    }

    fn post() -> TestRequest {
        TestRequest::post().insert_header((header::HOST, "auth.example.com"))
    }

    fn refused(req: TestRequest) -> bool {
        matches!(
            check_csrf(&req.to_http_request(), &allowed()),
            Err(ApiError::CsrfFailed)
        )
    }

    #[test]
    fn origins_are_validated_and_normalised() {
        let origins = allowed();
        assert!(origins.contains("HTTP://LOCALHOST:3000"));
        assert!(!origins.is_wildcard());
        assert!(AllowedOrigins::parse(&["*"]).unwrap().is_wildcard());
        for bad in [
            "app.example.com",
            "https://",
            "https://a.example/path",
            "ftp://a.example",
            "https://*.a.example",
        ] {
            assert!(AllowedOrigins::parse(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn allowed_and_same_origins_pass() {
        assert!(!refused(
            post().insert_header((header::ORIGIN, "https://app.example.com"))
        ));
        assert!(!refused(
            post().insert_header((header::ORIGIN, "https://auth.example.com"))
        ));
        let referer = (header::REFERER, "http://localhost:3000/account?tab=1");
        assert!(!refused(post().insert_header(referer)));
    }

    #[test]
    fn missing_foreign_and_opaque_origins_are_refused() {
        assert!(refused(post()));
        assert!(refused(
            post().insert_header((header::ORIGIN, "https://evil.example"))
        ));
        assert!(refused(post().insert_header((header::ORIGIN, "null"))));
        assert!(refused(
            post().insert_header((header::REFERER, "https://evil.example/x"))
        ));
        // A foreign Origin is not rescued by an allowed Referer.
        let both = post()
            .insert_header((header::ORIGIN, "https://evil.example"))
            .insert_header((header::REFERER, "https://app.example.com/"));
        assert!(refused(both));
    }

    #[test]
    fn safe_methods_and_bearer_requests_are_not_checked() {
        assert!(check_csrf(&TestRequest::get().to_http_request(), &allowed()).is_ok());
        assert!(!refused(
            post().insert_header((header::AUTHORIZATION, "Bearer x"))
        ));
    }
}
