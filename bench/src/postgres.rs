//! A fresh PostgreSQL database for one bench run, dropped afterwards.

use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database};

use crate::error::BenchError;

/// A database created on the server at `admin_url`; dropped (best effort) on drop.
pub(crate) struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    pub(crate) fn create(admin_url: &str) -> Result<Self, BenchError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("latch_bench_{}_{nanos}", std::process::id());
        execute(admin_url, &format!("CREATE DATABASE \"{name}\""))?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        })
    }

    /// The URL Latch connects to.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(err) = execute(&self.admin_url, &sql) {
            eprintln!("latch-bench: could not drop database {}: {err}", self.name);
        }
    }
}

fn execute(admin_url: &str, sql: &str) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let admin = Database::connect(admin_url).await?;
        let outcome = admin.execute_unprepared(sql).await;
        let _ = admin.close().await;
        outcome.map(|_| ())
    })?;
    Ok(())
}

/// `url` with its database name replaced by `name` (query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}
