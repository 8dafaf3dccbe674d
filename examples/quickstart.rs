//! The quickstart: an axum server with one open and one guarded route.
//!
//! ```text
//! cargo run --example quickstart            # listens on 127.0.0.1:3000 (PORT to change)
//! curl -i localhost:3000/health             # 200, no key needed
//! curl -i localhost:3000/whoami             # 401
//! curl -i -H 'Authorization: Api-Key <the key it printed>' localhost:3000/whoami   # 200, JSON
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use api_key_auth::{
    ApiKeyLayer, AuthFailure, Authenticator, Identity, KeyManager, MemoryStore, NewKey,
};
use axum::{
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Serialize;

/// The demo's routes: `/health` open, `/whoami` behind `layer`, anything else 404.
pub fn app(layer: ApiKeyLayer) -> Router {
    // `route_layer` guards only matched routes, so unknown paths stay 404.
    let guarded = Router::new()
        .route("/whoami", get(whoami))
        .route_layer(layer);
    Router::new().route("/health", get(health)).merge(guarded)
}

async fn health() -> &'static str {
    "ok"
}

/// What `/whoami` answers: who the key is, never its secret or hash.
#[derive(Serialize)]
struct WhoAmI<'a> {
    id: &'a str,
    name: &'a str,
    prefix: &'a str,
    scopes: &'a [String],
}

async fn whoami(identity: Identity) -> Response {
    let prefix = identity.prefix();
    Json(WhoAmI {
        id: identity.id(),
        name: identity.name(),
        prefix: prefix.as_str(),
        scopes: identity.scopes(),
    })
    .into_response()
}

#[allow(dead_code)] // the tests reuse `app` without running `main`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::var("PORT") {
        Ok(text) => text
            .parse::<u16>()
            .map_err(|_| format!("PORT must be a port number, got {text:?}"))?,
        Err(_) => 3000,
    };

    let store = MemoryStore::new();
    let created = store
        .create(NewKey::named("quickstart").scopes(["read"]))
        .await?;
    let (record, key) = created.reveal();

    let auth = Authenticator::builder(store)
        .realm("quickstart")
        .on_failure(|failure: &AuthFailure| eprintln!("refused: {failure}"))
        .build()?;

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{addr}");
    println!(
        "created key {:?} (prefix {}); it is shown once:",
        record.name, record.prefix
    );
    println!();
    println!("    {}", key.expose_secret());
    println!();
    println!("try:");
    println!("    curl -i http://{addr}/health");
    println!(
        "    curl -i -H 'Authorization: Api-Key {}' http://{addr}/whoami",
        key.expose_secret()
    );
    drop(key);

    axum::serve(listener, app(ApiKeyLayer::from(auth))).await?;
    Ok(())
}
