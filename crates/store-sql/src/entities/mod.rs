//! sea-orm entities: one module per table, private to this crate.

pub(crate) mod audit_events;
pub(crate) mod auth_changes;
pub(crate) mod auth_version;
pub(crate) mod cache_leases;
pub(crate) mod email_links;
pub(crate) mod email_outbox;
pub(crate) mod mfa_challenges;
pub(crate) mod recovery_codes;
pub(crate) mod refresh_tokens;
pub(crate) mod sessions;
pub(crate) mod signing_keys;
pub(crate) mod tiers;
pub(crate) mod totp_enrolments;
pub(crate) mod users;
