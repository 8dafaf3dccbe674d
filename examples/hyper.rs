//! The quickstart with no framework: hyper 1 and hyper-util, the tower layer
//! in front of a plain service. `GET /health` open, `GET /whoami` guarded.
//!
//! ```text
//! cargo run --example hyper      # 127.0.0.1:3000, PORT to change
//! ```

use std::{convert::Infallible, net::SocketAddr};

use api_key_auth::{
    client::ClientAddr, throttle::Throttle, ApiKeyLayer, Authenticator, Identity, KeyManager,
    MemoryStore, NewKey,
};
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use tower::{service_fn, Layer, ServiceExt};

type Body = BoxBody<Bytes, Infallible>;

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed());
    *response.status_mut() = status;
    response
}

async fn whoami(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // The layer only lets requests with a valid key through, so the identity is there.
    let Some(identity) = request.extensions().get::<Identity>() else {
        return Ok(Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Full::default())
            .unwrap_or_default());
    };
    let json = serde_json::json!({
        "id": identity.id(),
        "name": identity.name(),
        "prefix": identity.prefix().as_str(),
        "scopes": identity.scopes(),
    });
    let mut response = Response::new(Full::new(Bytes::from(json.to_string())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Serves the example's routes on `listener`, over HTTP/1.1 and HTTP/2, until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, layer: ApiKeyLayer) {
    let guarded = layer.layer(service_fn(whoami));
    let app = service_fn(move |request: Request<Incoming>| {
        let guarded = guarded.clone();
        async move {
            match request.uri().path() {
                "/health" => Ok::<_, Infallible>(text(StatusCode::OK, "ok")),
                "/whoami" => {
                    let response = guarded.oneshot(request).await?;
                    Ok(response.map(|body| body.boxed()))
                }
                _ => Ok(text(StatusCode::NOT_FOUND, "")),
            }
        }
    });
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        // The connection's peer, for the throttle of failed attempts: hyper
        // says nothing of it, so each request carries it as a `ClientAddr`.
        let app = app.clone();
        let with_peer = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer));
            app.clone().oneshot(request)
        });
        let service = TowerToHyperService::new(with_peer);
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[allow(dead_code)] // the tests reuse `serve` without running `main`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {text:?}"))?,
        Err(_) => 3000,
    };
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("hyper").scopes(["read"]))
        .await?
        .reveal();
    let layer = ApiKeyLayer::from(
        Authenticator::builder(store)
            .realm("hyper")
            .throttle(Throttle::default())
            .build()?,
    );

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
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
    serve(listener, layer).await;
    Ok(())
}
