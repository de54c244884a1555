//! The second factor over HTTP: enrolment, the `mfa_required` login step for
//! JSON and form logins, completion by TOTP and recovery code, replay,
//! exhaustion, `amr` through refresh and session checks, regeneration,
//! disabling, admin removal, and brute force hitting 429. Codes come from
//! totp-rs reading the enrolment's `otpauth://` URI: an implementation Latch
//! does not use.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use totp_rs::Totp;

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, claims_of, set_cookies};

crate::on_both_backends!(
    enrolment_needs_the_password_and_a_first_code,
    a_password_alone_gets_mfa_required_and_no_session,
    a_totp_code_completes_the_login_and_amr_survives_refresh_and_session_checks,
    codes_are_accepted_once,
    an_mfa_token_dies_after_five_wrong_codes,
    concurrent_second_steps_with_one_token_open_one_session,
    regenerated_recovery_codes_void_the_old_ones,
    disabling_needs_both_factors_and_ends_the_other_sessions,
    an_admin_removes_the_second_factor_and_ends_every_session,
    a_brute_force_of_the_second_step_hits_429,
);

const EMAIL: &str = "ada@example.com";

/// A user with a second factor: their app, their recovery codes and the
/// session they enrolled from.
pub(crate) struct Enrolled {
    app: Totp,
    recovery_codes: Vec<String>,
    pub(crate) tokens: Value,
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// The app's code for the next time step: accepted (one step ahead is in
/// the window) even right after the current step's code was used.
fn next_code(app: &Totp) -> String {
    app.generate(unix_now() + 30).to_string()
}

/// A six-digit code the app shows nowhere in the window.
fn wrong_code(app: &Totp) -> String {
    let now = unix_now();
    let window: Vec<String> = [now - 30, now, now + 30, now + 60]
        .into_iter()
        .map(|t| app.generate(t).to_string())
        .collect();
    (0..5)
        .map(|n| n.to_string().repeat(6))
        .find(|code| !window.contains(code))
        .unwrap()
}

async fn call(app: &TestApp, method: Method, path: &str, tokens: &Value, body: Value) -> reqwest::Response {
    app.bearer_request(method, path, access(tokens), Some(body)).await
}

/// Signs `EMAIL` up, enrols and confirms with the app's current code.
async fn enrolled(app: &TestApp) -> Enrolled {
    let tokens = app.signup_and_login(EMAIL).await;
    let start = call(
        app,
        Method::POST,
        "/api/v1/users/me/mfa/totp",
        &tokens,
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(start.status(), StatusCode::OK);
    let start: Value = start.json().await.unwrap();
    let totp = Totp::from_url(start["otpauth_uri"].as_str().unwrap()).unwrap();
    let code = totp.generate(unix_now()).to_string();
    let confirmed = call(
        app,
        Method::POST,
        "/api/v1/users/me/mfa/totp/confirm",
        &tokens,
        json!({"code": code}),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.unwrap();
    let recovery_codes = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    Enrolled {
        app: totp,
        recovery_codes,
        tokens,
    }
}

/// The password step: must answer `mfa_required`; its `mfa_token`.
async fn password_step(app: &TestApp) -> String {
    let response = app.login(EMAIL, PASSWORD).await;
    assert!(
        set_cookies(&response).is_empty(),
        "no cookies before the second factor"
    );
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_required").await;
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    Client::new()
        .post(app.url("/api/v1/auth/login/mfa"))
        .json(&json!({"mfa_token": mfa_token, "code": code}))
        .send()
        .await
        .unwrap()
}

/// `EMAIL` enrolled, then logged in with both factors: the new session's tokens.
pub(crate) async fn enrolled_and_logged_in(app: &TestApp) -> (Enrolled, Value) {
    let e = enrolled(app).await;
    let token = password_step(app).await;
    let response = second_step(app, &token, &next_code(&e.app)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = response.json().await.unwrap();
    (e, tokens)
}

async fn enrolment_needs_the_password_and_a_first_code(app: TestApp) {
    let tokens = app.signup_and_login(EMAIL).await;
    let wrong = call(
        &app,
        Method::POST,
        "/api/v1/users/me/mfa/totp",
        &tokens,
        json!({"password": "not it"}),
    )
    .await;
    assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let unstarted = call(
        &app,
        Method::POST,
        "/api/v1/users/me/mfa/totp/confirm",
        &tokens,
        json!({"code": "123456"}),
    )
    .await;
    assert_problem(unstarted, StatusCode::CONFLICT, "mfa_not_enabled").await;

    let start = call(
        &app,
        Method::POST,
        "/api/v1/users/me/mfa/totp",
        &tokens,
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(start.status(), StatusCode::OK);
    assert_eq!(start.headers()["cache-control"], "no-store");
    let start: Value = start.json().await.unwrap();
    let totp = Totp::from_url(start["otpauth_uri"].as_str().unwrap()).unwrap();
    assert_eq!(totp.issuer(), Some("Latch"));
    assert_eq!(totp.account_name(), EMAIL);
    assert_eq!(start["secret"].as_str().unwrap().len(), 32);

    let typo = call(
        &app,
        Method::POST,
        "/api/v1/users/me/mfa/totp/confirm",
        &tokens,
        json!({"code": wrong_code(&totp)}),
    )
    .await;
    assert_problem(typo, StatusCode::UNPROCESSABLE_ENTITY, "mfa_code_invalid").await;
    let me: Value = app.me(access(&tokens)).await.json().await.unwrap();
    assert_eq!(
        me["mfa_enabled"], false,
        "a pending enrolment is no second factor"
    );

    let code = totp.generate(unix_now()).to_string();
    let confirmed = call(
        &app,
        Method::POST,
        "/api/v1/users/me/mfa/totp/confirm",
        &tokens,
        json!({"code": code}),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(confirmed.headers()["cache-control"], "no-store");
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
    let me: Value = app.me(access(&tokens)).await.json().await.unwrap();
    assert_eq!(me["mfa_enabled"], true);
    let status: Value = app
        .bearer_request(Method::GET, "/api/v1/users/me/mfa", access(&tokens), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status, json!({"totp_enabled": true, "recovery_codes_left": 10}));

    let again = call(
        &app,
        Method::POST,
        "/api/v1/users/me/mfa/totp",
        &tokens,
        json!({"password": PASSWORD}),
    )
    .await;
    assert_problem(again, StatusCode::CONFLICT, "mfa_already_enabled").await;
}

async fn a_password_alone_gets_mfa_required_and_no_session(app: TestApp) {
    let e = enrolled(&app).await;
    let response = app.login(EMAIL, PASSWORD).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(set_cookies(&response).is_empty());
    let body = assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_required").await;
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(body["mfa_token"].as_str().unwrap().len(), 43);
    assert!(body.get("access_token").is_none());

    // The OAuth2 password form gets the same step.
    let form = Client::new()
        .post(app.url("/api/v1/auth/login"))
        .form(&[
            ("username", EMAIL),
            ("password", PASSWORD),
            ("grant_type", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&form).is_empty());
    let body = assert_problem(form, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let form_token = body["mfa_token"].as_str().unwrap();
    let done = second_step(&app, form_token, &e.recovery_codes[0]).await;
    assert_eq!(done.status(), StatusCode::OK);

    // A wrong password is the usual uniform failure.
    let wrong = app.login(EMAIL, "not the password at all").await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Only one session exists: the enrolling one, and the one just completed.
    let sessions: Value = app
        .bearer_request(Method::GET, "/api/v1/users/me/sessions", access(&e.tokens), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"].as_array().unwrap().len(), 2, "{sessions}");
}

async fn a_totp_code_completes_the_login_and_amr_survives_refresh_and_session_checks(app: TestApp) {
    let e = enrolled(&app).await;
    assert_eq!(claims_of(access(&e.tokens))["amr"], json!(["pwd"]));
    let token = password_step(&app).await;
    let response = second_step(&app, &token, &next_code(&e.app)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("refresh_token=")),
        "{:?}",
        set_cookies(&response)
    );
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(claims_of(access(&tokens))["amr"], json!(["pwd", "otp"]));
    assert_eq!(app.me(access(&tokens)).await.status(), StatusCode::OK);

    let refreshed: Value = app
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claims_of(access(&refreshed))["amr"], json!(["pwd", "otp"]));
    let checked = app
        .bearer_request(Method::POST, "/api/v1/auth/session", access(&refreshed), None)
        .await;
    assert_eq!(checked.status(), StatusCode::OK);
    let checked: Value = checked.json().await.unwrap();
    assert_eq!(claims_of(access(&checked))["amr"], json!(["pwd", "otp"]));
}

async fn codes_are_accepted_once(app: TestApp) {
    let e = enrolled(&app).await;
    let code = next_code(&e.app);
    let first = password_step(&app).await;
    assert_eq!(second_step(&app, &first, &code).await.status(), StatusCode::OK);
    let second = password_step(&app).await;
    let replay = second_step(&app, &second, &code).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED, "mfa_code_invalid").await;

    let recovery = &e.recovery_codes[2];
    let spelled = recovery.to_uppercase().replace('-', " ");
    assert_eq!(
        second_step(&app, &second, &spelled).await.status(),
        StatusCode::OK
    );
    let third = password_step(&app).await;
    let reused = second_step(&app, &third, recovery).await;
    assert_problem(reused, StatusCode::UNAUTHORIZED, "mfa_code_invalid").await;
    // A spent mfa_token is dead.
    let spent = second_step(&app, &second, &e.recovery_codes[3]).await;
    assert_problem(spent, StatusCode::UNAUTHORIZED, "mfa_token_invalid").await;
    for nonsense in ["", "x", &"A".repeat(43)] {
        let refused = second_step(&app, nonsense, &e.recovery_codes[3]).await;
        assert_problem(refused, StatusCode::UNAUTHORIZED, "mfa_token_invalid").await;
    }
}

async fn an_mfa_token_dies_after_five_wrong_codes(app: TestApp) {
    let e = enrolled(&app).await;
    let token = password_step(&app).await;
    for _ in 0..5 {
        let wrong = second_step(&app, &token, &wrong_code(&e.app)).await;
        assert_problem(wrong, StatusCode::UNAUTHORIZED, "mfa_code_invalid").await;
    }
    let dead = second_step(&app, &token, &e.recovery_codes[0]).await;
    assert_problem(dead, StatusCode::UNAUTHORIZED, "mfa_token_invalid").await;
}

async fn concurrent_second_steps_with_one_token_open_one_session(app: TestApp) {
    let e = enrolled(&app).await;
    let token = password_step(&app).await;
    let attempts = e.recovery_codes[..4]
        .iter()
        .map(|code| second_step(&app, &token, code));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
}

async fn regenerated_recovery_codes_void_the_old_ones(app: TestApp) {
    let e = enrolled(&app).await;
    let path = "/api/v1/users/me/mfa/recovery-codes";
    let no_code = call(
        &app,
        Method::POST,
        path,
        &e.tokens,
        json!({"password": PASSWORD, "code": wrong_code(&e.app)}),
    )
    .await;
    assert_problem(no_code, StatusCode::UNPROCESSABLE_ENTITY, "mfa_code_invalid").await;
    let fresh = call(
        &app,
        Method::POST,
        path,
        &e.tokens,
        json!({"password": PASSWORD, "code": e.recovery_codes[0]}),
    )
    .await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let fresh: Value = fresh.json().await.unwrap();
    let fresh: Vec<String> = fresh["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    let token = password_step(&app).await;
    let old = second_step(&app, &token, &e.recovery_codes[1]).await;
    assert_problem(old, StatusCode::UNAUTHORIZED, "mfa_code_invalid").await;
    assert_eq!(
        second_step(&app, &token, &fresh[0]).await.status(),
        StatusCode::OK
    );
}

async fn disabling_needs_both_factors_and_ends_the_other_sessions(app: TestApp) {
    let (e, other) = enrolled_and_logged_in(&app).await;
    let path = "/api/v1/users/me/mfa/totp";
    let wrong = call(
        &app,
        Method::DELETE,
        path,
        &e.tokens,
        json!({"password": "not it", "code": e.recovery_codes[0]}),
    )
    .await;
    assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let no_code = call(
        &app,
        Method::DELETE,
        path,
        &e.tokens,
        json!({"password": PASSWORD, "code": wrong_code(&e.app)}),
    )
    .await;
    assert_problem(no_code, StatusCode::UNPROCESSABLE_ENTITY, "mfa_code_invalid").await;
    let off = call(
        &app,
        Method::DELETE,
        path,
        &e.tokens,
        json!({"password": PASSWORD, "code": e.recovery_codes[0]}),
    )
    .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);
    app.assert_session_ended(&other).await;
    let me: Value = app.me(access(&e.tokens)).await.json().await.unwrap();
    assert_eq!(me["mfa_enabled"], false);
    let login = app.login(EMAIL, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK, "a password alone logs in again");
    let again = call(
        &app,
        Method::DELETE,
        path,
        &e.tokens,
        json!({"password": PASSWORD, "code": "123456"}),
    )
    .await;
    assert_problem(again, StatusCode::CONFLICT, "mfa_not_enabled").await;
}

async fn an_admin_removes_the_second_factor_and_ends_every_session(app: TestApp) {
    let (e, other) = enrolled_and_logged_in(&app).await;
    let admin = app.superuser_login("root@example.com").await;
    let me: Value = app.me(access(&e.tokens)).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap();
    let path = format!("/api/v1/admin/users/{id}/mfa");
    let by_user = app
        .bearer_request(Method::DELETE, &path, access(&other), None)
        .await;
    assert_problem(by_user, StatusCode::FORBIDDEN, "forbidden").await;
    let removed = app
        .bearer_request(Method::DELETE, &path, access(&admin), None)
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    app.assert_session_ended(&e.tokens).await;
    app.assert_session_ended(&other).await;
    let tokens: Value = app.login(EMAIL, PASSWORD).await.json().await.unwrap();
    assert_eq!(tokens["user"]["mfa_enabled"], false);
    let unknown = app
        .bearer_request(
            Method::DELETE,
            &format!("/api/v1/admin/users/{}/mfa", uuid::Uuid::now_v7()),
            access(&admin),
            None,
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let audit: Value = app
        .bearer_request(
            Method::GET,
            &format!("/api/v1/admin/audit?user_id={id}"),
            access(&admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["action"].as_str().unwrap())
        .collect();
    for action in ["mfa_enrolment_started", "mfa_enabled", "admin_mfa_removed"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
}

async fn a_brute_force_of_the_second_step_hits_429(app: TestApp) {
    let e = enrolled(&app).await;
    let wrong = wrong_code(&e.app);
    for _ in 0..20 {
        let login = app.login(EMAIL, PASSWORD).await;
        if login.status() == StatusCode::TOO_MANY_REQUESTS {
            return;
        }
        let body = assert_problem(login, StatusCode::UNAUTHORIZED, "mfa_required").await;
        let token = body["mfa_token"].as_str().unwrap();
        for _ in 0..5 {
            let response = second_step(&app, token, &wrong).await;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
                return;
            }
            assert_problem(response, StatusCode::UNAUTHORIZED, "mfa_code_invalid").await;
        }
    }
    panic!("twenty password steps and a hundred codes were all admitted");
}
