//! The pages an emailed link opens when `email.link_base_url` points at
//! Latch itself (the default): a form that posts the link's token to the
//! matching confirm route. Built into the binary; a front end of your own
//! can replace them by serving these paths under its own `link_base_url`.

use actix_web::HttpResponse;
use actix_web::http::header;

/// Scripts and styles from this origin only, no inline code, no framing.
/// (`Referrer-Policy: no-referrer`, on every response, keeps the link's
/// token out of any `Referer`.)
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                           form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .body(body)
}

const HTML: &str = "text/html; charset=utf-8";

/// `GET /verify-email?token=…`.
pub(crate) async fn verify_email() -> HttpResponse {
    page(HTML, include_str!("../../assets/link-pages/verify-email.html"))
}

/// `GET /reset-password?token=…`.
pub(crate) async fn reset_password() -> HttpResponse {
    page(HTML, include_str!("../../assets/link-pages/reset-password.html"))
}

/// `GET /confirm-email?token=…`.
pub(crate) async fn confirm_email() -> HttpResponse {
    page(HTML, include_str!("../../assets/link-pages/confirm-email.html"))
}

/// `GET /link-pages.js`: what the three pages run.
pub(crate) async fn script() -> HttpResponse {
    page(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/link-pages/link-pages.js"),
    )
}

/// `GET /link-pages.css`.
pub(crate) async fn stylesheet() -> HttpResponse {
    page(
        "text/css; charset=utf-8",
        include_str!("../../assets/link-pages/link-pages.css"),
    )
}
