//! Password hashing for Latch: [`Argon2Hasher`], the adapter of the
//! [`latch_ports::PasswordHasher`] port.
//!
//! Owns the hash schemes (argon2id for every new hash; argon2i/argon2d PHC
//! strings, bcrypt `$2a$`/`$2b$`/`$2y$`, and PBKDF2-HMAC-SHA256 as Django
//! (`pbkdf2_sha256$…`) and passlib (`$pbkdf2-sha256$…`) store it, verified so
//! migrated users can log in and get rehashed), the rehash policy, and running
//! that CPU- and memory-heavy work on blocking threads with bounded
//! concurrency. Must not depend on other adapters, the web framework or the
//! database.

mod config;
mod hasher;
mod limiter;
mod memory;
mod pbkdf2_sha256;
mod stored_hash;
mod threads;

pub use config::HasherConfig;
pub use hasher::Argon2Hasher;
