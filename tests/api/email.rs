//! The email flows over HTTP, with the mails read from a real SMTP server
//! the test starts: verification, password reset, email change, the login
//! rule for unverified accounts, link abuse, rate limits and an SMTP outage.

use std::time::{Duration, Instant};

use latch_testkit::TestSmtpServer;
use latch_testkit::mailer::{DeliveredMail, Inbox};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, access, assert_problem, spawn_app_with};

crate::on_both_backends!(
    signup_mails_a_verification_link_that_verifies_once,
    verification_requests_answer_the_same_for_every_address,
    a_newer_link_voids_the_older,
    password_reset_sets_the_password_and_ends_every_session,
    a_reset_with_a_weak_password_keeps_the_link,
    a_reset_clears_the_login_backoff,
    links_work_only_for_their_own_purpose,
    unknown_and_malformed_tokens_are_link_invalid,
    concurrent_confirms_of_one_link_succeed_once,
    email_change_moves_the_account_only_when_the_new_mailbox_confirms,
    email_change_to_an_address_taken_meanwhile_is_refused,
    a_reset_link_dies_when_the_email_changes,
    an_unverified_account_is_refused_only_after_its_password,
    link_requests_are_rate_limited_per_address,
    mail_requested_while_smtp_is_down_arrives_when_it_is_back,
    the_flows_are_audited,
    with_email_off_the_routes_are_not_mounted,
    the_link_pages_are_served_with_a_strict_policy,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

/// A Latch delivering through a test SMTP server.
struct MailApp {
    app: TestApp,
    smtp: TestSmtpServer,
}

/// Settings that point Latch's SMTP at `port` and deliver promptly.
fn smtp_settings(port: &str) -> Vec<(&str, &str)> {
    vec![
        ("email.transport", "smtp"),
        ("email.smtp_host", "127.0.0.1"),
        ("email.smtp_port", port),
        ("email.smtp_tls", "none"),
        ("email.link_base_url", "https://app.example.com"),
        ("email.outbox_poll_interval_ms", "50"),
        ("email.retry_base_seconds", "1"),
    ]
}

async fn spawn_mail_app(backend: Backend, extra: &[(&str, &str)]) -> Option<MailApp> {
    let smtp = TestSmtpServer::start().await;
    let port = smtp.port().to_string();
    let mut settings = smtp_settings(&port);
    settings.extend_from_slice(extra);
    let app = spawn_app_with(backend, &settings).await?;
    Some(MailApp { app, smtp })
}

impl MailApp {
    /// Every mail delivered to `to` so far.
    fn mails_to(&self, to: &str) -> Vec<DeliveredMail> {
        self.smtp
            .delivered()
            .into_iter()
            .filter(|mail| mail.to.iter().any(|t| t == to))
            .collect()
    }

    /// Waits (up to 10 s) until `to` has received `count` mails; the last one.
    async fn nth_mail_to(&self, to: &str, count: usize) -> DeliveredMail {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut mails = self.mails_to(to);
            if mails.len() >= count {
                assert_eq!(mails.len(), count, "more mail than expected to {to}: {mails:?}");
                return mails.remove(count - 1);
            }
            assert!(Instant::now() < deadline, "no mail number {count} to {to}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Asserts that `to` still has `count` mails after a few delivery passes.
    async fn assert_mail_count_stays(&self, to: &str, count: usize) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(self.mails_to(to).len(), count, "unexpected mail to {to}");
    }

    async fn request(&self, path: &str, email: &str) -> reqwest::Response {
        self.app.post_json(path, &json!({ "email": email })).await
    }

    async fn request_reset(&self, email: &str) {
        let response = self.request("/api/v1/auth/password-reset/request", email).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    async fn confirm_reset(&self, token: &str, password: &str) -> reqwest::Response {
        self.app
            .post_json(
                "/api/v1/auth/password-reset/confirm",
                &json!({ "token": token, "new_password": password }),
            )
            .await
    }

    async fn confirm(&self, path: &str, token: &str) -> reqwest::Response {
        self.app.post_json(path, &json!({ "token": token })).await
    }

    async fn change_email(&self, tokens: &Value, new_email: &str, password: &str) -> reqwest::Response {
        self.app
            .bearer_request(
                reqwest::Method::POST,
                "/api/v1/users/me/email",
                access(tokens),
                Some(json!({ "new_email": new_email, "password": password })),
            )
            .await
    }
}

const VERIFY_CONFIRM: &str = "/api/v1/auth/verification/confirm";
const CHANGE_CONFIRM: &str = "/api/v1/auth/email-change/confirm";

/// The token of the link in `mail`, which must point at `page` under the
/// configured base URL, in both parts.
fn link_token(mail: &DeliveredMail, page: &str) -> String {
    let prefix = format!("https://app.example.com/{page}?token=");
    let start = mail
        .text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {}", mail.text))
        + prefix.len();
    let token: String = mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "{}", mail.text);
    assert!(mail.html.contains(&format!("{prefix}{token}")), "{}", mail.html);
    token
}

async fn signup_mails_a_verification_link_that_verifies_once(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[]).await else {
        return;
    };
    let tokens = m.app.signup_and_login("ada@example.com").await;
    assert_eq!(tokens["user"]["email_verified"], false);
    let mail = m.nth_mail_to("ada@example.com", 1).await;
    assert!(mail.from.contains("no-reply@localhost"), "{}", mail.from);
    let token = link_token(&mail, "verify-email");

    let confirmed = m.confirm(VERIFY_CONFIRM, &token).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let user: Value = confirmed.json().await.unwrap();
    assert_eq!(user["email_verified"], true);
    let me: Value = m.app.me(access(&tokens)).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);

    assert_problem(
        m.confirm(VERIFY_CONFIRM, &token).await,
        StatusCode::BAD_REQUEST,
        "link_invalid",
    )
    .await;
    // Verified: asking again mails nothing.
    let again = m
        .request("/api/v1/auth/verification/request", "ada@example.com")
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    m.assert_mail_count_stays("ada@example.com", 1).await;
}

async fn verification_requests_answer_the_same_for_every_address(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.send_verification_on_signup", "false")]).await else {
        return;
    };
    assert_eq!(
        m.app.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    let mut answers = Vec::new();
    for (path, email) in [
        ("/api/v1/auth/verification/request", "nobody@example.com"),
        ("/api/v1/auth/verification/request", "ada@example.com"),
        ("/api/v1/auth/password-reset/request", "nobody@example.com"),
        ("/api/v1/auth/password-reset/request", "ADA@example.com"),
    ] {
        let response = m.request(path, email).await;
        let status = response.status();
        let mut headers: Vec<String> = response
            .headers()
            .iter()
            .filter(|(name, _)| *name != "date" && *name != "x-request-id")
            .map(|(name, value)| {
                // The CORS layer lists exposed headers in no fixed order.
                let mut parts: Vec<&str> = value.to_str().unwrap().split(", ").collect();
                parts.sort_unstable();
                format!("{name}: {}", parts.join(", "))
            })
            .collect();
        headers.sort();
        answers.push((status, headers, response.bytes().await.unwrap()));
    }
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    assert!(answers.iter().all(|answer| answer == &answers[0]), "{answers:?}");
    // Both mails may go out in one delivery pass, in either order.
    m.nth_mail_to("ada@example.com", 2).await;
    let mails = m.mails_to("ada@example.com");
    let has_link = |page: &str| {
        let link = format!("https://app.example.com/{page}?token=");
        mails.iter().filter(|mail| mail.text.contains(&link)).count()
    };
    assert_eq!(
        (has_link("verify-email"), has_link("reset-password")),
        (1, 1),
        "{mails:?}"
    );
    m.assert_mail_count_stays("nobody@example.com", 0).await;

    let malformed = m
        .request("/api/v1/auth/password-reset/request", "not an address")
        .await;
    assert_problem(malformed, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn a_newer_link_voids_the_older(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[]).await else {
        return;
    };
    assert_eq!(
        m.app.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    let first = link_token(&m.nth_mail_to("ada@example.com", 1).await, "verify-email");
    let again = m
        .request("/api/v1/auth/verification/request", "ada@example.com")
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let second = link_token(&m.nth_mail_to("ada@example.com", 2).await, "verify-email");
    assert_ne!(first, second);
    assert_problem(
        m.confirm(VERIFY_CONFIRM, &first).await,
        StatusCode::BAD_REQUEST,
        "link_invalid",
    )
    .await;
    assert_eq!(m.confirm(VERIFY_CONFIRM, &second).await.status(), StatusCode::OK);
}

async fn password_reset_sets_the_password_and_ends_every_session(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.send_verification_on_signup", "false")]).await else {
        return;
    };
    let first = m.app.signup_and_login("ada@example.com").await;
    let second: Value = m
        .app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    m.request_reset("ada@example.com").await;
    let mail = m.nth_mail_to("ada@example.com", 1).await;
    let token = link_token(&mail, "reset-password");

    assert_eq!(
        m.confirm_reset(&token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    m.app.assert_session_ended(&first).await;
    m.app.assert_session_ended(&second).await;
    m.app.assert_login_refused("ada@example.com").await;
    let login = m.app.login("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let tokens: Value = login.json().await.unwrap();
    assert_eq!(tokens["user"]["email_verified"], true, "the mailbox was reached");
    // Single use.
    let again = m.confirm_reset(&token, "yet another passphrase").await;
    assert_problem(again, StatusCode::BAD_REQUEST, "link_invalid").await;
}

async fn a_reset_with_a_weak_password_keeps_the_link(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.send_verification_on_signup", "false")]).await else {
        return;
    };
    assert_eq!(
        m.app.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    m.request_reset("ada@example.com").await;
    let token = link_token(&m.nth_mail_to("ada@example.com", 1).await, "reset-password");
    let weak = m.confirm_reset(&token, "short").await;
    let problem = assert_problem(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "new_password");
    assert_eq!(
        m.confirm_reset(&token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
}

async fn a_reset_clears_the_login_backoff(backend: Backend) {
    let Some(m) = spawn_mail_app(
        backend,
        &[
            ("email.send_verification_on_signup", "false"),
            ("rate_limit.login_free_failures", "1"),
            ("rate_limit.login_backoff_base_seconds", "300"),
            ("rate_limit.login_backoff_max_seconds", "600"),
        ],
    )
    .await
    else {
        return;
    };
    assert_eq!(
        m.app.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    for _ in 0..2 {
        m.app.login("ada@example.com", "a wrong guess").await;
    }
    let backing_off = m.app.login("ada@example.com", PASSWORD).await;
    assert_problem(backing_off, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    m.request_reset("ada@example.com").await;
    let token = link_token(&m.nth_mail_to("ada@example.com", 1).await, "reset-password");
    assert_eq!(
        m.confirm_reset(&token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        m.app.login("ada@example.com", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn links_work_only_for_their_own_purpose(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[]).await else {
        return;
    };
    let tokens = m.app.signup_and_login("ada@example.com").await;
    let verify = link_token(&m.nth_mail_to("ada@example.com", 1).await, "verify-email");
    m.request_reset("ada@example.com").await;
    let reset = link_token(&m.nth_mail_to("ada@example.com", 2).await, "reset-password");
    assert_eq!(
        m.change_email(&tokens, "ada@new.example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let change = link_token(&m.nth_mail_to("ada@new.example.com", 1).await, "confirm-email");

    for (path, token) in [
        (VERIFY_CONFIRM, &reset),
        (VERIFY_CONFIRM, &change),
        (CHANGE_CONFIRM, &verify),
        (CHANGE_CONFIRM, &reset),
    ] {
        assert_problem(
            m.confirm(path, token).await,
            StatusCode::BAD_REQUEST,
            "link_invalid",
        )
        .await;
    }
    for token in [&verify, &change] {
        assert_problem(
            m.confirm_reset(token, NEW_PASSWORD).await,
            StatusCode::BAD_REQUEST,
            "link_invalid",
        )
        .await;
    }
    // None was spent by the misuse.
    assert_eq!(m.confirm(VERIFY_CONFIRM, &verify).await.status(), StatusCode::OK);
    assert_eq!(
        m.confirm_reset(&reset, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(m.confirm(CHANGE_CONFIRM, &change).await.status(), StatusCode::OK);
}

async fn unknown_and_malformed_tokens_are_link_invalid(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[]).await else {
        return;
    };
    let unknown = "A".repeat(43);
    for token in [
        unknown.as_str(),
        "",
        "not a token",
        &"é".repeat(43),
        &"A".repeat(5000),
    ] {
        for path in [VERIFY_CONFIRM, CHANGE_CONFIRM] {
            assert_problem(
                m.confirm(path, token).await,
                StatusCode::BAD_REQUEST,
                "link_invalid",
            )
            .await;
        }
        let reset = m.confirm_reset(token, NEW_PASSWORD).await;
        assert_problem(reset, StatusCode::BAD_REQUEST, "link_invalid").await;
    }
}

async fn concurrent_confirms_of_one_link_succeed_once(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.send_verification_on_signup", "false")]).await else {
        return;
    };
    assert_eq!(
        m.app.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    m.request_reset("ada@example.com").await;
    let token = link_token(&m.nth_mail_to("ada@example.com", 1).await, "reset-password");
    let mut attempts = tokio::task::JoinSet::new();
    for n in 0..8 {
        let (client, url, token) = (
            reqwest::Client::new(),
            m.app.url("/api/v1/auth/password-reset/confirm"),
            token.clone(),
        );
        attempts.spawn(async move {
            let body = json!({ "token": token, "new_password": format!("{NEW_PASSWORD} {n}") });
            client.post(url).json(&body).send().await.unwrap().status()
        });
    }
    let statuses = attempts.join_all().await;
    let won = statuses.iter().filter(|s| **s == StatusCode::NO_CONTENT).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::NO_CONTENT || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
}

async fn email_change_moves_the_account_only_when_the_new_mailbox_confirms(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.send_verification_on_signup", "false")]).await else {
        return;
    };
    let tokens = m.app.signup_and_login("ada@example.com").await;
    let wrong = m
        .change_email(&tokens, "ada@new.example.com", "not my password")
        .await;
    let problem = assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "password");
    assert_eq!(
        m.change_email(&tokens, "ada@new.example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let notice = m.nth_mail_to("ada@example.com", 1).await;
    assert!(notice.text.contains("ada@new.example.com"), "{}", notice.text);
    assert!(
        !notice.text.contains("token="),
        "the notice carries no link: {}",
        notice.text
    );
    let token = link_token(&m.nth_mail_to("ada@new.example.com", 1).await, "confirm-email");

    // Nothing changed yet.
    let me: Value = m.app.me(access(&tokens)).await.json().await.unwrap();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(
        m.app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );

    let confirmed = m.confirm(CHANGE_CONFIRM, &token).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let user: Value = confirmed.json().await.unwrap();
    assert_eq!(user["email"], "ada@new.example.com");
    assert_eq!(user["email_verified"], true);
    m.app.assert_login_refused("ada@example.com").await;
    assert_eq!(
        m.app.login("ada@new.example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_problem(
        m.confirm(CHANGE_CONFIRM, &token).await,
        StatusCode::BAD_REQUEST,
        "link_invalid",
    )
    .await;
}

async fn email_change_to_an_address_taken_meanwhile_is_refused(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.send_verification_on_signup", "false")]).await else {
        return;
    };
    let tokens = m.app.signup_and_login("ada@example.com").await;
    assert_eq!(
        m.app.signup("bob@example.com").await.status(),
        StatusCode::CREATED
    );
    let taken = m.change_email(&tokens, "BOB@example.com", PASSWORD).await;
    assert_problem(taken, StatusCode::CONFLICT, "email_taken").await;

    assert_eq!(
        m.change_email(&tokens, "carol@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let token = link_token(&m.nth_mail_to("carol@example.com", 1).await, "confirm-email");
    assert_eq!(
        m.app.signup("carol@example.com").await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        m.confirm(CHANGE_CONFIRM, &token).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    let me: Value = m.app.me(access(&tokens)).await.json().await.unwrap();
    assert_eq!(me["email"], "ada@example.com");
}

async fn a_reset_link_dies_when_the_email_changes(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.send_verification_on_signup", "false")]).await else {
        return;
    };
    let tokens = m.app.signup_and_login("ada@example.com").await;
    m.request_reset("ada@example.com").await;
    let reset = link_token(&m.nth_mail_to("ada@example.com", 1).await, "reset-password");
    assert_eq!(
        m.change_email(&tokens, "ada@new.example.com", PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let change = link_token(&m.nth_mail_to("ada@new.example.com", 1).await, "confirm-email");
    assert_eq!(m.confirm(CHANGE_CONFIRM, &change).await.status(), StatusCode::OK);

    let stale = m.confirm_reset(&reset, NEW_PASSWORD).await;
    assert_problem(stale, StatusCode::BAD_REQUEST, "link_invalid").await;
    assert_eq!(
        m.app.login("ada@new.example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn an_unverified_account_is_refused_only_after_its_password(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("email.require_verified_for_login", "true")]).await else {
        return;
    };
    assert_eq!(
        m.app.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    let wrong = m.app.login("ada@example.com", "a wrong guess").await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unverified = m.app.login("ada@example.com", PASSWORD).await;
    assert_problem(unverified, StatusCode::FORBIDDEN, "email_not_verified").await;

    let token = link_token(&m.nth_mail_to("ada@example.com", 1).await, "verify-email");
    assert_eq!(m.confirm(VERIFY_CONFIRM, &token).await.status(), StatusCode::OK);
    assert_eq!(
        m.app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn link_requests_are_rate_limited_per_address(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[("rate_limit.password_reset_request_per_account", "2")]).await
    else {
        return;
    };
    for _ in 0..2 {
        m.request_reset("ada@example.com").await;
    }
    let refused = m
        .request("/api/v1/auth/password-reset/request", "Ada@Example.com")
        .await;
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another address has its own budget.
    m.request_reset("bob@example.com").await;
}

async fn mail_requested_while_smtp_is_down_arrives_when_it_is_back(backend: Backend) {
    // A port nothing listens on until the test starts the server there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_text = port.to_string();
    let settings = smtp_settings(&port_text);
    let Some(app) = spawn_app_with(backend, &settings).await else {
        return;
    };
    assert_eq!(app.signup("ada@example.com").await.status(), StatusCode::CREATED);
    let reset = app
        .post_json(
            "/api/v1/auth/password-reset/request",
            &json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(
        reset.status(),
        StatusCode::ACCEPTED,
        "the request does not wait on SMTP"
    );
    // Let the first attempts fail.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let m = MailApp {
        app,
        smtp: TestSmtpServer::start_on(port).await,
    };
    m.nth_mail_to("ada@example.com", 2).await;
    let mails = m.mails_to("ada@example.com");
    assert_eq!(mails.len(), 2, "each mail once: {mails:?}");
    let pages: Vec<bool> = mails
        .iter()
        .map(|mail| mail.text.contains("reset-password?token="))
        .collect();
    assert!(pages.contains(&true) && pages.contains(&false), "{mails:?}");
    let reset = mails
        .iter()
        .find(|mail| mail.text.contains("reset-password"))
        .unwrap();
    let token = link_token(reset, "reset-password");
    assert_eq!(
        m.confirm_reset(&token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
}

async fn the_flows_are_audited(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[]).await else {
        return;
    };
    let admin = m.app.superuser_login("root@example.com").await;
    assert_eq!(
        m.app.signup("ada@example.com").await.status(),
        StatusCode::CREATED
    );
    let verify = link_token(&m.nth_mail_to("ada@example.com", 1).await, "verify-email");
    assert_eq!(m.confirm(VERIFY_CONFIRM, &verify).await.status(), StatusCode::OK);
    m.request_reset("ada@example.com").await;
    let reset = link_token(&m.nth_mail_to("ada@example.com", 2).await, "reset-password");
    assert_eq!(
        m.confirm_reset(&reset, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    let wanted = ["email_verified", "password_reset_requested", "password_reset"];
    loop {
        let audit = m
            .app
            .bearer_request(reqwest::Method::GET, "/api/v1/admin/audit", access(&admin), None)
            .await
            .json::<Value>()
            .await
            .unwrap();
        let actions: Vec<String> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["action"].as_str().unwrap().to_owned())
            .collect();
        if wanted.iter().all(|w| actions.iter().any(|a| a == w)) {
            break;
        }
        assert!(Instant::now() < deadline, "missing audit events in {actions:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn with_email_off_the_routes_are_not_mounted(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("email.transport", "none")]).await else {
        return;
    };
    let response = app
        .post_json(
            "/api/v1/auth/password-reset/request",
            &json!({ "email": "ada@example.com" }),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let document = app.get_json("/openapi.json").await;
    assert!(
        document["paths"]
            .get("/api/v1/auth/password-reset/request")
            .is_none()
    );
    assert!(document["paths"].get("/api/v1/auth/login").is_some());
}

async fn the_link_pages_are_served_with_a_strict_policy(backend: Backend) {
    let Some(m) = spawn_mail_app(backend, &[]).await else {
        return;
    };
    for (page, route) in [
        ("/verify-email", "api/v1/auth/verification/confirm"),
        ("/reset-password", "api/v1/auth/password-reset/confirm"),
        ("/confirm-email", "api/v1/auth/email-change/confirm"),
    ] {
        let response = m
            .app
            .client
            .get(m.app.url(&format!("{page}?token=abc")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let headers = response.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && policy.contains("default-src 'none'"),
            "{policy}"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let html = response.text().await.unwrap();
        assert!(html.contains(&format!("data-confirm=\"{route}\"")), "{html}");
        assert!(!html.contains("<script>"), "no inline script: {html}");
    }
    let script = m
        .app
        .client
        .get(m.app.url("/link-pages.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.text().await.unwrap().contains("dataset.confirm"));
}
