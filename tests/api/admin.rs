//! `/api/v1/admin/users`: superusers only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, access, assert_problem};

crate::on_both_backends!(
    ordinary_users_get_403_on_every_admin_route,
    listing_paginates_searches_and_bounds_its_parameters,
    an_admin_reads_and_changes_a_user,
    deactivation_ends_the_users_access_on_the_next_request,
    soft_delete_and_restore,
    the_last_superuser_cannot_demote_or_delete_themself,
    the_last_superuser_cannot_delete_their_own_account,
    two_superusers_removing_each_other_at_once_leave_one,
    bad_ids_and_fields_are_4xx,
    tiers_are_created_changed_assigned_and_deleted,
    the_audit_trail_records_security_events_without_secrets,
);

fn id(tokens: &Value) -> &str {
    tokens["user"]["id"].as_str().unwrap()
}

async fn ordinary_users_get_403_on_every_admin_route(app: TestApp) {
    let user = app.signup_and_login("ada@example.com").await;
    let target = format!("/api/v1/admin/users/{}", id(&user));
    let routes = [
        (Method::GET, "/api/v1/admin/users".to_owned(), None),
        (Method::GET, target.clone(), None),
        (
            Method::PATCH,
            target.clone(),
            Some(json!({ "is_superuser": true })),
        ),
        (Method::DELETE, target.clone(), None),
        (Method::POST, format!("{target}/restore"), None),
        (Method::GET, "/api/v1/admin/tiers".to_owned(), None),
        (Method::GET, "/api/v1/admin/audit".to_owned(), None),
        (
            Method::POST,
            "/api/v1/admin/tiers".to_owned(),
            Some(json!({ "name": "mine" })),
        ),
        (
            Method::PATCH,
            "/api/v1/admin/tiers/free".to_owned(),
            Some(json!({ "limits": [] })),
        ),
        (Method::DELETE, "/api/v1/admin/tiers/free".to_owned(), None),
    ];
    for (method, path, body) in routes {
        let response = app
            .bearer_request(method.clone(), &path, access(&user), body.clone())
            .await;
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
        let anonymous = reqwest::Client::new()
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let me: Value = app.me(access(&user)).await.json().await.unwrap();
    assert_eq!(me["is_superuser"], false);
}

async fn listing_paginates_searches_and_bounds_its_parameters(app: TestApp) {
    let admin = app.superuser_login("root@example.com").await;
    for email in ["ada@example.com", "bob@example.com", "carol@example.com"] {
        app.signup(email).await;
    }
    let list = |query: &'static str| app.bearer_request(Method::GET, query, access(&admin), None);
    let page: Value = list("/api/v1/admin/users?per_page=2").await.json().await.unwrap();
    assert_eq!(
        (
            page["total"].clone(),
            page["page"].clone(),
            page["per_page"].clone()
        ),
        (json!(4), json!(1), json!(2))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["email"], "root@example.com");
    let beyond: Value = list("/api/v1/admin/users?per_page=2&page=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(beyond["items"], json!([]));
    assert_eq!(beyond["total"], 4);
    let found: Value = list("/api/v1/admin/users?q=BOB").await.json().await.unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["email"], "bob@example.com");
    for bad in [
        "/api/v1/admin/users?per_page=0",
        "/api/v1/admin/users?per_page=101",
        "/api/v1/admin/users?page=0",
        "/api/v1/admin/users?per_page=many",
        "/api/v1/admin/users?page=-1",
        "/api/v1/admin/users?sort=email",
        // An offset past the databases' 64-bit range once panicked the driver.
        "/api/v1/admin/users?page=461168601842738792",
        "/api/v1/admin/users?page=10000001",
        "/api/v1/admin/audit?page=461168601842738792",
    ] {
        assert_problem(
            list(bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

async fn an_admin_reads_and_changes_a_user(app: TestApp) {
    let admin = app.superuser_login("root@example.com").await;
    let ada = app.signup_and_login("ada@example.com").await;
    let path = format!("/api/v1/admin/users/{}", id(&ada));
    let pro = json!({ "name": "pro", "description": "Paying customers" });
    let created = app
        .bearer_request(Method::POST, "/api/v1/admin/tiers", access(&admin), Some(pro))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let read: Value = app
        .bearer_request(Method::GET, &path, access(&admin), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["email"], "ada@example.com");
    assert_eq!(read["deleted_at"], Value::Null);
    let body = json!({ "is_staff": true, "tier": "pro", "name": "Ada", "username": "ada" });
    let response = app
        .bearer_request(Method::PATCH, &path, access(&admin), Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(
        (changed["is_staff"].clone(), changed["tier"].clone()),
        (json!(true), json!("pro"))
    );
    assert_eq!(changed["is_superuser"], false);
    // The user sees it at once, and new tokens carry the tier.
    let me: Value = app.me(access(&ada)).await.json().await.unwrap();
    assert_eq!(me["tier"], "pro");
    let again: Value = app.login("ada", PASSWORD).await.json().await.unwrap();
    assert_eq!(crate::helpers::claims_of(access(&again))["tier"], "pro");
}

async fn deactivation_ends_the_users_access_on_the_next_request(app: TestApp) {
    let admin = app.superuser_login("root@example.com").await;
    let ada = app.signup_and_login("ada@example.com").await;
    let path = format!("/api/v1/admin/users/{}", id(&ada));
    let response = app
        .bearer_request(
            Method::PATCH,
            &path,
            access(&admin),
            Some(json!({ "is_active": false })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.assert_session_ended(&ada).await;
    app.assert_login_refused("ada@example.com").await;
    // Reactivated, the user logs in again (old sessions stay ended).
    app.bearer_request(
        Method::PATCH,
        &path,
        access(&admin),
        Some(json!({ "is_active": true })),
    )
    .await;
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    app.assert_access_refused(&ada).await;
}

async fn soft_delete_and_restore(app: TestApp) {
    let admin = app.superuser_login("root@example.com").await;
    let ada = app.signup_and_login("ada@example.com").await;
    let path = format!("/api/v1/admin/users/{}", id(&ada));
    assert_eq!(
        app.bearer_request(Method::DELETE, &path, access(&admin), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    app.assert_access_refused(&ada).await;
    app.assert_login_refused("ada@example.com").await;

    let visible: Value = app
        .bearer_request(Method::GET, "/api/v1/admin/users", access(&admin), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(visible["total"], 1);
    let all: Value = app
        .bearer_request(
            Method::GET,
            "/api/v1/admin/users?include_deleted=true",
            access(&admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"], 2);
    let deleted = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ada@example.com")
        .unwrap();
    assert!(deleted["deleted_at"].is_string());

    let restore = app
        .bearer_request(Method::POST, &format!("{path}/restore"), access(&admin), None)
        .await;
    assert_eq!(restore.status(), StatusCode::OK);
    let restored: Value = restore.json().await.unwrap();
    assert_eq!(restored["deleted_at"], Value::Null);
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn the_last_superuser_cannot_demote_or_delete_themself(app: TestApp) {
    let root = app.superuser_login("root@example.com").await;
    let path = format!("/api/v1/admin/users/{}", id(&root));
    for body in [json!({ "is_superuser": false }), json!({ "is_active": false })] {
        let response = app
            .bearer_request(Method::PATCH, &path, access(&root), Some(body))
            .await;
        assert_problem(response, StatusCode::CONFLICT, "last_superuser").await;
    }
    assert_problem(
        app.bearer_request(Method::DELETE, &path, access(&root), None)
            .await,
        StatusCode::CONFLICT,
        "last_superuser",
    )
    .await;
    let me: Value = app.me(access(&root)).await.json().await.unwrap();
    assert_eq!(me["is_superuser"], true);

    // With a second superuser, stepping down is allowed.
    let ada = app.signup_and_login("ada@example.com").await;
    let promote = json!({ "is_superuser": true });
    let ada_path = format!("/api/v1/admin/users/{}", id(&ada));
    assert_eq!(
        app.bearer_request(Method::PATCH, &ada_path, access(&root), Some(promote))
            .await
            .status(),
        StatusCode::OK
    );
    let step_down = app
        .bearer_request(
            Method::PATCH,
            &path,
            access(&root),
            Some(json!({ "is_superuser": false })),
        )
        .await;
    assert_eq!(step_down.status(), StatusCode::OK);
    let now_forbidden = app
        .bearer_request(Method::GET, "/api/v1/admin/users", access(&root), None)
        .await;
    assert_problem(now_forbidden, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn the_last_superuser_cannot_delete_their_own_account(app: TestApp) {
    let root = app.superuser_login("root@example.com").await;
    let body = Some(json!({ "password": PASSWORD }));
    let response = app
        .bearer_request(Method::DELETE, "/api/v1/users/me", access(&root), body)
        .await;
    assert_problem(response, StatusCode::CONFLICT, "last_superuser").await;
    let me: Value = app.me(access(&root)).await.json().await.unwrap();
    assert_eq!(
        (me["is_superuser"].clone(), me["is_active"].clone()),
        (json!(true), json!(true))
    );
}

async fn two_superusers_removing_each_other_at_once_leave_one(app: TestApp) {
    // Each round: two active superusers, each removing the other by another path.
    let mut survivor = app.superuser_login("root@example.com").await;
    for round in 0..6 {
        let newcomer = app.superuser_login(&format!("su{round}@example.com")).await;
        let newcomer_path = format!("/api/v1/admin/users/{}", id(&newcomer));
        let survivor_path = format!("/api/v1/admin/users/{}", id(&survivor));
        let demote = app.bearer_request(
            Method::PATCH,
            &newcomer_path,
            access(&survivor),
            Some(json!({ "is_superuser": false })),
        );
        let delete = app.bearer_request(Method::DELETE, &survivor_path, access(&newcomer), None);
        let (demoted, deleted) = tokio::join!(demote, delete);
        let statuses = (demoted.status(), deleted.status());
        survivor = match statuses {
            (StatusCode::OK, StatusCode::CONFLICT) => survivor,
            (StatusCode::CONFLICT, StatusCode::NO_CONTENT) => newcomer,
            // The winner's change can also end the loser's standing before
            // its request is authorized.
            (StatusCode::OK, StatusCode::FORBIDDEN) => survivor,
            (StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED, StatusCode::NO_CONTENT) => newcomer,
            other => panic!("round {round}: both or neither removal succeeded: {other:?}"),
        };
        let admins = app
            .bearer_request(
                Method::GET,
                "/api/v1/admin/users?per_page=100",
                access(&survivor),
                None,
            )
            .await;
        assert_eq!(admins.status(), StatusCode::OK, "round {round}");
        let admins: Value = admins.json().await.unwrap();
        let active_superusers = admins["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["is_superuser"] == true && u["is_active"] == true)
            .count();
        assert_eq!(active_superusers, 1, "round {round}: {statuses:?}");
    }
}

async fn bad_ids_and_fields_are_4xx(app: TestApp) {
    let admin = app.superuser_login("root@example.com").await;
    let unknown = format!("/api/v1/admin/users/{}", uuid::Uuid::now_v7());
    assert_problem(
        app.bearer_request(Method::GET, &unknown, access(&admin), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let malformed = app
        .bearer_request(Method::GET, "/api/v1/admin/users/42", access(&admin), None)
        .await;
    assert_problem(malformed, StatusCode::NOT_FOUND, "not_found").await;
    let path = format!("/api/v1/admin/users/{}", id(&admin));
    let unknown_field = app
        .bearer_request(
            Method::PATCH,
            &path,
            access(&admin),
            Some(json!({ "password_hash": "x" })),
        )
        .await;
    let problem = assert_problem(
        unknown_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["field"], "password_hash");
    let bad_tier = app
        .bearer_request(Method::PATCH, &path, access(&admin), Some(json!({ "tier": "" })))
        .await;
    assert_problem(bad_tier, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn tiers_are_created_changed_assigned_and_deleted(app: TestApp) {
    let admin = app.superuser_login("root@example.com").await;
    let token = access(&admin);
    let listed: Value = app
        .bearer_request(Method::GET, "/api/v1/admin/tiers", token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["name"], "free");

    let pro = json!({ "name": "pro", "description": "Paying", "limits": [{ "path": "/api/v1/things", "limit": 100, "period_seconds": 60 }] });
    let created = app
        .bearer_request(Method::POST, "/api/v1/admin/tiers", token, Some(pro.clone()))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["limits"][0]["limit"], 100);
    assert_problem(
        app.bearer_request(Method::POST, "/api/v1/admin/tiers", token, Some(pro))
            .await,
        StatusCode::CONFLICT,
        "tier_exists",
    )
    .await;
    let bad_limit = json!({ "limits": [{ "path": "no-slash", "limit": 1, "period_seconds": 1 }] });
    let response = app
        .bearer_request(Method::PATCH, "/api/v1/admin/tiers/pro", token, Some(bad_limit))
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let new_limits = json!({ "limits": [{ "path": "/api/v1/things", "limit": 5, "period_seconds": 1 }] });
    let changed: Value = app
        .bearer_request(Method::PATCH, "/api/v1/admin/tiers/pro", token, Some(new_limits))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            changed["limits"][0]["limit"].clone(),
            changed["description"].clone()
        ),
        (json!(5), json!("Paying"))
    );

    // Assign it; an unknown tier is refused.
    let ada = app.signup_and_login("ada@example.com").await;
    let user_path = format!("/api/v1/admin/users/{}", id(&ada));
    let unknown = app
        .bearer_request(
            Method::PATCH,
            &user_path,
            token,
            Some(json!({ "tier": "platinum" })),
        )
        .await;
    let problem = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["field"], "tier");
    app.bearer_request(Method::PATCH, &user_path, token, Some(json!({ "tier": "pro" })))
        .await;

    // In use: not deletable until no user has it.
    let in_use = app
        .bearer_request(Method::DELETE, "/api/v1/admin/tiers/pro", token, None)
        .await;
    assert_problem(in_use, StatusCode::CONFLICT, "tier_in_use").await;
    app.bearer_request(Method::PATCH, &user_path, token, Some(json!({ "tier": "free" })))
        .await;
    let deleted = app
        .bearer_request(Method::DELETE, "/api/v1/admin/tiers/pro", token, None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app
        .bearer_request(Method::DELETE, "/api/v1/admin/tiers/pro", token, None)
        .await;
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
}

async fn the_audit_trail_records_security_events_without_secrets(app: TestApp) {
    let admin = app.superuser_login("root@example.com").await;
    let token = access(&admin);
    let ada = app.signup_and_login("ada@example.com").await;
    app.login("ada@example.com", "a wrong password").await;
    let body = json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" });
    app.bearer_request(
        Method::POST,
        "/api/v1/users/me/password",
        access(&ada),
        Some(body),
    )
    .await;
    let user_path = format!("/api/v1/admin/users/{}", id(&ada));
    app.bearer_request(
        Method::PATCH,
        &user_path,
        token,
        Some(json!({ "is_staff": true })),
    )
    .await;

    let path = format!("/api/v1/admin/audit?user_id={}", id(&ada));
    let response = app.bearer_request(Method::GET, &path, token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for secret in [
        PASSWORD,
        "a wrong password",
        "a brand new passphrase",
        ada["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "the audit trail contains a secret");
    }
    let trail: Value = serde_json::from_str(&text).unwrap();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(
        actions,
        [
            "admin_user_changed",
            "password_changed",
            "login_failed",
            "login_succeeded",
            "signup"
        ]
    );
    let changed = &trail["items"][0];
    assert_eq!(
        (changed["actor_id"].clone(), changed["target_id"].clone()),
        (json!(id(&admin)), json!(id(&ada)))
    );
    assert_eq!(trail["items"][2]["ip"], "127.0.0.1");
    assert_eq!(trail["total"], 5);

    let bad = app
        .bearer_request(Method::GET, "/api/v1/admin/audit?per_page=0", token, None)
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}
