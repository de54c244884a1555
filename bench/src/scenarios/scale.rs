//! `scale_1m` (Postgres, `--scale`): login, refresh and `/users/me` on the
//! freshly migrated database, then again after 1,000,000 users with one
//! session and one refresh token each are bulk-loaded straight into it
//! (`INSERT ... SELECT generate_series`, not HTTP). Each figure is reported as
//! full ÷ empty throughput (target ≥ 0.9, i.e. within 10 %), and `EXPLAIN`
//! checks that no hot statement scans a whole table.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection as _, Row as _};
use uuid::Uuid;

use super::{Figure, Running, Scenario, Target, login_body, refresh, sign_up_and_log_in};
use crate::Plan;
use crate::error::BenchError;
use crate::http;
use crate::latch::{LatchConfig, LatchProcess};
use crate::postgres::FreshDatabase;
use crate::wrk::{Script, WrkResult};

/// Rows of each table the load adds.
const ROWS: u64 = 1_000_000;
/// The bulk-loaded accounts are `scale-<n>@example.com`.
const EMAIL_PREFIX: &str = "scale-";
/// Marks the bulk-loaded sessions.
const USER_AGENT: &str = "latch-bench scale";

/// The three loads, at the connection counts of their own scenarios.
struct Loads {
    login: WrkResult,
    refresh: WrkResult,
    users_me: WrkResult,
}

/// Runs the whole scenario on a fresh database on the server at `admin_url`.
pub(crate) fn run(plan: &Plan, admin_url: &str) -> Result<Scenario, BenchError> {
    let scratch = tempfile::Builder::new().prefix("latch-bench-scale-").tempdir()?;
    // Declared before the Latch process so it is dropped (the database removed) after it.
    let database = FreshDatabase::create(admin_url)?;
    let config = LatchConfig {
        bin: plan.latch_bin.clone(),
        data_dir: PathBuf::from(scratch.path()),
        database_url: Some(database.url().to_owned()),
    };
    let latch = LatchProcess::start(&config)?;
    let running = sign_up_and_log_in(plan, "postgres", &latch, scratch.path(), &config)?;

    println!("[postgres] scale_1m: login, refresh, users_me on the empty database");
    let empty = measure(&running)?;
    println!("[postgres] scale_1m: bulk-loading {ROWS} users, sessions and refresh tokens");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let loaded = runtime.block_on(bulk_load(database.url(), &running.email))?;
    let scale_login = http::request(
        running.addr(),
        "POST",
        "/api/v1/auth/login",
        &[],
        Some(&login_body(&format!("{EMAIL_PREFIX}{}@example.com", ROWS / 2))),
    )?;
    println!("[postgres] scale_1m: login, refresh, users_me on {ROWS} users");
    let full = measure(&running)?;
    let plans = runtime.block_on(explain_hot_statements(database.url()))?;
    drop(running);
    latch.stop();
    drop(database);

    let seq_scans: usize = plans
        .iter()
        .map(|(_, plan)| plan.lines().filter(|line| line.contains("Seq Scan")).count())
        .sum();
    let throughput = |name, full: &WrkResult, empty: &WrkResult| {
        Figure::new(
            name,
            Some(full.ok_per_second()),
            "req/s",
            Some(empty.ok_per_second()),
            Some(Target::RatioAtLeast(0.9)),
        )
    };
    let p99 = |name, full: &WrkResult, empty: &WrkResult| {
        Figure::new(name, Some(full.p99_ms()), "ms", Some(empty.p99_ms()), None)
    };
    let errors = refresh::errors(&full.refresh)
        + full.login.errors()
        + full.users_me.errors()
        + refresh::errors(&empty.refresh)
        + empty.login.errors()
        + empty.users_me.errors();
    let mut scenario = Scenario::measured(
        "scale_1m",
        "postgres",
        vec![
            throughput("login vs empty db", &full.login, &empty.login),
            throughput("refresh vs empty db", &full.refresh, &empty.refresh),
            throughput("users_me vs empty db", &full.users_me, &empty.users_me),
            p99("login p99 vs empty db", &full.login, &empty.login),
            p99("refresh p99 vs empty db", &full.refresh, &empty.refresh),
            p99("users_me p99 vs empty db", &full.users_me, &empty.users_me),
            Figure::new(
                "seq scans in hot plans",
                Some(seq_scans as f64),
                "count",
                None,
                Some(Target::AtMost(0.0)),
            ),
            Figure::new(
                "errors",
                Some(errors as f64),
                "count",
                None,
                Some(Target::AtMost(0.0)),
            ),
            Figure::info("bulk load", loaded.as_secs_f64(), "s"),
        ],
    )
    .note(format!(
        "ceiling = the same figure on the empty database, same Latch process, measured first; \
         target: full / empty throughput >= 0.9 (within 10 %); {} s per load",
        plan.duration.as_secs()
    ))
    .note(format!(
        "bulk load: {ROWS} users sharing the bench account's argon2id hash, one live session and \
         one refresh token each (random v4 ids), then VACUUM (ANALYZE) and CHECKPOINT; \
         login as {EMAIL_PREFIX}{}@example.com answered {}",
        ROWS / 2,
        scale_login.status
    ));
    for (name, text) in &plans {
        // The scan node: an UPDATE's first line is only "Update on <table>".
        let node = text
            .lines()
            .find(|line| line.contains("Scan"))
            .or_else(|| text.lines().next())
            .unwrap_or_default();
        let node = node
            .split("  (")
            .next()
            .unwrap_or(node)
            .trim()
            .trim_start_matches("->")
            .trim();
        scenario = scenario.note(format!("EXPLAIN {name}: {node}"));
    }
    Ok(scenario)
}

/// Login (16 connections), refresh (32) and `/users/me` (32), as their scenarios run them.
fn measure(running: &Running<'_>) -> Result<Loads, BenchError> {
    let login = running.load(
        "/api/v1/auth/login",
        super::login::CONNECTIONS,
        &Script::PostJson(login_body(&running.email)),
        false,
    )?;
    let refresh = refresh::measure(running)?;
    let users_me = running.load(
        "/api/v1/users/me",
        super::users_me::CONNECTIONS,
        &Script::GetWithBearer(running.access_token.clone()),
        true,
    )?;
    Ok(Loads {
        login,
        refresh,
        users_me,
    })
}

/// Executes one statement text (no parameters).
async fn execute(conn: &mut PgConnection, sql: String) -> Result<(), BenchError> {
    sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    Ok(())
}

/// Loads the users, sessions and refresh tokens; returns how long it took.
async fn bulk_load(url: &str, bench_email: &str) -> Result<Duration, BenchError> {
    let started = Instant::now();
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await?;
    // Every loaded account can log in with the bench password.
    let hash: String = sqlx::query(r#"SELECT "password_hash" FROM "users" WHERE "email_normalized" = $1"#)
        .bind(bench_email)
        .fetch_one(&mut conn)
        .await?
        .try_get("password_hash")?;
    sqlx::query(
        r#"INSERT INTO "users" ("id", "email", "email_normalized", "password_hash", "is_active", "is_staff",
               "is_superuser", "tier", "email_verified", "created_at", "updated_at")
           SELECT gen_random_uuid(), 'scale-' || g || '@example.com', 'scale-' || g || '@example.com', $1,
               true, false, false, 'free', true, now(), now()
           FROM generate_series(1, $2) AS g"#,
    )
    .bind(hash)
    .bind(ROWS as i64)
    .execute(&mut conn)
    .await?;
    execute(
        &mut conn,
        format!(
            r#"INSERT INTO "sessions" ("id", "user_id", "created_at", "last_used_at", "expires_at", "revoked_at",
                   "user_agent", "ip")
               SELECT gen_random_uuid(), "id", now(), now(), now() + interval '30 days', NULL, '{USER_AGENT}',
                   '127.0.0.1'
               FROM "users" WHERE "email_normalized" LIKE '{EMAIL_PREFIX}%'"#
        ),
    )
    .await?;
    execute(
        &mut conn,
        format!(
            r#"INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "parent_id", "created_at",
                   "expires_at", "rotated_at", "successor_id", "successor_sealed")
               SELECT gen_random_uuid(), "id", sha256(convert_to("id"::text, 'UTF8')), NULL, now(),
                   now() + interval '7 days', NULL, NULL, NULL
               FROM "sessions" WHERE "user_agent" = '{USER_AGENT}'"#
        ),
    )
    .await?;
    execute(
        &mut conn,
        r#"VACUUM (ANALYZE) "users", "sessions", "refresh_tokens""#.into(),
    )
    .await?;
    // Outside the measured runs: the checkpoint that writes all of this out.
    execute(&mut conn, "CHECKPOINT".into()).await?;
    conn.close().await?;
    Ok(started.elapsed())
}

/// `EXPLAIN` of each statement the three paths run on a key, with values
/// taken from the loaded rows; returns (statement, plan text).
async fn explain_hot_statements(url: &str) -> Result<Vec<(&'static str, String)>, BenchError> {
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await?;
    let sample = sqlx::query(
        r#"SELECT u."id" AS user_id, u."email_normalized", s."id" AS session_id, t."id" AS token_id, t."token_hash"
           FROM "users" u JOIN "sessions" s ON s."user_id" = u."id" JOIN "refresh_tokens" t ON t."session_id" = s."id"
           WHERE u."email_normalized" = $1"#,
    )
    .bind(format!("{EMAIL_PREFIX}{}@example.com", ROWS / 3))
    .fetch_one(&mut conn)
    .await?;
    let user: Uuid = sample.try_get("user_id")?;
    let email: String = sample.try_get("email_normalized")?;
    let session: Uuid = sample.try_get("session_id")?;
    let token: Uuid = sample.try_get("token_id")?;
    let hash: Vec<u8> = sample.try_get("token_hash")?;
    let hash: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    let successor = Uuid::new_v4();
    let statements: Vec<(&'static str, String)> = vec![
        (
            "user by email (login)",
            format!(r#"SELECT * FROM "users" WHERE "users"."email_normalized" = '{email}'"#),
        ),
        (
            "user by username (login)",
            r#"SELECT * FROM "users" WHERE "users"."username_normalized" = 'scale-user'"#.to_owned(),
        ),
        (
            "user by id",
            format!(r#"SELECT * FROM "users" WHERE "users"."id" = '{user}'"#),
        ),
        (
            "session by id",
            format!(r#"SELECT * FROM "sessions" WHERE "sessions"."id" = '{session}'"#),
        ),
        (
            "refresh token by hash",
            format!(
                r#"SELECT * FROM "refresh_tokens" WHERE "refresh_tokens"."token_hash" = '\x{hash}'::bytea"#
            ),
        ),
        (
            "refresh token by id",
            format!(r#"SELECT * FROM "refresh_tokens" WHERE "refresh_tokens"."id" = '{token}'"#),
        ),
        (
            "rotate: claim UPDATE",
            format!(
                r#"UPDATE "refresh_tokens" SET "rotated_at" = now(), "successor_id" = '{successor}',
                   "successor_sealed" = '\x00'::bytea
                   WHERE "refresh_tokens"."id" = '{token}' AND "refresh_tokens"."rotated_at" IS NULL"#
            ),
        ),
        (
            "rotate: session UPDATE",
            format!(r#"UPDATE "sessions" SET "last_used_at" = now() WHERE "sessions"."id" = '{session}'"#),
        ),
        (
            "login: last_login_at UPDATE",
            format!(r#"UPDATE "users" SET "last_login_at" = now() WHERE "users"."id" = '{user}'"#),
        ),
    ];
    let mut plans = Vec::with_capacity(statements.len());
    for (name, sql) in statements {
        let rows = sqlx::query(AssertSqlSafe(format!("EXPLAIN {sql}")))
            .fetch_all(&mut conn)
            .await?;
        let mut text = String::new();
        for row in rows {
            let line: String = row.try_get(0)?;
            text.push_str(&line);
            text.push('\n');
        }
        plans.push((name, text));
    }
    conn.close().await?;
    Ok(plans)
}
