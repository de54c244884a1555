//! What the tests that run the `latch` binary share.

use std::path::Path;
use std::process::Command;

/// `latch` with a private data directory (also its working directory),
/// logging at info, and none of the caller's `LATCH*` or `RUST_LOG` settings.
pub fn latch(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latch"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCH") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
        .env("LATCH__DATA_DIR", data_dir)
        .env("LATCH__LOG__LEVEL", "info")
        .current_dir(data_dir);
    command
}
