//! The `latch` binary as an operator runs it: exit codes and messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `latch` with a private data directory and a clean environment for its settings.
fn latch(data_dir: &std::path::Path) -> Command {
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

fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn keygen_prints_a_pkcs8_pem_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = latch(dir.path()).arg("keygen").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let pem = String::from_utf8(output.stdout).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
}

#[test]
fn create_superuser_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = latch(dir.path());
    command.args([
        "create-superuser",
        "--email",
        "root@example.com",
        "--username",
        "root",
    ]);
    let output = run_with_stdin(command, "correct horse battery staple\n");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("created superuser root@example.com"));

    let mut again = latch(dir.path());
    again.args(["create-superuser", "--email", "ROOT@example.com"]);
    let output = run_with_stdin(again, "correct horse battery staple\n");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("email already taken"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn create_superuser_applies_the_password_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = latch(dir.path());
    command.args(["create-superuser", "--email", "root@example.com"]);
    let output = run_with_stdin(command, "short\n");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("password"), "{}", stderr(&output));
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = latch(dir.path()).arg("migrate").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(dir.path().join("latch.db").exists());
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = latch(dir.path())
        .env("LATCH__HTTP__PORT", "eighty")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("http.port"), "{}", stderr(&output));
}

#[test]
fn production_refuses_development_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let output = latch(dir.path())
        .env("LATCH_ENV", "production")
        .env("LATCH_CONFIG_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("cookies.secure"), "{}", stderr(&output));
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = latch(dir.path())
        .arg("serve")
        .env("LATCH__HTTP__PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = Instant::now();
    let mut saw_generated_key = false;
    loop {
        let line = lines.next().expect("latch exited before listening").unwrap();
        saw_generated_key |= line.contains("generated a new EdDSA signing key");
        if line.contains("latch is listening") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not listening after 30 s"
        );
    }
    assert!(saw_generated_key, "the first start must say it generated a key");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("latch did not exit within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
