//! The quickstart's app with the admin API mounted at `/admin`, and the
//! crate's metrics in Prometheus text at `/metrics`.
//!
//! ```text
//! cargo run --example admin                  # 127.0.0.1:3000 (PORT to change)
//! curl -H "Authorization: Api-Key $ADMIN_KEY" localhost:3000/admin/keys
//! curl -H "Authorization: Api-Key $ADMIN_KEY" -H 'Content-Type: application/json' \
//!      -d '{"name": "billing"}' localhost:3000/admin/keys
//! curl localhost:3000/metrics                # api_key_auth_requests_total{outcome="ok"} …
//! ```
//!
//! At start it prints a client key and, on a line of its own starting
//! `admin key:`, a key with the admin scope. Keys live where `APIKEY_STORE`
//! says, as for the quickstart; when each was last used is recorded.

#[path = "quickstart.rs"]
#[allow(dead_code)] // the quickstart's own `main` is not this example's
mod quickstart;

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
};

use api_key_auth::{
    admin::{AdminApi, DEFAULT_ADMIN_SCOPE},
    last_use::LastUseTracker,
    store::open::{open, redacted},
    ApiKeyLayer, Authenticator, ErrorChain, KeyManager, NewKey,
};
use axum::{routing::get, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The crate's metrics, recorded for Prometheus. Installed before any
/// authenticator is built, so their counters register with it.
pub fn metrics() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    Ok(PrometheusBuilder::new().install_recorder()?)
}

/// The quickstart's routes guarded with last-use tracking, the admin API at
/// `/admin`, and `/metrics` (open: it holds counts, never a key).
pub fn app(
    store: Arc<dyn KeyManager>,
    tracker: LastUseTracker,
    metrics: PrometheusHandle,
) -> Router {
    let throttle = quickstart::throttle().unwrap_or_else(|e| panic!("{e}"));
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker)
        .throttle(throttle)
        .build()
        .expect("the defaults are valid");
    let admin = AdminApi::new(store)
        .throttle(throttle)
        .router()
        .expect("the default admin scope is valid");
    quickstart::app(ApiKeyLayer::from(auth))
        .nest("/admin", admin)
        .route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let metrics = metrics()?;
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

    let tracker = LastUseTracker::spawn(store.clone());
    let app = app(store, tracker.clone(), metrics);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The port bound, which `PORT=0` leaves to the system.
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}; the admin API is under /admin, metrics at /metrics");
    println!("client key: {}", client.expose_secret());
    println!("admin key: {}", admin.expose_secret());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    tracker.shutdown().await?;
    Ok(())
}
