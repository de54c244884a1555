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
//!
//! It also owns the time failures take. A wrong password against a Django
//! PBKDF2 hash (1,000,000 iterations) costs about five times one against an
//! argon2id hash or the dummy hash of an unknown account, which would point
//! out the imported accounts. So a mismatch, and every dummy verification,
//! sleep until the typical cost of the slowest kind of hash this hasher knows
//! of (module `floor`); matches answer at once. Costs are learned from every
//! verification, and a hash `check_stored` accepts counts at its estimated
//! cost from then on.
//!
//! The first probe: imports run in their own process (`latch import-users`),
//! so a freshly started server has verified no legacy hash, and the first
//! failure against one would answer slower than the others before the floor
//! had learned its cost. Rather than scan the stored hashes at start-up (a
//! query the database adapters do not offer), the hasher assumes by default
//! ([`HasherConfig::assume_legacy_costs`]) that the defaults of the libraries
//! users are imported from exist: Django's and passlib's PBKDF2, bcrypt 12,
//! argon2-cffi's argon2id. They are estimated from a calibration of a few
//! milliseconds at start-up, not run. The price is that every failed login
//! waits that long (about 0.3 s on a busy 2-core host) even where nothing
//! was imported; the wait holds no CPU and no hashing slot. A hash above
//! these defaults still answers its first failure in its own time, and sets
//! the floor from then on. The floor is capped at 1 s, so one stored hash
//! near the cost ceilings cannot hold every failure for seconds; such a hash
//! stays distinguishable.

mod config;
mod floor;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hasher;
mod limiter;
mod memory;
mod pbkdf2_sha256;
mod stored_hash;
mod threads;

pub use config::HasherConfig;
pub use hasher::Argon2Hasher;
pub use limiter::HashingLoad;
