//! The HTTP adapter: Latch's v1 API on actix-web.
//!
//! Owns routes, request parsing, cookies, and the single mapping from use-case
//! errors to RFC 9457 problem responses. Calls the use cases of `latch-core`
//! only; from `latch-ports` it names just the value types those use cases take
//! and return (`UserQuery`, `RateLimited`), never a port trait. It must never
//! reach a database, a hasher or a JWT library directly.

mod body;
mod client_ip;
mod cookies;
mod dto;
mod extract;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod metrics;
mod openapi;
mod panic_guard;
mod problem;
mod request_span;
mod routes;
mod security;
mod server;

pub use client_ip::{ForwardedHeader, InvalidForwardedHeader, InvalidProxy, TrustedProxies};
pub use cookies::CookieSettings;
pub use metrics::{HttpMetrics, UNMATCHED_ROUTE, serve_metrics};
pub use problem::ApiError;
pub use security::{AllowedOrigins, InvalidOrigin, SecuritySettings};
pub use server::{HttpState, Readiness, scope, serve};
