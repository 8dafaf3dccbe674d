//! The admin HTTP API: guarded by an admin key, creates keys that work at
//! once and are shown once, lists them page by page, revokes them; every bad
//! input is a problem+json naming the field, a failing store 503; the
//! OpenAPI document covers every route.
#![cfg(feature = "admin")]

use crate::common;

use std::sync::Arc;

use api_key_auth::{
    admin::{openapi, AdminApi, ROUTES},
    key::Prefix,
    store::{Page, PageRequest},
    AuthFailure, Authenticator, KeyManager, KeyRecord, KeyStore, Lookup, MemoryStore, NewKey,
    StoreError,
};
use axum::{body::Body, Router};
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

struct Admin {
    router: Router,
    store: MemoryStore,
    admin_key: String,
}

async fn admin() -> Admin {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(NewKey::named("admin").scopes(["keys:admin"]))
        .await
        .unwrap()
        .reveal();
    Admin {
        router: AdminApi::new(store.clone()).router().unwrap(),
        store,
        admin_key: key.expose_secret().to_owned(),
    }
}

/// Sends `method path` with `body` (JSON unless `content_type` says otherwise).
async fn call(
    router: &Router,
    key: Option<&str>,
    method: &str,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Api-Key {key}"));
    }
    let request = match body {
        Some((content_type, bytes)) => request
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes)),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, value)
}

/// A request body: its content type and bytes.
type RequestBody = Option<(&'static str, Vec<u8>)>;

fn json_body(value: Value) -> RequestBody {
    Some(("application/json", value.to_string().into_bytes()))
}

async fn accepted(store: &MemoryStore, key: &str) -> Result<(), AuthFailure> {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        format!("Api-Key {key}").parse().unwrap(),
    );
    Authenticator::new(store.clone())
        .authenticate(&headers)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn only_admin_keys_get_in() {
    let admin = admin().await;
    let (status, headers, _) = call(&admin.router, None, "GET", "/keys", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    let (_, plain) = admin
        .store
        .create(NewKey::named("reader").scopes(["read"]))
        .await
        .unwrap()
        .reveal();
    let (status, _, _) = call(
        &admin.router,
        Some(plain.expose_secret()),
        "GET",
        "/keys",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The document is open: it tells nothing about the keys.
    let (status, _, _) = call(&admin.router, None, "GET", "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_key_is_created_shown_once_works_and_is_revoked() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let (status, headers, created) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "billing", "scopes": ["invoices:read"], "metadata": {"ticket": "OPS-1"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["record"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["record"]["status"], "active");
    assert_eq!(created["record"]["scopes"], json!(["invoices:read"]));
    accepted(&admin.store, &secret).await.unwrap();

    let (status, _, shown) = call(&admin.router, key, "GET", &format!("/keys/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["name"], "billing");
    assert!(!shown.to_string().contains(&secret[9..]), "shown once only");

    for _ in 0..2 {
        let (status, _, revoked) = call(
            &admin.router,
            key,
            "POST",
            &format!("/keys/{id}/revoke"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "revoking twice is no error");
        assert_eq!(revoked["status"], "revoked");
    }
    assert!(matches!(
        accepted(&admin.store, &secret).await,
        Err(AuthFailure::Revoked(_))
    ));
}

#[tokio::test]
async fn listing_pages_with_a_cursor_and_filters() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    for i in 0..5 {
        admin
            .store
            .create(NewKey::named(format!("key {i}")))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut path = "/keys?limit=2".to_owned();
    loop {
        let (status, _, page) = call(&admin.router, key, "GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let keys = page["keys"].as_array().unwrap();
        assert!(keys.len() <= 2);
        seen.extend(keys.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => path = format!("/keys?limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        6,
        "five keys and the admin's, each once: {seen:?}"
    );
    let (_, _, revoked) = call(&admin.router, key, "GET", "/keys?status=revoked", None).await;
    assert_eq!(revoked["keys"], json!([]));
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_the_field() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let long = "n".repeat(51);
    let cases: Vec<(RequestBody, StatusCode, Option<&str>)> = vec![
        (
            json_body(json!({"name": ""})),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (
            json_body(json!({"name": "   "})),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (
            json_body(json!({"name": long})),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (
            json_body(json!({"name": "x", "scopes": ["a b"]})),
            StatusCode::BAD_REQUEST,
            Some("scopes"),
        ),
        // Format characters too, such as U+202E.
        (
            json_body(json!({"name": "evil\u{202e}gnp"})),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (
            json_body(json!({"name": "x", "owner": "a\u{200b}b"})),
            StatusCode::BAD_REQUEST,
            Some("owner"),
        ),
        (
            json_body(json!({"name": "x", "metadata": {"k": "\u{9b}31m"}})),
            StatusCode::BAD_REQUEST,
            Some("metadata"),
        ),
        (
            json_body(json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"})),
            StatusCode::BAD_REQUEST,
            Some("expires_at"),
        ),
        (
            json_body(json!({"name": "x", "expires_at": "tomorrow"})),
            StatusCode::BAD_REQUEST,
            Some("expires_at"),
        ),
        (
            json_body(json!({"name": "x", "colour": "red"})),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            Some(("application/json", b"{not json".to_vec())),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            Some(("text/plain", b"name=x".to_vec())),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            Some(("application/json", vec![b' '; 65 * 1024])),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            json_body(json!({"name": "a\u{1b}[31mb"})),
            StatusCode::BAD_REQUEST,
            Some("name"),
        ),
        (
            json_body(json!({"name": "x", "owner": "o\nrevoked"})),
            StatusCode::BAD_REQUEST,
            Some("owner"),
        ),
        (
            json_body(json!({"name": "x", "metadata": {"k": "v\u{0}"}})),
            StatusCode::BAD_REQUEST,
            Some("metadata"),
        ),
    ];
    for (body, expected, field) in cases {
        let (status, headers, problem) = call(&admin.router, key, "POST", "/keys", body).await;
        assert_eq!(status, expected, "{problem}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(problem["status"], expected.as_u16());
        assert!(!problem["detail"].as_str().unwrap().is_empty());
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{problem}");
        }
    }
    let (_, _, unknown_field) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "x", "colour": "red"})),
    )
    .await;
    assert!(unknown_field["detail"].as_str().unwrap().contains("colour"));
    for (path, expected) in [
        ("/keys?limit=0", StatusCode::BAD_REQUEST),
        ("/keys?limit=1001", StatusCode::BAD_REQUEST),
        ("/keys?status=bogus", StatusCode::BAD_REQUEST),
        ("/keys/nosuchkey", StatusCode::NOT_FOUND),
        ("/keys?cursor=%00", StatusCode::BAD_REQUEST),
        ("/keys?cursor=%F0%9F%94%91", StatusCode::BAD_REQUEST),
        ("/keys/a%20b", StatusCode::NOT_FOUND),
        // An id that is not UTF-8: a problem 404, not axum's plain-text 400.
        ("/keys/%FB", StatusCode::NOT_FOUND),
        ("/keys/..", StatusCode::NOT_FOUND),
        // Paths the API does not serve: a problem 404, not axum's own empty one.
        ("/keys/", StatusCode::NOT_FOUND),
        ("/nowhere", StatusCode::NOT_FOUND),
        ("/keys/x/revoke", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let (status, headers, _) = call(&admin.router, key, "GET", path, None).await;
        assert_eq!(status, expected, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    }
    let (status, _, _) = call(&admin.router, key, "POST", "/keys/nosuchkey/revoke", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, problem) = call(&admin.router, key, "DELETE", "/keys", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(problem["status"], 405);
    let allow = headers[header::ALLOW].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

/// A store whose lookups work (so the admin key is accepted) but whose
/// administration fails: the API answers 503, never 500.
#[derive(Clone)]
struct Broken(MemoryStore);

#[async_trait::async_trait]
impl KeyStore for Broken {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.0.find(prefix).await
    }
}

#[async_trait::async_trait]
impl KeyManager for Broken {
    async fn insert(&self, _: KeyRecord) -> Result<(), StoreError> {
        Err(StoreError::unavailable("down (test)"))
    }
    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        Err(StoreError::unavailable("down (test)"))
    }
    async fn list_page(&self, _: &PageRequest) -> Result<Page, StoreError> {
        Err(StoreError::unavailable("down (test)"))
    }
    async fn revoke(&self, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::unavailable("down (test)"))
    }
}

/// Nothing the API answers is kept by a browser or a proxy: every answer,
/// `GET /keys` and `GET /keys/{id}` included, sends a `Cache-Control`.
#[tokio::test]
async fn no_answer_is_stored_by_a_cache() {
    let admin = admin().await;
    let (_, _, created) = call(
        &admin.router,
        Some(&admin.admin_key),
        "POST",
        "/keys",
        json_body(json!({"name": "cached nowhere"})),
    )
    .await;
    let id = created["record"]["id"].as_str().unwrap().to_owned();
    for (key, method, path) in [
        (Some(admin.admin_key.as_str()), "GET", "/keys".to_owned()),
        (Some(admin.admin_key.as_str()), "GET", format!("/keys/{id}")),
        (
            Some(admin.admin_key.as_str()),
            "POST",
            format!("/keys/{id}/revoke"),
        ),
        (
            Some(admin.admin_key.as_str()),
            "GET",
            "/keys/nobody".to_owned(),
        ),
        (None, "GET", "/keys".to_owned()),
        (None, "GET", "/".to_owned()),
    ] {
        let (status, headers, _) = call(&admin.router, key, method, &path, None).await;
        assert_eq!(
            headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..]),
            "{method} {path} ({status})"
        );
    }
}

#[tokio::test]
async fn a_failing_store_is_503() {
    let admin = admin().await;
    let router = AdminApi::new(Broken(admin.store.clone())).router().unwrap();
    let key = Some(admin.admin_key.as_str());
    for (method, path, body) in [
        ("POST", "/keys", json_body(json!({"name": "x"}))),
        ("GET", "/keys", None),
        ("GET", "/keys/nosuchkey", None),
    ] {
        let (status, headers, _) = call(&router, key, method, path, body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert_eq!(headers[header::RETRY_AFTER], "1");
    }
}

/// Every route the router serves is in the document, with the security
/// scheme, as OpenAPI 3.1.
#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let admin = admin().await;
    let doc = serde_json::to_value(openapi()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    for (method, path) in ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not in the document"
        );
        // And the router serves it: no 404 or 405 for an admin.
        let concrete = path.replace("{id}", "nosuchkey");
        let (status, _, _) = call(
            &admin.router,
            Some(&admin.admin_key),
            &method.to_uppercase(),
            &concrete,
            (method == "post" && path == "/keys").then(|| ("application/json", b"{}".to_vec())),
        )
        .await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if !path.contains("{id}") {
            assert_ne!(status, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "no undocumented or extra operations"
    );
}

/// The document validates as OpenAPI 3.1, by openapi-spec-validator: run
/// when `APIKEY_TEST_PYTHON` names a Python that has it (`.ci/run` sets it up).
#[test]
fn the_openapi_document_validates() {
    let Ok(python) = std::env::var("APIKEY_TEST_PYTHON") else {
        common::skip_line(
            "skipping admin::the_openapi_document_validates: set APIKEY_TEST_PYTHON to a python with openapi-spec-validator",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&openapi()).unwrap()).unwrap();
    let output = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("APIKEY_TEST_PYTHON={python} does not run: {e}"));
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The document names the server it is served from, or the public URL
/// set, so that a client made from a document served under `/admin` calls
/// `/admin/keys`, not `/keys` at the root; every guarded operation
/// documents the layer's refusals, which the API answers as problems with
/// their headers; and `limit` says its bounds.
#[tokio::test]
async fn the_document_says_where_and_what_the_api_answers() {
    let admin = admin().await;
    let app = Router::new().nest("/admin", admin.router.clone());
    let (_, _, served) = call(&app, None, "GET", "/admin/openapi.json", None).await;
    assert_eq!(served["servers"], json!([{"url": "/admin"}]));
    let (_, _, at_root) = call(&admin.router, None, "GET", "/openapi.json", None).await;
    assert_eq!(at_root["servers"], json!([{"url": "/"}]));
    let public = AdminApi::new(MemoryStore::new())
        .public_url("https://keys.example.com/admin")
        .router()
        .unwrap();
    let (_, _, named) = call(&public, None, "GET", "/openapi.json", None).await;
    assert_eq!(
        named["servers"],
        json!([{"url": "https://keys.example.com/admin"}])
    );

    for (method, path) in ROUTES {
        let responses = &served["paths"][path][method]["responses"];
        for status in ["401", "403", "429", "503"] {
            let documented = !responses[status].is_null();
            assert_eq!(
                documented,
                path != "/openapi.json",
                "{method} {path} {status}"
            );
        }
    }
    let limit = served["paths"]["/keys"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"]
        .clone();
    assert_eq!(
        (limit["minimum"].clone(), limit["maximum"].clone()),
        (json!(1), json!(1000))
    );

    let (status, headers, refused) = call(&admin.router, None, "GET", "/keys", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(
        (refused["status"].clone(), refused["type"].clone()),
        (json!(401), json!("about:blank"))
    );
    let (_, client) = admin
        .store
        .create(NewKey::named("client"))
        .await
        .unwrap()
        .reveal();
    let (status, headers, _) = call(
        &admin.router,
        Some(client.expose_secret()),
        "GET",
        "/keys",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
}

/// A key suspended over the API is refused, listed as suspended, and
/// works again once resumed; both are audited and idempotent, an unknown
/// id is 404.
#[tokio::test]
async fn a_key_is_suspended_and_resumed() {
    let log = common::Log::captured();
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let (_, _, created) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "paused"})),
    )
    .await;
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["record"]["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (status, _, suspended) = call(
            &admin.router,
            key,
            "POST",
            &format!("/keys/{id}/suspend"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{suspended}");
        assert_eq!(suspended["status"], "suspended");
    }
    assert!(matches!(
        accepted(&admin.store, &secret).await,
        Err(AuthFailure::Suspended(_))
    ));
    let listed = |status: &'static str| {
        let router = admin.router.clone();
        async move {
            let (_, _, page) =
                call(&router, key, "GET", &format!("/keys?status={status}"), None).await;
            page["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|key| key["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("suspended").await, std::slice::from_ref(&id));
    assert!(!listed("active").await.contains(&id));

    let (status, _, resumed) = call(
        &admin.router,
        key,
        "POST",
        &format!("/keys/{id}/resume"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["status"], "active");
    accepted(&admin.store, &secret).await.unwrap();
    for action in ["suspend", "resume"] {
        let (status, _, _) = call(
            &admin.router,
            key,
            "POST",
            &format!("/keys/nosuchkey/{action}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
    let key_id = format!("key_id=\"{id}\"");
    log.wait_for(&["API key suspended", &key_id]).await;
    log.wait_for(&["API key resumed", &key_id]).await;
}

/// A store that cannot suspend keys (a djangorestframework-api-key table,
/// a store of yours without `set_suspended`) is 501, saying so.
#[tokio::test]
async fn suspending_where_the_store_cannot_is_501() {
    struct NoSuspensions(MemoryStore);

    #[async_trait::async_trait]
    impl KeyStore for NoSuspensions {
        async fn find(&self, prefix: Prefix) -> Lookup {
            self.0.find(prefix).await
        }
    }

    #[async_trait::async_trait]
    impl KeyManager for NoSuspensions {
        async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
            self.0.insert(record).await
        }
        async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
            self.0.list().await
        }
        async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
            self.0.revoke(id).await
        }
    }

    let admin = admin().await;
    let router = AdminApi::new(NoSuspensions(admin.store.clone()))
        .router()
        .unwrap();
    let (other, secret) = admin
        .store
        .create(NewKey::named("other"))
        .await
        .unwrap()
        .reveal();
    for action in ["suspend", "resume"] {
        let (status, _, problem) = call(
            &router,
            Some(&admin.admin_key),
            "POST",
            &format!("/keys/{}/{action}", other.id),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{action}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("cannot suspend"),
            "{problem}"
        );
    }
    accepted(&admin.store, secret.expose_secret())
        .await
        .unwrap();
}

/// An admin key cannot revoke, rotate, suspend or resume itself: the last
/// one would lock everyone out, and a client handed one key may well
/// revoke the very key it was given.
#[tokio::test]
async fn an_admin_key_cannot_revoke_or_rotate_itself() {
    let admin = admin().await;
    let own = &admin.admin_key[..8];
    for action in ["revoke", "rotate", "suspend", "resume"] {
        let (status, _, problem) = call(
            &admin.router,
            Some(&admin.admin_key),
            "POST",
            &format!("/keys/{own}/{action}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {problem}");
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("another admin key"));
    }
    assert!(accepted(&admin.store, &admin.admin_key).await.is_ok());
}

/// Creating and revoking are logged with the acting admin key's id and the
/// target key's id and prefix; the secret never is.
#[tokio::test]
async fn creates_and_revokes_are_logged_without_the_secret() {
    let log = common::Log::captured();
    let admin = admin().await;
    let admin_id = admin.admin_key[..8].to_owned();
    let (_, _, created) = call(
        &admin.router,
        Some(&admin.admin_key),
        "POST",
        "/keys",
        json_body(json!({"name": "logged"})),
    )
    .await;
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["record"]["id"].as_str().unwrap().to_owned();
    call(
        &admin.router,
        Some(&admin.admin_key),
        "POST",
        &format!("/keys/{id}/revoke"),
        None,
    )
    .await;

    let (_, _, other) = call(
        &admin.router,
        Some(&admin.admin_key),
        "POST",
        "/keys",
        json_body(json!({"name": "rotated"})),
    )
    .await;
    let other_id = other["record"]["id"].as_str().unwrap().to_owned();
    let (_, _, rotated) = call(
        &admin.router,
        Some(&admin.admin_key),
        "POST",
        &format!("/keys/{other_id}/rotate"),
        json_body(json!({"grace_secs": 60})),
    )
    .await;
    let new_secret = rotated["key"].as_str().unwrap().to_owned();

    for (event, target) in [
        ("API key created", id.as_str()),
        ("API key revoked", id.as_str()),
        ("API key rotated", other_id.as_str()),
    ] {
        let key_id = format!("key_id=\"{target}\"");
        let line = log.wait_for(&[event, &key_id]).await;
        assert!(line.contains(api_key_auth::audit::TARGET), "{line}");
        assert!(
            line.contains(&format!("actor=\"key:{admin_id}\"")),
            "{line}"
        );
        assert!(line.contains(&format!("prefix={}", &target[..8])), "{line}");
    }
    let log = log.text();
    assert!(
        !log.contains(&new_secret[9..]),
        "the rotated key's secret reached the log"
    );
    assert!(!log.contains(&secret[9..]), "the secret reached the log");
    assert!(
        !log.contains(&admin.admin_key[9..]),
        "the admin secret reached the log"
    );
}

/// Audit fields that come from a store or a person are quoted and escaped:
/// written unquoted, a key named `ci actor=key:ALICE0001 client=…` would
/// forge the fields after it.
#[tokio::test]
async fn audit_fields_from_a_store_or_a_person_cannot_forge_others() {
    let log = common::Log::captured();
    let forged = "ci actor=key:ALICE0001 client=198.51.100.23";
    let key = api_key_auth::key::ApiKey::generate().unwrap();
    let id = format!("{}-id", key.prefix());
    let record = KeyRecord::new(
        id.clone(),
        forged,
        key.prefix(),
        api_key_auth::Hasher::default().hash(&key),
    );
    api_key_auth::audit::created(
        &record,
        api_key_auth::audit::Actor::named("cli:eve\nevent=\"revoked\" \u{202e}x"),
    );
    let line = log
        .wait_for(&["API key created", &format!("key_id=\"{id}\"")])
        .await;
    // The name is one quoted field, and the real actor follows it, as it
    // was given, escaped: its newline and quotes start no field or line.
    assert!(
        line.contains(&format!(
            r#"name="{forged}" actor="cli:eve\nevent=\"revoked\" \u{{202e}}x" client="#
        )),
        "{line}"
    );
    assert!(!line.contains('\u{202e}'), "{line}");
}

/// Keys whose dates are outside what RFC 3339 writes (a row another tool
/// wrote, before 1970) are listed and shown, never a panic.
#[tokio::test]
async fn odd_dates_are_shown_not_fatal() {
    let admin = admin().await;
    let key = api_key_auth::key::ApiKey::generate().unwrap();
    let mut record = KeyRecord::new(
        key.prefix().as_str(),
        "from 1969",
        key.prefix(),
        api_key_auth::Hasher::default().hash(&key),
    );
    record.expires = Some(std::time::UNIX_EPOCH - std::time::Duration::from_secs(86_400));
    admin.store.insert(record).await.unwrap();
    let (status, _, page) = call(&admin.router, Some(&admin.admin_key), "GET", "/keys", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.to_string().contains("86400s before the epoch"),
        "{page}"
    );
}

/// A store that hashes with a pepper: its admin keys get in (the API checks
/// them with the store's own hasher).
#[tokio::test]
async fn admin_keys_of_a_peppered_store_get_in() {
    let pepper = api_key_auth::hash::Pepper::new("p1", vec![7; 32]).unwrap();
    let store = MemoryStore::new().with_hasher(api_key_auth::Hasher::hmac_sha256(pepper));
    let (record, key) = store
        .create(NewKey::named("admin").scopes(["keys:admin"]))
        .await
        .unwrap()
        .reveal();
    assert!(record.hash.to_string().starts_with("hmac-sha256$p1$"));
    let router = AdminApi::new(store).router().unwrap();
    let (status, _, _) = call(&router, Some(key.expose_secret()), "GET", "/keys", None).await;
    assert_eq!(status, StatusCode::OK);
}

/// `POST /keys/{id}/rotate`: 201 with the new key (shown once, working at
/// once) and both records; the old key works through its grace and says
/// when it stops; no body means a day; a revoked key is 409, an unknown
/// one 404, a bad body 400 naming what is wrong.
#[tokio::test]
async fn a_key_is_rotated_with_a_grace_period() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let (old, old_key) = admin
        .store
        .create(NewKey::named("billing").scopes(["invoices:read"]))
        .await
        .unwrap()
        .reveal();
    let (status, headers, rotated) = call(
        &admin.router,
        key,
        "POST",
        &format!("/keys/{}/rotate", old.id),
        json_body(json!({"grace_secs": 3600})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let new_key = rotated["key"].as_str().unwrap();
    assert_eq!(rotated["record"]["name"], "billing");
    assert_eq!(rotated["record"]["scopes"], json!(["invoices:read"]));
    assert_eq!(rotated["record"]["replaces"], old.id.as_str());
    assert_eq!(rotated["retired"]["replaced_by"], rotated["record"]["id"]);
    assert_eq!(rotated["retired"]["status"], "active");
    let left = rotated["retired"]["expires_in_secs"].as_i64().unwrap();
    assert!((3590..=3600).contains(&left), "{left}");
    assert_eq!(rotated["retired"]["sunset"], rotated["retired"]["expires"]);
    accepted(&admin.store, new_key).await.unwrap();
    accepted(&admin.store, old_key.expose_secret())
        .await
        .unwrap();

    let (_, _, shown) = call(
        &admin.router,
        key,
        "GET",
        &format!("/keys/{}", old.id),
        None,
    )
    .await;
    assert_eq!(shown["replaced_by"], rotated["record"]["id"]);

    // No body: a day's grace.
    let new_id = rotated["record"]["id"].as_str().unwrap().to_owned();
    let (status, _, again) = call(
        &admin.router,
        key,
        "POST",
        &format!("/keys/{new_id}/rotate"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    let left = again["retired"]["expires_in_secs"].as_i64().unwrap();
    assert!((86_390..=86_400).contains(&left), "{left}");

    // Zero: at once.
    let newest = again["record"]["id"].as_str().unwrap().to_owned();
    let (status, _, at_once) = call(
        &admin.router,
        key,
        "POST",
        &format!("/keys/{newest}/rotate"),
        json_body(json!({"grace_secs": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(at_once["retired"]["status"], "revoked");
    let (status, _, problem) = call(
        &admin.router,
        key,
        "POST",
        &format!("/keys/{newest}/rotate"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _, _) = call(&admin.router, key, "POST", "/keys/nosuchid/rotate", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (body, says) in [
        (json!({"grace": "24h"}), "unknown field"),
        (json!({"grace_secs": -1}), "grace_secs"),
        (json!({"grace_secs": 1_000_000_000u64}), "ten years"),
    ] {
        let (status, _, problem) = call(
            &admin.router,
            key,
            "POST",
            &format!("/keys/{}/rotate", at_once["record"]["id"].as_str().unwrap()),
            json_body(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{body}: {problem}"
        );
    }
}

/// The listing's audit filters: keys unused for a while, keys expiring soon;
/// every key shows its expiry's time left and its last use.
#[tokio::test]
async fn the_listing_finds_unused_and_expiring_keys() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let (idle, _) = admin
        .store
        .create(NewKey::named("idle"))
        .await
        .unwrap()
        .reveal();
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(100 * 86_400);
    admin
        .store
        .record_last_use(&[api_key_auth::store::KeyUse::new(&idle, long_ago)])
        .await
        .unwrap();
    let (soon, _) = admin
        .store
        .create(NewKey::named("soon").expires_in(std::time::Duration::from_secs(3 * 86_400)))
        .await
        .unwrap()
        .reveal();
    let ids = |page: &Value| -> Vec<String> {
        page["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, _, unused) = call(
        &admin.router,
        key,
        "GET",
        &format!("/keys?status=active&unused_for_secs={}", 90 * 86_400),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{unused}");
    assert_eq!(ids(&unused), vec![idle.id.clone()]);
    assert!(unused["keys"][0]["last_used"].is_string());
    let (_, _, expiring) = call(
        &admin.router,
        key,
        "GET",
        &format!("/keys?expiring_within_secs={}", 7 * 86_400),
        None,
    )
    .await;
    assert_eq!(ids(&expiring), vec![soon.id.clone()]);
    let left = expiring["keys"][0]["expires_in_secs"].as_i64().unwrap();
    assert!((3 * 86_400 - 10..=3 * 86_400).contains(&left), "{left}");
}

/// One owner's keys are listed, suspended, resumed and revoked in one call
/// each, and no other owner's (not one differing only in case); an admin
/// key does not change its own owner's keys.
#[tokio::test]
async fn an_owner_s_keys_are_listed_and_changed_together() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let mut acme = Vec::new();
    for name in ["a", "b"] {
        let (_, plain) = admin
            .store
            .create(NewKey::named(name).owner("acme"))
            .await
            .unwrap()
            .reveal();
        acme.push(plain.expose_secret().to_owned());
    }
    let (_, other) = admin
        .store
        .create(NewKey::named("c").owner("ACME"))
        .await
        .unwrap()
        .reveal();
    let (status, _, page) = call(&admin.router, key, "GET", "/keys?owner=acme", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let names: Vec<&str> = page["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{page}");
    assert!(names.contains(&"a") && names.contains(&"b"), "{page}");

    let (status, _, suspended) =
        call(&admin.router, key, "POST", "/owners/acme/suspend", None).await;
    assert_eq!(status, StatusCode::OK, "{suspended}");
    assert_eq!(suspended["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        suspended["keys"][0]["status"], "suspended",
        "as the change left it"
    );
    for plain in &acme {
        assert!(matches!(
            accepted(&admin.store, plain).await,
            Err(AuthFailure::Suspended(_))
        ));
    }
    accepted(&admin.store, other.expose_secret()).await.unwrap();
    let (_, _, resumed) = call(&admin.router, key, "POST", "/owners/acme/resume", None).await;
    assert_eq!(resumed["keys"].as_array().unwrap().len(), 2, "{resumed}");
    accepted(&admin.store, &acme[0]).await.unwrap();

    let (status, _, revoked) = call(&admin.router, key, "POST", "/owners/acme/revoke", None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["keys"].as_array().unwrap().len(), 2, "{revoked}");
    assert_eq!(
        revoked["keys"][1]["status"], "revoked",
        "as the change left it"
    );
    for plain in &acme {
        assert!(matches!(
            accepted(&admin.store, plain).await,
            Err(AuthFailure::Revoked(_))
        ));
    }
    accepted(&admin.store, other.expose_secret()).await.unwrap();
    let (_, _, again) = call(&admin.router, key, "POST", "/owners/acme/revoke", None).await;
    assert_eq!(again["keys"], json!([]));

    // No owner is empty or longer than 255 characters: an unset variable in
    // a client's path is refused, not taken for the keys of owner "".
    let long = "o".repeat(256);
    for path in [
        "/owners//revoke".to_owned(),
        format!("/owners/{long}/suspend"),
        "/keys?owner=".to_owned(),
    ] {
        let method = if path.starts_with("/keys") {
            "GET"
        } else {
            "POST"
        };
        let (status, _, problem) = call(&admin.router, key, method, &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
        assert_eq!(problem["field"], "owner", "{path}: {problem}");
    }
    let (status, _, problem) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "x", "owner": ""})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["field"], "owner");

    // An admin key of owner "ops" cannot revoke "ops"'s keys, itself among them.
    let (_, ops_admin) = admin
        .store
        .create(
            NewKey::named("ops admin")
                .owner("ops")
                .scopes(["keys:admin"]),
        )
        .await
        .unwrap()
        .reveal();
    let (status, _, problem) = call(
        &admin.router,
        Some(ops_admin.expose_secret()),
        "POST",
        "/owners/ops/revoke",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    accepted(&admin.store, ops_admin.expose_secret())
        .await
        .unwrap();
}

/// A key created with credits is shown with them, spends them, and a
/// refill given half, or over the bounds, is a problem naming `credits`.
#[tokio::test]
async fn keys_are_created_with_usage_credits() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let (status, _, created) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "trial", "credits": {"remaining": 1, "refill_amount": 5, "refill_every_secs": 3600}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["record"]["credits"]["remaining"], 1);
    assert_eq!(created["record"]["credits"]["refill_every_secs"], 3600);
    assert!(created["record"]["credits"]["next_refill"].is_string());
    let plain = created["key"].as_str().unwrap();
    accepted(&admin.store, plain).await.unwrap();
    assert!(matches!(
        accepted(&admin.store, plain).await,
        Err(AuthFailure::OutOfCredits {
            next_refill: Some(_),
            ..
        })
    ));
    let id = created["record"]["id"].as_str().unwrap();
    let (_, _, shown) = call(&admin.router, key, "GET", &format!("/keys/{id}"), None).await;
    assert_eq!(shown["credits"]["remaining"], 0, "{shown}");
    for bad in [
        json!({"remaining": 5, "refill_amount": 5}),
        json!({"remaining": 5, "refill_amount": 0, "refill_every_secs": 60}),
        json!({"remaining": 5, "refill_amount": 5, "refill_every_secs": 0}),
        json!({"remaining": 9_007_199_254_740_992_u64}),
        json!({"remaining": 5, "next_refill": "2030-01-01T00:00:00Z"}),
    ] {
        let (status, _, problem) = call(
            &admin.router,
            key,
            "POST",
            "/keys",
            json_body(json!({"name": "bad", "credits": bad.clone()})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["field"], "credits", "{bad}: {problem}");
    }
}

/// A key created with `allowed_from` is shown with its networks and works
/// only from them; a list that does not read is a problem naming
/// `allowed_from`, and no key is made.
#[tokio::test]
async fn keys_are_created_confined_to_networks() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let (status, _, created) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "office", "allowed_from": ["10.0.0.0/8", "2001:db8::1"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["record"]["allowed_from"],
        json!(["10.0.0.0/8", "2001:db8::1/128"])
    );
    let id = created["record"]["id"].as_str().unwrap();
    let (_, _, shown) = call(&admin.router, key, "GET", &format!("/keys/{id}"), None).await;
    assert_eq!(shown["allowed_from"], created["record"]["allowed_from"]);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        format!("Api-Key {}", created["key"].as_str().unwrap())
            .parse()
            .unwrap(),
    );
    let auth = Authenticator::new(admin.store.clone());
    auth.authenticate_from(&headers, Some("10.2.3.4".parse().unwrap()))
        .await
        .unwrap();
    let refused = auth
        .authenticate_from(&headers, Some("192.0.2.1".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, AuthFailure::AddressRefused { .. }),
        "{refused}"
    );
    let (status, _, open) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "open"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{open}");
    assert!(open["record"]["allowed_from"].is_null(), "{open}");

    let before = admin.store.list().await.unwrap().len();
    let many: Vec<String> = (0..65).map(|i| format!("10.{i}.0.0/16")).collect();
    for bad in [
        json!([]),
        json!(["10.0.0.1/8"]),
        json!(["somewhere"]),
        json!(["::ffff:10.0.0.0/104"]),
        json!([""]),
        json!(many),
    ] {
        let (status, _, problem) = call(
            &admin.router,
            key,
            "POST",
            "/keys",
            json_body(json!({"name": "bad", "allowed_from": bad.clone()})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["field"], "allowed_from", "{bad}: {problem}");
    }
    assert_eq!(admin.store.list().await.unwrap().len(), before);
}

/// A key created with a rate limit keeps it (and the record shows it); a
/// limit that does not read is a problem naming `rate_limit`; an API set
/// to a branded format hands keys out branded, and takes admin keys either way.
#[tokio::test]
async fn keys_are_created_with_rate_limits_and_in_the_configured_format() {
    let admin = admin().await;
    let key = Some(admin.admin_key.as_str());
    let (status, _, created) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "metered", "rate_limit": {"requests": 5, "period_secs": 60, "burst": 2}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["record"]["rate_limit"],
        json!({"requests": 5, "period_secs": 60, "period_ms": 60000, "burst": 2})
    );
    // A period under a second, in milliseconds, is shown as it is (it was
    // shown as "period_secs": 0, which the API itself refuses).
    let (status, _, fast) = call(
        &admin.router,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "fast", "rate_limit": {"requests": 10, "period_ms": 500}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{fast}");
    assert_eq!(
        fast["record"]["rate_limit"],
        json!({"requests": 10, "period_ms": 500, "burst": 10})
    );
    let stored = admin
        .store
        .find(Prefix::parse(&created["key"].as_str().unwrap()[..8]).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.rate_limit.unwrap().to_string(), "5/1m burst 2");
    for bad in [
        json!({"requests": 0, "period_secs": 1}),
        json!({"requests": 5, "period_secs": 0}),
        json!({"requests": 5}),
        json!({"requests": 5, "period_secs": 1, "burst": 0}),
        json!({"requests": 5, "period_secs": 1, "period_ms": 1000}),
        // Over what the limiters count: governor would overflow.
        json!({"requests": 1, "period_secs": 2678400, "burst": 10000}),
    ] {
        let (status, _, problem) = call(
            &admin.router,
            key,
            "POST",
            "/keys",
            json_body(json!({"name": "bad", "rate_limit": bad.clone()})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
    }

    let branded = AdminApi::new(admin.store.clone())
        .key_format(api_key_auth::key_format::KeyFormat::branded("myco").unwrap())
        .router()
        .unwrap();
    let (status, _, created) = call(
        &branded,
        key,
        "POST",
        "/keys",
        json_body(json!({"name": "branded"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let handed_out = created["key"].as_str().unwrap().to_owned();
    assert!(handed_out.starts_with("myco_"), "{handed_out}");
    let (status, _, _) = call(&branded, Some(&handed_out), "GET", "/keys", None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a branded key is read (and lacks the admin scope)"
    );
}

/// Behind a proxy the API is told of, one client's failed attempts do not
/// throttle another administrator behind the same proxy, as they would if
/// everyone shared the proxy's budget. Untold, they do share it.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    use api_key_auth::client_addr::TrustedProxies;
    let store = MemoryStore::new();
    let (_, key) = store
        .create(NewKey::named("admin").scopes(["keys:admin"]))
        .await
        .unwrap()
        .reveal();
    let proxy: std::net::SocketAddr = "10.0.0.1:5555".parse().unwrap();
    let call = |router: Router, key: String, client: &'static str| async move {
        let mut request = Request::get("/keys")
            .header(header::AUTHORIZATION, format!("Api-Key {key}"))
            .header("x-forwarded-for", client)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(proxy));
        router.oneshot(request).await.unwrap().status()
    };
    let told = AdminApi::new(store.clone())
        .trusted_proxies(TrustedProxies::new(["10.0.0.0/8"]).unwrap())
        .router()
        .unwrap();
    let untold = AdminApi::new(store).router().unwrap();
    for router in [told.clone(), untold.clone()] {
        for _ in 0..10 {
            let guess = format!("abcdefgh.{}", "x".repeat(32));
            assert_eq!(call(router.clone(), guess, "203.0.113.66").await, 401);
        }
    }
    let admin = key.expose_secret().to_owned();
    assert_eq!(call(told, admin.clone(), "198.51.100.7").await, 200);
    assert_eq!(call(untold, admin, "198.51.100.7").await, 429);
}
