//! Request metrics and `GET /metrics`: every request is counted and timed
//! by method, route template and status, and the service's metrics are
//! served in the Prometheus text format, among Latch's routes or on a
//! listener of their own.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, ResponseError, web};

use crate::ApiError;

/// The route label of a request that matched no route: unknown paths share
/// it, so they cannot add series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Where request metrics are recorded and the scrape is rendered from.
pub trait HttpMetrics: Send + Sync + 'static {
    /// Counts one answered request: `method` (a standard method, or
    /// `OTHER`), `route` (the matched route's template, e.g.
    /// `/api/v1/users/me/sessions/{id}`, or [`UNMATCHED_ROUTE`]), the
    /// response's `status`, and the time from arrival to response.
    fn request(&self, method: &'static str, route: &str, status: u16, elapsed: Duration);

    /// Every metric, in the Prometheus text format (version 0.0.4).
    fn render(&self) -> String;
}

/// A method as a label value: one of the standard methods, or `OTHER` (a
/// client may send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// Middleware: counts and times the request in `metrics`, if any. The
/// route is the template the path matched (never the path itself).
pub(crate) async fn record(
    metrics: Option<Arc<dyn HttpMetrics>>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let Some(metrics) = metrics else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    // Read once routed: the router left the matched resource's index, so no
    // path is matched again. An error that escaped every handler has no
    // request left to ask, and counts as unmatched.
    let (route, status) = match &result {
        Ok(response) => (response.request().match_pattern(), response.status()),
        Err(err) => (None, err.as_response_error().status_code()),
    };
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    metrics.request(method, route, status.as_u16(), started.elapsed());
    result
}

/// Adds `GET /metrics`, served from `metrics`.
pub(crate) fn route(config: &mut web::ServiceConfig, metrics: Arc<dyn HttpMetrics>) {
    config.service(
        web::resource(PATH)
            .app_data(web::Data::from(Arc::new(Scrape(metrics))))
            .route(web::get().to(scrape)),
    );
}

/// Where the metrics are served, relative to the mount path.
pub(crate) const PATH: &str = "/metrics";

/// What `GET /metrics` renders.
pub(crate) struct Scrape(Arc<dyn HttpMetrics>);

/// `GET /metrics`: the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    description = "Served here unless `metrics.listen` gives the metrics a listener of their own, \
                   or `metrics.enabled` is off.",
    responses((status = 200, description = "Every metric, in the Prometheus text format.", body = String, content_type = "text/plain"))
)]
pub(crate) async fn scrape(metrics: web::Data<Scrape>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]))
        .body(metrics.0.render())
}

/// Serves only `GET /metrics` on `listener` (a private address, apart from
/// the API's), with one worker; any other path is a problem+json 404.
/// Requests here are not counted.
pub fn serve_metrics(listener: TcpListener, metrics: Arc<dyn HttpMetrics>) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .configure(|config| route(config, Arc::clone(&metrics)))
            .default_service(web::to(|| async { ApiError::NotFound.error_response() }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standard_methods_become_labels() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let invented = Method::from_bytes(b"BREW").unwrap_or(Method::GET);
        assert_eq!(method_label(&invented), "OTHER");
    }
}
