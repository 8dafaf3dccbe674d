//! The quickstart: an axum server with one open and one guarded route.
//!
//! ```text
//! cargo run --example quickstart            # listens on 127.0.0.1:3000 (PORT to change)
//! APIKEY_STORE=sqlite:keys.db cargo run --example quickstart        # keys kept across restarts
//! APIKEY_STORE=postgres://... APIKEY_STORE_SCHEMA=drf cargo run --example quickstart  # a Django service's keys
//! APIKEY_STORE=redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 cargo run --example quickstart  # a Redis Cluster (scripts/redis-cluster.sh starts one)
//! APIKEY_LAST_USE=off cargo run --example quickstart   # without recording when keys were last used
//! curl -i localhost:3000/health             # 200, no key needed
//! curl -i localhost:3000/whoami             # 401
//! curl -i -H 'Authorization: Api-Key <the key it printed>' localhost:3000/whoami   # 200, JSON
//! ```

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use api_key_auth::{
    last_use::LastUseTracker,
    store::{
        open::{open, open_with, redacted},
        PageRequest, Schema,
    },
    throttle::Throttle,
    ApiKeyLayer, AuthFailure, Authenticator, ErrorChain, Identity, KeyManager, NewKey,
};
use axum::{
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Serialize;

/// The demo's routes: `/health` open, `/whoami` behind `layer`, anything else 404.
pub fn app(layer: ApiKeyLayer) -> Router {
    // `route_layer` guards only matched routes, so unknown paths stay 404;
    // answering in axum's own body type spares boxing each response again.
    let guarded = Router::new()
        .route("/whoami", get(whoami))
        .route_layer(layer.with_inner_body());
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

/// The store named by `APIKEY_STORE`: `memory` (the default), a `sqlite:`
/// path, or a `postgres://`, `mysql://` or `redis://` URL, or a Redis Cluster's
/// `redis+cluster://host:port,host:port,…`; `APIKEY_STORE_SCHEMA=drf`
/// serves a djangorestframework-api-key table instead of our own.
async fn open_store() -> Result<(Arc<dyn KeyManager>, String), Box<dyn std::error::Error>> {
    let url = std::env::var("APIKEY_STORE").unwrap_or_else(|_| "memory".to_owned());
    let drf = match std::env::var("APIKEY_STORE_SCHEMA").as_deref() {
        Ok("drf") => true,
        Ok("native") | Err(_) => false,
        Ok(other) => {
            return Err(format!("APIKEY_STORE_SCHEMA is `native` or `drf`, not {other:?}").into())
        }
    };
    // A Django table's naive dates are in Django's TIME_ZONE when its
    // USE_TZ is False: APIKEY_DRF_TIME_ZONE=Europe/Berlin says so.
    let opened = match std::env::var("APIKEY_DRF_TIME_ZONE") {
        Ok(zone) if drf => {
            let schema = Schema::drf()
                .with_naive_time_zone(&zone)
                .map_err(|e| format!("APIKEY_DRF_TIME_ZONE: {}", ErrorChain(&e)))?;
            open_with(&url, schema).await
        }
        Ok(_) => {
            return Err(
                "APIKEY_DRF_TIME_ZONE is for a Django table (APIKEY_STORE_SCHEMA=drf)".into(),
            )
        }
        Err(_) => open(&url, drf).await,
    };
    // Many instances, the command or Django may share the table: cache, and
    // hear of the revocations any of them make.
    let store: Arc<dyn KeyManager> = opened
        .map_err(|e| format!("APIKEY_STORE: {}", ErrorChain(&e)))?
        .into_cached_manager();
    let shown = redacted(&url);
    Ok((
        store,
        if drf {
            format!("{shown} (djangorestframework-api-key table)")
        } else {
            shown
        },
    ))
}

/// The quickstart's authenticator over `store`: realm `quickstart`, a 2 s
/// bound on lookups, refusals on stderr, failed attempts throttled per
/// client address (10 a minute by default, `APIKEY_THROTTLE`), keys' rate
/// limits enforced in this process (the default), and last use recorded by
/// `tracker`.
pub fn authenticator(
    store: Arc<dyn KeyManager>,
    tracker: Option<LastUseTracker>,
) -> Result<Authenticator, Box<dyn std::error::Error>> {
    let mut auth = Authenticator::builder(store)
        .realm("quickstart")
        .lookup_timeout(Duration::from_secs(2))
        .throttle(throttle()?)
        .on_failure(|failure: &AuthFailure| eprintln!("refused: {failure}"));
    if let Some(tracker) = tracker {
        auth = auth.last_use(tracker);
    }
    Ok(auth.build()?)
}

/// The budget of failed attempts per client address: `APIKEY_THROTTLE` as
/// `FAILURES/PERIOD` (`10/1m`, the default; `1000/1s` for a fuzzer that
/// sends from one address).
pub fn throttle() -> Result<Throttle, String> {
    let Ok(text) = std::env::var("APIKEY_THROTTLE") else {
        return Ok(Throttle::default());
    };
    let bad = || format!("APIKEY_THROTTLE is FAILURES/PERIOD, such as 10/1m, not {text:?}");
    let (failures, period) = text.split_once('/').ok_or_else(bad)?;
    let failures: u32 = failures.trim().parse().map_err(|_| bad())?;
    let period = humantime::parse_duration(period.trim()).map_err(|_| bad())?;
    Ok(Throttle::new(failures, period))
}

/// The port from `PORT`, 3000 when it is not set (0: any free port).
pub fn port() -> Result<u16, String> {
    match std::env::var("PORT") {
        Ok(text) => text
            .parse::<u16>()
            .map_err(|_| format!("PORT must be a port number, got {text:?}")),
        Err(_) => Ok(3000),
    }
}

#[allow(dead_code)] // most tests reuse `app` without running `main`; tests/it/processes.rs runs it
#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = port()?;
    let drf = std::env::var("APIKEY_STORE_SCHEMA").is_ok_and(|s| s == "drf");
    let (store, described) = open_store().await?;
    println!("keys are kept in {described}");

    // A new key only where there is none yet, and never in a Django service's
    // table. One key is enough to tell; a record that does not read (a row
    // written by hand, say) means there are keys, and costs its own key a
    // 503 when it is used, never the server.
    let existing = match store.list_page(&PageRequest::first(1)).await {
        Ok(page) => page.keys.len(),
        Err(err) if err.is_invalid_record() => {
            eprintln!("warning: a key in the store cannot be read ({}); it will be refused (503) when used", ErrorChain(&err));
            1
        }
        Err(err) => return Err(err.into()),
    };
    let created = if drf {
        println!("this table belongs to a Django service: keys come from its admin or APIKey.objects.create_key()");
        println!("keys Django revokes or deletes are refused at once only with the change triggers in: `api-key --store <same URL> --schema drf migrate`; without them, within the cache's 30 s");
        None
    } else if existing > 0 {
        println!("the store holds keys already, so none was created; use one you were given");
        None
    } else {
        Some(
            store
                .create(NewKey::named("quickstart").scopes(["read"]))
                .await?
                .reveal(),
        )
    };

    // When each key was last used, written once a minute at most per key,
    // off the request path (`api-key list --unused-for 90d` reads it). A
    // Django table has no column for it.
    let tracking = match std::env::var("APIKEY_LAST_USE").as_deref() {
        Ok("off") => false,
        Ok("on") | Err(_) => !drf,
        Ok(other) => return Err(format!("APIKEY_LAST_USE is `on` or `off`, not {other:?}").into()),
    };
    let tracker = tracking.then(|| LastUseTracker::spawn(store.clone()));
    let auth = authenticator(store, tracker.clone())?;

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // The port bound, which `PORT=0` leaves to the system.
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    let example_key = match &created {
        Some((record, key)) => {
            println!(
                "created key {:?} (prefix {}); it is shown once:",
                record.name, record.prefix
            );
            println!();
            println!("    {}", key.expose_secret());
            println!();
            key.expose_secret()
        }
        None => "<your key>",
    };
    println!("try:");
    println!("    curl -i http://{addr}/health");
    println!("    curl -i -H 'Authorization: Api-Key {example_key}' http://{addr}/whoami");
    drop(created);

    println!(
        "last use of keys: {}",
        if tracking { "recorded" } else { "not recorded" }
    );
    println!(
        "failed attempts: 10 a minute per client address, then 429; keys' rate limits enforced"
    );
    // With the client's address, which the throttle counts failures by.
    let app = app(ApiKeyLayer::from(auth)).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Stopped serving: write the uses not yet written.
    if let Some(tracker) = tracker {
        tracker.shutdown().await?;
    }
    Ok(())
}
