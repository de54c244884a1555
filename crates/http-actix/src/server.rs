//! Building and starting the actix-web server.

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, Scope, web};
use async_trait::async_trait;
use latch_core::AuthService;
use tracing_actix_web::TracingLogger;

use crate::body::BODY_LIMIT;
use crate::problem::problem_response;
use crate::request_span::{RequestSpan, echo_request_id};
use crate::routes::{admin, auth, resource_servers, system, users};
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
    web::scope(mount_path)
        .app_data(state.clone())
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::Validation {
                field: None,
                detail: format!("Bad query string: {err}"),
            }
            .into()
        }))
        .configure(routes)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
        }))
        .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
        .wrap(security::cors(&state.security))
        .wrap(security::security_headers(state.security.hsts))
}

/// Every route, relative to the mount path.
fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::scope("/api/v1")
                .service(web::resource("/auth/signup").route(web::post().to(auth::signup)))
                .service(web::resource("/auth/login").route(web::post().to(auth::login)))
                .service(web::resource("/auth/refresh").route(web::post().to(auth::refresh)))
                .service(web::resource("/auth/session").route(web::post().to(auth::session)))
                .service(web::resource("/auth/logout").route(web::post().to(auth::logout)))
                .service(
                    web::resource("/auth/introspect").route(web::post().to(resource_servers::introspect)),
                )
                .service(web::resource("/auth/tiers").route(web::get().to(resource_servers::tiers)))
                .service(
                    web::resource("/users/me")
                        .route(web::get().to(users::get_me))
                        .route(web::patch().to(users::patch_me))
                        .route(web::delete().to(users::delete_me)),
                )
                .service(web::resource("/users/me/password").route(web::post().to(users::change_password)))
                .service(web::resource("/users/me/sessions").route(web::get().to(users::list_sessions)))
                .service(
                    web::resource("/users/me/sessions/{id}").route(web::delete().to(users::revoke_session)),
                )
                .service(web::resource("/admin/users").route(web::get().to(admin::list_users)))
                .service(
                    web::resource("/admin/users/{id}")
                        .route(web::get().to(admin::get_user))
                        .route(web::patch().to(admin::patch_user))
                        .route(web::delete().to(admin::delete_user)),
                )
                .service(
                    web::resource("/admin/users/{id}/restore").route(web::post().to(admin::restore_user)),
                )
                .service(web::resource("/admin/audit").route(web::get().to(admin::list_audit)))
                .service(
                    web::resource("/admin/tiers")
                        .route(web::get().to(admin::list_tiers))
                        .route(web::post().to(admin::create_tier)),
                )
                .service(
                    web::resource("/admin/tiers/{name}")
                        .route(web::patch().to(admin::patch_tier))
                        .route(web::delete().to(admin::delete_tier)),
                ),
        )
        .service(web::resource("/healthz").route(web::get().to(system::healthz)))
        .service(web::resource("/readyz").route(web::get().to(system::readyz)))
        .service(web::resource("/.well-known/jwks.json").route(web::get().to(system::jwks)))
        .service(
            web::resource("/.well-known/openid-configuration")
                .route(web::get().to(resource_servers::discovery)),
        );
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
    let mut response = problem_response(status, code, detail.to_owned(), None, None);
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
