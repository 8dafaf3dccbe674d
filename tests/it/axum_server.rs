//! Requests through a real axum server on loopback: the quickstart's routes,
//! the extractors, scopes on a route, and a battery of malformed requests
//! sent raw over TCP after which the server still serves.

use crate::common;

use crate::quickstart;

use std::net::SocketAddr;

use api_key_auth::{
    reject::UNAUTHORIZED_BODY, ApiKeyLayer, Authenticator, Identity, KeyManager, MemoryStore,
    NewKey,
};
use axum::{routing::get, Router};
use common::{http_get, raw, serve, store_with_key};

async fn quickstart_server() -> (SocketAddr, String, MemoryStore) {
    let (store, key) = store_with_key(NewKey::named("quickstart").scopes(["read"])).await;
    let layer = ApiKeyLayer::from(
        Authenticator::builder(store.clone())
            .realm("quickstart")
            .build()
            .unwrap(),
    );
    (serve(quickstart::app(layer)).await, key, store)
}

#[tokio::test]
async fn quickstart_health_is_open_and_unknown_paths_are_404() {
    let (addr, _, _) = quickstart_server().await;
    let health = http_get(addr, "/health", &[]).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok");
    assert_eq!(http_get(addr, "/nope", &[]).await.status, 404);
    assert_eq!(http_get(addr, "/whoami/extra", &[]).await.status, 404);
}

#[tokio::test]
async fn quickstart_whoami_answers_json_without_secrets() {
    let (addr, key, _) = quickstart_server().await;
    let response = http_get(
        addr,
        "/whoami",
        &[("Authorization", &format!("Api-Key {key}"))],
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let (prefix, secret) = key.split_once('.').unwrap();
    assert_eq!(json["name"], "quickstart");
    assert_eq!(json["prefix"], prefix);
    assert_eq!(json["id"], prefix);
    assert_eq!(json["scopes"], serde_json::json!(["read"]));
    assert!(!response.body.contains(secret));
    assert!(!response.body.contains("sha256"));
}

#[tokio::test]
async fn quickstart_whoami_refuses_without_a_key() {
    let (addr, _, _) = quickstart_server().await;
    let response = http_get(addr, "/whoami", &[]).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate"),
        Some(r#"Api-Key realm="quickstart""#)
    );
    assert_eq!(response.body, UNAUTHORIZED_BODY);
}

#[tokio::test]
async fn quickstart_survives_a_raw_battery_and_keeps_serving() {
    let (addr, key, _) = quickstart_server().await;
    let (prefix, secret) = key.split_once('.').unwrap();
    let request = |auth: &[u8]| {
        let mut r = b"GET /whoami HTTP/1.1\r\nHost: t\r\nConnection: close\r\n".to_vec();
        r.extend_from_slice(auth);
        r.extend_from_slice(b"\r\n");
        r
    };
    // (raw header lines, expected status): 401 for every bad credential that
    // HTTP lets through; 400 or 431 where hyper refuses the request itself.
    let battery: Vec<(Vec<u8>, &[u16])> = vec![
        (request(b""), &[401]),
        (request(b"Authorization: \r\n"), &[401]),
        (
            request(format!("Authorization: Bearer {key}\r\n").as_bytes()),
            &[401],
        ),
        (
            request(format!("Authorization: Api-Key\t{key}\r\n").as_bytes()),
            &[401],
        ),
        (
            request(format!("Authorization: Api-Key {prefix}.{}\r\n", &secret[1..]).as_bytes()),
            &[401],
        ),
        (
            request(format!("Authorization: Api-Key \"{key}\"\r\n").as_bytes()),
            &[401],
        ),
        (
            request(format!("Authorization: Api-Key {key}, Api-Key {key}\r\n").as_bytes()),
            &[401],
        ),
        (
            request(
                format!("Authorization: Api-Key {key}\r\nAuthorization: Api-Key {key}\r\n")
                    .as_bytes(),
            ),
            &[401],
        ),
        (
            request(
                format!("Authorization: Api-Key {prefix}.{}\u{e9}\r\n", &secret[1..]).as_bytes(),
            ),
            &[401],
        ),
        (request(b"Authorization: Api-Key \xff\xfe\xfd\r\n"), &[401]),
        (
            request(format!("Authorization: Api-Key {key}\x00\r\n").as_bytes()),
            &[400],
        ),
        (
            request(format!("Authorization: Api-Key {key}\x01\r\n").as_bytes()),
            &[400],
        ),
        (
            request(format!("Authorization: Api-Key {}\r\n", "A".repeat(8 * 1024)).as_bytes()),
            &[401],
        ),
        (
            request(format!("Authorization: Api-Key {}\r\n", "A".repeat(1 << 20)).as_bytes()),
            &[400, 431],
        ),
        (
            request(format!("Authorization: Api-Key ZZZZZZZZ.{secret}\r\n").as_bytes()),
            &[401],
        ),
        (request(b"Authorization\r\n"), &[400]),
        (b"GARBAGE\r\n\r\n".to_vec(), &[400]),
    ];
    for (i, (bytes, expected)) in battery.iter().enumerate() {
        let response = raw(addr, bytes).await;
        assert!(
            expected.contains(&response.status),
            "case {i}: got {}",
            response.status
        );
        if response.status == 401 {
            assert_eq!(
                response.header("www-authenticate"),
                Some(r#"Api-Key realm="quickstart""#),
                "case {i}"
            );
            assert_eq!(response.body, UNAUTHORIZED_BODY, "case {i}");
        }
    }
    // A connection dropped half-way through a request harms nothing.
    {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /whoami HTTP/1.1\r\nAuthorization: Api-Key ")
            .await
            .unwrap();
    }
    let response = http_get(
        addr,
        "/whoami",
        &[("Authorization", &format!("Api-Key {key}"))],
    )
    .await;
    assert_eq!(response.status, 200, "still serving after the battery");
}

#[tokio::test]
async fn keys_created_while_serving_work_and_revoked_ones_stop() {
    let (addr, _, store) = quickstart_server().await;
    let (record, key) = store.create(NewKey::named("later")).await.unwrap().reveal();
    let header = format!("Api-Key {}", key.expose_secret());
    assert_eq!(
        http_get(addr, "/whoami", &[("Authorization", &header)])
            .await
            .status,
        200
    );
    store.revoke(&record.id).await.unwrap();
    assert_eq!(
        http_get(addr, "/whoami", &[("Authorization", &header)])
            .await
            .status,
        401
    );
}

async fn name_or_anonymous(identity: Option<Identity>) -> String {
    identity.map_or_else(|| "anonymous".to_owned(), |i| i.name().to_owned())
}

async fn name(identity: Identity) -> String {
    identity.name().to_owned()
}

#[tokio::test]
async fn extractors_under_an_optional_layer() {
    let (store, key) = store_with_key(NewKey::named("opt").scopes(["read"])).await;
    let auth = ApiKeyLayer::from(
        Authenticator::builder(store)
            .optional(true)
            .realm("opt")
            .build()
            .unwrap(),
    );
    let app = Router::new()
        .route("/maybe", get(name_or_anonymous))
        .route("/must", get(name))
        .route(
            "/admin",
            get(name).route_layer(auth.require_any(["admin", "root"]).unwrap()),
        )
        .layer(auth);
    let addr = serve(app).await;
    let with_key = [("Authorization", format!("Api-Key {key}"))];
    let with_key: Vec<(&str, &str)> = with_key.iter().map(|(n, v)| (*n, v.as_str())).collect();

    assert_eq!(http_get(addr, "/maybe", &[]).await.body, "anonymous");
    assert_eq!(http_get(addr, "/maybe", &with_key).await.body, "opt");

    // The Identity extractor on a keyless request: the layer's own 401, never a 500.
    let must = http_get(addr, "/must", &[]).await;
    assert_eq!(must.status, 401);
    assert_eq!(
        must.header("www-authenticate"),
        Some(r#"Api-Key realm="opt""#)
    );
    assert_eq!(must.body, UNAUTHORIZED_BODY);
    assert_eq!(http_get(addr, "/must", &with_key).await.body, "opt");

    let admin = http_get(addr, "/admin", &with_key).await;
    assert_eq!(admin.status, 403);
    assert_eq!(
        admin.header("www-authenticate"),
        Some(r#"Api-Key realm="opt", error="insufficient_scope", scope="admin root""#)
    );
    assert_eq!(http_get(addr, "/admin", &[]).await.status, 401);
}

#[tokio::test]
async fn the_identity_extractor_without_any_layer_answers_401_not_500() {
    let addr = serve(Router::new().route("/must", get(name))).await;
    let response = http_get(addr, "/must", &[]).await;
    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate"),
        Some(r#"Api-Key realm="api""#)
    );
}

#[tokio::test]
async fn many_clients_at_once() {
    let (addr, key, _) = quickstart_server().await;
    let header = format!("Api-Key {key}");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let header = header.clone();
        tasks.push(tokio::spawn(async move {
            let auth = if i % 3 == 0 {
                "Api-Key wrong".to_owned()
            } else {
                header
            };
            (
                i,
                http_get(addr, "/whoami", &[("Authorization", &auth)])
                    .await
                    .status,
            )
        }));
    }
    for task in tasks {
        let (i, status) = task.await.unwrap();
        assert_eq!(status, if i % 3 == 0 { 401 } else { 200 }, "client {i}");
    }
}
