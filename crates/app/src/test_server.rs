//! A real Latch for another service's tests, started with one call: port 0,
//! a temporary SQLite database and data directory, rate limits off.
//! (Feature `test-server`.)
//!
//! ```no_run
//! # async fn test() -> Result<(), Box<dyn std::error::Error>> {
//! let latch = latch::TestLatch::start().await?;
//! let ada = latch.user("ada@example.com").await?;
//! // Call your service with `ada.access_token`; point its guard at `latch.url()`.
//! # Ok(())
//! # }
//! ```

use latch_core::{AuthService, Client, LoginRequest, SignupRequest, TokenPair};

use crate::settings::Settings;
use crate::startup::{Application, StartupError};

/// A running Latch; it stops when the test's runtime ends.
pub struct TestLatch {
    url: String,
    auth: AuthService,
    settings: Settings,
    _data_dir: tempfile::TempDir,
}

/// Why a test Latch could not start or a test user could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestLatchError {
    /// The temporary directory.
    #[error("temporary directory: {0}")]
    TempDir(#[from] std::io::Error),
    /// The settings overrides.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// Start-up.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// Signup or login of a test user.
    #[error("test user: {0}")]
    User(String),
}

impl TestLatch {
    /// The password of every user this Latch makes for a test.
    pub const PASSWORD: &'static str = "correct horse battery staple";

    /// Starts Latch with its defaults (and rate limits off).
    ///
    /// # Errors
    /// [`TestLatchError`] if it cannot start.
    pub async fn start() -> Result<Self, TestLatchError> {
        Self::start_with(&[]).await
    }

    /// Starts Latch with settings overrides, e.g.
    /// `("introspection.client_id", "notes")`.
    ///
    /// # Errors
    /// [`TestLatchError`] if a setting is refused or Latch cannot start.
    pub async fn start_with(overrides: &[(&str, &str)]) -> Result<Self, TestLatchError> {
        let data_dir = tempfile::tempdir()?;
        let dir = data_dir.path().display().to_string();
        let mut all = vec![
            ("http.host", "127.0.0.1"),
            ("http.port", "0"),
            ("http.workers", "2"),
            ("data_dir", dir.as_str()),
            ("log.level", "warn"),
            ("rate_limit.enabled", "false"),
        ];
        all.extend_from_slice(overrides);
        let settings = Settings::with_overrides(&all)?;
        let app = Application::build(settings.clone()).await?;
        let url = format!("http://127.0.0.1:{}", app.port());
        let auth = app.auth().clone();
        tokio::spawn(app.run_until_stopped());
        Ok(Self {
            url,
            auth,
            settings,
            _data_dir: data_dir,
        })
    }

    /// Its base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Its use cases, for anything the helpers below do not cover.
    pub fn auth(&self) -> &AuthService {
        &self.auth
    }

    /// Signs `email` up with [`Self::PASSWORD`] and logs in: the user and
    /// their tokens.
    ///
    /// # Errors
    /// [`TestLatchError::User`] if signup or login fails.
    pub async fn user(&self, email: &str) -> Result<TokenPair, TestLatchError> {
        let request = SignupRequest {
            email: email.to_owned(),
            password: Self::PASSWORD.into(),
            ..SignupRequest::default()
        };
        self.auth
            .signup(request)
            .await
            .map_err(|e| TestLatchError::User(e.to_string()))?;
        self.login(email).await
    }

    /// Creates a superuser `email` and logs in.
    ///
    /// # Errors
    /// [`TestLatchError::User`] if creation or login fails.
    pub async fn superuser(&self, email: &str) -> Result<TokenPair, TestLatchError> {
        let request = SignupRequest {
            email: email.to_owned(),
            password: Self::PASSWORD.into(),
            ..SignupRequest::default()
        };
        self.auth
            .create_superuser(request)
            .await
            .map_err(|e| TestLatchError::User(e.to_string()))?;
        self.login(email).await
    }

    /// Logs an existing user in again (a new session, fresh claims).
    ///
    /// # Errors
    /// [`TestLatchError::User`] if login fails.
    pub async fn login(&self, email: &str) -> Result<TokenPair, TestLatchError> {
        let request = LoginRequest {
            login: email.to_owned(),
            password: Self::PASSWORD.into(),
            client: Client::default(),
        };
        self.auth
            .login(request)
            .await
            .map_err(|e| TestLatchError::User(e.to_string()))
    }
}
