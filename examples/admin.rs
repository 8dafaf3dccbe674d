//! The quickstart's app with the admin API mounted at `/admin`.
//!
//! ```text
//! cargo run --example admin                  # 127.0.0.1:3000 (PORT to change)
//! curl -H "Authorization: Api-Key $ADMIN_KEY" localhost:3000/admin/keys
//! curl -H "Authorization: Api-Key $ADMIN_KEY" -H 'Content-Type: application/json' \
//!      -d '{"name": "billing"}' localhost:3000/admin/keys
//! ```
//!
//! At start it prints a client key and, on a line of its own starting
//! `admin key:`, a key with the admin scope. Keys live where `APIKEY_STORE`
//! says, as for the quickstart.

#[path = "quickstart.rs"]
#[allow(dead_code)] // the quickstart's own `main` is not this example's
mod quickstart;

use std::net::{Ipv4Addr, SocketAddr};

use api_key_auth::{
    admin::{AdminApi, DEFAULT_ADMIN_SCOPE},
    store::open::{open, redacted},
    ApiKeyLayer, ErrorChain, KeyManager, NewKey,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = quickstart::port()?;
    let url = std::env::var("APIKEY_STORE").unwrap_or_else(|_| "memory".to_owned());
    let store = open(&url, false)
        .await
        .map_err(|e| format!("APIKEY_STORE: {}", ErrorChain(&e)))?
        .into_manager();
    println!("keys are kept in {}", redacted(&url));

    let (_, client) = store
        .create(NewKey::named("client").scopes(["read"]))
        .await?
        .reveal();
    let (_, admin) = store
        .create(NewKey::named("admin").scopes([DEFAULT_ADMIN_SCOPE]))
        .await?
        .reveal();

    let app = quickstart::app(ApiKeyLayer::new(store.clone()))
        .nest("/admin", AdminApi::new(store).router()?);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{addr}; the admin API is under /admin");
    println!("client key: {}", client.expose_secret());
    println!("admin key: {}", admin.expose_secret());
    axum::serve(listener, app).await?;
    Ok(())
}
