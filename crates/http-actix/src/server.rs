//! Building and starting the actix-web server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, Scope, web};
use async_trait::async_trait;
use latch_core::AuthService;
use tracing_actix_web::TracingLogger;

use crate::body::BODY_LIMIT;
use crate::metrics::{self, HttpMetrics};
use crate::openapi::{self, DocsPath, DocumentJson};
use crate::panic_guard;
use crate::problem::{ProblemExtensions, problem_response};
use crate::request_span::{RequestSpan, echo_request_id};
use crate::routes::{admin, auth, email, link_pages, mfa, resource_servers, system, users};
use crate::{ApiError, CookieSettings, SecuritySettings, security};

/// Tells `/readyz` whether the service's dependencies answer.
#[async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// True when requests can be served.
    async fn ready(&self) -> bool;
}

/// Everything the handlers share.
pub struct HttpState {
    /// The use cases.
    pub auth: AuthService,
    /// Cookie names and flags.
    pub cookies: CookieSettings,
    /// CORS, CSRF, security headers and trusted proxies.
    pub security: SecuritySettings,
    /// Log request bodies (secrets redacted) at debug level; refused in production.
    pub log_request_bodies: bool,
    /// The readiness probe.
    pub readiness: Box<dyn Readiness>,
    /// The URL clients reach Latch at, without a trailing slash (discovery names its routes under it).
    pub public_url: String,
    /// Where requests are counted and timed; `None` = not at all.
    pub metrics: Option<Arc<dyn HttpMetrics>>,
    /// Serve `GET /metrics` among these routes (off when a listener of its own serves it).
    pub metrics_route: bool,
}

/// Starts serving on `listener` (already bound, so port 0 works) with
/// `workers` worker threads. The returned server runs until stopped through
/// its handle; it does not listen for signals itself.
pub fn serve(listener: TcpListener, state: HttpState, workers: usize) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            // For the request span, which is built before any scope's data is in reach.
            .app_data(state.security.trusted_proxies.clone())
            .wrap(from_fn(echo_request_id))
            .wrap(TracingLogger::<RequestSpan>::new())
            .service(scope("", state.clone()))
    })
    .workers(workers)
    // The binary owns signal handling (it must be in place before it says it is listening).
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// Latch's routes under `mount_path` (`""`, or `/auth` in a host's `App`),
/// with their state, problem+json errors, CORS and security headers, and a
/// problem+json 404 for any other path below it. The host's `App` adds its
/// own logging; `state.cookies.mount_path` and `state.public_url` should
/// name the same mount.
pub fn scope(
    mount_path: &str,
    state: web::Data<HttpState>,
) -> Scope<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody + use<>>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    let serves_metrics = state.metrics.is_some() && state.metrics_route;
    let serves_email = state.auth.config().email.is_some();
    let document = openapi::document(mount_path, &state.cookies, serves_metrics, serves_email);
    let document = web::Bytes::from(document.to_string());
    let recorder = state.metrics.clone();
    web::scope(mount_path)
        .app_data(state.clone())
        .app_data(web::Data::new(DocumentJson(document)))
        .app_data(web::Data::new(DocsPath(format!("{mount_path}/docs/"))))
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::Validation {
                field: None,
                detail: format!("Bad query string: {err}"),
            }
            .into()
        }))
        .configure(routes)
        .configure(|config| {
            if serves_email {
                email_routes(config);
                link_pages(config);
            }
        })
        .configure(|config| {
            if let Some(recorder) = state.metrics.clone().filter(|_| state.metrics_route) {
                metrics::route(config, recorder);
            }
        })
        .service(openapi::docs_ui(mount_path))
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
        }))
        .wrap(from_fn(panic_guard::answer_panics))
        .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
        .wrap(security::cors(&state.security))
        .wrap(security::security_headers(state.security.hsts))
        .wrap(from_fn(move |req, next| {
            metrics::record(recorder.clone(), req, next)
        }))
}

/// Declares every route once: `routes` mounts them, and [`ROUTES`] lists
/// them for the test that holds the OpenAPI document to exactly these.
macro_rules! routes {
    (
        $(#[$doc:meta])* fn $mount:ident, $list:ident;
        $($path:literal => $($method:ident $handler:path),+;)*
    ) => {
        $(#[$doc])*
        fn $mount(config: &mut web::ServiceConfig) {
            $(config.service(web::resource($path)$(.route(web::$method().to($handler)))+);)*
        }

        /// These routes as (method, path), relative to the mount path.
        #[cfg_attr(not(test), allow(dead_code))]
        pub(crate) const $list: &[(&str, &str)] = &[$($((stringify!($method), $path),)+)*];
    };
}

routes! {
    /// Every route but the email flows', relative to the mount path.
    fn routes, ROUTES;
    "/api/v1/auth/signup" => post auth::signup;
    "/api/v1/auth/login" => post auth::login;
    "/api/v1/auth/login/mfa" => post auth::login_mfa;
    "/api/v1/auth/refresh" => post auth::refresh;
    "/api/v1/auth/session" => post auth::session;
    "/api/v1/auth/logout" => post auth::logout;
    "/api/v1/auth/introspect" => post resource_servers::introspect;
    "/api/v1/auth/tiers" => get resource_servers::tiers;
    "/api/v1/users/me" => get users::get_me, patch users::patch_me, delete users::delete_me;
    "/api/v1/users/me/password" => post users::change_password;
    "/api/v1/users/me/sessions" => get users::list_sessions;
    "/api/v1/users/me/sessions/{id}" => delete users::revoke_session;
    "/api/v1/users/me/mfa" => get mfa::mfa_status;
    "/api/v1/users/me/mfa/totp" => post mfa::begin_totp, delete mfa::disable_totp;
    "/api/v1/users/me/mfa/totp/confirm" => post mfa::confirm_totp;
    "/api/v1/users/me/mfa/recovery-codes" => post mfa::regenerate_recovery_codes;
    "/api/v1/admin/users" => get admin::list_users;
    "/api/v1/admin/users/{id}" => get admin::get_user, patch admin::patch_user, delete admin::delete_user;
    "/api/v1/admin/users/{id}/restore" => post admin::restore_user;
    "/api/v1/admin/users/{id}/mfa" => delete admin::remove_user_mfa;
    "/api/v1/admin/audit" => get admin::list_audit;
    "/api/v1/admin/tiers" => get admin::list_tiers, post admin::create_tier;
    "/api/v1/admin/tiers/{name}" => patch admin::patch_tier, delete admin::delete_tier;
    "/healthz" => get system::healthz;
    "/readyz" => get system::readyz;
    "/.well-known/jwks.json" => get system::jwks;
    "/.well-known/openid-configuration" => get resource_servers::discovery;
    "/openapi.json" => get openapi::serve_document;
    "/docs" => get openapi::docs_redirect;
}

routes! {
    /// The email flows' routes, mounted only when email is on.
    fn email_routes, EMAIL_ROUTES;
    "/api/v1/auth/verification/request" => post email::request_verification;
    "/api/v1/auth/verification/confirm" => post email::confirm_verification;
    "/api/v1/auth/password-reset/request" => post email::request_password_reset;
    "/api/v1/auth/password-reset/confirm" => post email::confirm_password_reset;
    "/api/v1/users/me/email" => post email::request_email_change;
    "/api/v1/auth/email-change/confirm" => post email::confirm_email_change;
}

routes! {
    /// The pages the emailed links open, mounted with the email routes
    /// (pages for people: not in the OpenAPI document).
    fn link_pages, LINK_PAGES;
    "/verify-email" => get link_pages::verify_email;
    "/reset-password" => get link_pages::reset_password;
    "/confirm-email" => get link_pages::confirm_email;
    "/link-pages.js" => get link_pages::script;
    "/link-pages.css" => get link_pages::stylesheet;
}

/// Errors raised by actix itself (wrong method, unreadable body, ...) come
/// without our body: give them a problem+json one, leaving ours untouched.
fn problem_for_bare_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, detail) = match status.as_u16() {
        400 => ("malformed_body", "The request could not be read."),
        404 => ("not_found", "There is nothing at this path."),
        405 => ("method_not_allowed", "This path does not accept this method."),
        413 => (
            "payload_too_large",
            "The request body is larger than this route accepts.",
        ),
        415 => ("unsupported_media_type", "Send the body as application/json."),
        s if s >= 500 => ("internal_error", "Something went wrong on our side."),
        _ => ("request_failed", "The request failed."),
    };
    let (req, original) = res.into_parts();
    let mut response = problem_response(status, code, detail.to_owned(), ProblemExtensions::default());
    // Keep headers actix set for a reason (Allow on 405, ...).
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
