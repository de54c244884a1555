//! `latch-guard`: protect actix-web routes with Latch access tokens.
//!
//! Tokens are verified offline, with the strict checks Latch applies itself
//! (one algorithm, `typ: at+jwt`, `iss`, `aud`, `exp` with 30 s leeway),
//! against the keys Latch publishes (fetched, cached, refetched at a bounded
//! rate when a token names an unknown `kid`) or a shared HS256 secret.
//! Refusals are the problem+json 401/403/429 bodies Latch sends.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use latch_guard::{AuthUser, Guard};
//!
//! async fn me(user: AuthUser) -> String {
//!     format!("hello {}", user.email)
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let guard = Guard::jwks("http://127.0.0.1:8080").build().expect("guard");
//! HttpServer::new(move || App::new().app_data(guard.clone()).route("/me", web::get().to(me)))
//!     .bind("127.0.0.1:9000")?
//!     .run()
//!     .await
//! # }
//! ```
//!
//! Depends on none of Latch's own crates: it speaks to Latch over HTTP only.

mod error;
mod guard;
mod introspection;
mod keys;
mod tiers;
mod user;

pub use error::GuardError;
pub use guard::{BuildError, Guard, GuardBuilder};
pub use jsonwebtoken::Algorithm;
pub use tiers::{PathLimit, TierLimits};
pub use user::{AuthUser, LiveUser, Staff, Superuser, TierLimited};
