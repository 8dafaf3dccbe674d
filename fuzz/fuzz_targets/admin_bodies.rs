//! The admin API's request bodies and queries: `POST /keys`,
//! `POST /keys/{id}/rotate`, `POST /keys/{id}/revoke`, `GET /keys?...` and
//! `GET /keys/{id}` with any bytes, as an administrator. Never a panic and
//! never a 5xx (the memory store does not fail): bad input is a 4xx
//! problem+json; a created key is shown once, in a 201.
#![no_main]

use std::cell::RefCell;

use api_key_auth::{admin::AdminApi, KeyManager, MemoryStore, NewKey};
use arbitrary::Arbitrary;
use axum::{body::Body, Router};
use http::{header, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[derive(Arbitrary, Debug)]
enum Call {
    Create { body: Vec<u8>, json: bool },
    Rotate { body: Vec<u8>, existing: bool },
    Revoke { body: Vec<u8>, existing: bool },
    List { query: Vec<u8> },
    Show { id: Vec<u8> },
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    router: Router,
    admin: String,
    /// A key the calls may rotate or revoke.
    target: String,
    calls: u32,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let (admin, target) = runtime.block_on(async {
        let (_, admin) = store
            .create(NewKey::named("admin").scopes(["keys:admin"]))
            .await
            .unwrap()
            .reveal();
        let (target, _) = store
            .create(NewKey::named("target"))
            .await
            .unwrap()
            .reveal();
        (admin.expose_secret().to_owned(), target.id.clone())
    });
    Setup {
        runtime,
        router: AdminApi::new(store).router().unwrap(),
        admin,
        target,
        calls: 0,
    }
}

thread_local! {
    static SETUP: RefCell<Setup> = RefCell::new(setup());
}

fn percent_encoded(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fuzz_target!(|call: Call| {
    SETUP.with(|cell| {
        let mut setup = cell.borrow_mut();
        // A fresh store now and then, so created keys do not pile up.
        setup.calls += 1;
        if setup.calls > 20_000 {
            *setup = self::setup();
        }
        let id = |existing: bool, setup: &Setup| {
            if existing {
                setup.target.clone()
            } else {
                "no-such-key".to_owned()
            }
        };
        let (method, uri, body, json) = match &call {
            Call::Create { body, json } => ("POST", "/keys".to_owned(), body.clone(), *json),
            Call::Rotate { body, existing } => (
                "POST",
                format!("/keys/{}/rotate", id(*existing, &setup)),
                body.clone(),
                true,
            ),
            Call::Revoke { body, existing } => (
                "POST",
                format!("/keys/{}/revoke", id(*existing, &setup)),
                body.clone(),
                true,
            ),
            Call::List { query } => (
                "GET",
                format!(
                    "/keys?{}",
                    String::from_utf8_lossy(query).replace(['#', ' '], "")
                ),
                Vec::new(),
                false,
            ),
            Call::Show { id } => (
                "GET",
                format!("/keys/{}", percent_encoded(id)),
                Vec::new(),
                false,
            ),
        };
        let Ok(uri) = uri.parse::<http::Uri>() else {
            return;
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Api-Key {}", setup.admin));
        if json {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Body::from(body)).unwrap();
        let router = setup.router.clone();
        let (status, bytes) = setup.runtime.block_on(async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, bytes)
        });
        assert!(
            !status.is_server_error(),
            "{call:?} answered {status}: {bytes:?}"
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&setup.admin[9..]),
            "the admin key in a response"
        );
        if status.is_client_error() {
            let problem: serde_json::Value =
                serde_json::from_slice(&bytes).expect("a refusal is problem+json");
            assert!(problem["title"].is_string(), "{text}");
        }
        if matches!(call, Call::Create { .. }) && status == 201 {
            let created: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert!(created["key"].is_string(), "{text}");
        }
    });
});
