//! The `latch` binary as an operator runs it: exit codes and messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::latch;

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
fn keys_new_master_key_prints_32_random_bytes_in_base64() {
    let dir = tempfile::tempdir().unwrap();
    let first = latch(dir.path())
        .args(["keys", "new-master-key"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let text = String::from_utf8(first.stdout).unwrap();
    let text = text.trim_end();
    assert_eq!(text.len(), 44, "{text}");
    assert!(text.ends_with('='), "{text}");
    let second = latch(dir.path())
        .args(["keys", "new-master-key"])
        .output()
        .unwrap();
    assert_ne!(text, String::from_utf8(second.stdout).unwrap().trim_end());
}

/// The kids `latch keys list` prints, with the state column of each.
fn listed_keys(dir: &std::path::Path) -> Vec<(String, String)> {
    let output = latch(dir).args(["keys", "list"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let kid = line.split_whitespace().next().unwrap().to_owned();
            let state = line.rsplit("  ").next().unwrap().to_owned();
            (kid, state)
        })
        .collect()
}

#[test]
fn keys_rotate_retires_the_active_key_and_list_shows_both() {
    let dir = tempfile::tempdir().unwrap();
    let before = listed_keys(dir.path());
    assert_eq!(
        before.len(),
        1,
        "an empty ring is given its first key: {before:?}"
    );
    assert_eq!(before[0].1, "active");

    let output = latch(dir.path()).args(["keys", "rotate"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains(&format!("retired {}", before[0].0)), "{printed}");

    let after = listed_keys(dir.path());
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after[0].1.starts_with("active, signing from"),
        "newest first: {after:?}"
    );
    assert!(
        printed.contains(&format!("new key {}: published now", after[0].0)),
        "{printed}"
    );
    assert_eq!(after[1].0, before[0].0);
    assert!(after[1].1.starts_with("retired, published until"), "{after:?}");
    // The master key sealing the ring was generated beside the database.
    assert!(dir.path().join("master.key").exists());
}

#[test]
fn an_empty_ring_starts_with_the_key_an_earlier_version_generated() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = latch(dir.path()).arg("keygen").output().unwrap();
    let pem = String::from_utf8(keygen.stdout).unwrap();
    std::fs::write(dir.path().join("jwt-ed25519.pem"), &pem).unwrap();
    let legacy = latch_tokens_jwt::SigningKey::from_pem(latch_tokens_jwt::Algorithm::EdDSA, &pem).unwrap();

    let listed = listed_keys(dir.path());
    assert_eq!(listed, vec![(legacy.kid().to_owned(), "active".to_owned())]);
}

#[test]
fn keys_rotate_with_configured_key_material_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let output = latch(dir.path())
        .args(["keys", "rotate"])
        .env("LATCH__TOKENS__ALGORITHM", "HS256")
        .env("LATCH__TOKENS__HS256_SECRET", "0123456789abcdef0123456789abcdef")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("tokens.hs256_secret"),
        "{}",
        stderr(&output)
    );
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

/// Each unsafe setting alone stops a production start, with exit code 1 and a
/// message naming it; the complete production configuration gets past the
/// guard (and then fails to reach its database, which proves the guard passed).
#[test]
fn production_guard_names_each_refused_setting() {
    let dir = tempfile::tempdir().unwrap();
    let safe = [
        ("LATCH__COOKIES__SECURE", "true"),
        // Nothing listens on port 9: the start gets past the guard and stops there.
        ("LATCH__DATABASE__URL", "postgres://latch@127.0.0.1:9/latch"),
        (
            "LATCH__KEYS__MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("LATCH__EMAIL__TRANSPORT", "none"),
    ];
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("LATCH__COOKIES__SECURE", "false")], "cookies.secure"),
        (&[("LATCH__DATABASE__URL", "sqlite://latch.db")], "database.url"),
        (&[("LATCH__KEYS__MASTER_KEY", "")], "keys.master_key"),
        (
            &[
                ("LATCH__TOKENS__ALGORITHM", "HS256"),
                ("LATCH__TOKENS__HS256_SECRET", "short"),
            ],
            "tokens.hs256_secret",
        ),
        (&[("LATCH__CORS__ALLOWED_ORIGINS", "*")], "cors.allowed_origins"),
        (&[("LATCH__LOG__REQUEST_BODIES", "true")], "log.request_bodies"),
        (&[("LATCH__EMAIL__TRANSPORT", "")], "email.transport"),
        (
            &[
                ("LATCH__EMAIL__TRANSPORT", "smtp"),
                ("LATCH__EMAIL__SMTP_TLS", "none"),
            ],
            "email.smtp_tls",
        ),
    ];
    for (unsafe_settings, key) in cases {
        let mut command = latch(dir.path());
        command
            .env("LATCH_ENV", "production")
            .env("LATCH_CONFIG_DIR", dir.path());
        for (name, value) in safe {
            command.env(name, value);
        }
        for (name, value) in unsafe_settings {
            if value.is_empty() {
                command.env_remove(name);
            } else {
                command.env(name, value);
            }
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{key}: {}", stderr(&output));
        assert!(stderr(&output).contains(key), "{key}: {}", stderr(&output));
    }
    let mut command = latch(dir.path());
    command
        .env("LATCH_ENV", "production")
        .env("LATCH_CONFIG_DIR", dir.path());
    for (name, value) in safe {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(!message.contains("must be"), "the guard passed: {message}");
}

/// `latch serve` on a free port in `dir`, once it says it is listening:
/// the child, the log lines it wrote until then, and its port.
#[allow(clippy::zombie_processes)] // The caller stops and waits for the child.
fn serve(dir: &std::path::Path) -> (std::process::Child, Vec<String>, String) {
    let mut child = latch(dir)
        .arg("serve")
        .env("LATCH__HTTP__PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = Instant::now();
    let mut logged = Vec::new();
    loop {
        let line = lines.next().expect("latch exited before listening").unwrap();
        if let Some(after) = line
            .contains("latch is listening")
            .then(|| line.split("port=").nth(1))
            .flatten()
        {
            let port = after
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .to_owned();
            logged.push(line);
            // Keep draining stderr so the child never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return (child, logged, port);
        }
        logged.push(line);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not listening after 30 s"
        );
    }
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, logged, _) = serve(dir.path());
    let saw_generated_key = logged
        .iter()
        .any(|line| line.contains("generated a master key (it seals the key ring and TOTP secrets)"));
    assert!(
        saw_generated_key,
        "the first start must say it generated a master key"
    );
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

/// What Python's bcrypt writes for "correct horse battery staple" at cost 4.
const BCRYPT: &str = "$2b$04$p0GgzLaBuR5TaTyoo.TAse0NeNXSOx1xuc6PHhCB4qv638fVr4l3i";

fn import_line(email: &str, extra: &str) -> String {
    format!(r#"{{"email":"{email}","password_hash":"{BCRYPT}"{extra}}}"#)
}

#[test]
fn import_users_names_each_rejected_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        import_line("ada@example.com", r#","username":"ada","is_staff":true"#),
        r#"{"email":"broken@example.com","#.to_owned(),
        import_line("unknown@example.com", r#","password":"hunter22""#),
        import_line("not-an-email", ""),
        r#"{"email":"md5@example.com","password_hash":"md5$salt$0123456789abcdef0123456789abcdef"}"#
            .to_owned(),
        r#"{"email":"plain@example.com","password_hash":"correct horse battery staple"}"#.to_owned(),
        String::new(),
        import_line("ADA@example.com", ""),
        import_line("tier@example.com", r#","tier":"platinum""#),
        import_line("grace@example.com", r#","created_at":"2020-02-03T04:05:06Z""#),
    ];
    let file = dir.path().join("users.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let output = latch(dir.path())
        .args(["import-users", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let errors = stderr(&output);
    for expected in [
        "line 2: not valid JSON",
        "line 3: unknown field `password`",
        "line 4: email: is not a valid email address",
        "line 5: password_hash: not a hash Latch can verify",
        "line 6: password_hash: not a hash Latch can verify",
        "line 8: email: already used on line 1",
        "line 9: tier: no such tier",
    ] {
        assert!(errors.contains(expected), "no {expected:?} in:\n{errors}");
    }
    for good in ["line 1:", "line 7:", "line 10:"] {
        assert!(!errors.contains(good), "{good} rejected:\n{errors}");
    }
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "imported 2 users, rejected 7 lines"
    );

    // The two good lines landed: importing them again conflicts with them.
    let again = [
        import_line("grace@example.com", ""),
        import_line("new@example.com", ""),
    ];
    let mut command = latch(dir.path());
    command.args(["import-users", "-", "--batch-size", "1"]);
    let output = run_with_stdin(command, &again.join("\r\n"));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("line 1: email: already taken"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "imported 1 users, rejected 1 lines"
    );
}

#[test]
fn import_users_from_stdin_exits_0_when_every_line_lands() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..7)
        .map(|i| import_line(&format!("user{i}@example.com"), ""))
        .collect();
    let mut command = latch(dir.path());
    command.args(["import-users", "-", "--batch-size", "3"]);
    let output = run_with_stdin(command, &format!("{}\n", lines.join("\n")));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "imported 7 users, rejected 0 lines"
    );
}

#[test]
fn import_users_of_an_unreadable_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = latch(dir.path())
        .args(["import-users", "no-such-file.jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot read no-such-file.jsonl"),
        "{}",
        stderr(&output)
    );
}

/// Exit code 2 means "some lines rejected", so a usage error must not use it.
#[test]
fn a_usage_error_exits_1_not_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = latch(dir.path())
        .args(["import-users", "users.jsonl", "--batch-size", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("--batch-size"), "{}", stderr(&output));
    let help = latch(dir.path()).arg("--help").output().unwrap();
    assert!(help.status.success());
}

#[test]
fn healthcheck_exits_0_while_the_service_answers_and_1_after() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _, port) = serve(dir.path());
    let check = || {
        latch(dir.path())
            .arg("healthcheck")
            .env("LATCH__HTTP__PORT", &port)
            .output()
            .unwrap()
    };
    let healthy = check();
    assert!(healthy.status.success(), "{}", stderr(&healthy));
    child.kill().unwrap();
    child.wait().unwrap();
    let down = check();
    assert_eq!(down.status.code(), Some(1), "{}", stderr(&down));
    assert!(stderr(&down).contains("healthcheck"), "{}", stderr(&down));
}

/// `latch send-test-email ADDRESS` with `settings` as environment variables.
fn send_test_email(dir: &std::path::Path, address: &str, settings: &[(&str, String)]) -> Command {
    let mut command = latch(dir);
    command.args(["send-test-email", address]);
    for (name, value) in settings {
        command.env(name, value);
    }
    command
}

/// The `[email]` settings that send through plaintext SMTP on `port` of this machine.
fn smtp_on(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("LATCH__EMAIL__TRANSPORT", "smtp".to_owned()),
        ("LATCH__EMAIL__SMTP_HOST", "127.0.0.1".to_owned()),
        ("LATCH__EMAIL__SMTP_PORT", port.to_string()),
        ("LATCH__EMAIL__SMTP_TLS", "none".to_owned()),
        ("LATCH__EMAIL__SMTP_TIMEOUT_SECONDS", "5".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn send_test_email_delivers_both_parts_through_smtp() {
    use latch_testkit::mailer::Inbox as _;

    let server = latch_testkit::TestSmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = smtp_on(server.port());
    settings.push(("LATCH__EMAIL__FROM", "ACME <no-reply@acme.example>".to_owned()));
    settings.push(("LATCH__EMAIL__SMTP_USERNAME", "latch".to_owned()));
    settings.push(("LATCH__EMAIL__SMTP_PASSWORD", "s3cret".to_owned()));
    let mut command = send_test_email(dir.path(), "ada@example.com", &settings);
    // The server answers on this runtime while the child runs.
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!(
            "sent a test email to ada@example.com via smtp 127.0.0.1:{}",
            server.port()
        )
    );
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let mail = &delivered[0];
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(mail.from, "ACME <no-reply@acme.example>");
    assert_eq!(mail.subject, "Latch test email");
    assert!(
        mail.text.contains("test email from Latch to ada@example.com"),
        "{}",
        mail.text
    );
    assert!(
        mail.html.contains("<strong>ada@example.com</strong>"),
        "{}",
        mail.html
    );
    assert_eq!(server.logins(), [("latch".to_owned(), "s3cret".to_owned())]);
}

#[test]
fn send_test_email_to_a_closed_smtp_port_fails_naming_the_server() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let output = send_test_email(dir.path(), "ada@example.com", &smtp_on(port))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("not sent via smtp 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(output.stdout.is_empty());
}

#[test]
fn send_test_email_without_a_transport_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let settings = [("LATCH__EMAIL__TRANSPORT", "none".to_owned())];
    let output = send_test_email(dir.path(), "ada@example.com", &settings)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("email.transport"), "{}", stderr(&output));
}

#[test]
fn send_test_email_refuses_a_bad_address() {
    let dir = tempfile::tempdir().unwrap();
    let output = send_test_email(dir.path(), "not-an-email", &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("\"not-an-email\"") && message.contains("not a valid email address"),
        "{message}"
    );
}

#[test]
fn send_test_email_through_the_log_writes_the_message_there() {
    let dir = tempfile::tempdir().unwrap();
    let output = send_test_email(dir.path(), "ada@example.com", &[])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "sent a test email to ada@example.com via the log"
    );
    assert!(
        stderr(&output).contains("Latch test email"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn send_test_email_with_a_bad_template_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("test_email.txt"), "Hello {{nmae}}").unwrap();
    let settings = [("LATCH__EMAIL__TEMPLATES_DIR", templates.display().to_string())];
    let output = send_test_email(dir.path(), "ada@example.com", &settings)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("test_email.txt") && message.contains("{{nmae}}"),
        "{message}"
    );
}

/// The shell block under `heading` in the README.
fn readme_block(heading: &str) -> String {
    let readme = include_str!("../../../README.md");
    let section = readme.split(heading).nth(1).expect("the README section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .expect("a sh block in the section");
    block.split("```").next().unwrap().to_owned()
}

/// The README's "Forgot the password" walk-through, as written, against a
/// `latch serve` started as it says (log in `latch.log`), on a free port.
#[test]
fn the_readme_password_reset_walk_through_works() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("latch.log")).unwrap();
    let mut child = latch(dir.path())
        .arg("serve")
        .env("LATCH__HTTP__PORT", "0")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let port = loop {
        let logged = std::fs::read_to_string(dir.path().join("latch.log")).unwrap();
        if let Some(after) = logged
            .split("latch is listening")
            .nth(1)
            .and_then(|l| l.split("port=").nth(1))
        {
            break after
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not listening: {logged}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let address = format!("127.0.0.1:{port}");
    let signup = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{address}/api/v1/auth/signup"))
        .args(["-H", "content-type: application/json", "-d"])
        .arg(r#"{"email":"ada@example.com","password":"correct horse battery staple"}"#)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&signup.stdout), "201");

    let script = readme_block("### Forgot the password").replace("localhost:8080", &address);
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}\n{}", stderr(&output));
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.first(), Some(&"202"), "{printed}");
    assert_eq!(lines.get(1), Some(&"204"), "{printed}");
    assert!(
        printed.contains("\"access_token\""),
        "the login with the new password: {printed}"
    );
}
