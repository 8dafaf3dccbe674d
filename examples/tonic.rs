//! A real gRPC service, `grpc.health.v1.Health` from tonic-health, behind the
//! layer in gRPC mode: no key or a bad key is `UNAUTHENTICATED` (16), a key
//! without the `health:read` scope `PERMISSION_DENIED` (7).
//!
//! ```text
//! cargo run --example tonic      # 127.0.0.1:50051, PORT to change
//! grpcurl -plaintext -H 'authorization: Api-Key <the key it printed>' \
//!     127.0.0.1:50051 grpc.health.v1.Health/Check
//! ```

use api_key_auth::{
    throttle::Throttle, ApiKeyLayer, Authenticator, KeyManager, MemoryStore, NewKey,
};
use tonic::transport::{server::TcpIncoming, Server};

/// Serves the guarded health service on `listener` until the task is dropped.
/// `auth` must be built with `.grpc(true)`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    auth: Authenticator,
) -> Result<(), tonic::transport::Error> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let layer = ApiKeyLayer::from(auth);
    let needs_scope = layer.require_any(["health:read"]).expect("a valid scope");
    Server::builder()
        .layer(layer)
        .layer(needs_scope)
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}

#[allow(dead_code)] // the tests reuse `serve` without running `main`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {text:?}"))?,
        Err(_) => 50051,
    };
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("grpc").scopes(["health:read"]))
        .await?
        .reveal();
    // tonic gives each request its peer (TcpConnectInfo), which the throttle counts by.
    let auth = Authenticator::builder(store)
        .grpc(true)
        .throttle(Throttle::default())
        .build()?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("gRPC on 127.0.0.1:{port}: grpc.health.v1.Health, guarded");
    println!(
        "created key {:?} (prefix {}); it is shown once:",
        record.name, record.prefix
    );
    println!();
    println!("    {}", key.expose_secret());
    println!();
    println!("try:");
    println!(
        "    grpcurl -plaintext -H 'authorization: Api-Key {}' 127.0.0.1:{port} grpc.health.v1.Health/Check",
        key.expose_secret()
    );
    drop(key);
    serve(listener, auth).await?;
    Ok(())
}
