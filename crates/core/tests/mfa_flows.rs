//! The second factor on the in-memory stores with a fixed clock: enrolment,
//! the login's second step, replay, recovery codes, exhaustion, `amr`, and
//! removal. Codes come from totp-rs reading the enrolment's `otpauth://`
//! URI, an implementation Latch does not use. (The black-box tests over
//! HTTP are in tests/api/mfa.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::Duration;
use latch_core::{
    AuthConfig, AuthService, Client, LoginError, MfaChallengeIssued, MfaError, MfaLoginError,
    MfaLoginRequest, Principal, TokenPair, TotpEnrolmentStart,
};
use latch_domain::AuthMethods;
use latch_rate_limit::{ActionBudgets, Budget, RateLimitConfig};
use support::{
    Harness, PASSWORD, authenticated, log_in, logged_in, login_request, refreshed, signup_request,
};
use totp_rs::Totp;

const EMAIL: &str = "ada@example.com";

/// A user with a second factor, as their authenticator app and their
/// printed recovery codes know it.
struct Enrolled {
    app: Totp,
    recovery_codes: Vec<String>,
    /// The session the enrolment was made from.
    pair: TokenPair,
}

/// The code the app shows at the harness's current time.
fn code_now(h: &Harness, app: &Totp) -> String {
    app.generate(u64::try_from(h.auth.now().timestamp()).unwrap())
        .to_string()
}

/// Starts an enrolment from a fresh login of `EMAIL`.
async fn started(h: &Harness) -> (TokenPair, TotpEnrolmentStart) {
    let pair = logged_in(&h.auth, EMAIL).await;
    let principal = authenticated(&h.auth, &pair).await;
    let start = h
        .auth
        .begin_totp_enrolment(&principal, PASSWORD, &Client::default())
        .await
        .unwrap();
    (pair, start)
}

/// Signs up `EMAIL`, enrols, and confirms with the app's first code; the
/// clock then moves to the next step, as a person would take that long.
async fn enrolled(h: &Harness) -> Enrolled {
    let (pair, start) = started(h).await;
    let app = Totp::from_url(&start.otpauth_uri).unwrap();
    let principal = authenticated(&h.auth, &pair).await;
    let recovery_codes = h
        .auth
        .confirm_totp_enrolment(&principal, &code_now(h, &app), &Client::default())
        .await
        .unwrap();
    h.clock.advance(Duration::seconds(30));
    Enrolled {
        app,
        recovery_codes,
        pair,
    }
}

/// The password step of a login for an account with a second factor.
async fn password_step(auth: &AuthService) -> MfaChallengeIssued {
    match auth.login(login_request(EMAIL, PASSWORD)).await {
        Err(LoginError::MfaRequired(issued)) => issued,
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

async fn second_step(auth: &AuthService, mfa_token: &str, code: &str) -> Result<TokenPair, MfaLoginError> {
    auth.complete_mfa_login(MfaLoginRequest {
        mfa_token: mfa_token.into(),
        code: code.into(),
        client: Client::default(),
    })
    .await
}

async fn principal(h: &Harness, pair: &TokenPair) -> Principal {
    authenticated(&h.auth, pair).await
}

/// A logged-in superuser.
async fn superuser(h: &Harness) -> Principal {
    h.auth
        .create_superuser(signup_request("root@example.com"))
        .await
        .unwrap();
    let root = log_in(&h.auth, "root@example.com").await;
    authenticated(&h.auth, &root).await
}

/// A six-digit code the app does not show anywhere in the window.
fn wrong_code(h: &Harness, app: &Totp) -> String {
    let now = h.auth.now().timestamp();
    let window: Vec<String> = [now - 30, now, now + 30]
        .into_iter()
        .map(|t| app.generate(u64::try_from(t).unwrap()).to_string())
        .collect();
    (0..4)
        .map(|n| format!("{n}{n}{n}{n}{n}{n}"))
        .find(|code| !window.contains(code))
        .unwrap()
}

#[tokio::test]
async fn an_authenticator_app_reads_the_enrolment_uri() {
    let h = Harness::new();
    let (_, start) = started(&h).await;
    let app = Totp::from_url(&start.otpauth_uri).unwrap();
    assert_eq!(app.issuer(), Some("Latch"));
    assert_eq!(app.account_name(), EMAIL);
    assert_eq!(start.secret.len(), 32, "160 bits in base32");
    assert!(start.otpauth_uri.contains(&format!("secret={}", start.secret)));
    assert!(!format!("{start:?}").contains(&start.secret));
}

#[tokio::test]
async fn enrolment_needs_the_password_and_a_first_code() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, EMAIL).await;
    let me = principal(&h, &pair).await;
    let wrong = h
        .auth
        .begin_totp_enrolment(&me, "not my password", &Client::default())
        .await;
    assert!(
        matches!(wrong, Err(MfaError::WrongPassword { field: "password" })),
        "{wrong:?}"
    );
    let unstarted = h
        .auth
        .confirm_totp_enrolment(&me, "123456", &Client::default())
        .await;
    assert!(matches!(unstarted, Err(MfaError::NotEnabled)), "{unstarted:?}");

    let start = h
        .auth
        .begin_totp_enrolment(&me, PASSWORD, &Client::default())
        .await
        .unwrap();
    let app = Totp::from_url(&start.otpauth_uri).unwrap();
    let code = code_now(&h, &app);
    let refused = h
        .auth
        .confirm_totp_enrolment(&me, &wrong_code(&h, &app), &Client::default())
        .await;
    assert!(matches!(refused, Err(MfaError::CodeInvalid)), "{refused:?}");
    assert!(
        !principal(&h, &pair).await.user.mfa_enabled,
        "a pending enrolment is no second factor"
    );
    // Pending: a password alone still logs in.
    log_in(&h.auth, EMAIL).await;

    let codes = h
        .auth
        .confirm_totp_enrolment(&me, &code, &Client::default())
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    assert!(principal(&h, &pair).await.user.mfa_enabled);
    let again = h
        .auth
        .begin_totp_enrolment(&principal(&h, &pair).await, PASSWORD, &Client::default())
        .await;
    assert!(matches!(again, Err(MfaError::AlreadyEnabled)), "{again:?}");
}

#[tokio::test]
async fn a_restarted_enrolment_voids_the_first_secret() {
    let h = Harness::new();
    let (pair, first) = started(&h).await;
    let me = principal(&h, &pair).await;
    let second = h
        .auth
        .begin_totp_enrolment(&me, PASSWORD, &Client::default())
        .await
        .unwrap();
    assert_ne!(first.secret, second.secret);
    let old_app = Totp::from_url(&first.otpauth_uri).unwrap();
    let refused = h
        .auth
        .confirm_totp_enrolment(&me, &code_now(&h, &old_app), &Client::default())
        .await;
    assert!(matches!(refused, Err(MfaError::CodeInvalid)), "{refused:?}");
    let new_app = Totp::from_url(&second.otpauth_uri).unwrap();
    h.auth
        .confirm_totp_enrolment(&me, &code_now(&h, &new_app), &Client::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_secret_is_stored_sealed() {
    let h = Harness::new();
    let (pair, start) = started(&h).await;
    let user_id = principal(&h, &pair).await.user.id;
    let stored = h.stores.second_factors.find_totp(user_id).await.unwrap().unwrap();
    let raw = totp_rs::Secret::try_from_base32(&start.secret).unwrap();
    let raw: &[u8] = raw.as_ref();
    assert!(
        !stored.sealed_secret.windows(raw.len()).any(|w| w == raw),
        "the stored bytes hold the secret in clear"
    );
    let base32 = start.secret.as_bytes();
    assert!(!stored.sealed_secret.windows(base32.len()).any(|w| w == base32));
}

#[tokio::test]
async fn a_password_alone_no_longer_logs_in() {
    let h = Harness::new();
    enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    assert_eq!(issued.methods, ["totp", "recovery_code"]);
    assert_eq!(issued.mfa_token.len(), 43);
    assert!(!format!("{issued:?}").contains(&issued.mfa_token));
    // A wrong password stays the uniform failure: the second step is not revealed.
    let wrong = h.auth.login(login_request(EMAIL, "not the password")).await;
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)), "{wrong:?}");
}

#[tokio::test]
async fn a_totp_code_completes_the_login_with_amr_otp_kept_by_refresh_and_session_checks() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    let pair = second_step(&h.auth, &issued.mfa_token, &code_now(&h, &e.app))
        .await
        .unwrap();
    assert_eq!(pair.session.auth_methods, AuthMethods::PasswordAndOtp);
    let claims = principal(&h, &pair).await.claims;
    assert_eq!(claims.amr, AuthMethods::PasswordAndOtp);

    let renewed = refreshed(&h.auth, &pair).await;
    assert_eq!(
        principal(&h, &renewed).await.claims.amr,
        AuthMethods::PasswordAndOtp
    );
    h.clock.advance(Duration::seconds(900));
    let checked = h.auth.check_session(&renewed.access_token).await;
    // The wall clock decides access-token expiry, so the check may return the
    // same token or a fresh one: either way it says otp.
    if let Ok(checked) = checked {
        assert_eq!(checked.session.auth_methods, AuthMethods::PasswordAndOtp);
        if let Ok(checked) = h.auth.authenticate(&checked.access_token).await {
            assert_eq!(checked.claims.amr, AuthMethods::PasswordAndOtp);
        }
    }
    // The enrolling session logged in with a password alone, and says so.
    assert_eq!(principal(&h, &e.pair).await.claims.amr, AuthMethods::Password);
}

#[tokio::test]
async fn an_accepted_code_is_never_accepted_again() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let code = code_now(&h, &e.app);
    let first = password_step(&h.auth).await;
    second_step(&h.auth, &first.mfa_token, &code).await.unwrap();
    let second = password_step(&h.auth).await;
    let replay = second_step(&h.auth, &second.mfa_token, &code).await;
    assert!(matches!(replay, Err(MfaLoginError::CodeInvalid)), "{replay:?}");
    // Nor a code of an earlier step, still inside the window.
    let earlier = e
        .app
        .generate(u64::try_from(h.auth.now().timestamp() - 30).unwrap())
        .to_string();
    let old = second_step(&h.auth, &second.mfa_token, &earlier).await;
    assert!(matches!(old, Err(MfaLoginError::CodeInvalid)), "{old:?}");
    h.clock.advance(Duration::seconds(30));
    second_step(&h.auth, &second.mfa_token, &code_now(&h, &e.app))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_window_is_one_step_either_side() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let now = u64::try_from(h.auth.now().timestamp()).unwrap();
    let issued = password_step(&h.auth).await;
    for far in [now - 60, now + 60] {
        let code = e.app.generate(far).to_string();
        let refused = second_step(&h.auth, &issued.mfa_token, &code).await;
        assert!(matches!(refused, Err(MfaLoginError::CodeInvalid)), "{refused:?}");
    }
    let ahead = e.app.generate(now + 30).to_string();
    second_step(&h.auth, &issued.mfa_token, &ahead).await.unwrap();
}

#[tokio::test]
async fn a_recovery_code_works_once_in_any_spelling() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let code = &e.recovery_codes[3];
    let issued = password_step(&h.auth).await;
    let pair = second_step(&h.auth, &issued.mfa_token, &code.to_uppercase().replace('-', " "))
        .await
        .unwrap();
    assert_eq!(pair.session.auth_methods, AuthMethods::PasswordAndOtp);
    let me = principal(&h, &pair).await;
    assert_eq!(h.auth.recovery_codes_left(&me).await.unwrap(), 9);
    let again = password_step(&h.auth).await;
    let reused = second_step(&h.auth, &again.mfa_token, code).await;
    assert!(matches!(reused, Err(MfaLoginError::CodeInvalid)), "{reused:?}");
    second_step(&h.auth, &again.mfa_token, &e.recovery_codes[4])
        .await
        .unwrap();
}

#[tokio::test]
async fn an_mfa_token_is_single_use() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    second_step(&h.auth, &issued.mfa_token, &e.recovery_codes[0])
        .await
        .unwrap();
    let reused = second_step(&h.auth, &issued.mfa_token, &e.recovery_codes[1]).await;
    assert!(matches!(reused, Err(MfaLoginError::TokenInvalid)), "{reused:?}");
}

#[tokio::test]
async fn an_mfa_token_dies_after_five_wrong_codes() {
    let h = Harness::with(AuthConfig::default(), roomy_limits());
    let e = enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    for _ in 0..5 {
        let wrong = second_step(&h.auth, &issued.mfa_token, "000000-not-a-code").await;
        assert!(matches!(wrong, Err(MfaLoginError::CodeInvalid)), "{wrong:?}");
    }
    let dead = second_step(&h.auth, &issued.mfa_token, &code_now(&h, &e.app)).await;
    assert!(matches!(dead, Err(MfaLoginError::TokenInvalid)), "{dead:?}");
}

#[tokio::test]
async fn an_mfa_token_expires() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    h.clock.advance(Duration::seconds(301));
    let late = second_step(&h.auth, &issued.mfa_token, &code_now(&h, &e.app)).await;
    assert!(matches!(late, Err(MfaLoginError::TokenInvalid)), "{late:?}");
    for nonsense in ["", "abc", &"A".repeat(43), &issued.mfa_token[1..]] {
        let refused = second_step(&h.auth, nonsense, &code_now(&h, &e.app)).await;
        assert!(matches!(refused, Err(MfaLoginError::TokenInvalid)), "{refused:?}");
    }
}

#[tokio::test]
async fn wrong_codes_count_toward_the_account_backoff() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    // The default limits allow 5 failures before the account backs off.
    for _ in 0..5 {
        let wrong = second_step(&h.auth, &issued.mfa_token, &wrong_code(&h, &e.app)).await;
        assert!(matches!(wrong, Err(MfaLoginError::CodeInvalid)), "{wrong:?}");
    }
    let next = h.auth.login(login_request(EMAIL, PASSWORD)).await;
    assert!(matches!(next, Err(LoginError::RateLimited(_))), "{next:?}");
}

#[tokio::test]
async fn a_brute_force_of_the_second_step_hits_the_budget() {
    let h = Harness::with(AuthConfig::default(), roomy_limits());
    let e = enrolled(&h).await;
    let wrong = wrong_code(&h, &e.app);
    let mut refused = None;
    'outer: for _ in 0..10 {
        let issued = match h.auth.login(login_request(EMAIL, PASSWORD)).await {
            Err(LoginError::MfaRequired(issued)) => issued,
            Err(LoginError::RateLimited(r)) => {
                refused = Some(r);
                break;
            }
            other => panic!("{other:?}"),
        };
        for _ in 0..5 {
            match second_step(&h.auth, &issued.mfa_token, &wrong).await {
                Err(MfaLoginError::CodeInvalid) => {}
                Err(MfaLoginError::RateLimited(r)) => {
                    refused = Some(r);
                    break 'outer;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(
        refused.is_some(),
        "ten password steps and fifty codes were all admitted"
    );
}

#[tokio::test]
async fn regenerated_codes_void_the_old_set() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let me = principal(&h, &e.pair).await;
    let wrong_code = h
        .auth
        .regenerate_recovery_codes(&me, PASSWORD, "000000-0000", &Client::default())
        .await;
    assert!(matches!(wrong_code, Err(MfaError::CodeInvalid)), "{wrong_code:?}");
    let fresh = h
        .auth
        .regenerate_recovery_codes(&me, PASSWORD, &e.recovery_codes[0], &Client::default())
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !e.recovery_codes.contains(c)));
    let issued = password_step(&h.auth).await;
    let old = second_step(&h.auth, &issued.mfa_token, &e.recovery_codes[1]).await;
    assert!(matches!(old, Err(MfaLoginError::CodeInvalid)), "{old:?}");
    second_step(&h.auth, &issued.mfa_token, &fresh[0]).await.unwrap();
}

#[tokio::test]
async fn disabling_needs_both_factors_and_ends_the_other_sessions() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    let other = second_step(&h.auth, &issued.mfa_token, &code_now(&h, &e.app))
        .await
        .unwrap();
    h.clock.advance(Duration::seconds(30));
    let me = principal(&h, &e.pair).await;
    let wrong = h
        .auth
        .disable_totp(&me, "not my password", &code_now(&h, &e.app), &Client::default())
        .await;
    assert!(matches!(wrong, Err(MfaError::WrongPassword { .. })), "{wrong:?}");
    h.auth
        .disable_totp(&me, PASSWORD, &code_now(&h, &e.app), &Client::default())
        .await
        .unwrap();
    assert!(
        h.auth.authenticate(&other.access_token).await.is_err(),
        "the other session ended"
    );
    let me = principal(&h, &e.pair).await;
    assert!(!me.user.mfa_enabled);
    log_in(&h.auth, EMAIL).await;
    let not_on = h
        .auth
        .disable_totp(&me, PASSWORD, "123456", &Client::default())
        .await;
    assert!(matches!(not_on, Err(MfaError::NotEnabled)), "{not_on:?}");
}

#[tokio::test]
async fn an_admin_removes_a_lost_phone_and_every_session_ends() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let admin = superuser(&h).await;
    let target = principal(&h, &e.pair).await.user.id;
    h.auth.admin_remove_mfa(&admin, target).await.unwrap();
    assert!(h.auth.authenticate(&e.pair.access_token).await.is_err());
    let pair = log_in(&h.auth, EMAIL).await;
    assert!(!principal(&h, &pair).await.user.mfa_enabled);
    let user = principal(&h, &pair).await;
    let denied = h.auth.admin_remove_mfa(&user, admin.user.id).await;
    assert!(
        matches!(denied, Err(latch_core::AdminError::Forbidden)),
        "{denied:?}"
    );
    let actions: Vec<_> = h
        .stores
        .audit
        .list(Some(target), 1, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|event| event.action.as_str())
        .collect();
    for action in ["mfa_enrolment_started", "mfa_enabled", "admin_mfa_removed"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
}

#[tokio::test]
async fn a_removed_second_factor_voids_a_pending_second_step() {
    let h = Harness::new();
    let e = enrolled(&h).await;
    let issued = password_step(&h.auth).await;
    let admin = superuser(&h).await;
    let target = principal(&h, &e.pair).await.user.id;
    h.auth.admin_remove_mfa(&admin, target).await.unwrap();
    let refused = second_step(&h.auth, &issued.mfa_token, &e.recovery_codes[0]).await;
    assert!(matches!(refused, Err(MfaLoginError::CodeInvalid)), "{refused:?}");
}

/// Default limits with room for the tests that make many attempts on purpose.
fn roomy_limits() -> RateLimitConfig {
    let plenty = Budget::new(1000, std::time::Duration::from_secs(60));
    RateLimitConfig {
        per_ip: ActionBudgets::uniform(plenty),
        per_account: ActionBudgets::uniform(Budget::new(20, std::time::Duration::from_secs(3600))),
        free_failures: 1000,
        ..RateLimitConfig::default()
    }
}
