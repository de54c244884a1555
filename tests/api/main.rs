//! Black-box tests: the real application on port 0, a fresh database per
//! test, a real HTTP client with a cookie jar. Every scenario runs on SQLite
//! and on PostgreSQL (skipped with a message when no Postgres is reachable
//! outside CI). One test binary, so it is linked once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod account;
mod admin;
mod auth_flow;
mod email;
mod errors;
mod guard;
mod introspection;
mod key_ring;
mod legacy_hashes;
mod login;
mod logout;
mod metrics;
mod mfa;
mod openapi;
mod password_policy;
mod purge;
mod rate_limits;
mod refresh;
mod security;
mod session_cache;
mod signup;
mod system;
mod test_latch;
mod tokens;
mod users_me;
