//! The v1 routes, grouped by who may call them.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod email;
pub(crate) mod link_pages;
pub(crate) mod mfa;
pub(crate) mod resource_servers;
pub(crate) mod system;
pub(crate) mod users;
