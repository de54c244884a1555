//! The OpenAPI 3.1 document at `/openapi.json`, generated from the handlers'
//! `#[utoipa::path]` annotations and the DTOs' schemas, and the docs UI at
//! `/docs` (Swagger UI, every asset built into the binary).
//!
//! The error responses of each operation are written from [`failures`]: real
//! [`ApiError`] values, so their codes, statuses and details are the ones the
//! API sends. A test checks that the document names exactly the mounted routes.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError, web};
use latch_core::MfaChallengeIssued;
use latch_ports::RateLimited;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::metrics;
use crate::problem::Problem;
use crate::routes::{admin, auth, email, mfa, resource_servers, system, users};
use crate::server::EMAIL_ROUTES;
use crate::{ApiError, CookieSettings};

/// The annotated operations and the schemas they do not reach by themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latch",
        description = "User authentication: signup, login, refresh-token rotation, sessions, \
                       administration, and what resource servers need to trust Latch's tokens.\n\n\
                       Every error is `application/problem+json` with a stable `code`.\n\n\
                       To try authenticated routes here, use **Authorize** with the OAuth2 password \
                       flow (your login and password; leave the client fields empty)."
    ),
    paths(
        auth::signup,
        auth::login,
        auth::login_mfa,
        auth::refresh,
        auth::session,
        auth::logout,
        resource_servers::introspect,
        resource_servers::tiers,
        resource_servers::discovery,
        users::get_me,
        users::patch_me,
        users::delete_me,
        users::change_password,
        users::list_sessions,
        users::revoke_session,
        mfa::mfa_status,
        mfa::begin_totp,
        mfa::confirm_totp,
        mfa::disable_totp,
        mfa::regenerate_recovery_codes,
        email::request_verification,
        email::confirm_verification,
        email::request_password_reset,
        email::confirm_password_reset,
        email::request_email_change,
        email::confirm_email_change,
        admin::list_users,
        admin::get_user,
        admin::patch_user,
        admin::delete_user,
        admin::restore_user,
        admin::remove_user_mfa,
        admin::list_audit,
        admin::list_tiers,
        admin::create_tier,
        admin::patch_tier,
        admin::delete_tier,
        system::healthz,
        system::readyz,
        system::jwks,
        metrics::scrape,
        serve_document,
    ),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Signup, login (and its second step), refresh, session check, logout."),
        (name = "users", description = "The caller's own account and sessions."),
        (name = "mfa", description = "The caller's second factor: TOTP enrolment and recovery codes."),
        (name = "email", description = "Verification, password reset and email change by emailed link (when email is on)."),
        (name = "admin", description = "User and tier administration (superusers)."),
        (name = "resource servers", description = "Discovery, introspection and tiers for services that trust Latch's tokens."),
        (name = "system", description = "Probes, public keys and this document."),
    )
)]
struct ApiDoc;

/// The security schemes operations name: `bearer` and `access_cookie` for
/// an access token, `oauth2` for the docs UI's "Authorize", `refresh_cookie`
/// and `introspection_client`.
pub(crate) mod scheme {
    /// `Authorization: Bearer <access token>`.
    pub(crate) const BEARER: &str = "bearer";
    /// The access-token cookie.
    pub(crate) const ACCESS_COOKIE: &str = "access_cookie";
    /// The OAuth2 password flow against the login route (gives a bearer token).
    pub(crate) const OAUTH2: &str = "oauth2";
    /// The refresh-token cookie.
    pub(crate) const REFRESH_COOKIE: &str = "refresh_cookie";
    /// HTTP Basic with the `[introspection]` client.
    pub(crate) const INTROSPECTION_CLIENT: &str = "introspection_client";
}

/// The errors an operation can answer with, by operation id (the handler's
/// name); `None` for an operation this table does not know, which the
/// document test refuses.
fn failures(operation_id: &str) -> Option<Vec<ApiError>> {
    use ApiError as E;
    let rate_limited = || {
        E::RateLimited(RateLimited {
            retry_after: Duration::from_secs(30),
            limit: 10,
            window: Duration::from_secs(60),
        })
    };
    let json_body = || {
        vec![
            E::MalformedBody(
                "The body is not valid JSON: EOF while parsing a string at line 1 column 12".into(),
            ),
            E::invalid("email", "email: missing field `email`"),
            E::UnsupportedMediaType("application/json"),
            E::PayloadTooLarge,
        ]
    };
    let token = || vec![E::Unauthenticated, E::InvalidToken, E::TokenExpired];
    // A state change may be authenticated by cookie, which needs an allowed origin.
    let token_write = || [token(), vec![E::CsrfFailed]].concat();
    // A password check spends a budget and waits for a hashing slot.
    let password = || vec![E::InvalidCredentials, rate_limited(), E::Overloaded];
    let mfa_required = || {
        E::MfaRequired(MfaChallengeIssued {
            mfa_token: "q3Zp0nV7sKc2XyWb9TfLhE4uRj6aMd1oGi8NwQe5Bts".into(),
            methods: &["totp", "recovery_code"],
        })
    };
    // Confirming a change to one's second factor: the password, then a code.
    let mfa_change = || {
        vec![
            E::invalid("password", "password: is incorrect"),
            E::MfaCodeInvalid,
            E::MfaNotEnabled,
            rate_limited(),
            E::Overloaded,
        ]
    };
    let route_errors = match operation_id {
        // Served from memory: nothing to fail but the process.
        "healthz" | "readyz" | "jwks" | "discovery" | "serve_document" | "scrape" => return Some(vec![]),
        "signup" => [
            json_body(),
            vec![E::EmailTaken, E::UsernameTaken, rate_limited(), E::Overloaded],
        ]
        .concat(),
        "login" => [
            json_body(),
            password(),
            vec![E::CsrfFailed, E::EmailNotVerified, mfa_required()],
        ]
        .concat(),
        "login_mfa" => [
            json_body(),
            vec![
                E::CsrfFailed,
                E::MfaLoginCodeInvalid,
                E::MfaTokenInvalid,
                rate_limited(),
            ],
        ]
        .concat(),
        "refresh" => [
            json_body(),
            token_write(),
            vec![E::RefreshTokenReused, rate_limited()],
        ]
        .concat(),
        "session" => token_write(),
        "get_me" | "list_sessions" | "mfa_status" => token(),
        "logout" => vec![
            E::invalid("scope", "scope must be local, others or global"),
            E::CsrfFailed,
        ],
        "patch_me" => [json_body(), token_write(), vec![E::UsernameTaken, rate_limited()]].concat(),
        "change_password" | "delete_me" => [json_body(), token_write(), password()].concat(),
        "revoke_session" => [token_write(), vec![E::NotFound]].concat(),
        "begin_totp" => [
            json_body(),
            token_write(),
            vec![
                E::invalid("password", "password: is incorrect"),
                E::MfaAlreadyEnabled,
                rate_limited(),
                E::Overloaded,
            ],
        ]
        .concat(),
        "confirm_totp" => [
            json_body(),
            token_write(),
            vec![
                E::MfaCodeInvalid,
                E::MfaNotEnabled,
                E::MfaAlreadyEnabled,
                rate_limited(),
            ],
        ]
        .concat(),
        "disable_totp" | "regenerate_recovery_codes" => [json_body(), token_write(), mfa_change()].concat(),
        "remove_user_mfa" => [token_write(), vec![E::Forbidden, E::NotFound]].concat(),
        "list_users" | "list_audit" => [
            token(),
            vec![E::Forbidden, E::invalid("page", "page must be at least 1")],
        ]
        .concat(),
        "list_tiers" => [token(), vec![E::Forbidden]].concat(),
        "get_user" => [token(), vec![E::Forbidden, E::NotFound]].concat(),
        "delete_user" | "restore_user" => {
            [token_write(), vec![E::Forbidden, E::NotFound, E::LastSuperuser]].concat()
        }
        "patch_user" => [
            json_body(),
            token_write(),
            vec![E::Forbidden, E::NotFound, E::LastSuperuser, E::UsernameTaken],
        ]
        .concat(),
        "create_tier" => [json_body(), token_write(), vec![E::Forbidden, E::TierExists]].concat(),
        "patch_tier" => [json_body(), token_write(), vec![E::Forbidden, E::NotFound]].concat(),
        "delete_tier" => [token_write(), vec![E::Forbidden, E::NotFound, E::TierInUse]].concat(),
        "introspect" => vec![
            E::InvalidClient,
            E::MalformedBody("The form is not valid URL encoding.".into()),
            E::invalid("token", "token: missing field `token`"),
            E::UnsupportedMediaType("application/x-www-form-urlencoded"),
            E::PayloadTooLarge,
            rate_limited(),
        ],
        "tiers" => vec![E::InvalidClient, rate_limited()],
        "request_verification" | "request_password_reset" => [json_body(), vec![rate_limited()]].concat(),
        "confirm_verification" => [json_body(), vec![E::LinkInvalid, rate_limited()]].concat(),
        "confirm_email_change" => [json_body(), vec![E::LinkInvalid, E::EmailTaken, rate_limited()]].concat(),
        "confirm_password_reset" => {
            [json_body(), vec![E::LinkInvalid, rate_limited(), E::Overloaded]].concat()
        }
        "request_email_change" => [
            json_body(),
            token_write(),
            vec![
                E::invalid("password", "password: is incorrect"),
                E::EmailTaken,
                rate_limited(),
                E::Overloaded,
            ],
        ]
        .concat(),
        _ => return None,
    };
    // Every operation that reaches the database can find it down, or fail on our side.
    Some([route_errors, vec![E::Unavailable, E::Internal]].concat())
}

/// The document for Latch mounted at `mount_path` (`""` standalone), with
/// the cookie names it is configured with; `/metrics` is in it when
/// `metrics_route` says it is served among these routes, the email flows
/// when `email_routes` says they are mounted.
pub(crate) fn document(
    mount_path: &str,
    cookies: &CookieSettings,
    metrics_route: bool,
    email_routes: bool,
) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        if !metrics_route {
            paths.remove(metrics::PATH);
        }
        if !email_routes {
            for (_, path) in EMAIL_ROUTES {
                paths.remove(*path);
            }
        }
    }
    let root = if mount_path.is_empty() { "/" } else { mount_path };
    doc["servers"] = json!([{ "url": root }]);
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc["components"]["securitySchemes"] = json!({
        scheme::BEARER: {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "An access token from login, refresh or the session check."
        },
        scheme::ACCESS_COOKIE: {
            "type": "apiKey", "in": "cookie", "name": cookies.access_name,
            "description": "The access-token cookie login sets. A state change authenticated by it needs an allowed Origin."
        },
        scheme::OAUTH2: {
            "type": "oauth2",
            "description": "Log in with your login and password (the OAuth2 password grant of the login route).",
            "flows": { "password": { "tokenUrl": format!("{mount_path}/api/v1/auth/login"), "scopes": {} } }
        },
        scheme::REFRESH_COOKIE: {
            "type": "apiKey", "in": "cookie", "name": cookies.refresh_name,
            "description": "The refresh-token cookie login sets (HttpOnly, SameSite=Strict)."
        },
        scheme::INTROSPECTION_CLIENT: {
            "type": "http", "scheme": "basic",
            "description": "The resource-server client of the `[introspection]` settings."
        }
    });
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut().filter_map(Value::as_object_mut) {
                add_failures(operation);
            }
        }
    }
    doc
}

/// Adds one problem+json response per status the operation's failures use:
/// its codes as an enum, one example per code.
fn add_failures(operation: &mut Map<String, Value>) {
    let id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(errors) = failures(id) else { return };
    let mut by_status: Vec<(u16, Vec<&ApiError>)> = Vec::new();
    for error in &errors {
        let status = error.status_code().as_u16();
        match by_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, list)) => list.push(error),
            None => by_status.push((status, vec![error])),
        }
    }
    let responses = operation.entry("responses").or_insert_with(|| json!({}));
    for (status, errors) in by_status {
        let mut codes: Vec<&str> = errors.iter().map(|e| e.code()).collect();
        codes.dedup();
        let examples: Map<String, Value> = errors
            .iter()
            .map(|e| (e.code().to_owned(), json!({ "value": e.problem_body() })))
            .collect();
        let description = codes
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        responses[status.to_string()] = json!({
            "description": description,
            "content": { "application/problem+json": {
                "schema": { "allOf": [
                    { "$ref": "#/components/schemas/Problem" },
                    { "type": "object", "properties": { "code": { "enum": codes } } }
                ] },
                "examples": examples
            } }
        });
    }
}

/// The document, rendered once per worker (shared, not copied, per request).
pub(crate) struct DocumentJson(pub(crate) web::Bytes);

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object))
)]
pub(crate) async fn serve_document(document: web::Data<DocumentJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(document.0.clone())
}

/// `GET /docs` → `/docs/`, where the UI's relative asset paths resolve.
pub(crate) async fn docs_redirect(docs: web::Data<DocsPath>) -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, docs.0.clone()))
        .finish()
}

/// Where the docs UI lives, with its trailing slash.
pub(crate) struct DocsPath(pub(crate) String);

/// The docs UI below `/docs/`, reading the document from `/openapi.json`
/// under `mount_path`.
pub(crate) fn docs_ui(mount_path: &str) -> SwaggerUi {
    let config = Config::new([format!("{mount_path}/openapi.json")])
        .persist_authorization(false)
        .try_it_out_enabled(true);
    SwaggerUi::new("/docs/{_:.*}").config(config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::server::{LINK_PAGES, ROUTES};

    /// Every (method, path) the document names.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut operations = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                operations.insert((method.clone(), path.clone()));
            }
        }
        operations
    }

    /// Every route `scope` mounts with metrics served among them.
    fn mounted() -> Vec<(&'static str, &'static str)> {
        let mut routes = [ROUTES, EMAIL_ROUTES, LINK_PAGES].concat();
        routes.push(("get", metrics::PATH));
        routes
    }

    /// Routes that are pages for people, not API operations.
    fn not_operation(path: &str) -> bool {
        path == "/docs" || LINK_PAGES.iter().any(|(_, page)| *page == path)
    }

    #[test]
    fn every_mounted_route_is_documented() {
        let doc = document("", &CookieSettings::default(), true, true);
        let documented = documented(&doc);
        let missing: Vec<_> = mounted()
            .into_iter()
            .filter(|(_, path)| !not_operation(path))
            .filter(|(method, path)| !documented.contains(&((*method).to_owned(), (*path).to_owned())))
            .collect();
        assert!(missing.is_empty(), "mounted but not in the document: {missing:?}");
    }

    #[test]
    fn every_documented_operation_is_mounted() {
        let doc = document("", &CookieSettings::default(), true, true);
        let mounted: BTreeSet<(String, String)> = mounted()
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect();
        let extra: Vec<_> = documented(&doc).difference(&mounted).cloned().collect();
        assert!(extra.is_empty(), "in the document but not mounted: {extra:?}");
    }

    #[test]
    fn every_operation_lists_its_failures() {
        let doc = document("", &CookieSettings::default(), true, true);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(
                    failures(id).is_some(),
                    "{method} {path}: no failures listed for `{id}`"
                );
            }
        }
    }

    #[test]
    fn problem_responses_carry_their_codes_and_examples() {
        let doc = document("", &CookieSettings::default(), true, true);
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"];
        let content = &login["content"]["application/problem+json"];
        assert_eq!(
            content["schema"]["allOf"][1]["properties"]["code"]["enum"],
            json!(["invalid_credentials", "mfa_required"])
        );
        let example = &content["examples"]["invalid_credentials"]["value"];
        assert_eq!(example["status"], 401);
        assert_eq!(example["type"], "urn:latch:problem:invalid_credentials");
        assert!(doc["components"]["schemas"]["Problem"].is_object());
    }

    /// The codes an operation documents for `status`.
    fn codes(doc: &Value, path: &str, method: &str, status: &str) -> Value {
        doc["paths"][path][method]["responses"][status]["content"]["application/problem+json"]["schema"]["allOf"]
            [1]["properties"]["code"]["enum"]
            .clone()
    }

    #[test]
    fn the_login_documents_mfa_required_with_its_members() {
        let doc = document("", &CookieSettings::default(), true, true);
        let example = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"]["content"]["application/problem+json"]
            ["examples"]["mfa_required"]["value"];
        assert_eq!(example["methods"], json!(["totp", "recovery_code"]));
        assert!(example["mfa_token"].is_string(), "{example}");
    }

    #[test]
    fn a_wrong_code_is_401_at_login_and_422_on_the_account() {
        let doc = document("", &CookieSettings::default(), true, true);
        assert_eq!(
            codes(&doc, "/api/v1/auth/login/mfa", "post", "401"),
            json!(["mfa_code_invalid", "mfa_token_invalid"])
        );
        assert_eq!(
            codes(&doc, "/api/v1/users/me/mfa/totp/confirm", "post", "422"),
            json!(["validation_failed", "mfa_code_invalid"])
        );
    }

    #[test]
    fn security_schemes_follow_the_mount_and_cookie_names() {
        let cookies = CookieSettings {
            access_name: "at".into(),
            ..CookieSettings::default()
        };
        let doc = document("/auth", &cookies, false, false);
        assert!(doc["paths"].get("/metrics").is_none());
        assert!(doc["paths"].get("/api/v1/auth/password-reset/request").is_none());
        assert!(doc["paths"].get("/api/v1/users/me/email").is_none());
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(
            schemes["oauth2"]["flows"]["password"]["tokenUrl"],
            "/auth/api/v1/auth/login"
        );
        assert_eq!(schemes["access_cookie"]["name"], "at");
        assert_eq!(doc["servers"][0]["url"], "/auth");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    }

    #[test]
    fn every_referenced_schema_exists() {
        let doc = document("", &CookieSettings::default(), true, true);
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
    }
}
