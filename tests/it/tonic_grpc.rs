//! The layer in gRPC mode in front of a real tonic service
//! (`grpc.health.v1.Health`), called by a real tonic client over loopback.

use crate::common;

#[allow(dead_code)]
#[path = "../../examples/tonic.rs"]
mod example;

use std::net::SocketAddr;

use api_key_auth::{
    tonic::RequestIdentity, Authenticator, Identity, KeyManager, KeyStore, MemoryStore, NewKey,
};
use common::FailingStore;
use tonic::{metadata::MetadataValue, Code, Request};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

async fn start(store: impl KeyStore) -> SocketAddr {
    let auth = Authenticator::builder(store).grpc(true).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(example::serve(listener, auth));
    addr
}

async fn check(addr: SocketAddr, authorization: Option<&str>) -> Result<i32, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let mut request = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(value) = authorization {
        let value: MetadataValue<_> = value.parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    client.check(request).await.map(|r| r.into_inner().status)
}

#[tokio::test]
async fn grpc_clients_get_grpc_statuses() {
    let store = MemoryStore::new();
    let (_, good) = store
        .create(NewKey::named("g").scopes(["health:read"]))
        .await
        .unwrap()
        .reveal();
    let (_, unscoped) = store.create(NewKey::named("u")).await.unwrap().reveal();
    let addr = start(store).await;

    let status = check(addr, Some(&format!("Api-Key {}", good.expose_secret())))
        .await
        .unwrap();
    assert_eq!(status, ServingStatus::Serving as i32);

    let none = check(addr, None).await.unwrap_err();
    assert_eq!(none.code(), Code::Unauthenticated, "{none:?}");
    assert_eq!(none.message(), "a valid API key is required");

    let (prefix, _) = good.expose_secret().split_once('.').unwrap();
    let bad = check(addr, Some(&format!("Api-Key {prefix}.{}", "x".repeat(32))))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::Unauthenticated, "{bad:?}");
    assert_eq!(
        bad.message(),
        none.message(),
        "a wrong key and no key look the same"
    );

    let malformed = check(addr, Some("Bearer nonsense")).await.unwrap_err();
    assert_eq!(malformed.code(), Code::Unauthenticated);

    let scope = check(addr, Some(&format!("Api-Key {}", unscoped.expose_secret())))
        .await
        .unwrap_err();
    assert_eq!(scope.code(), Code::PermissionDenied, "{scope:?}");
}

#[tokio::test]
async fn a_failing_store_is_unavailable_to_grpc_clients() {
    let addr = start(FailingStore).await;
    let status = check(
        addr,
        Some("Api-Key n58lzybi.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0"),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn handlers_read_the_identity_from_the_request() {
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("reader").scopes(["reports:read"]))
        .await
        .unwrap()
        .reveal();
    let auth = Authenticator::new(store);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    let identity: Identity = auth.authenticate(&headers).await.unwrap().unwrap();

    let mut request = Request::new(());
    assert_eq!(
        request.require_identity().unwrap_err().code(),
        Code::Unauthenticated
    );
    request.extensions_mut().insert(identity);
    assert_eq!(request.require_identity().unwrap().id(), record.id);
    assert_eq!(
        request.require_scope("reports:read").unwrap().name(),
        "reader"
    );
    assert_eq!(
        request.require_scope("admin").unwrap_err().code(),
        Code::PermissionDenied
    );
}
