//! The `[email]` settings made into a mailer and the email templates.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use latch_core::{EmailTemplates, TemplateError};
use latch_mailer::{LogMailer, MailerConfigError, SmtpConfig, SmtpMailer, SmtpTls};
use latch_ports::Mailer;

use crate::settings::{EmailSettings, EmailTransport, SmtpTlsSetting};

/// Why the mailer or the templates could not be set up from `[email]`.
#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    /// The mail adapter refused its settings (the message names the key).
    #[error(transparent)]
    Mailer(#[from] MailerConfigError),
    /// `email.templates_dir`, or a file in it, could not be read.
    #[error("email.templates_dir: cannot read {}: {source}", path.display())]
    Read {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file in `email.templates_dir` is not UTF-8 text.
    #[error("email.templates_dir: {} is not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// Something other than a file is in `email.templates_dir`.
    #[error("email.templates_dir: {} is not a file; the directory holds template files only", path.display())]
    NotAFile {
        /// The entry.
        path: PathBuf,
    },
    /// A template file was refused.
    #[error("email.templates_dir: {0}")]
    Template(#[from] TemplateError),
}

/// The mailer `[email]` configures; `None` for `transport = "none"`. Call it
/// inside a Tokio runtime (and drop the mailer there): the SMTP adapter's
/// connection pool runs a task on it.
pub(crate) fn mailer(settings: &EmailSettings) -> Result<Option<Arc<dyn Mailer>>, EmailSetupError> {
    Ok(match settings.transport {
        EmailTransport::None => None,
        EmailTransport::Log => Some(Arc::new(LogMailer::new(&settings.from)?)),
        EmailTransport::Smtp => Some(Arc::new(SmtpMailer::new(&smtp_config(settings))?)),
    })
}

/// What the SMTP adapter needs from `[email]`.
fn smtp_config(settings: &EmailSettings) -> SmtpConfig {
    SmtpConfig {
        from: settings.from.clone(),
        host: settings.smtp_host.clone(),
        port: settings.smtp_port,
        tls: match settings.smtp_tls {
            SmtpTlsSetting::StartTls => SmtpTls::StartTls,
            SmtpTlsSetting::Tls => SmtpTls::Tls,
            SmtpTlsSetting::None => SmtpTls::None,
        },
        credentials: settings.smtp_username.clone().zip(settings.smtp_password.clone()),
        timeout: Duration::from_secs(settings.smtp_timeout_seconds.into()),
    }
}

/// Where the configured transport delivers, for messages to the operator:
/// `smtp HOST:PORT`, `the log`, or `nowhere`.
pub(crate) fn destination(settings: &EmailSettings) -> String {
    match settings.transport {
        EmailTransport::Smtp => format!("smtp {}:{}", settings.smtp_host, settings.smtp_port),
        EmailTransport::Log => "the log".to_owned(),
        EmailTransport::None => "nowhere".to_owned(),
    }
}

/// The built-in templates with every file of `email.templates_dir` in
/// place of its built-in namesake, each checked.
pub(crate) fn templates(settings: &EmailSettings) -> Result<EmailTemplates, EmailSetupError> {
    match &settings.templates_dir {
        None => Ok(EmailTemplates::built_in()),
        Some(dir) => Ok(EmailTemplates::with_overrides(read_template_files(dir)?)?),
    }
}

/// Every entry of `dir` as (file name, contents), in name order; anything
/// but a readable UTF-8 file is an error, so nothing is skipped unseen.
fn read_template_files(dir: &Path) -> Result<Vec<(String, String)>, EmailSetupError> {
    let read_error = |path: &Path| {
        let path = path.to_owned();
        move |source| EmailSetupError::Read { path, source }
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(dir))?;
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        // Follows symbolic links: a linked file is a file.
        if !std::fs::metadata(&path).map_err(read_error(&path))?.is_file() {
            return Err(EmailSetupError::NotAFile { path });
        }
        let Some(name) = path.file_name().and_then(|name| name.to_str()).map(str::to_owned) else {
            return Err(EmailSetupError::NotUtf8 { path });
        };
        let bytes = std::fs::read(&path).map_err(read_error(&path))?;
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(EmailSetupError::NotUtf8 { path });
        };
        files.push((name, text));
    }
    Ok(files)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use latch_core::{EmailKind, TemplateValues};

    use super::*;
    use crate::settings::Settings;

    fn settings(overrides: &[(&str, &str)]) -> EmailSettings {
        Settings::with_overrides(overrides).unwrap().email
    }

    fn with_dir(dir: &Path) -> EmailSettings {
        settings(&[("email.templates_dir", dir.to_str().unwrap())])
    }

    fn values() -> TemplateValues<'static> {
        TemplateValues {
            email: "ada@example.com",
            ..TemplateValues::default()
        }
    }

    #[tokio::test]
    async fn each_transport_gets_its_mailer() {
        assert!(
            mailer(&settings(&[("email.transport", "none")]))
                .unwrap()
                .is_none()
        );
        assert!(mailer(&settings(&[])).unwrap().is_some());
        let smtp = settings(&[
            ("email.transport", "smtp"),
            ("email.smtp_host", "mail.example.com"),
        ]);
        assert!(mailer(&smtp).unwrap().is_some());
        assert_eq!(destination(&smtp), "smtp mail.example.com:587");
        assert_eq!(destination(&settings(&[])), "the log");
    }

    #[test]
    fn the_smtp_settings_reach_the_adapter() {
        let config = smtp_config(&settings(&[
            ("email.smtp_host", "mail.example.com"),
            ("email.smtp_port", "465"),
            ("email.smtp_tls", "tls"),
            ("email.smtp_username", "latch"),
            ("email.smtp_password", "s3cret"),
            ("email.smtp_timeout_seconds", "3"),
        ]));
        assert_eq!((config.host.as_str(), config.port), ("mail.example.com", 465));
        assert_eq!(config.tls, SmtpTls::Tls);
        assert_eq!(config.credentials.map(|(user, _)| user).as_deref(), Some("latch"));
        assert_eq!(config.timeout, Duration::from_secs(3));
    }

    #[test]
    fn without_a_directory_the_templates_are_built_in() {
        let message =
            templates(&settings(&[]))
                .unwrap()
                .render(EmailKind::TestEmail, "ada@example.com", &values());
        let built_in = EmailTemplates::built_in().render(EmailKind::TestEmail, "ada@example.com", &values());
        assert_eq!(message, built_in);
    }

    #[test]
    fn files_of_the_directory_replace_their_built_in_namesakes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test_email.subject.txt"), "Hello from ACME\n").unwrap();
        let message = templates(&with_dir(dir.path())).unwrap().render(
            EmailKind::TestEmail,
            "ada@example.com",
            &values(),
        );
        assert_eq!(message.subject, "Hello from ACME");
        let built_in = EmailTemplates::built_in().render(EmailKind::TestEmail, "ada@example.com", &values());
        assert_eq!(message.text, built_in.text);
    }

    #[test]
    fn a_bad_template_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("verify_email.txt"), "no link here").unwrap();
        let err = templates(&with_dir(dir.path())).unwrap_err().to_string();
        assert!(
            err.contains("email.templates_dir") && err.contains("verify_email.txt"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.md"), "mine").unwrap();
        let err = templates(&with_dir(dir.path())).unwrap_err().to_string();
        assert!(err.contains("notes.md"), "{err}");
    }

    #[test]
    fn a_subdirectory_or_non_utf8_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("old")).unwrap();
        match templates(&with_dir(dir.path())) {
            Err(EmailSetupError::NotAFile { path }) => assert!(path.ends_with("old")),
            other => panic!("{other:?}"),
        }

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test_email.txt"), b"caf\xe9").unwrap();
        let err = templates(&with_dir(dir.path())).unwrap_err();
        assert!(
            matches!(&err, EmailSetupError::NotUtf8 { path } if path.ends_with("test_email.txt")),
            "{err}"
        );
        assert!(err.to_string().contains("test_email.txt"), "{err}");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("templates");
        let err = templates(&with_dir(&missing)).unwrap_err().to_string();
        assert!(
            err.contains("email.templates_dir") && err.contains("templates"),
            "{err}"
        );
    }
}
