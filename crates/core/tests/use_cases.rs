//! The use cases on the in-memory fakes and a fixed clock, with the real
//! hashing and token adapters (at a cheap hashing cost).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use latch_core::{
    AccountError, AdminChanges, AdminError, AuthConfig, AuthService, Client, LoginError, LoginRequest,
    LogoutError, LogoutScope, ProfileChanges, RefreshError, RevokeSessionError, SignupError, SignupRequest,
    UpdateProfileError,
};
use latch_ports::{Clock, PasswordHash};
use latch_rate_limit::{ActionBudgets, Budget, RateLimitConfig};
use latch_session_cache::{CacheCoherence, CacheLease, SessionCacheConfig};
use latch_testkit::ManualChangeSignal;

mod support;

use support::{
    Harness, PASSWORD, authenticated, log_in, log_out, logged_in, login_request, refresh, refresh_token,
    refreshed, signed_up, signup_request,
};

#[tokio::test]
async fn signup_rejects_invalid_fields_before_hashing() {
    let h = Harness::new();
    let bad_email = h
        .auth
        .signup(SignupRequest {
            email: "nope".into(),
            ..signup_request("x")
        })
        .await;
    assert!(
        matches!(bad_email, Err(SignupError::Invalid(ref e)) if e.field == "email"),
        "{bad_email:?}"
    );
    let short = h
        .auth
        .signup(SignupRequest {
            password: "short".into(),
            ..signup_request("a@example.com")
        })
        .await;
    assert!(
        matches!(short, Err(SignupError::Invalid(ref e)) if e.field == "password"),
        "{short:?}"
    );
    assert!(
        h.stores
            .users
            .find_credentials("a@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn signup_gives_no_privileges_and_the_default_tier() {
    let h = Harness::new();
    let user = signed_up(&h.auth, "ada@example.com").await;
    assert!(!user.is_superuser && !user.is_staff && user.is_active);
    assert_eq!(user.tier, "free");
    let admin = h
        .auth
        .create_superuser(signup_request("root@example.com"))
        .await
        .unwrap();
    assert!(admin.is_superuser);
}

#[tokio::test]
async fn duplicate_email_is_reported() {
    let h = Harness::new();
    signed_up(&h.auth, "ada@example.com").await;
    let again = h.auth.signup(signup_request("ADA@example.com")).await;
    assert!(matches!(again, Err(SignupError::EmailTaken)), "{again:?}");
}

#[tokio::test]
async fn every_login_failure_is_the_same_error() {
    let h = Harness::new();
    signed_up(&h.auth, "ada@example.com").await;
    for (login, password) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", &"x".repeat(10_000)),
    ] {
        let result = h.auth.login(login_request(login, password)).await;
        assert!(
            matches!(result, Err(LoginError::InvalidCredentials)),
            "{login}: {result:?}"
        );
    }
}

#[tokio::test]
async fn login_opens_a_session_with_a_refresh_token() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    assert!(refresh_token(&pair).starts_with("latch_rt_"));
    assert_eq!(pair.access_expires_at, h.clock.now() + Duration::seconds(900));
    let session = h.stores.sessions.find(pair.session.id).await.unwrap().unwrap();
    assert!(session.is_live(h.clock.now()));
    assert_eq!(pair.user.last_login_at, Some(h.clock.now()));
    let principal = authenticated(&h.auth, &pair).await;
    assert_eq!(principal.session.id, pair.session.id);
}

#[tokio::test]
async fn a_bcrypt_hash_logs_in_and_is_rehashed_to_argon2id() {
    let h = Harness::new();
    let user = signed_up(&h.auth, "ada@example.com").await;
    // What Python's bcrypt.hashpw(b"correct horse battery staple", bcrypt.gensalt(4)) writes.
    let legacy = bcrypt::hash(PASSWORD, 4).unwrap();
    h.stores
        .users
        .set_password_hash(user.id, &PasswordHash(legacy), h.clock.now())
        .await
        .unwrap();
    log_in(&h.auth, "ada@example.com").await;
    let stored = h
        .stores
        .users
        .find_credentials("ada@example.com")
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(stored.0.starts_with("$argon2id$"), "not rehashed");
    log_in(&h.auth, "ada@example.com").await;
}

#[tokio::test]
async fn refresh_rotates_and_spends_the_old_token() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    h.clock.advance(Duration::minutes(1));
    let next = refreshed(&h.auth, &pair).await;
    assert_ne!(refresh_token(&next), refresh_token(&pair));
    assert_eq!(next.session.id, pair.session.id);
    let third = refreshed(&h.auth, &next).await;
    assert_ne!(refresh_token(&third), refresh_token(&next));
}

#[tokio::test]
async fn reuse_within_grace_returns_the_same_successor() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let first = refreshed(&h.auth, &pair).await;
    h.clock.advance(Duration::seconds(9));
    let again = refreshed(&h.auth, &pair).await;
    assert_eq!(refresh_token(&first), refresh_token(&again));
}

#[tokio::test]
async fn reuse_after_grace_revokes_the_session() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let first = refreshed(&h.auth, &pair).await;
    h.clock.advance(Duration::seconds(10));
    let reuse = refresh(&h.auth, &pair).await;
    assert!(matches!(reuse, Err(RefreshError::Reused)), "{reuse:?}");
    let successor = refresh(&h.auth, &first).await;
    assert!(matches!(successor, Err(RefreshError::Invalid)), "{successor:?}");
    assert!(h.auth.authenticate(&first.access_token).await.is_err());
}

#[tokio::test]
async fn reuse_of_a_grandparent_inside_grace_revokes_the_session() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let child = refreshed(&h.auth, &pair).await;
    refreshed(&h.auth, &child).await;
    // The parent's successor has itself been spent: no live successor to hand out.
    let reuse = refresh(&h.auth, &pair).await;
    assert!(matches!(reuse, Err(RefreshError::Reused)), "{reuse:?}");
}

#[tokio::test]
async fn concurrent_refreshes_share_one_successor() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let token = refresh_token(&pair).to_owned();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (auth, token) = (h.auth.clone(), token.clone());
            tokio::spawn(async move {
                auth.refresh(&token, &Client::default())
                    .await
                    .map(|p| refresh_token(&p).to_owned())
            })
        })
        .collect();
    let mut successors = HashSet::new();
    for task in tasks {
        successors.insert(task.await.unwrap().unwrap());
    }
    assert_eq!(successors.len(), 1);
}

#[tokio::test]
async fn an_idle_refresh_token_expires() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    h.clock.advance(Duration::days(7));
    let result = refresh(&h.auth, &pair).await;
    assert!(matches!(result, Err(RefreshError::Invalid)), "{result:?}");
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_often_refreshed() {
    let h = Harness::new();
    let mut pair = logged_in(&h.auth, "ada@example.com").await;
    for _ in 0..4 {
        h.clock.advance(Duration::days(6));
        pair = refreshed(&h.auth, &pair).await;
    }
    // Day 30: the last refresh token is only 6 days old, but the session is over.
    h.clock.advance(Duration::days(6));
    let result = refresh(&h.auth, &pair).await;
    assert!(matches!(result, Err(RefreshError::Invalid)), "{result:?}");
}

#[tokio::test]
async fn logout_scopes() {
    let h = Harness::new();
    let a = logged_in(&h.auth, "ada@example.com").await;
    let b = log_in(&h.auth, "ada@example.com").await;
    let c = log_in(&h.auth, "ada@example.com").await;

    let outcome = h
        .auth
        .logout(Some(&a.access_token), None, LogoutScope::Others)
        .await
        .unwrap();
    assert!(!outcome.ended_current);
    assert!(h.auth.authenticate(&a.access_token).await.is_ok());
    assert!(h.auth.authenticate(&b.access_token).await.is_err());
    assert!(h.auth.authenticate(&c.access_token).await.is_err());

    // Identified by the refresh token alone.
    let outcome = h
        .auth
        .logout(None, Some(refresh_token(&a)), LogoutScope::Local)
        .await
        .unwrap();
    assert!(outcome.ended_current);
    assert!(h.auth.authenticate(&a.access_token).await.is_err());

    // Nothing live: local is still fine, global is not.
    assert!(
        h.auth
            .logout(Some(&a.access_token), None, LogoutScope::Local)
            .await
            .is_ok()
    );
    let global = h
        .auth
        .logout(Some(&a.access_token), None, LogoutScope::Global)
        .await;
    assert!(matches!(global, Err(LogoutError::Unauthenticated)), "{global:?}");
}

#[tokio::test]
async fn session_check_keeps_the_token_until_close_to_expiry() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let same = h.auth.check_session(&pair.access_token).await.unwrap();
    assert_eq!(same.access_token, pair.access_token);
    assert!(same.refresh.is_none());
    h.clock.advance(Duration::seconds(900 - 119));
    let fresh = h.auth.check_session(&pair.access_token).await.unwrap();
    assert_ne!(fresh.access_token, pair.access_token);
    assert_eq!(fresh.session.id, pair.session.id);
}

#[tokio::test]
async fn profile_update_validates_and_detects_taken_usernames() {
    let h = Harness::new();
    h.auth
        .signup(SignupRequest {
            username: Some("bob".into()),
            ..signup_request("bob@example.com")
        })
        .await
        .unwrap();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let principal = authenticated(&h.auth, &pair).await;
    let client = Client::default();
    let update = |changes| h.auth.update_profile(&principal, changes, &client);
    let taken = update(ProfileChanges {
        username: Some(Some("BOB".into())),
        ..Default::default()
    })
    .await;
    assert!(
        matches!(taken, Err(UpdateProfileError::UsernameTaken)),
        "{taken:?}"
    );
    let invalid = update(ProfileChanges {
        avatar_url: Some(Some("ftp://x".into())),
        ..Default::default()
    })
    .await;
    assert!(
        matches!(invalid, Err(UpdateProfileError::Invalid(ref e)) if e.field == "avatar_url"),
        "{invalid:?}"
    );
    let user = update(ProfileChanges {
        name: Some(Some("Ada".into())),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(user.name.as_deref(), Some("Ada"));
}

#[tokio::test]
async fn with_zero_grace_any_repeat_is_reuse_even_from_the_past() {
    let config = AuthConfig {
        refresh_reuse_grace: Duration::zero(),
        ..AuthConfig::default()
    };
    let h = Harness::with(config, RateLimitConfig::default());
    let pair = logged_in(&h.auth, "ada@example.com").await;
    refreshed(&h.auth, &pair).await;
    // A concurrent loser may have read the clock before the winner rotated.
    h.clock.advance(Duration::milliseconds(-5));
    let reuse = refresh(&h.auth, &pair).await;
    assert!(matches!(reuse, Err(RefreshError::Reused)), "{reuse:?}");
}

#[tokio::test]
async fn password_change_revokes_only_the_other_sessions() {
    let h = Harness::new();
    let this = logged_in(&h.auth, "ada@example.com").await;
    let other = log_in(&h.auth, "ada@example.com").await;
    let principal = authenticated(&h.auth, &this).await;
    let wrong = h
        .auth
        .change_password(&principal, "nope", "a new passphrase", &Client::default())
        .await;
    assert!(
        matches!(
            wrong,
            Err(AccountError::WrongPassword {
                field: "current_password"
            })
        ),
        "{wrong:?}"
    );
    h.auth
        .change_password(&principal, PASSWORD, "a new passphrase", &Client::default())
        .await
        .unwrap();
    assert!(h.auth.authenticate(&this.access_token).await.is_ok());
    assert!(h.auth.authenticate(&other.access_token).await.is_err());
    assert!(
        h.auth
            .login(login_request("ada@example.com", "a new passphrase"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_deleted_account_fails_login_like_a_wrong_password() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let principal = authenticated(&h.auth, &pair).await;
    h.auth
        .delete_account(&principal, PASSWORD, &Client::default())
        .await
        .unwrap();
    assert!(h.auth.authenticate(&pair.access_token).await.is_err());
    let login = h.auth.login(login_request("ada@example.com", PASSWORD)).await;
    assert!(matches!(login, Err(LoginError::InvalidCredentials)), "{login:?}");
    let kept = h
        .stores
        .users
        .find_credentials("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(kept.user.deleted_at.is_some());
}

#[tokio::test]
async fn only_own_sessions_can_be_listed_and_revoked() {
    let h = Harness::new();
    let ada = logged_in(&h.auth, "ada@example.com").await;
    let bob = logged_in(&h.auth, "bob@example.com").await;
    let principal = authenticated(&h.auth, &ada).await;
    let listed = h.auth.list_sessions(&principal).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].current);
    let foreign = h.auth.revoke_session(&principal, bob.session.id).await;
    assert!(
        matches!(foreign, Err(RevokeSessionError::NotFound)),
        "{foreign:?}"
    );
    assert!(h.auth.authenticate(&bob.access_token).await.is_ok());
}

#[tokio::test]
async fn admin_use_cases_are_for_active_superusers_only() {
    let h = Harness::new();
    let ada = logged_in(&h.auth, "ada@example.com").await;
    let principal = authenticated(&h.auth, &ada).await;
    let query = latch_ports::UserQuery {
        search: None,
        include_deleted: false,
        page: 1,
        per_page: 20,
    };
    let listed = h.auth.admin_list_users(&principal, query).await;
    assert!(matches!(listed, Err(AdminError::Forbidden)), "{listed:?}");
    let deleted = h.auth.admin_delete_user(&principal, ada.user.id).await;
    assert!(matches!(deleted, Err(AdminError::Forbidden)), "{deleted:?}");
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions() {
    let h = Harness::new();
    h.auth
        .create_superuser(signup_request("root@example.com"))
        .await
        .unwrap();
    let root = log_in(&h.auth, "root@example.com").await;
    let admin = authenticated(&h.auth, &root).await;
    let ada = logged_in(&h.auth, "ada@example.com").await;
    let changes = AdminChanges {
        is_active: Some(false),
        ..AdminChanges::default()
    };
    h.auth
        .admin_update_user(&admin, ada.user.id, changes)
        .await
        .unwrap();
    let session = h.stores.sessions.find(ada.session.id).await.unwrap().unwrap();
    assert!(session.revoked_at.is_some());
    let demote_self = AdminChanges {
        is_superuser: Some(false),
        ..AdminChanges::default()
    };
    let result = h.auth.admin_update_user(&admin, admin.user.id, demote_self).await;
    assert!(matches!(result, Err(AdminError::LastSuperuser)), "{result:?}");
}

#[tokio::test]
async fn security_events_reach_the_audit_trail() {
    use latch_domain::AuditAction;
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let _ = h.auth.login(login_request("nobody@example.com", PASSWORD)).await;
    refreshed(&h.auth, &pair).await;
    h.clock.advance(Duration::seconds(10));
    let _ = refresh(&h.auth, &pair).await;
    let trail = h.stores.audit.list(None, 1, 100).await.unwrap();
    let actions: Vec<AuditAction> = trail.items.iter().rev().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Signup,
            AuditAction::LoginSucceeded,
            AuditAction::LoginFailed,
            AuditAction::RefreshReuseDetected
        ]
    );
    let unknown = &trail.items[1];
    assert_eq!(
        (unknown.actor_id, unknown.target_id),
        (None, None),
        "an unknown login names no account"
    );
    assert_eq!(trail.items[0].target_id, Some(pair.user.id));
}

#[tokio::test]
async fn token_pairs_never_print_their_tokens() {
    let h = Harness::new();
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let printed = format!("{pair:?}");
    assert!(!printed.contains(&pair.access_token), "{printed}");
    assert!(!printed.contains(refresh_token(&pair)), "{printed}");
}

/// Limits small enough to reach in a test: 3 logins per hour per IP and per
/// account, backoff after 2 failures starting at one minute.
fn tight_limits() -> RateLimitConfig {
    let three_an_hour = Budget::new(3, std::time::Duration::from_secs(3600));
    RateLimitConfig {
        per_ip: ActionBudgets::uniform(three_an_hour),
        per_account: ActionBudgets::uniform(three_an_hour),
        free_failures: 2,
        backoff_base: std::time::Duration::from_secs(60),
        backoff_max: std::time::Duration::from_secs(600),
        ..RateLimitConfig::default()
    }
}

fn from_ip(mut request: LoginRequest, ip: &str) -> LoginRequest {
    request.client.ip = Some(ip.into());
    request
}

#[tokio::test]
async fn logins_beyond_the_ip_budget_are_refused_before_hashing() {
    let h = Harness::with(AuthConfig::default(), tight_limits());
    for n in 0..3 {
        let login = from_ip(
            login_request(&format!("user{n}@example.com"), PASSWORD),
            "203.0.113.1",
        );
        assert!(matches!(
            h.auth.login(login).await,
            Err(LoginError::InvalidCredentials)
        ));
    }
    let refused = h
        .auth
        .login(from_ip(
            login_request("other@example.com", PASSWORD),
            "203.0.113.1",
        ))
        .await;
    let Err(LoginError::RateLimited(refusal)) = refused else {
        panic!("expected a rate limit, got {refused:?}");
    };
    assert!(refusal.retry_after > std::time::Duration::ZERO);
    assert_eq!(refusal.limit, 3);
    // Another address has its own budget.
    let elsewhere = h
        .auth
        .login(from_ip(
            login_request("other@example.com", PASSWORD),
            "203.0.113.2",
        ))
        .await;
    assert!(matches!(elsewhere, Err(LoginError::InvalidCredentials)));
}

#[tokio::test]
async fn failed_logins_make_the_account_back_off_and_success_clears_it() {
    let h = Harness::with(AuthConfig::default(), tight_limits());
    signed_up(&h.auth, "ada@example.com").await;
    for _ in 0..2 {
        let wrong = h
            .auth
            .login(from_ip(
                login_request("ada@example.com", "wrong password"),
                "198.51.100.1",
            ))
            .await;
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
    }
    // Two failures, two free: the account backs off, from any address, in any case of the login.
    let backing_off = h
        .auth
        .login(from_ip(
            login_request("ADA@example.com", PASSWORD),
            "198.51.100.3",
        ))
        .await;
    let Err(LoginError::RateLimited(refusal)) = backing_off else {
        panic!("expected a backoff, got {backing_off:?}");
    };
    assert!(refusal.retry_after <= std::time::Duration::from_secs(60));
    assert!(refusal.retry_after > std::time::Duration::from_secs(50));
    // The audit trail saw two failures, not the refused attempt.
    let trail = h.stores.audit.list(None, 1, 100).await.unwrap();
    let failures = trail
        .items
        .iter()
        .filter(|e| e.action == latch_domain::AuditAction::LoginFailed);
    assert_eq!(failures.count(), 2);
}

#[tokio::test]
async fn password_changes_count_against_the_account() {
    let (h, principal) = logged_in_with_limits(tight_limits()).await;
    // Wrong current passwords are failed logins of the account: two free, then it backs off.
    for _ in 0..2 {
        assert_wrong_password(Confirm::Change.with(&h, &principal, "guess").await);
    }
    let refused = Confirm::Change.with(&h, &principal, PASSWORD).await;
    assert!(
        matches!(refused, Err(AccountError::RateLimited(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn password_checks_spend_the_password_change_budget() {
    let limits = RateLimitConfig {
        free_failures: 100,
        ..tight_limits()
    };
    let (h, principal) = logged_in_with_limits(limits).await;
    // A change and two deletions spend the three attempts of one budget.
    for confirm in [Confirm::Change, Confirm::Delete, Confirm::Delete] {
        assert_wrong_password(confirm.with(&h, &principal, "guess").await);
    }
    let refused = Confirm::Delete.with(&h, &principal, PASSWORD).await;
    assert!(
        matches!(refused, Err(AccountError::RateLimited(_))),
        "{refused:?}"
    );
}

/// A harness with `limits`, and Ada logged in on it.
async fn logged_in_with_limits(limits: RateLimitConfig) -> (Harness, latch_core::Principal) {
    let h = Harness::with(AuthConfig::default(), limits);
    let pair = logged_in(&h.auth, "ada@example.com").await;
    let principal = authenticated(&h.auth, &pair).await;
    (h, principal)
}

/// A self-service action confirmed with the caller's password.
#[derive(Clone, Copy)]
enum Confirm {
    Change,
    Delete,
}

impl Confirm {
    async fn with(
        self,
        h: &Harness,
        principal: &latch_core::Principal,
        password: &str,
    ) -> Result<(), AccountError> {
        let client = Client::default();
        match self {
            Self::Change => {
                h.auth
                    .change_password(principal, password, "a new passphrase", &client)
                    .await
            }
            Self::Delete => h.auth.delete_account(principal, password, &client).await,
        }
    }
}

fn assert_wrong_password(outcome: Result<(), AccountError>) {
    assert!(
        matches!(outcome, Err(AccountError::WrongPassword { .. })),
        "{outcome:?}"
    );
}

// ---- the session cache across instances --------------------------------------

/// A lease short enough for tests to wait out.
const TEST_LEASE: std::time::Duration = std::time::Duration::from_millis(400);

/// A service with the session cache in front of its stores, and its lease.
struct Instance {
    auth: AuthService,
    lease: CacheLease,
}

impl std::ops::Deref for Instance {
    type Target = AuthService;

    fn deref(&self) -> &AuthService {
        &self.auth
    }
}

/// Two services on one set of stores: two instances sharing a database.
fn two_instances(coherence: CacheCoherence) -> (Instance, Instance) {
    let config = SessionCacheConfig {
        coherence,
        lease: TEST_LEASE,
        ..SessionCacheConfig::default()
    };
    let stores = Harness::new();
    let instance = || {
        let (auth, lease) = stores.cached_instance(&config);
        Instance { auth, lease }
    };
    (instance(), instance())
}

#[tokio::test]
async fn every_instance_honours_a_logout_on_its_very_next_request() {
    let (a, b) = two_instances(CacheCoherence::ChangeLog);
    let pair = logged_in(&a, "ada@example.com").await;
    // Both instances now hold the session in their caches.
    assert!(a.authenticate(&pair.access_token).await.is_ok());
    assert!(b.authenticate(&pair.access_token).await.is_ok());

    log_out(&a, &pair).await;
    assert!(b.authenticate(&pair.access_token).await.is_err());
    assert!(a.authenticate(&pair.access_token).await.is_err());
}

#[tokio::test]
async fn every_instance_sees_a_profile_change_and_a_deletion_at_once() {
    let (a, b) = two_instances(CacheCoherence::ChangeLog);
    let pair = logged_in(&a, "ada@example.com").await;
    let on_b = authenticated(&b, &pair).await;
    assert_eq!(on_b.user.name, None);

    let principal = authenticated(&a, &pair).await;
    let rename = ProfileChanges {
        name: Some(Some("Ada Lovelace".into())),
        ..ProfileChanges::default()
    };
    a.update_profile(&principal, rename, &Client::default())
        .await
        .unwrap();
    let on_b = authenticated(&b, &pair).await;
    assert_eq!(on_b.user.name.as_deref(), Some("Ada Lovelace"));

    a.delete_account(&principal, PASSWORD, &Client::default())
        .await
        .unwrap();
    assert!(b.authenticate(&pair.access_token).await.is_err());
}

#[tokio::test]
async fn a_single_process_cache_honours_its_own_writes() {
    let (a, _) = two_instances(CacheCoherence::SingleProcess);
    signed_up(&a, "ada@example.com").await;
    let first = log_in(&a, "ada@example.com").await;
    let second = log_in(&a, "ada@example.com").await;
    assert!(a.authenticate(&first.access_token).await.is_ok());
    assert!(a.authenticate(&second.access_token).await.is_ok());
    a.logout(Some(&first.access_token), None, LogoutScope::Others)
        .await
        .unwrap();
    assert!(a.authenticate(&first.access_token).await.is_ok());
    assert!(a.authenticate(&second.access_token).await.is_err());
    log_out(&a, &first).await;
    assert!(a.authenticate(&first.access_token).await.is_err());
}

/// Starts `instance`'s lease keeper and waits until it holds its lease.
async fn holding_a_lease(instance: &Instance) -> tokio::task::JoinHandle<()> {
    let keeper = instance.lease.clone();
    let task = tokio::spawn(async move {
        keeper.keep(Arc::new(ManualChangeSignal::default())).await;
    });
    for _ in 0..200 {
        if instance.lease.held() {
            return task;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the lease keeper never took its lease");
}

#[tokio::test]
async fn in_lease_mode_every_instance_honours_a_logout_on_its_very_next_request() {
    let (a, b) = two_instances(CacheCoherence::Lease);
    let _keepers = (holding_a_lease(&a).await, holding_a_lease(&b).await);
    let pair = logged_in(&a, "ada@example.com").await;
    assert!(a.authenticate(&pair.access_token).await.is_ok());
    assert!(b.authenticate(&pair.access_token).await.is_ok());

    // The logout returns once B has applied it (B learns at its next renewal).
    log_out(&a, &pair).await;
    // So B answers next from its cache, with no read of the log: the lease path is what is tested.
    assert!(b.lease.held(), "B still holds its lease");
    assert!(b.authenticate(&pair.access_token).await.is_err());
    assert!(a.authenticate(&pair.access_token).await.is_err());
}

#[tokio::test]
async fn in_lease_mode_a_write_waits_out_an_instance_that_stopped_renewing() {
    let (a, b) = two_instances(CacheCoherence::Lease);
    let b_keeper = holding_a_lease(&b).await;
    let pair = logged_in(&a, "ada@example.com").await;
    assert!(b.authenticate(&pair.access_token).await.is_ok());

    // B stops renewing while its lease (and its cached session) is live.
    b_keeper.abort();
    let started = std::time::Instant::now();
    log_out(&a, &pair).await;
    assert!(
        started.elapsed() < TEST_LEASE * 5,
        "the wait is bounded by a lease"
    );
    // B's lease has ended by now, so B reads the log before using its cache.
    assert!(!b.lease.held());
    assert!(b.authenticate(&pair.access_token).await.is_err());
}

#[tokio::test]
async fn in_lease_mode_a_released_instance_is_not_waited_for() {
    let (a, b) = two_instances(CacheCoherence::Lease);
    let b_keeper = holding_a_lease(&b).await;
    b_keeper.abort();
    b.lease.release().await;
    assert!(!b.lease.held());
    let pair = logged_in(&a, "ada@example.com").await;
    assert!(b.authenticate(&pair.access_token).await.is_ok());
    let started = std::time::Instant::now();
    log_out(&a, &pair).await;
    assert!(started.elapsed() < TEST_LEASE / 2, "waited for a released lease");
    assert!(b.authenticate(&pair.access_token).await.is_err());
}
