//! Serves the host app on `BIND` (default `127.0.0.1:9000`) with its
//! database at `DATABASE_URL` (default a SQLite file in `./data`), and Latch
//! inside it at `/auth`. Latch's settings come from `latch.toml` in the
//! working directory when there is one (the keys of Latch's
//! `config/default.toml`).

use actix_web::{App, HttpServer};
use latch::Settings;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:9000".into());
    std::fs::create_dir_all("data")?;
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://data/host.db?mode=rwc".into());
    // The host's own pool; Latch adds its tables to this database.
    let db = sea_orm::Database::connect(url).await?;
    let toml = std::fs::read_to_string("latch.toml").unwrap_or_default();
    let environment = std::env::var("LATCH_ENV").unwrap_or_else(|_| "development".into());
    let settings = Settings::from_toml(&toml, &environment)?;
    latch::init_tracing(&settings.log);
    let latch = latch_example_embedded::mount_latch(&settings, db, &format!("http://{bind}")).await?;
    println!(
        "host app on http://{bind}, Latch at http://{bind}{}",
        latch_example_embedded::LATCH_PATH
    );
    HttpServer::new(move || App::new().configure(latch_example_embedded::app(latch.clone())))
        .bind(bind)?
        .run()
        .await?;
    Ok(())
}
