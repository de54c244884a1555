//! The root span of every request, as `tracing-actix-web` would build it but
//! with the client address and scheme under Latch's trusted-proxy rules, and
//! credentials cut out of the logged query string.
//!
//! The library's `root_span!` takes both from actix's `connection_info()`,
//! which believes `X-Forwarded-For` and `X-Forwarded-Proto` from any peer, and
//! a span cannot declare a field twice; so the fields are declared here.

use std::borrow::Cow;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Version, header};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use crate::body::{REDACTED, is_secret};
use crate::client_ip::TrustedProxies;

/// Builds the request span (`TracingLogger::<RequestSpan>`). Reads the
/// `TrustedProxies` registered as app data; without them it trusts no proxy.
pub(crate) struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let untrusting = TrustedProxies::default();
        let proxies = request.app_data::<TrustedProxies>().unwrap_or(&untrusting);
        let client_ip = proxies
            .client_ip(request.request())
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let header = |name| request.headers().get(name).and_then(|value| value.to_str().ok());
        // HTTP/2 carries the host in the URI; the configured host is actix's last resort too.
        let host = header(header::HOST)
            .or_else(|| request.uri().authority().map(|authority| authority.as_str()))
            .unwrap_or_else(|| request.request().app_config().host());
        let method = request.method().as_str();
        let route = request.match_pattern().unwrap_or_else(|| "default".to_owned());
        let request_id = request_id(request, proxies);
        request.extensions_mut().insert(request_id.clone());
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = %flavor(request.version()),
            http.scheme = %proxies.scheme(request.request()),
            http.host = %host,
            http.client_ip = %client_ip,
            http.user_agent = %header(header::USER_AGENT).unwrap_or_default(),
            http.target = %redacted_target(request.uri().path_and_query().map_or("", |target| target.as_str())),
            http.status_code = Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = Empty,
            trace_id = Empty,
            request_id = %request_id.0,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        // A refusal (401, 422, 429, ...) is the service working: debug, not a
        // warning. A server error's cause was logged where it happened.
        let (status, error) = match outcome {
            Ok(response) => (
                response.status(),
                response.response().error().map(ToString::to_string),
            ),
            Err(error) => (error.as_response_error().status_code(), Some(error.to_string())),
        };
        let _in_request = span.enter();
        let error = error.unwrap_or_default();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), %error, "request failed");
        } else if status.is_client_error() {
            tracing::debug!(status = status.as_u16(), %error, "request refused");
        }
    }
}

/// The request's id: a trusted proxy's `X-Request-Id` (so one id follows a
/// request through the proxy's logs and ours), else a new UUID. Sent back in
/// the response's `X-Request-Id` and on every log line of the request.
#[derive(Debug, Clone)]
pub(crate) struct LoggedRequestId(pub(crate) String);

/// The longest `X-Request-Id` taken from a proxy.
const REQUEST_ID_MAX: usize = 128;

fn request_id(request: &ServiceRequest, proxies: &TrustedProxies) -> LoggedRequestId {
    let forwarded = proxies
        .sent_by_proxy(request.request())
        .then(|| request.headers().get(X_REQUEST_ID)?.to_str().ok())
        .flatten()
        .filter(|id| {
            !id.is_empty() && id.len() <= REQUEST_ID_MAX && id.bytes().all(|b| b.is_ascii_graphic())
        });
    let id = match forwarded {
        Some(id) => id.to_owned(),
        None => request
            .extensions()
            .get::<RequestId>()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), ToString::to_string),
    };
    LoggedRequestId(id)
}

/// `X-Request-Id`.
pub(crate) const X_REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// Answers with the request's id in `X-Request-Id` (inside `TracingLogger`,
/// which gave the request its id).
pub(crate) async fn echo_request_id(
    request: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request.extensions().get::<LoggedRequestId>().cloned();
    let mut response = next.call(request).await?;
    if let Some(value) = id.and_then(|id| header::HeaderValue::from_str(&id.0).ok()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}

/// The request target as logged: the value of each query parameter named
/// like a credential (`access_token`, `password`, `code`, ...) replaced by
/// `[redacted]`. Latch refuses tokens in the query, but a client that sends
/// one anyway must not leave it in the logs.
fn redacted_target(target: &str) -> Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else {
        return Cow::Borrowed(target);
    };
    if !query.split('&').any(|pair| credential_name(pair).is_some()) {
        return Cow::Borrowed(target);
    }
    let query: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| match credential_name(pair) {
            Some(name) => Cow::Owned(format!("{name}={REDACTED}")),
            None => Cow::Borrowed(pair),
        })
        .collect();
    Cow::Owned(format!("{path}?{}", query.join("&")))
}

/// The name of a `name=value` query pair that holds a credential.
fn credential_name(pair: &str) -> Option<&str> {
    let (name, _) = pair.split_once('=')?;
    is_credential(name).then_some(name)
}

/// Whether a raw (percent-encoded) query parameter name is a credential's:
/// a name the body redaction hides (an OAuth-style `code` among them).
fn is_credential(raw_name: &str) -> bool {
    // Decoded so that `access%5Ftoken` is caught too.
    let name = serde_urlencoded::from_str::<Vec<(String, String)>>(raw_name)
        .ok()
        .and_then(|pairs| pairs.into_iter().next())
        .map_or_else(|| raw_name.to_owned(), |(name, _)| name)
        .to_ascii_lowercase();
    is_secret(&name)
}

/// `http.flavor` as OpenTelemetry writes it.
fn flavor(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2.0",
        Version::HTTP_3 => "3.0",
        _ => "1.1",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, HttpResponse, web};
    use tracing_actix_web::TracingLogger;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::fmt::format::FmtSpan;

    use super::*;
    use crate::client_ip::ForwardedHeader;

    /// Collects what the fmt subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// Captures this thread's logs at `level` and above, closed spans
    /// included, until the guard is dropped.
    fn capture(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_max_level(level)
            .with_span_events(FmtSpan::CLOSE)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// The log lines of one request from peer `198.51.100.7` that forges
    /// `X-Forwarded-For` and `X-Forwarded-Proto`, served behind `proxies`.
    async fn logged_request(proxies: TrustedProxies, target: &str) -> String {
        let (captured, _guard) = capture(tracing::Level::INFO);
        let app = init_service(
            App::new()
                .app_data(proxies)
                .wrap(TracingLogger::<RequestSpan>::new())
                .route("/api/v1/users/me", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let request = TestRequest::get()
            .uri(target)
            .peer_addr("198.51.100.7:40000".parse().unwrap())
            .insert_header(("x-forwarded-for", "6.6.6.6"))
            .insert_header(("x-forwarded-proto", "https"))
            .to_request();
        assert!(call_service(&app, request).await.status().is_success());
        drop(app);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    /// The log lines, at `level` and above, of one request to a route answering `error`.
    async fn logged_refusal(error: crate::ApiError, level: tracing::Level) -> String {
        let (captured, _guard) = capture(level);
        let app = init_service(App::new().wrap(TracingLogger::<RequestSpan>::new()).route(
            "/x",
            web::get().to(move || {
                let error = error.clone();
                async move { Err::<HttpResponse, _>(error) }
            }),
        ))
        .await;
        call_service(&app, TestRequest::get().uri("/x").to_request()).await;
        drop(app);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    /// The response's `X-Request-Id` and the logs of a request from
    /// `198.51.100.7` that sends `X-Request-Id: from-the-proxy`.
    async fn request_with_an_id(proxies: TrustedProxies) -> (String, String) {
        let (captured, _guard) = capture(tracing::Level::INFO);
        let app = init_service(
            App::new()
                .app_data(proxies)
                .wrap(actix_web::middleware::from_fn(echo_request_id))
                .wrap(TracingLogger::<RequestSpan>::new())
                .route("/x", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let request = TestRequest::get()
            .uri("/x")
            .peer_addr("198.51.100.7:40000".parse().unwrap())
            .insert_header(("x-request-id", "from-the-proxy"))
            .to_request();
        let response = call_service(&app, request).await;
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        // The span closes (and is logged) with the response body.
        drop(response);
        drop(app);
        (id, String::from_utf8(captured.0.lock().unwrap().clone()).unwrap())
    }

    #[actix_web::test]
    async fn a_trusted_proxys_request_id_is_kept_logged_and_echoed() {
        let proxies = TrustedProxies::parse(&["198.51.100.7"], ForwardedHeader::XForwardedFor).unwrap();
        let (id, logs) = request_with_an_id(proxies).await;
        assert_eq!(id, "from-the-proxy");
        assert!(logs.contains("request_id=from-the-proxy"), "{logs}");
    }

    #[actix_web::test]
    async fn anyone_elses_request_id_is_replaced_by_a_new_one() {
        let (id, logs) = request_with_an_id(TrustedProxies::default()).await;
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(logs.contains(&format!("request_id={id}")), "{logs}");
        assert!(!logs.contains("from-the-proxy"), "{logs}");
    }

    #[actix_web::test]
    async fn a_refusal_is_not_a_warning() {
        let warnings = logged_refusal(crate::ApiError::InvalidToken, tracing::Level::WARN).await;
        assert!(warnings.is_empty(), "{warnings}");
        let debug = logged_refusal(crate::ApiError::InvalidToken, tracing::Level::DEBUG).await;
        assert!(
            debug.contains("request refused") && debug.contains("status=401"),
            "{debug}"
        );
    }

    #[actix_web::test]
    async fn a_server_error_is_an_error() {
        let logs = logged_refusal(crate::ApiError::Internal, tracing::Level::WARN).await;
        assert!(logs.contains("ERROR") && logs.contains("status=500"), "{logs}");
    }

    #[test]
    fn credentials_in_the_query_are_redacted() {
        assert_eq!(
            redacted_target("/api/v1/users/me?access_token=eyJhbGciOi.x.y&page=2"),
            "/api/v1/users/me?access_token=[redacted]&page=2"
        );
        assert_eq!(
            redacted_target("/cb?code=abc&state=s&Refresh_Token=latch_rt_1&token=t&password=p"),
            "/cb?code=[redacted]&state=s&Refresh_Token=[redacted]&token=[redacted]&password=[redacted]"
        );
        assert_eq!(
            redacted_target("/x?access%5Ftoken=secret&otp_code=123"),
            "/x?access%5Ftoken=[redacted]&otp_code=[redacted]"
        );
    }

    #[test]
    fn other_targets_are_logged_as_sent() {
        for target in [
            "/api/v1/admin/users?page=2&q=ada",
            "/api/v1/auth/logout?scope=global",
            "/healthz",
            "/x?token",
            "/x?&&",
            "",
        ] {
            assert_eq!(redacted_target(target), target);
        }
    }

    #[actix_web::test]
    async fn the_logged_target_carries_no_token() {
        let logs = logged_request(
            TrustedProxies::default(),
            "/api/v1/users/me?access_token=eyJ.secret.sig",
        )
        .await;
        assert!(
            logs.contains("http.target=/api/v1/users/me?access_token=[redacted]"),
            "{logs}"
        );
        assert!(!logs.contains("eyJ.secret.sig"), "{logs}");
    }

    #[actix_web::test]
    async fn the_span_ignores_forwarding_headers_from_an_untrusted_peer() {
        let logs = logged_request(TrustedProxies::default(), "/api/v1/users/me").await;
        assert!(logs.contains("http.client_ip=198.51.100.7"), "{logs}");
        assert!(logs.contains("http.scheme=http"), "{logs}");
        assert!(!logs.contains("6.6.6.6"), "{logs}");
    }

    #[actix_web::test]
    async fn the_span_believes_a_trusted_proxy() {
        let proxies = TrustedProxies::parse(&["198.51.100.7"], ForwardedHeader::XForwardedFor).unwrap();
        let logs = logged_request(proxies, "/api/v1/users/me").await;
        assert!(logs.contains("http.client_ip=6.6.6.6"), "{logs}");
        assert!(logs.contains("http.scheme=https"), "{logs}");
        assert!(logs.contains("http.route=/api/v1/users/me"), "{logs}");
        assert!(logs.contains("http.status_code=200"), "{logs}");
        assert!(logs.contains("http.host=localhost:8080"), "{logs}");
    }
}
