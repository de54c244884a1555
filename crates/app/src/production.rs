//! The production guard: with `LATCH_ENV=production`, settings that are only
//! safe on a developer's machine stop start-up, naming the setting to change.
//! Elsewhere the riskiest of them are allowed but warned about.

use actix_web::cookie::SameSite;
use latch_tokens_jwt::Algorithm;
use secrecy::ExposeSecret;

use crate::settings::{EmailTransport, Settings, SettingsError, SmtpTlsSetting};

/// Shortest HS256 secret accepted in production (RFC 7518 §3.2: at least the hash size).
const MIN_HS256_SECRET_BYTES: usize = 32;

/// Shortest introspection client secret accepted in production: as much
/// entropy as a signing key, since it unlocks every token's details.
const MIN_CLIENT_SECRET_BYTES: usize = 32;

/// Refuses development-only settings. (A CORS wildcard with credentials is
/// refused in every environment, by `Settings::validate`.)
pub(crate) fn refuse_unsafe(settings: &Settings) -> Result<(), SettingsError> {
    if !settings.cookies.secure {
        return Err(SettingsError::invalid(
            "cookies.secure",
            "must be true in production",
        ));
    }
    if settings.database_url().starts_with("sqlite:") && !settings.database.allow_sqlite_in_production {
        return Err(SettingsError::invalid(
            "database.url",
            "SQLite in production needs database.allow_sqlite_in_production = true; set a postgres:// URL",
        ));
    }
    if settings.log.request_bodies {
        return Err(SettingsError::invalid(
            "log.request_bodies",
            "must be false in production: request bodies hold personal data",
        ));
    }
    let algorithm = settings.tokens.algorithm;
    // It seals the TOTP secrets whatever signs the tokens.
    if settings.keys.master_key.is_none() {
        return Err(SettingsError::invalid(
            "keys.master_key",
            "must be set in production; a master key generated into data_dir is for development (create one with `latch keys new-master-key`)",
        ));
    }
    let weak_client_secret = settings
        .introspection
        .client_secret
        .as_ref()
        .is_some_and(|s| s.expose_secret().len() < MIN_CLIENT_SECRET_BYTES);
    if weak_client_secret {
        return Err(SettingsError::invalid(
            "introspection.client_secret",
            format!(
                "must be at least {MIN_CLIENT_SECRET_BYTES} bytes in production (`openssl rand -hex 32`)"
            ),
        ));
    }
    if algorithm == Algorithm::HS256 && weak_hs256_secret(settings) {
        return Err(SettingsError::invalid(
            "tokens.hs256_secret",
            format!("must be at least {MIN_HS256_SECRET_BYTES} bytes in production"),
        ));
    }
    refuse_unsafe_email(&settings.email)
}

/// The email transports that expose links: to the log's readers, or on the wire.
fn refuse_unsafe_email(email: &crate::settings::EmailSettings) -> Result<(), SettingsError> {
    if email.transport == EmailTransport::Log {
        return Err(SettingsError::invalid(
            "email.transport",
            "must not be \"log\" in production: it writes links to the log, and whoever reads the log can take over accounts; set \"smtp\" (docs/email.md) or \"none\"",
        ));
    }
    if email.transport == EmailTransport::Smtp && email.smtp_tls == SmtpTlsSetting::None {
        return Err(SettingsError::invalid(
            "email.smtp_tls",
            "must not be \"none\" in production: links and the SMTP password would cross the network in clear; set \"starttls\" or \"tls\"",
        ));
    }
    Ok(())
}

/// Whether the HS256 secret is missing or shorter than production allows.
fn weak_hs256_secret(settings: &Settings) -> bool {
    settings
        .tokens
        .hs256_secret
        .as_ref()
        .is_none_or(|s| s.expose_secret().len() < MIN_HS256_SECRET_BYTES)
}

/// Risky settings that start-up accepts, one warning each naming the
/// setting. (Production refuses the short secret and the insecure cookie
/// before this runs.)
pub(crate) fn warnings(settings: &Settings) -> Vec<String> {
    let mut warnings = Vec::new();
    // A missing secret is start-up's own error; only a short one is warned about.
    let short_secret = settings.tokens.hs256_secret.is_some() && weak_hs256_secret(settings);
    if settings.tokens.algorithm == Algorithm::HS256 && short_secret {
        warnings.push(format!(
            "tokens.hs256_secret is shorter than {MIN_HS256_SECRET_BYTES} bytes: it can be guessed offline from any token, and then tokens forged; production refuses it"
        ));
    }
    let unspecified_host = settings
        .http
        .host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if settings.http.public_url.is_none() && unspecified_host {
        warnings.push(format!(
            "http.public_url is unset and http.host is {}: the discovery document names URLs no client can reach; set http.public_url",
            settings.http.host
        ));
    }
    let tokens = &settings.tokens;
    if tokens.session_rotate_before_seconds >= tokens.access_ttl_seconds {
        warnings.push(format!(
            "tokens.session_rotate_before_seconds ({}) is not below tokens.access_ttl_seconds ({}): every POST /auth/session issues a new access token",
            tokens.session_rotate_before_seconds, tokens.access_ttl_seconds
        ));
    }
    if settings.cookies.same_site == SameSite::None && !settings.cookies.secure {
        warnings.push(
            "cookies.same_site = \"none\" without cookies.secure: the access cookie would go with cross-site requests over plain HTTP, and most browsers reject such cookies; set cookies.secure = true"
                .to_owned(),
        );
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production(overrides: &[(&str, &str)]) -> Result<(), SettingsError> {
        let mut all = vec![
            ("cookies.secure", "true"),
            ("database.url", "postgres://latch@db/latch"),
            ("keys.master_key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ("email.transport", "none"),
        ];
        all.extend_from_slice(overrides);
        refuse_unsafe(&Settings::with_overrides(&all).unwrap())
    }

    fn refused_key(overrides: &[(&str, &str)]) -> &'static str {
        match production(overrides) {
            Err(SettingsError::Invalid { key, .. }) => key,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_complete_production_configuration_passes() {
        production(&[]).unwrap();
    }

    #[test]
    fn insecure_cookies_are_refused() {
        assert_eq!(refused_key(&[("cookies.secure", "false")]), "cookies.secure");
    }

    #[test]
    fn sqlite_needs_explicit_permission() {
        assert_eq!(
            refused_key(&[("database.url", "sqlite:///var/lib/latch/latch.db")]),
            "database.url"
        );
        production(&[
            ("database.url", "sqlite:///var/lib/latch/latch.db"),
            ("database.allow_sqlite_in_production", "true"),
        ])
        .unwrap();
    }

    #[test]
    fn a_generated_master_key_is_refused() {
        let settings = Settings::with_overrides(&[
            ("cookies.secure", "true"),
            ("database.url", "postgres://db/latch"),
            ("email.transport", "none"),
        ])
        .unwrap();
        assert!(matches!(
            refuse_unsafe(&settings),
            Err(SettingsError::Invalid {
                key: "keys.master_key",
                ..
            })
        ));
        // Signing keys managed by the operator still leave TOTP secrets to seal.
        let configured = Settings::with_overrides(&[
            ("cookies.secure", "true"),
            ("database.url", "postgres://db/latch"),
            ("tokens.eddsa_private_key_path", "/etc/latch/ed25519.pem"),
            ("email.transport", "none"),
        ])
        .unwrap();
        assert!(matches!(
            refuse_unsafe(&configured),
            Err(SettingsError::Invalid {
                key: "keys.master_key",
                ..
            })
        ));
    }

    #[test]
    fn a_short_introspection_secret_is_refused() {
        let short = [
            ("introspection.client_id", "api"),
            ("introspection.client_secret", "too-short"),
        ];
        assert_eq!(refused_key(&short), "introspection.client_secret");
        let long = [
            ("introspection.client_id", "api"),
            ("introspection.client_secret", "0123456789abcdef0123456789abcdef"),
        ];
        production(&long).unwrap();
    }

    #[test]
    fn an_unreachable_discovery_url_is_warned_about() {
        let unset = warnings_for(&[("http.host", "0.0.0.0")]);
        assert_eq!(unset.len(), 1, "{unset:?}");
        assert!(unset[0].contains("http.public_url"), "{unset:?}");
        let set = warnings_for(&[
            ("http.host", "0.0.0.0"),
            ("http.public_url", "https://auth.example.com"),
        ]);
        assert!(set.is_empty(), "{set:?}");
    }

    #[test]
    fn request_body_logging_is_refused() {
        assert_eq!(
            refused_key(&[("log.request_bodies", "true")]),
            "log.request_bodies"
        );
    }

    #[test]
    fn a_short_hs256_secret_is_refused() {
        let short = [
            ("tokens.algorithm", "HS256"),
            ("tokens.hs256_secret", "too-short"),
        ];
        assert_eq!(refused_key(&short), "tokens.hs256_secret");
        let long = [
            ("tokens.algorithm", "HS256"),
            ("tokens.hs256_secret", "0123456789abcdef0123456789abcdef"),
        ];
        production(&long).unwrap();
    }

    #[test]
    fn the_log_transport_is_refused() {
        assert_eq!(refused_key(&[("email.transport", "log")]), "email.transport");
        let message = production(&[("email.transport", "log")]).unwrap_err().to_string();
        assert!(message.contains("writes links to the log"), "{message}");
    }

    #[test]
    fn smtp_without_tls_is_refused() {
        let plain = [("email.transport", "smtp"), ("email.smtp_tls", "none")];
        assert_eq!(refused_key(&plain), "email.smtp_tls");
        for tls in ["starttls", "tls"] {
            production(&[("email.transport", "smtp"), ("email.smtp_tls", tls)]).unwrap();
        }
        // Unused, the setting endangers nothing.
        production(&[("email.smtp_tls", "none")]).unwrap();
    }

    #[test]
    fn the_shipped_production_overlay_turns_email_off_and_passes_the_guard() {
        let overlay = concat!(
            include_str!("../../../config/production.toml"),
            "\n[database]\nurl = \"postgres://db/latch\"\n",
            "[keys]\nmaster_key = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n",
        );
        let settings = Settings::from_toml(overlay, "production").unwrap();
        assert_eq!(settings.email.transport, EmailTransport::None);
    }

    fn warnings_for(overrides: &[(&str, &str)]) -> Vec<String> {
        warnings(&Settings::with_overrides(overrides).unwrap())
    }

    #[test]
    fn the_defaults_warn_about_nothing() {
        assert!(warnings_for(&[]).is_empty(), "{:?}", warnings_for(&[]));
    }

    #[test]
    fn a_short_hs256_secret_is_warned_about_outside_production() {
        let short = warnings_for(&[
            ("tokens.algorithm", "HS256"),
            ("tokens.hs256_secret", "too-short"),
        ]);
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(short[0].contains("tokens.hs256_secret"), "{short:?}");
        let long = warnings_for(&[
            ("tokens.algorithm", "HS256"),
            ("tokens.hs256_secret", "0123456789abcdef0123456789abcdef"),
        ]);
        assert!(long.is_empty(), "{long:?}");
        // A leftover secret is not used by another algorithm.
        assert!(warnings_for(&[("tokens.hs256_secret", "too-short")]).is_empty());
    }

    #[test]
    fn a_rotation_window_as_long_as_the_token_is_warned_about() {
        let always = warnings_for(&[
            ("tokens.access_ttl_seconds", "60"),
            ("tokens.session_rotate_before_seconds", "60"),
        ]);
        assert_eq!(always.len(), 1, "{always:?}");
        assert!(
            always[0].contains("tokens.session_rotate_before_seconds"),
            "{always:?}"
        );
    }

    #[test]
    fn same_site_none_without_secure_is_warned_about() {
        let insecure = warnings_for(&[("cookies.same_site", "None")]);
        assert_eq!(insecure.len(), 1, "{insecure:?}");
        assert!(insecure[0].contains("cookies.same_site"), "{insecure:?}");
        let secure = warnings_for(&[("cookies.same_site", "none"), ("cookies.secure", "true")]);
        assert!(secure.is_empty(), "{secure:?}");
    }
}
