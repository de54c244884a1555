//! Latch's use cases — signup, login, refresh, session check, logout,
//! profile, accounts, administration, import, purge — written against the
//! ports only.
//!
//! Owns the authentication rules that span entities (rotation and reuse
//! detection, uniform login failures, revocation). Must never name a web
//! framework, an ORM, a JWT or a hashing library: those are adapters.

mod account;
mod admin;
mod audit;
mod authenticate;
mod client;
mod clock;
mod email;
mod email_templates;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod import;
mod introspect;
mod issue;
mod login;
mod logout;
mod mfa;
mod profile;
mod purge;
mod random_token;
mod refresh;
mod refresh_token;
mod service;
mod session_check;
mod signup;
mod throttle;
mod tiers;

pub use account::{AccountError, RevokeSessionError, SessionView};
pub use admin::{AdminChanges, AdminError, MAX_PAGE, MAX_PER_PAGE};
pub use authenticate::{AuthenticateError, Principal};
pub use client::Client;
pub use clock::SystemClock;
pub use email::{DeliveryRound, EmailConfig, EmailDelivery, EmailFlowError, LinkDispatch};
pub use email_templates::{EmailKind, EmailTemplates, TemplateError, TemplateValues};
pub use error::Unexpected;
pub use import::{
    DEFAULT_IMPORT_BATCH_SIZE, ImportOptions, ImportRecord, ImportSummary, RejectedLine, UserImport,
};
pub use introspect::{ClientCredentials, IntrospectError, Introspection, IntrospectionClient};
pub use issue::TokenPair;
pub use login::{LoginError, LoginRequest};
pub use logout::{LogoutError, LogoutOutcome, LogoutScope};
pub use mfa::{MfaChallengeIssued, MfaConfig, MfaError, MfaLoginError, MfaLoginRequest, TotpEnrolmentStart};
pub use profile::{ProfileChanges, UpdateProfileError};
pub use purge::{PurgePolicy, PurgeReport};
pub use refresh::RefreshError;
pub use refresh_token::REFRESH_TOKEN_PREFIX;
pub use service::{AuthConfig, AuthService, Ports};
pub use session_check::SessionCheckError;
pub use signup::{SignupError, SignupRequest};
