//! One behaviour, proven once: a single table of requests and the answers
//! they must get, run against axum, actix-web, plain hyper and a tonic server
//! over HTTP/2, all on loopback, all guarding with the same authenticator
//! configuration. Any difference between frameworks fails.

use crate::common;

use std::{convert::Infallible, net::SocketAddr};

use api_key_auth::scope::RequireScopesLayer;
use api_key_auth::{
    actix::{ApiKeyAuth, RequireScopes},
    reject::{FORBIDDEN_BODY, UNAUTHORIZED_BODY, UNAVAILABLE_BODY},
    ApiKeyLayer, Authenticator, Identity, KeyManager, KeyStore, MemoryStore, NewKey,
};
use bytes::Bytes;
use common::{bad_credentials, FailingStore};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo},
};
use tower::{service_fn, Layer, ServiceExt};

const REALM: &str = "frameworks";
const CHALLENGE: &str = r#"Api-Key realm="frameworks""#;
const SCOPE_CHALLENGE: &str =
    r#"Api-Key realm="frameworks", error="insufficient_scope", scope="admin""#;

fn authenticator(store: impl KeyStore) -> Authenticator {
    Authenticator::builder(store).realm(REALM).build().unwrap()
}

fn admin_only(auth: &Authenticator) -> api_key_auth::scope::ScopeRequirement {
    auth.require_all(["admin"]).unwrap()
}

/// The same requirement as a tower layer.
fn admin_layer(auth: &Authenticator) -> RequireScopesLayer {
    RequireScopesLayer::from(admin_only(auth))
}

/// What each framework's handler answers: the key's name, as text.
fn greeting(identity: &Identity) -> String {
    format!("hello {}", identity.name())
}

// ---- the servers -------------------------------------------------------

async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn axum_router(auth: &Authenticator) -> axum::Router {
    use axum::routing::get;
    async fn whoami(identity: Identity) -> String {
        greeting(&identity)
    }
    // axum in the inner-body mode, the others in the default one: the table
    // holds both to the same answers.
    axum::Router::new()
        .route("/whoami", get(whoami))
        .route(
            "/admin",
            get(whoami).route_layer(admin_layer(auth).with_inner_body()),
        )
        .route_layer(ApiKeyLayer::from(auth.clone()).with_inner_body())
}

async fn axum_server(auth: Authenticator) -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move { axum::serve(listener, axum_router(&auth)).await });
    addr
}

/// actix-web runs on its own system thread.
fn actix_server(auth: Authenticator) -> SocketAddr {
    use actix_web::{web, App, HttpResponse, HttpServer};
    async fn whoami(identity: Identity) -> HttpResponse {
        HttpResponse::Ok().body(greeting(&identity))
    }
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let middleware = ApiKeyAuth::from(auth.clone());
            let scope = RequireScopes::from(admin_only(&auth));
            let server = HttpServer::new(move || {
                App::new()
                    .service(
                        web::resource("/whoami")
                            .wrap(middleware.clone())
                            .route(web::get().to(whoami)),
                    )
                    .service(
                        web::resource("/admin")
                            .wrap(scope.clone())
                            .wrap(middleware.clone())
                            .route(web::get().to(whoami)),
                    )
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
            send.send(server.addrs()[0]).unwrap();
            server.run().await
        })
    });
    receive.recv().unwrap()
}

async fn hyper_server(auth: Authenticator) -> SocketAddr {
    type Body = BoxBody<Bytes, Infallible>;
    async fn whoami(
        request: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let identity = request
            .extensions()
            .get::<Identity>()
            .expect("the layer let it through");
        Ok(Response::new(Full::new(Bytes::from(greeting(identity)))))
    }
    let layer = ApiKeyLayer::from(auth.clone());
    let whoami_route = layer.layer(service_fn(whoami));
    let admin_route = layer.layer(admin_layer(&auth).layer(service_fn(whoami)));
    let app = service_fn(move |request: Request<hyper::body::Incoming>| {
        let (whoami_route, admin_route) = (whoami_route.clone(), admin_route.clone());
        async move {
            let response: Response<Body> = match request.uri().path() {
                "/whoami" => whoami_route.oneshot(request).await?.map(|b| b.boxed()),
                "/admin" => admin_route
                    .oneshot(request)
                    .await?
                    .map(|b| b.map_err(|e| match e {}).boxed()),
                _ => Response::builder()
                    .status(404)
                    .body(Full::default().boxed())
                    .unwrap(),
            };
            Ok::<_, Infallible>(response)
        }
    });
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await
            });
        }
    });
    addr
}

/// A tonic server (HTTP/2 only) with the layer in front of routes it serves.
async fn tonic_server(auth: Authenticator) -> SocketAddr {
    use axum::routing::get;
    async fn whoami(identity: Identity) -> String {
        greeting(&identity)
    }
    let routes = axum::Router::new()
        .route("/whoami", get(whoami))
        .route("/admin", get(whoami).route_layer(admin_layer(&auth)));
    let (listener, addr) = listener().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(ApiKeyLayer::from(auth))
            .add_routes(tonic::service::Routes::from(routes))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    addr
}

// ---- the table ---------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Keys,
    Failing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Ok(&'static str),
    Unauthorized,
    Forbidden,
    Unavailable,
}

struct Row {
    name: String,
    path: &'static str,
    store: Store,
    headers: Vec<Vec<u8>>,
    expect: Expect,
}

fn table(reader: &str, admin: &str) -> Vec<Row> {
    let row = |name: &str, path, store, headers: Vec<Vec<u8>>, expect| Row {
        name: name.to_owned(),
        path,
        store,
        headers,
        expect,
    };
    let auth = |key: &str| vec![format!("Api-Key {key}").into_bytes()];
    // Values past a server's header limit (64 KiB here) are refused by its
    // HTTP stack before any layer runs, each stack its own way; the
    // layer-level suite covers them.
    let mut rows: Vec<Row> = bad_credentials(reader)
        .into_iter()
        .filter(|(_, headers)| headers.iter().all(|h| h.len() < 16 * 1024))
        .map(|(name, headers)| row(name, "/whoami", Store::Keys, headers, Expect::Unauthorized))
        .collect();
    rows.extend([
        row(
            "valid key",
            "/whoami",
            Store::Keys,
            auth(reader),
            Expect::Ok("hello reader"),
        ),
        row(
            "lowercase scheme",
            "/whoami",
            Store::Keys,
            vec![format!("api-key {reader}").into_bytes()],
            Expect::Ok("hello reader"),
        ),
        row(
            "leading space",
            "/whoami",
            Store::Keys,
            vec![format!(" Api-Key {reader}").into_bytes()],
            Expect::Ok("hello reader"),
        ),
        row(
            "trailing space",
            "/whoami",
            Store::Keys,
            vec![format!("Api-Key {reader} ").into_bytes()],
            Expect::Ok("hello reader"),
        ),
        row(
            "uppercase scheme",
            "/whoami",
            Store::Keys,
            vec![format!("API-KEY {admin}").into_bytes()],
            Expect::Ok("hello admin"),
        ),
        row(
            "scope missing",
            "/admin",
            Store::Keys,
            auth(reader),
            Expect::Forbidden,
        ),
        row(
            "scope present",
            "/admin",
            Store::Keys,
            auth(admin),
            Expect::Ok("hello admin"),
        ),
        row(
            "scope route without key",
            "/admin",
            Store::Keys,
            vec![],
            Expect::Unauthorized,
        ),
        row(
            "scope route with bad key",
            "/admin",
            Store::Keys,
            vec![b"Api-Key nope".to_vec()],
            Expect::Unauthorized,
        ),
        row(
            "store down, well-formed key",
            "/whoami",
            Store::Failing,
            auth(reader),
            Expect::Unavailable,
        ),
        row(
            "store down, unknown key",
            "/whoami",
            Store::Failing,
            vec![format!("Api-Key ZZZZZZZZ.{}", &reader[9..]).into_bytes()],
            Expect::Unavailable,
        ),
        row(
            "store down, scope route",
            "/admin",
            Store::Failing,
            auth(admin),
            Expect::Unavailable,
        ),
        row(
            "store down, no key",
            "/whoami",
            Store::Failing,
            vec![],
            Expect::Unauthorized,
        ),
        row(
            "store down, malformed key",
            "/whoami",
            Store::Failing,
            vec![b"Api-Key short".to_vec()],
            Expect::Unauthorized,
        ),
    ]);
    rows
}

/// An answer, reduced to what must be the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
    cache_control: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Answer {
    fn expected(expect: &Expect) -> Answer {
        let refusal = |status, challenge: Option<&str>, retry: Option<&str>, body: &str| Answer {
            status,
            www_authenticate: challenge.map(str::to_owned),
            retry_after: retry.map(str::to_owned),
            cache_control: Some("no-store".to_owned()),
            content_type: Some("application/json".to_owned()),
            body: body.to_owned(),
        };
        match expect {
            Expect::Ok(body) => Answer {
                status: 200,
                www_authenticate: None,
                retry_after: None,
                cache_control: None,
                content_type: None,
                body: (*body).to_owned(),
            },
            Expect::Unauthorized => refusal(401, Some(CHALLENGE), None, UNAUTHORIZED_BODY),
            Expect::Forbidden => refusal(403, Some(SCOPE_CHALLENGE), None, FORBIDDEN_BODY),
            Expect::Unavailable => refusal(503, None, Some("1"), UNAVAILABLE_BODY),
        }
    }
}

async fn ask(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    row: &Row,
) -> Answer {
    let mut request = Request::get(format!("http://{addr}{}", row.path))
        .body(Full::default())
        .unwrap();
    for value in &row.headers {
        request.headers_mut().append(
            "authorization",
            HeaderValue::from_bytes(value).expect("a value http allows"),
        );
    }
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", row.name));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let status = response.status();
    let mut answer = Answer {
        status: status.as_u16(),
        www_authenticate: header("www-authenticate"),
        retry_after: header("retry-after"),
        cache_control: header("cache-control"),
        content_type: header("content-type"),
        body: String::new(),
    };
    if status == StatusCode::OK {
        // Frameworks choose their own headers for a handler's answer.
        answer.content_type = None;
        answer.cache_control = None;
    }
    answer.body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_gives_every_answer_the_same() {
    let store = MemoryStore::new();
    let (_, reader) = store
        .create(NewKey::named("reader").scopes(["read"]))
        .await
        .unwrap()
        .reveal();
    let (_, admin) = store
        .create(NewKey::named("admin").scopes(["read", "admin"]))
        .await
        .unwrap()
        .reveal();
    let (reader, admin) = (
        reader.expose_secret().to_owned(),
        admin.expose_secret().to_owned(),
    );

    let keys = authenticator(store);
    let failing = authenticator(FailingStore);
    let servers = [
        (
            "axum",
            axum_server(keys.clone()).await,
            axum_server(failing.clone()).await,
            false,
        ),
        (
            "actix-web",
            actix_server(keys.clone()),
            actix_server(failing.clone()),
            false,
        ),
        (
            "hyper",
            hyper_server(keys.clone()).await,
            hyper_server(failing.clone()).await,
            false,
        ),
        (
            "tonic (HTTP/2)",
            tonic_server(keys).await,
            tonic_server(failing).await,
            true,
        ),
    ];
    let http1 = Client::builder(TokioExecutor::new()).build_http();
    let http2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();

    let rows = table(&reader, &admin);
    assert!(rows.len() >= 45, "the table has {} rows", rows.len());
    let mut differences = Vec::new();
    for row in &rows {
        let expected = Answer::expected(&row.expect);
        for (framework, with_keys, with_failing_store, h2) in &servers {
            let addr = if row.store == Store::Keys {
                *with_keys
            } else {
                *with_failing_store
            };
            let answer = ask(if *h2 { &http2 } else { &http1 }, addr, row).await;
            if answer != expected {
                differences.push(format!(
                    "{framework}, {}: expected {expected:?}, got {answer:?}",
                    row.name
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// A key in a rotation's grace period gets `Sunset` with the moment it
/// stops on every framework's answers, whether the store answers at once
/// or must be waited for; its successor gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framework_tells_a_retiring_key_when_it_stops() {
    let store = MemoryStore::new();
    let (old, old_key) = store.create(NewKey::named("old")).await.unwrap().reveal();
    let rotated = store
        .rotate(&old.id, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    let sunset = httpdate::fmt_http_date(rotated.retired.expires.unwrap());
    let (_, new_key) = rotated.new.reveal();
    let http1 = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let http2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    for waited in [false, true] {
        let auth = if waited {
            authenticator(common::AsyncOnly(store.clone()))
        } else {
            authenticator(store.clone())
        };
        let servers = [
            ("axum", axum_server(auth.clone()).await, false),
            ("actix-web", actix_server(auth.clone()), false),
            ("hyper", hyper_server(auth.clone()).await, false),
            ("tonic (HTTP/2)", tonic_server(auth).await, true),
        ];
        for (framework, addr, h2) in servers {
            for (key, expected) in [
                (old_key.expose_secret(), Some(sunset.as_str())),
                (new_key.expose_secret(), None),
            ] {
                let request = Request::get(format!("http://{addr}/whoami"))
                    .header("authorization", format!("Api-Key {key}"))
                    .body(Full::default())
                    .unwrap();
                let client = if h2 { &http2 } else { &http1 };
                let response = client.request(request).await.unwrap();
                assert_eq!(response.status(), 200, "{framework}, waited: {waited}");
                assert_eq!(
                    response
                        .headers()
                        .get("sunset")
                        .map(|v| v.to_str().unwrap()),
                    expected,
                    "{framework}, waited: {waited}"
                );
            }
        }
    }
}
