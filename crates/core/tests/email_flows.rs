//! The email flows on the in-memory stores with a fixed clock: links,
//! their expiry and voiding, what following them does, and the outbox's
//! delivery with retries. (The black-box tests over HTTP and real SMTP are in
//! tests/api/email.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use chrono::Duration;
use latch_core::{
    AuthConfig, AuthService, Client, DeliveryRound, EmailConfig, EmailDelivery, EmailFlowError,
    EmailTemplates, LoginError,
};
use latch_ports::{EmailMessage, NoMetrics};
use latch_rate_limit::RateLimitConfig;
use latch_testkit::RecordingMailer;
use support::{Harness, PASSWORD, authenticated, log_in, login_request, signed_up};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn email_config() -> EmailConfig {
    EmailConfig {
        link_base_url: "https://app.example.com".into(),
        verification_ttl: Duration::hours(24),
        reset_ttl: Duration::hours(1),
        send_verification_on_signup: true,
        require_verified_for_login: false,
        templates: EmailTemplates::built_in(),
    }
}

/// A harness with email on, and the outbox's worker delivering into a fake mailer.
struct Mail {
    h: Harness,
    mailer: RecordingMailer,
    delivery: EmailDelivery,
}

impl Mail {
    fn new(email: EmailConfig) -> Self {
        Self::with(email, RateLimitConfig::default())
    }

    fn with(email: EmailConfig, limits: RateLimitConfig) -> Self {
        let config = AuthConfig {
            email: Some(email),
            ..AuthConfig::default()
        };
        let h = Harness::with(config, limits);
        let mailer = RecordingMailer::default();
        let delivery = EmailDelivery::new(
            h.stores.outbox.clone(),
            Arc::new(mailer.clone()),
            h.clock.clone(),
            Arc::new(NoMetrics),
        );
        Self { h, mailer, delivery }
    }

    fn auth(&self) -> &AuthService {
        &self.h.auth
    }

    async fn deliver(&self) -> DeliveryRound {
        self.delivery.deliver_due().await.unwrap()
    }

    /// Delivers what is due; the one mail sent to `to` by this round.
    async fn mail_to(&self, to: &str) -> EmailMessage {
        let before = self.mailer.sent().len();
        self.deliver().await;
        let mut new: Vec<_> = self.mailer.sent().split_off(before);
        new.retain(|m| m.to == to);
        assert_eq!(new.len(), 1, "expected one mail to {to}, got {new:?}");
        new.remove(0)
    }

    async fn reset_link(&self, email: &str) -> String {
        self.auth()
            .request_password_reset(email, &Client::default())
            .await
            .unwrap()
            .run()
            .await;
        token_in(&self.mail_to(email).await)
    }
}

/// The token of the link in `mail`'s text part, checked to be in its HTML part too.
fn token_in(mail: &EmailMessage) -> String {
    let start = mail.text.find("?token=").expect("a link in the mail") + "?token=".len();
    let token: String = mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "{}", mail.text);
    assert!(mail.html.contains(&token), "{}", mail.html);
    token
}

fn client() -> Client {
    Client::default()
}

#[tokio::test]
async fn signup_mails_a_verification_link_that_works_once() {
    let m = Mail::new(email_config());
    let user = signed_up(m.auth(), "ada@example.com").await;
    assert!(!user.email_verified);
    let mail = m.mail_to("ada@example.com").await;
    assert!(
        mail.text.contains("https://app.example.com/verify-email?token="),
        "{}",
        mail.text
    );
    let token = token_in(&mail);

    let verified = m.auth().confirm_verification(&token, &client()).await.unwrap();
    assert!(verified.email_verified);
    let again = m.auth().confirm_verification(&token, &client()).await;
    assert!(matches!(again, Err(EmailFlowError::LinkInvalid)), "{again:?}");
    // A verified account gets no more verification mail.
    m.auth()
        .request_verification("ada@example.com", &client())
        .await
        .unwrap()
        .run()
        .await;
    assert_eq!(m.deliver().await.sent, 0);
}

#[tokio::test]
async fn signup_sends_nothing_when_switched_off() {
    let m = Mail::new(EmailConfig {
        send_verification_on_signup: false,
        ..email_config()
    });
    signed_up(m.auth(), "ada@example.com").await;
    assert_eq!(m.deliver().await, DeliveryRound::default());
}

#[tokio::test]
async fn unknown_and_inactive_addresses_get_no_mail() {
    let m = Mail::new(email_config());
    for email in ["nobody@example.com", "NOBODY@example.com"] {
        m.auth()
            .request_password_reset(email, &client())
            .await
            .unwrap()
            .run()
            .await;
    }
    assert_eq!(m.deliver().await.handled(), 0);
    let malformed = m.auth().request_password_reset("not an address", &client()).await;
    assert!(
        matches!(malformed, Err(EmailFlowError::Invalid(_))),
        "{malformed:?}"
    );
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let m = Mail::new(email_config());
    signed_up(m.auth(), "ada@example.com").await;
    m.deliver().await;
    let token = m.reset_link("ada@example.com").await;
    m.h.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let late = m
        .auth()
        .confirm_password_reset(&token, NEW_PASSWORD, &client())
        .await;
    assert!(matches!(late, Err(EmailFlowError::LinkInvalid)), "{late:?}");
}

#[tokio::test]
async fn a_newer_link_voids_the_older_one() {
    let m = Mail::new(email_config());
    signed_up(m.auth(), "ada@example.com").await;
    m.deliver().await;
    let older = m.reset_link("ada@example.com").await;
    let newer = m.reset_link("ada@example.com").await;
    let refused = m
        .auth()
        .confirm_password_reset(&older, NEW_PASSWORD, &client())
        .await;
    assert!(matches!(refused, Err(EmailFlowError::LinkInvalid)), "{refused:?}");
    m.auth()
        .confirm_password_reset(&newer, NEW_PASSWORD, &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_link_works_only_for_its_own_purpose() {
    let m = Mail::new(email_config());
    signed_up(m.auth(), "ada@example.com").await;
    let verification = token_in(&m.mail_to("ada@example.com").await);
    let reset = m.reset_link("ada@example.com").await;

    let as_reset = m
        .auth()
        .confirm_password_reset(&verification, NEW_PASSWORD, &client())
        .await;
    assert!(
        matches!(as_reset, Err(EmailFlowError::LinkInvalid)),
        "{as_reset:?}"
    );
    let as_verification = m.auth().confirm_verification(&reset, &client()).await;
    assert!(matches!(as_verification, Err(EmailFlowError::LinkInvalid)));
    let as_change = m.auth().confirm_email_change(&reset, &client()).await;
    assert!(matches!(as_change, Err(EmailFlowError::LinkInvalid)));
    // Each still works for what it was sent for.
    assert!(
        m.auth()
            .confirm_verification(&verification, &client())
            .await
            .unwrap()
            .email_verified
    );
    m.auth()
        .confirm_password_reset(&reset, NEW_PASSWORD, &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reset_ends_every_session_clears_the_backoff_and_verifies_the_email() {
    let limits = RateLimitConfig {
        free_failures: 1,
        backoff_base: std::time::Duration::from_secs(600),
        ..RateLimitConfig::default()
    };
    let m = Mail::with(email_config(), limits);
    signed_up(m.auth(), "ada@example.com").await;
    m.deliver().await;
    let first = log_in(m.auth(), "ada@example.com").await;
    let second = log_in(m.auth(), "ada@example.com").await;
    for _ in 0..2 {
        let _ = m
            .auth()
            .login(login_request("ada@example.com", "wrong guess"))
            .await;
    }
    let backing_off = m.auth().login(login_request("ada@example.com", PASSWORD)).await;
    assert!(
        matches!(backing_off, Err(LoginError::RateLimited(_))),
        "{backing_off:?}"
    );

    let token = m.reset_link("ada@example.com").await;
    let weak = m.auth().confirm_password_reset(&token, "short", &client()).await;
    assert!(
        matches!(weak, Err(EmailFlowError::Invalid(ref e)) if e.field == "new_password"),
        "{weak:?}"
    );
    m.auth()
        .confirm_password_reset(&token, NEW_PASSWORD, &client())
        .await
        .unwrap();

    for pair in [&first, &second] {
        assert!(m.auth().authenticate(&pair.access_token).await.is_err());
    }
    // At once: the backoff is cleared.
    let new = m
        .auth()
        .login(login_request("ada@example.com", NEW_PASSWORD))
        .await
        .unwrap();
    assert!(new.user.email_verified);
    let old = m.auth().login(login_request("ada@example.com", PASSWORD)).await;
    assert!(matches!(old, Err(LoginError::InvalidCredentials)), "{old:?}");
}

#[tokio::test]
async fn a_reset_link_dies_when_the_email_changes() {
    let m = Mail::new(email_config());
    signed_up(m.auth(), "ada@example.com").await;
    m.deliver().await;
    let reset = m.reset_link("ada@example.com").await;
    let pair = log_in(m.auth(), "ada@example.com").await;
    let principal = authenticated(m.auth(), &pair).await;
    m.auth()
        .request_email_change(&principal, "ada@new.example.com", PASSWORD, &client())
        .await
        .unwrap();
    let notice = m.mail_to("ada@example.com").await;
    assert!(
        !notice.text.contains("token="),
        "the notice carries no link: {}",
        notice.text
    );
    assert!(notice.text.contains("ada@new.example.com"), "{}", notice.text);
    // The notice and the link went out in the same round.
    let change = m
        .mailer
        .sent()
        .into_iter()
        .rfind(|mail| mail.to == "ada@new.example.com")
        .expect("a link to the new address");
    let changed = m
        .auth()
        .confirm_email_change(&token_in(&change), &client())
        .await
        .unwrap();
    assert_eq!(changed.email.as_str(), "ada@new.example.com");
    assert!(changed.email_verified);

    let stale = m
        .auth()
        .confirm_password_reset(&reset, NEW_PASSWORD, &client())
        .await;
    assert!(matches!(stale, Err(EmailFlowError::LinkInvalid)), "{stale:?}");
}

#[tokio::test]
async fn an_email_change_needs_the_password_and_a_free_address() {
    let m = Mail::new(email_config());
    signed_up(m.auth(), "ada@example.com").await;
    signed_up(m.auth(), "bob@example.com").await;
    m.deliver().await;
    let pair = log_in(m.auth(), "ada@example.com").await;
    let principal = authenticated(m.auth(), &pair).await;

    let wrong = m
        .auth()
        .request_email_change(&principal, "ada@new.example.com", "not it", &client())
        .await;
    assert!(
        matches!(wrong, Err(EmailFlowError::WrongPassword { field: "password" })),
        "{wrong:?}"
    );
    let taken = m
        .auth()
        .request_email_change(&principal, "BOB@example.com", PASSWORD, &client())
        .await;
    assert!(matches!(taken, Err(EmailFlowError::EmailTaken)), "{taken:?}");
    let same = m
        .auth()
        .request_email_change(&principal, "Ada@Example.com", PASSWORD, &client())
        .await;
    assert!(matches!(same, Err(EmailFlowError::Invalid(_))), "{same:?}");
    assert_eq!(m.deliver().await.handled(), 0, "no mail for a refused change");

    // Taken between the request and the confirmation.
    m.auth()
        .request_email_change(&principal, "carol@example.com", PASSWORD, &client())
        .await
        .unwrap();
    let link = token_in(&m.mail_to("carol@example.com").await);
    signed_up(m.auth(), "carol@example.com").await;
    let late = m.auth().confirm_email_change(&link, &client()).await;
    assert!(matches!(late, Err(EmailFlowError::EmailTaken)), "{late:?}");
}

#[tokio::test]
async fn an_unverified_account_is_refused_only_after_its_password_checks_out() {
    let m = Mail::new(EmailConfig {
        require_verified_for_login: true,
        ..email_config()
    });
    signed_up(m.auth(), "ada@example.com").await;
    let wrong = m
        .auth()
        .login(login_request("ada@example.com", "wrong guess"))
        .await;
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)), "{wrong:?}");
    let unverified = m.auth().login(login_request("ada@example.com", PASSWORD)).await;
    assert!(
        matches!(unverified, Err(LoginError::EmailNotVerified)),
        "{unverified:?}"
    );

    let token = token_in(&m.mail_to("ada@example.com").await);
    m.auth().confirm_verification(&token, &client()).await.unwrap();
    m.auth()
        .login(login_request("ada@example.com", PASSWORD))
        .await
        .unwrap();
}

#[tokio::test]
async fn delivery_retries_while_the_server_is_down_and_sends_when_it_is_back() {
    let m = Mail::new(email_config());
    signed_up(m.auth(), "ada@example.com").await;
    m.mailer.set_down(true);
    assert_eq!(m.deliver().await.retried, 1);
    // Not due again before its retry time.
    m.h.clock.advance(Duration::seconds(10));
    assert_eq!(m.deliver().await.handled(), 0);
    m.h.clock.advance(Duration::seconds(25));
    assert_eq!(m.deliver().await.retried, 1);
    m.mailer.set_down(false);
    m.h.clock.advance(Duration::seconds(61));
    assert_eq!(m.deliver().await.sent, 1);
    assert_eq!(m.mailer.sent().len(), 1);
    // Sent once, never again.
    m.h.clock.advance(Duration::hours(2));
    assert_eq!(m.deliver().await.handled(), 0);
}

#[tokio::test]
async fn delivery_gives_up_once_the_link_has_expired() {
    let m = Mail::new(email_config());
    signed_up(m.auth(), "ada@example.com").await;
    m.deliver().await;
    m.mailer.set_down(true);
    m.auth()
        .request_password_reset("ada@example.com", &client())
        .await
        .unwrap()
        .run()
        .await;
    let mut given_up = 0;
    for _ in 0..20 {
        given_up += m.deliver().await.given_up;
        m.h.clock.advance(Duration::minutes(5));
    }
    assert_eq!(given_up, 1);
    m.mailer.set_down(false);
    m.h.clock.advance(Duration::hours(1));
    assert_eq!(m.deliver().await.handled(), 0, "a given-up mail is never sent");
    assert_eq!(m.mailer.sent().len(), 1, "only the signup's verification mail");
}

#[tokio::test]
async fn with_email_off_the_flows_answer_disabled() {
    let h = Harness::new();
    let refused = h.auth.request_password_reset("ada@example.com", &client()).await;
    assert!(matches!(refused, Err(EmailFlowError::Disabled)), "{refused:?}");
    let refused = h.auth.confirm_verification("x", &client()).await;
    assert!(matches!(refused, Err(EmailFlowError::Disabled)), "{refused:?}");
}

#[tokio::test]
async fn a_password_reset_never_removes_the_second_factor() {
    let m = Mail::new(email_config());
    let pair = support::logged_in(m.auth(), "ada@example.com").await;
    let me = authenticated(m.auth(), &pair).await;
    let start = m
        .auth()
        .begin_totp_enrolment(&me, PASSWORD, &client())
        .await
        .unwrap();
    let app = totp_rs::Totp::from_url(&start.otpauth_uri).unwrap();
    let code = app
        .generate(u64::try_from(m.auth().now().timestamp()).unwrap())
        .to_string();
    m.auth()
        .confirm_totp_enrolment(&me, &code, &client())
        .await
        .unwrap();
    m.deliver().await;
    let token = m.reset_link("ada@example.com").await;
    m.auth()
        .confirm_password_reset(&token, NEW_PASSWORD, &client())
        .await
        .unwrap();
    let login = m
        .auth()
        .login(login_request("ada@example.com", NEW_PASSWORD))
        .await;
    assert!(matches!(login, Err(LoginError::MfaRequired(_))), "{login:?}");
}
