//! Latch's database schema as one migration set that runs unchanged on
//! PostgreSQL and SQLite (schema builder only, no raw SQL).
//!
//! Owns table and index definitions; knows nothing of the domain types.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial_schema;
mod m20261123_000002_audit_events;
mod m20261123_000003_auth_changes;
mod m20261124_000004_session_end_indexes;
mod m20261125_000005_cache_leases;
mod m20261204_000006_signing_keys;
mod m20261205_000007_email_links;
mod m20261206_000008_second_factor;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial_schema::Migration),
            Box::new(m20261123_000002_audit_events::Migration),
            Box::new(m20261123_000003_auth_changes::Migration),
            Box::new(m20261124_000004_session_end_indexes::Migration),
            Box::new(m20261125_000005_cache_leases::Migration),
            Box::new(m20261204_000006_signing_keys::Migration),
            Box::new(m20261205_000007_email_links::Migration),
            Box::new(m20261206_000008_second_factor::Migration),
        ]
    }
}
