//! A host app with Latch inside: Latch's routes under `/auth`, the host's
//! own routes beside them, one database for both.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use latch::{DatabaseConnection, EmbeddedLatch, Mount, Settings, StartupError};
use serde_json::json;

/// Where Latch's routes go in this app.
pub const LATCH_PATH: &str = "/auth";

/// Latch on the host's database connection, mounted at [`LATCH_PATH`] of
/// the app that clients reach at `public_url`.
///
/// # Errors
/// Latch's start-up failure (migrations, keys).
pub async fn mount_latch(
    settings: &Settings,
    db: DatabaseConnection,
    public_url: &str,
) -> Result<EmbeddedLatch, StartupError> {
    let mount = Mount {
        path: LATCH_PATH.into(),
        public_url: format!("{public_url}{LATCH_PATH}"),
    };
    EmbeddedLatch::new(settings, db, mount).await
}

/// The whole app: Latch's scope, and the host's routes.
pub fn app(latch: EmbeddedLatch) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .service(latch.scope())
            .app_data(web::Data::new(latch))
            .route("/", web::get().to(home))
            .route("/whoami", web::get().to(whoami));
    }
}

/// The host's public page.
async fn home() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "app": "host", "sign_in_at": format!("{LATCH_PATH}/api/v1/auth/login") }))
}

/// A host route that asks Latch in process (no HTTP) who the bearer is.
async fn whoami(latch: web::Data<EmbeddedLatch>, req: HttpRequest) -> HttpResponse {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return HttpResponse::Unauthorized().json(json!({ "error": "sign in first" }));
    };
    match latch.auth().authenticate(token).await {
        Ok(principal) => HttpResponse::Ok().json(json!({ "email": principal.user.email.as_str() })),
        Err(_) => HttpResponse::Unauthorized().json(json!({ "error": "invalid or expired token" })),
    }
}
