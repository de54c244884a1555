//! Serves the notes service on `BIND` (default `127.0.0.1:9000`), trusting
//! the Latch at `LATCH_URL` (default `http://127.0.0.1:8080`). With
//! `LATCH_CLIENT_ID` and `LATCH_CLIENT_SECRET` (Latch's `[introspection]`
//! client), tier limits are read from Latch.

use std::time::Duration;

use actix_web::{App, HttpServer};
use latch_guard::{Guard, TierLimits};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let latch_url = std::env::var("LATCH_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:9000".into());
    let mut builder = Guard::jwks(latch_url);
    if let (Ok(id), Ok(secret)) = (
        std::env::var("LATCH_CLIENT_ID"),
        std::env::var("LATCH_CLIENT_SECRET"),
    ) {
        builder = builder
            .introspection(id, secret)
            .tier_limits(TierLimits::from_latch(Duration::from_secs(60)));
    }
    let guard = builder.build().map_err(std::io::Error::other)?;
    println!("notes service on http://{bind}");
    HttpServer::new(move || {
        App::new()
            .app_data(guard.clone())
            .configure(latch_example_resource_server::routes)
    })
    .bind(bind)?
    .run()
    .await
}
