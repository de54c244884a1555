//! The `latch` binary's library: reads settings, wires the adapters into the
//! core, and runs the HTTP server or an administrative command.
//!
//! The only crate that sees every adapter. Holds no business rules.

mod background;
mod cache_lease;
mod cli;
mod email;
mod embed;
pub mod json_lines;
mod key_ring;
mod keys;
mod metrics;
mod outbox;
mod production;
mod purge;
mod settings;
pub mod startup;
mod telemetry;
#[cfg(feature = "test-server")]
mod test_server;

pub use background::BackgroundTask;
pub use cache_lease::CacheLeaseTask;
pub use cli::{Cli, Command, run};
pub use email::EmailSetupError;
pub use embed::EmbeddedLatch;
pub use keys::{GENERATED_KEY_FILE, MASTER_KEY_FILE, SigningKeyError, key_ring};
pub use latch_store_sql::DatabaseConnection;
pub use purge::PurgeTask;
pub use settings::{Settings, SettingsError};
pub use startup::{Application, Mount, StartupError};
pub use telemetry::init_tracing;
#[cfg(feature = "test-server")]
pub use test_server::{TestLatch, TestLatchError};
