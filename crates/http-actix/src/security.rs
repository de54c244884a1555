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
    /// Send `Strict-Transport-Security` (on when cookies are `Secure`). Browsers
    /// then reach Latch over HTTPS only, so its own origin is `https://`.
    pub hsts: bool,
    /// Peers whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
}

/// Configured origins, as `scheme://host[:port]` in lower case; `*` = any (CORS only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
            crate::request_span::X_REQUEST_ID,
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
pub(crate) fn check_csrf(req: &HttpRequest, settings: &SecuritySettings) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.headers().contains_key(header::AUTHORIZATION)
    {
        return Ok(());
    }
    check_origin(req, settings)
}

/// Login CSRF defence: a foreign page must not sign the browser into the
/// attacker's account. A login that names where it comes from (`Origin`, else
/// `Referer`) must come from an allowed origin or Latch's own. One that names
/// nothing is a non-browser client (curl, a backend) and passes: browsers
/// always send `Origin` on a cross-site POST.
pub(crate) fn check_login_origin(req: &HttpRequest, settings: &SecuritySettings) -> Result<(), ApiError> {
    let headers = req.headers();
    if !headers.contains_key(header::ORIGIN) && !headers.contains_key(header::REFERER) {
        return Ok(());
    }
    check_origin(req, settings)
}

/// The request's `Origin` (else its `Referer`'s origin) is allowed or is Latch's own.
fn check_origin(req: &HttpRequest, settings: &SecuritySettings) -> Result<(), ApiError> {
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
    let same_origin = host.is_some_and(|host| is_same_origin(&origin, own_scheme(req, settings), host));
    if same_origin || settings.allowed_origins.contains(&origin) {
        Ok(())
    } else {
        Err(ApiError::CsrfFailed)
    }
}

/// Latch's own scheme: `https` when HSTS is on, else the scheme the client
/// used as far as the connection and trusted proxies tell.
fn own_scheme(req: &HttpRequest, settings: &SecuritySettings) -> &'static str {
    if settings.hsts {
        "https"
    } else {
        settings.trusted_proxies.scheme(req)
    }
}

/// `https://host:port` of a URL, or `None` for anything without a scheme and host.
fn origin_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// Whether `origin` has `scheme`, and the host and port of `host` (a `Host`
/// header). `null` and other opaque origins never match.
fn is_same_origin(origin: &str, scheme: &str, host: &str) -> bool {
    let Some((origin_scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if !origin_scheme.eq_ignore_ascii_case(scheme) {
        return false;
    }
    match (host_and_port(authority, scheme), host_and_port(host, scheme)) {
        (Some((a, a_port)), Some((b, b_port))) => a.eq_ignore_ascii_case(b) && a_port == b_port,
        _ => false,
    }
}

/// `host[:port]` split, with the scheme's default port when none (or an empty
/// one) is written, so `https://a` and `a:443` compare equal. `None` when the
/// port is not a number.
fn host_and_port<'a>(authority: &'a str, scheme: &str) -> Option<(&'a str, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        Some(rest) => {
            let (_, after) = rest.split_once(']')?;
            let host = &authority[..authority.len() - after.len()];
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None | Some("") if scheme.eq_ignore_ascii_case("https") => 443,
        None | Some("") => 80,
        Some(port) => port.parse().ok()?,
    };
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::client_ip::ForwardedHeader;

    fn allowed() -> AllowedOrigins {
        AllowedOrigins::parse(&["https://app.example.com", "http://localhost:3000/"]).unwrap()
    }

    fn post() -> TestRequest {
        TestRequest::post().insert_header((header::HOST, "auth.example.com"))
    }

    fn settings() -> SecuritySettings {
        SecuritySettings {
            allowed_origins: allowed(),
            ..SecuritySettings::default()
        }
    }

    fn refused_with(req: TestRequest, settings: &SecuritySettings) -> bool {
        matches!(
            check_csrf(&req.to_http_request(), settings),
            Err(ApiError::CsrfFailed)
        )
    }

    fn refused(req: TestRequest) -> bool {
        refused_with(req, &settings())
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
            post().insert_header((header::ORIGIN, "http://auth.example.com"))
        ));
        let referer = (header::REFERER, "http://localhost:3000/account?tab=1");
        assert!(!refused(post().insert_header(referer)));
    }

    #[test]
    fn same_origin_needs_the_same_scheme() {
        let https_service = SecuritySettings {
            hsts: true,
            ..settings()
        };
        let https = post().insert_header((header::ORIGIN, "https://auth.example.com"));
        assert!(!refused_with(https, &https_service));
        let http = post().insert_header((header::ORIGIN, "http://auth.example.com"));
        assert!(refused_with(http, &https_service));
        // A plain-HTTP service is not reached from an https page of the same host.
        let https = post().insert_header((header::ORIGIN, "https://auth.example.com"));
        assert!(refused(https));
    }

    #[test]
    fn a_trusted_proxy_vouches_for_https_and_nobody_else_does() {
        let peer: std::net::SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let behind_proxy = SecuritySettings {
            trusted_proxies: TrustedProxies::parse(&["10.0.0.1"], ForwardedHeader::XForwardedFor).unwrap(),
            ..settings()
        };
        let via_tls_proxy = || {
            post()
                .peer_addr(peer)
                .insert_header((header::X_FORWARDED_PROTO, "https"))
        };
        let https = via_tls_proxy().insert_header((header::ORIGIN, "https://auth.example.com"));
        assert!(!refused_with(https, &behind_proxy));
        let http = via_tls_proxy().insert_header((header::ORIGIN, "http://auth.example.com"));
        assert!(refused_with(http, &behind_proxy));
        // The same claim from a peer that is not a trusted proxy changes nothing.
        let forged = via_tls_proxy().insert_header((header::ORIGIN, "https://auth.example.com"));
        assert!(refused(forged));
    }

    #[test]
    fn same_origin_compares_host_and_port_with_default_ports_implied() {
        assert!(is_same_origin("https://a.example", "https", "a.example:443"));
        assert!(is_same_origin("https://a.example:443", "https", "A.Example"));
        assert!(is_same_origin("http://a.example:80", "http", "a.example"));
        assert!(is_same_origin("http://[::1]:8080", "http", "[::1]:8080"));
        assert!(is_same_origin("http://[::1]", "http", "[::1]:80"));
        assert!(!is_same_origin("https://a.example", "https", "a.example:8443"));
        assert!(!is_same_origin("http://a.example:8080", "http", "a.example:8081"));
        assert!(!is_same_origin("http://a.example", "http", "b.example"));
        assert!(!is_same_origin("https://a.example:80", "https", "a.example"));
        assert!(!is_same_origin("http://a.example:x", "http", "a.example"));
        assert!(!is_same_origin("null", "http", "a.example"));
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

    fn login_refused(req: TestRequest) -> bool {
        matches!(
            check_login_origin(&req.to_http_request(), &settings()),
            Err(ApiError::CsrfFailed)
        )
    }

    #[test]
    fn a_login_from_a_foreign_page_is_refused() {
        assert!(login_refused(
            post().insert_header((header::ORIGIN, "https://evil.example"))
        ));
        assert!(login_refused(
            post().insert_header((header::REFERER, "https://evil.example/login"))
        ));
        assert!(login_refused(post().insert_header((header::ORIGIN, "null"))));
        // An Authorization header does not exempt a login.
        let with_authorization = post()
            .insert_header((header::ORIGIN, "https://evil.example"))
            .insert_header((header::AUTHORIZATION, "Bearer x"));
        assert!(login_refused(with_authorization));
    }

    #[test]
    fn a_login_from_an_allowed_or_own_page_or_no_page_passes() {
        assert!(!login_refused(
            post().insert_header((header::ORIGIN, "https://app.example.com"))
        ));
        assert!(!login_refused(
            post().insert_header((header::ORIGIN, "http://auth.example.com"))
        ));
        assert!(!login_refused(post()), "curl and backends send no Origin");
    }

    #[test]
    fn safe_methods_and_bearer_requests_are_not_checked() {
        assert!(check_csrf(&TestRequest::get().to_http_request(), &settings()).is_ok());
        assert!(!refused(
            post().insert_header((header::AUTHORIZATION, "Bearer x"))
        ));
    }
}
