//! The import use case on the in-memory fakes, a fixed clock and the real
//! password hasher (at a cheap cost for new hashes).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::num::NonZeroUsize;

use chrono::{Duration, TimeZone, Utc};
use latch_core::{ImportOptions, RejectedLine};
use latch_domain::Tier;
use latch_ports::Clock;

mod support;

use support::{Harness, PASSWORD, log_in, signed_up};

/// bcrypt 5.0.0 (Python): bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds=4)).
const BCRYPT: &str = "$2b$04$p0GgzLaBuR5TaTyoo.TAse0NeNXSOx1xuc6PHhCB4qv638fVr4l3i";
/// Django 5.2: PBKDF2PasswordHasher().encode(PASSWORD, salt, iterations=1000).
const DJANGO: &str = "pbkdf2_sha256$1000$ImHtWGPCj8DKGp2YLkvJCh$lj4Z69ltQya1vC9V30SbPkbQX0JVpO3xeRX1F6MAc2s=";

fn batches_of(size: usize) -> ImportOptions {
    ImportOptions {
        batch_size: NonZeroUsize::new(size).unwrap(),
    }
}

fn line(email: &str) -> String {
    serde_json::json!({ "email": email, "password_hash": BCRYPT }).to_string()
}

fn rejected(line: u64, reason: &str) -> RejectedLine {
    RejectedLine {
        line,
        reason: reason.into(),
    }
}

impl Harness {
    async fn import(&self, lines: &[String], options: ImportOptions) -> latch_core::ImportReport {
        self.auth
            .import_users(lines.iter().map(String::as_str), options)
            .await
            .unwrap()
    }

    async fn is_stored(&self, login: &str) -> bool {
        self.stores.users.find_credentials(login).await.unwrap().is_some()
    }

    async fn stored_hash(&self, login: &str) -> String {
        self.stores
            .users
            .find_credentials(login)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .0
    }
}

#[tokio::test]
async fn a_full_line_keeps_every_field() {
    let h = Harness::new();
    let now = h.clock.now();
    h.stores
        .tiers
        .create(&Tier {
            name: "pro".into(),
            description: "Pro".into(),
            limits: Vec::new(),
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    let full = serde_json::json!({
        "email": "Ada@Example.com",
        "username": "Ada",
        "name": " Ada Lovelace ",
        "avatar_url": "https://img.example/ada.png",
        "password_hash": DJANGO,
        "is_active": false,
        "is_staff": true,
        "is_superuser": true,
        "email_verified": true,
        "tier": "pro",
        "created_at": "2019-03-04T05:06:07+02:00",
    });
    let report = h.import(&[full.to_string()], ImportOptions::default()).await;
    assert_eq!((report.imported, report.rejected), (1, vec![]));
    let stored = h.stores.users.find_credentials("ada").await.unwrap().unwrap();
    let user = stored.user;
    assert_eq!(
        (
            user.email.as_str(),
            user.username.as_deref(),
            user.name.as_deref()
        ),
        ("Ada@Example.com", Some("Ada"), Some("Ada Lovelace"))
    );
    assert_eq!(user.avatar_url.as_deref(), Some("https://img.example/ada.png"));
    assert!(!user.is_active && user.is_staff && user.is_superuser && user.email_verified);
    assert_eq!(user.tier, "pro");
    assert_eq!(
        user.created_at,
        Utc.with_ymd_and_hms(2019, 3, 4, 3, 6, 7).unwrap()
    );
    assert_eq!((user.updated_at, user.last_login_at), (now, None));
    assert_eq!(stored.password_hash.0, DJANGO);
}

#[tokio::test]
async fn a_minimal_line_gets_the_defaults() {
    let h = Harness::new();
    // Empty strings and nulls in optional fields, as exports write them.
    let minimal = serde_json::json!({
        "email": "bob@example.com",
        "password_hash": BCRYPT,
        "username": "",
        "name": "",
        "avatar_url": null,
        "tier": "",
    });
    let report = h.import(&[minimal.to_string()], ImportOptions::default()).await;
    assert_eq!((report.imported, report.rejected), (1, vec![]));
    let user = h
        .stores
        .users
        .find_credentials("bob@example.com")
        .await
        .unwrap()
        .unwrap()
        .user;
    assert!(user.is_active && !user.is_staff && !user.is_superuser && !user.email_verified);
    assert_eq!(user.tier, "free");
    assert_eq!((user.username, user.name, user.avatar_url), (None, None, None));
    assert_eq!(user.created_at, h.clock.now());
}

#[tokio::test]
async fn bad_lines_are_rejected_with_their_number_and_reason() {
    let h = Harness::new();
    let with = |fields: &str| format!(r#"{{"email":"x@example.com","password_hash":"{BCRYPT}",{fields}}}"#);
    let lines = vec![
        line("good1@example.com"),
        r#"{"email": "a@example.com", "#.to_owned(),
        with(r#""password":"hunter22""#),
        r#"{"email":"not an email","password_hash":"x"}"#.to_owned(),
        serde_json::json!({ "email": "md5@example.com", "password_hash": "md5$salt$0123456789abcdef" })
            .to_string(),
        serde_json::json!({ "email": "plain@example.com", "password_hash": PASSWORD }).to_string(),
        serde_json::json!({ "email": "GOOD1@example.com", "password_hash": BCRYPT }).to_string(),
        with(r#""tier":"platinum""#).replace("x@", "tier@"),
        serde_json::json!({ "email": "slow@example.com", "password_hash": BCRYPT.replace("$04$", "$17$") })
            .to_string(),
        with(r#""username":"a b""#).replace("x@", "user@"),
        with(r#""avatar_url":"javascript:alert(1)""#).replace("x@", "avatar@"),
        with(r#""created_at":"2020-01-01""#).replace("x@", "date@"),
        with(r#""created_at":"2999-01-01T00:00:00Z""#).replace("x@", "future@"),
        with(r#""is_staff":"yes""#).replace("x@", "staff@"),
        r#"{"password_hash":"x"}"#.to_owned(),
        "42".to_owned(),
        format!("{} ", line("long@example.com")).repeat(5000),
        line("good2@example.com"),
    ];
    let report = h.import(&lines, ImportOptions::default()).await;
    let reasons: Vec<(u64, String)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect();
    let expected = [
        (2, "not valid JSON: EOF while parsing"),
        (3, "unknown field `password`, expected one of"),
        (4, "email: is not a valid email address"),
        (5, "password_hash: not a hash Latch can verify"),
        (6, "password_hash: not a hash Latch can verify"),
        (7, "email: already used on line 1"),
        (8, "tier: no such tier"),
        (9, "password_hash: not a hash Latch can verify"),
        (10, "username: "),
        (11, "avatar_url: must be an http(s) URL"),
        (12, "created_at: must be an RFC 3339 timestamp"),
        (13, "created_at: must not be in the future"),
        (14, "invalid type: string \"yes\", expected a boolean"),
        (15, "missing field `email`"),
        (
            16,
            "invalid type: integer `42`, expected a JSON object describing one user",
        ),
        (17, "longer than 65536 bytes"),
    ];
    assert_eq!(reasons.len(), expected.len(), "{reasons:#?}");
    for ((line, reason), (expected_line, expected_start)) in reasons.iter().zip(expected) {
        assert!(
            *line == expected_line && reason.starts_with(expected_start),
            "line {line}: {reason:?}, expected line {expected_line}: {expected_start:?}…"
        );
    }
    assert_eq!(report.imported, 2);
    assert!(h.is_stored("good1@example.com").await && h.is_stored("good2@example.com").await);
    for refused in [
        "md5@example.com",
        "plain@example.com",
        "slow@example.com",
        "tier@example.com",
    ] {
        assert!(!h.is_stored(refused).await, "{refused} was stored");
    }
}

#[test]
fn rejected_lines_print_with_their_number() {
    assert_eq!(
        rejected(7, "email: is not a valid email address").to_string(),
        "line 7: email: is not a valid email address"
    );
}

#[tokio::test]
async fn blank_lines_are_skipped_but_keep_the_numbering() {
    let h = Harness::new();
    let lines = vec![
        format!("\u{feff}{}", line("a@example.com")),
        String::new(),
        "   \t".to_owned(),
        "nope".to_owned(),
    ];
    let report = h.import(&lines, ImportOptions::default()).await;
    assert_eq!(report.imported, 1);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 4);
}

#[tokio::test]
async fn repeats_in_the_file_are_rejected_on_the_later_line() {
    let h = Harness::new();
    let lines = vec![
        serde_json::json!({ "email": "a@example.com", "username": "ada", "password_hash": BCRYPT })
            .to_string(),
        serde_json::json!({ "email": "b@example.com", "username": "ADA", "password_hash": BCRYPT })
            .to_string(),
        line("c@example.com"),
        // The second batch: lines 1 and 3 are stored by now.
        line("A@EXAMPLE.COM"),
        serde_json::json!({ "email": "d@example.com", "username": "Ada", "password_hash": BCRYPT })
            .to_string(),
        line("e@example.com"),
    ];
    let report = h.import(&lines, batches_of(2)).await;
    assert_eq!(
        report.rejected,
        vec![
            rejected(2, "username: already used on line 1"),
            rejected(4, "email: already taken"),
            rejected(5, "username: already taken"),
        ]
    );
    assert_eq!(report.imported, 3);
    let first = h.stores.users.find_credentials("ada").await.unwrap().unwrap();
    assert_eq!(first.user.email, "a@example.com");
}

#[tokio::test]
async fn a_batch_conflicting_with_stored_users_loses_only_those_lines() {
    let h = Harness::new();
    signed_up(&h.auth, "taken@example.com").await;
    let lines: Vec<String> = [
        "a@example.com",
        "TAKEN@example.com",
        "b@example.com",
        "c@example.com",
    ]
    .iter()
    .map(|email| line(email))
    .collect();
    let report = h.import(&lines, ImportOptions::default()).await;
    assert_eq!(report.rejected, vec![rejected(2, "email: already taken")]);
    assert_eq!(report.imported, 3);
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert!(h.is_stored(email).await, "{email} was not stored");
    }
    assert!(h.stored_hash("taken@example.com").await.starts_with("$argon2id$"));
}

#[tokio::test]
async fn a_batch_is_stored_once_full_and_the_rest_at_finish() {
    let h = Harness::new();
    let mut import = h.auth.start_import(batches_of(2));
    import
        .add_line(1, line("a@example.com").as_bytes())
        .await
        .unwrap();
    assert!(
        !h.is_stored("a@example.com").await,
        "stored before the batch was full"
    );
    import
        .add_line(2, line("b@example.com").as_bytes())
        .await
        .unwrap();
    assert!(h.is_stored("a@example.com").await && h.is_stored("b@example.com").await);
    import
        .add_line(3, line("c@example.com").as_bytes())
        .await
        .unwrap();
    assert_eq!(import.summary().imported, 2);
    assert!(!h.is_stored("c@example.com").await);
    assert!(import.finish().await.unwrap().is_empty());
    assert!(h.is_stored("c@example.com").await);
    assert_eq!((import.summary().imported, import.summary().rejected), (3, 0));
}

#[tokio::test]
async fn an_imported_legacy_hash_logs_in_and_is_rehashed() {
    let h = Harness::new();
    let lines = vec![line("bcrypt@example.com"), {
        serde_json::json!({ "email": "django@example.com", "password_hash": DJANGO }).to_string()
    }];
    assert_eq!(h.import(&lines, ImportOptions::default()).await.imported, 2);
    for email in ["bcrypt@example.com", "django@example.com"] {
        log_in(&h.auth, email).await;
        assert!(
            h.stored_hash(email).await.starts_with("$argon2id$"),
            "{email} not rehashed"
        );
        h.clock.advance(Duration::seconds(1));
        log_in(&h.auth, email).await;
    }
}
