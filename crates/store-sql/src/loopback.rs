//! Plain TCP to a PostgreSQL server on this host, when `database.url` leaves
//! the TLS mode to the driver.
//!
//! Why: TLS over loopback protects nothing (reading loopback traffic takes
//! root on the host), and with sqlx 0.9 it is slow. Its sockets have no
//! `TCP_NODELAY`, so each small write of the TLS handshake waits out the
//! server's delayed ACK (about 90 ms per new connection on our 2-core
//! machine: most of Latch's start-up), and a query that spans two TLS records
//! stalls for 40 ms. A URL or `PGSSLMODE` that names a mode is always obeyed,
//! and a server that refuses plain connections is connected to as before.

use std::net::IpAddr;
use std::str::FromStr;

use sea_orm::sqlx::postgres::PgConnectOptions;

/// Whether `url` is a PostgreSQL URL for a loopback address (`127.0.0.0/8`,
/// `::1`, `localhost`) that names no `sslmode`, with `PGSSLMODE` unset: then
/// Latch connects without TLS.
pub fn plaintext_on_loopback(url: &str) -> bool {
    std::env::var_os("PGSSLMODE").is_none() && loopback_without_sslmode(url)
}

/// [`plaintext_on_loopback`] without the environment.
fn loopback_without_sslmode(url: &str) -> bool {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return false;
    }
    let names_mode = url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| matches!(pair.split('=').next(), Some("sslmode" | "ssl-mode")))
    });
    if names_mode {
        return false;
    }
    let Ok(options) = PgConnectOptions::from_str(url) else {
        return false;
    };
    let host = options.get_host().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::loopback_without_sslmode;

    #[test]
    fn loopback_hosts_without_a_mode_go_plain() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/latch",
            "postgresql://u:p@127.0.0.2/latch?application_name=latch",
            "postgres://u@localhost/latch",
            "postgres://u@LOCALHOST:5433/latch",
            "postgres://u@[::1]:5432/latch",
        ] {
            assert!(loopback_without_sslmode(url), "{url}");
        }
    }

    #[test]
    fn other_hosts_and_named_modes_keep_the_drivers_choice() {
        for url in [
            "postgres://u@db.internal/latch",
            "postgres://u@10.0.0.5/latch",
            "postgres://u@127.0.0.1/latch?sslmode=require",
            "postgres://u@127.0.0.1/latch?application_name=x&ssl-mode=verify-full",
            "postgres://u@127.0.0.1/latch?sslmode=prefer",
            "sqlite://latch.db?mode=rwc",
            "not a url",
        ] {
            assert!(!loopback_without_sslmode(url), "{url}");
        }
    }
}
