//! Helpers shared by the integration tests: stores that fail or wait, a
//! service that counts its calls, and a raw HTTP/1.1 client.
#![allow(dead_code)]

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use api_key_auth::{
    key::Prefix, AuthFailure, Authenticator, Identity, KeyManager, KeyStore, Lookup, MemoryStore,
    NewKey, StoreError,
};
use http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A store that is down: every lookup fails.
pub struct FailingStore;

#[async_trait::async_trait]
impl KeyStore for FailingStore {
    async fn find(&self, _prefix: Prefix) -> Lookup {
        Err(StoreError::unavailable("connection refused (test store)"))
    }
}

/// A store that can only answer asynchronously, after a yield, so the layer
/// takes its boxed-future path.
#[derive(Clone)]
pub struct AsyncOnly(pub MemoryStore);

#[async_trait::async_trait]
impl KeyStore for AsyncOnly {
    async fn find(&self, prefix: Prefix) -> Lookup {
        tokio::task::yield_now().await;
        self.0.find(prefix).await
    }
}

/// A memory store with one key, and that key's plaintext.
pub async fn store_with_key(new: NewKey) -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let (_, key) = store
        .create(new)
        .await
        .expect("memory store creates")
        .reveal();
    (store, key.expose_secret().to_owned())
}

/// Collects the reasons the authenticator's hook sees.
#[derive(Clone, Default)]
pub struct Reasons(Arc<Mutex<Vec<String>>>);

impl Reasons {
    pub fn hook(&self) -> impl Fn(&AuthFailure) + Send + Sync + 'static {
        let seen = self.0.clone();
        move |failure| seen.lock().unwrap().push(format!("{failure:?}"))
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// An authenticator over `store` reporting to `reasons`.
pub fn authenticator(store: impl KeyStore, reasons: &Reasons) -> Authenticator {
    Authenticator::builder(store)
        .realm("test")
        .on_failure(reasons.hook())
        .build()
        .expect("valid configuration")
}

/// The inner service of layer tests: counts calls and answers 200 with the
/// identity's name, or `anonymous`.
#[derive(Clone, Default)]
pub struct Echo {
    pub calls: Arc<AtomicUsize>,
}

impl Echo {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl tower::Service<Request<String>> for Echo {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<String>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let who = request
            .extensions()
            .get::<Identity>()
            .map_or_else(|| "anonymous".to_owned(), |i| i.name().to_owned());
        let credential = request
            .headers()
            .get("authorization")
            .or_else(|| request.headers().get("x-api-key"));
        let saw_credential = match credential {
            Some(value) if value.is_sensitive() => "sensitive",
            Some(_) => "yes",
            None => "no",
        };
        let mut response = Response::new(who);
        response
            .headers_mut()
            .insert("x-saw-credential", saw_credential.parse().unwrap());
        std::future::ready(Ok(response))
    }
}

/// Collects a response body of the layers into a string.
pub async fn body_text<B>(body: B) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    let bytes = body.collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` as raw bytes and reads the response until the server
/// closes the connection (send `Connection: close`).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut bytes = Vec::new();
        // A reset after the answer (a server refusing the rest) still leaves the answer read.
        let _ = stream.read_to_end(&mut bytes).await;
        bytes
    };
    let bytes = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("server answered within 10 s");
    parse_response(&bytes)
}

/// A GET with the given extra header lines, closing the connection after.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    raw(addr, get_request(path, headers).as_bytes()).await
}

/// `GET path` with the given extra header lines and `Connection: close`.
pub fn get_request(path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// A connection to `addr` from the loopback address `from` (127.0.0.0/8
/// is all this machine's), so that a throttle tells clients apart.
pub async fn connect_from(from: &str, addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("a loopback address"))
        .expect("bind");
    socket.connect(addr).await.expect("connect")
}

/// [`http_get`] from the loopback address `from`.
pub async fn http_get_from(
    from: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> RawResponse {
    let exchange = async {
        let mut stream = connect_from(from, addr).await;
        stream
            .write_all(get_request(path, headers).as_bytes())
            .await
            .expect("write");
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        bytes
    };
    let bytes = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .expect("server answered within a minute");
    parse_response(&bytes)
}

fn parse_response(bytes: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Serves `router` on an ephemeral loopback port.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    addr
}

/// Serves `router` on an ephemeral loopback port, giving handlers and the
/// layer each connection's peer address (which the throttle counts by).
pub async fn serve_with_peers(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve")
    });
    addr
}

/// The PostgreSQL server the tests may use, from `APIKEY_TEST_POSTGRES_URL`.
/// Unset: prints why the test is skipped and gives `None`.
pub fn postgres_url(test: &str) -> Option<String> {
    env_url(
        "APIKEY_TEST_POSTGRES_URL",
        test,
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

/// The MySQL or MariaDB server the tests may use, from `APIKEY_TEST_MYSQL_URL`.
pub fn mysql_url(test: &str) -> Option<String> {
    env_url(
        "APIKEY_TEST_MYSQL_URL",
        test,
        "mysql://root@127.0.0.1:3306/test",
    )
}

/// The Redis server the tests may use, from `APIKEY_TEST_REDIS_URL`.
pub fn redis_url(test: &str) -> Option<String> {
    env_url("APIKEY_TEST_REDIS_URL", test, "redis://127.0.0.1:6379")
}

/// The Redis Cluster the tests may use, from `APIKEY_TEST_REDIS_CLUSTER_URL`
/// (`scripts/redis-cluster.sh` starts one).
pub fn redis_cluster_url(test: &str) -> Option<String> {
    env_url(
        "APIKEY_TEST_REDIS_CLUSTER_URL",
        test,
        "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
    )
}

/// Says why a test is skipped, on stderr directly: the test harness captures
/// `println!` and `eprintln!` of passing tests, and this line must be seen.
pub fn skip_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn env_url(var: &str, test: &str, example: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_line(&format!(
                "skipping {test}: set {var} (for example {var}={example}) to run it"
            ));
            None
        }
    }
}

/// A PostgreSQL schema of the test's own, so tests sharing one database
/// never see each other's tables: a pool whose search path is that schema.
#[cfg(feature = "postgres")]
pub async fn isolated_pg_pool(url: &str) -> sqlx::PgPool {
    let schema = isolated_pg_schema(url).await;
    pg_pool_in(url, &schema).await
}

/// Creates a schema of the test's own and gives its name.
#[cfg(feature = "postgres")]
pub async fn isolated_pg_schema(url: &str) -> String {
    let admin = sqlx::PgPool::connect(url).await.unwrap_or_else(|e| {
        panic!("APIKEY_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}")
    });
    let schema = format!(
        "apikey_test_{}",
        api_key_auth::key::ApiKey::generate()
            .unwrap()
            .prefix()
            .as_str()
            .to_lowercase()
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    schema
}

/// A pool on `url` whose search path is `schema`: another instance of a service.
#[cfg(feature = "postgres")]
pub async fn pg_pool_in(url: &str, schema: &str) -> sqlx::PgPool {
    use std::str::FromStr;
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema)]);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_with(options)
        .await
        .unwrap()
}

/// A MySQL database of the test's own, so tests sharing one server never see
/// each other's tables: the URL of the new database on `url`'s server.
#[cfg(feature = "mysql")]
pub async fn isolated_mysql_url(url: &str) -> String {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let options = sqlx::mysql::MySqlConnectOptions::from_str(url).unwrap();
    let mut admin = options
        .connect()
        .await
        .unwrap_or_else(|e| panic!("APIKEY_TEST_MYSQL_URL is set but MySQL is unreachable: {e}"));
    let database = format!(
        "apikey_test_{}",
        api_key_auth::key::ApiKey::generate()
            .unwrap()
            .prefix()
            .as_str()
            .to_lowercase()
    );
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    options.database(&database).to_url_lossy().to_string()
}

/// A TCP proxy of the test's own between a store and its server, to cut the
/// line and restore it.
pub struct Proxy {
    pub addr: SocketAddr,
    mode: tokio::sync::watch::Sender<ProxyMode>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProxyMode {
    /// Forwarding.
    Up,
    /// Every connection closed at once, new ones closed on arrival.
    Down,
    /// Connections accepted and held, nothing forwarded: a server that hangs.
    Stalled,
    /// Every connection, open ones included, kept open with nothing
    /// forwarded either way: a proxy or NAT that silently lost its state.
    Silent,
}

impl Proxy {
    /// A proxy on an ephemeral loopback port forwarding to `target` (`host:port`).
    pub async fn start(target: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watch) = tokio::sync::watch::channel(ProxyMode::Up);
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let target = target.to_owned();
        let task_links = links.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let current = *watch.borrow();
                match current {
                    ProxyMode::Down => drop(inbound),
                    ProxyMode::Stalled | ProxyMode::Silent => {
                        let held = tokio::spawn(async move {
                            let _inbound = inbound;
                            std::future::pending::<()>().await;
                        });
                        task_links.lock().unwrap().push(held.abort_handle());
                    }
                    ProxyMode::Up => {
                        let target = target.clone();
                        let mut silenced = watch.clone();
                        let link = tokio::spawn(async move {
                            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await
                            {
                                tokio::select! {
                                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                    _ = async { silenced.wait_for(|mode| *mode == ProxyMode::Silent).await.is_ok() } => {
                                        // Both sockets stay open; nothing moves.
                                        std::future::pending::<()>().await;
                                    }
                                }
                            }
                        });
                        task_links.lock().unwrap().push(link.abort_handle());
                    }
                }
            }
        });
        Proxy { addr, mode, links }
    }

    /// Rewrites `url`'s host and port (`target`, from [`host_port`]) to the
    /// proxy's, whether or not the URL wrote the port out.
    pub fn url(&self, url: &str, target: &str) -> String {
        if url.contains(target) {
            return url.replacen(target, &self.addr.to_string(), 1);
        }
        let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (user, rest) = rest.rsplit_once('@').map_or(("", rest), |(u, r)| (u, r));
        let rest = rest.replacen(host, &self.addr.to_string(), 1);
        let at = if user.is_empty() { "" } else { "@" };
        format!("{scheme}://{user}{at}{rest}")
    }

    fn set(&self, mode: ProxyMode) {
        self.mode.send_replace(mode);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.set(ProxyMode::Down);
    }

    /// Holds new connections open without forwarding, after closing the current ones.
    pub fn stall(&self) {
        self.set(ProxyMode::Stalled);
    }

    /// Keeps every connection open, current ones included, and forwards
    /// nothing on any of them: neither side is told.
    pub fn silence(&self) {
        self.mode.send_replace(ProxyMode::Silent);
    }

    /// Forwards again (on new connections; silenced ones stay silent).
    pub fn restore(&self) {
        self.mode.send_replace(ProxyMode::Up);
    }
}

/// `host:port` of a `scheme://[user@]host[:port]/...` URL, with the scheme's
/// default port when the URL names none.
pub fn host_port(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    // A port follows the last colon, after any bracketed IPv6 address.
    if host
        .rsplit_once(']')
        .map_or(host, |(_, after)| after)
        .contains(':')
    {
        return host.to_owned();
    }
    let port = match scheme {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        "redis" | "rediss" => 6379,
        other => panic!("no default port known for {other:?} in {url}"),
    };
    format!("{host}:{port}")
}

/// Bad credentials for `key`'s store: a name and the Authorization header
/// values to send (none, one or several). Each must get the uniform 401.
pub fn bad_credentials(key: &str) -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let (prefix, secret) = key.split_once('.').expect("a key has a dot");
    let with = |value: String| vec![value.into_bytes()];
    let replace_secret_char = |at: usize, c: char| {
        let mut s: Vec<char> = secret.chars().collect();
        s[at] = c;
        format!("Api-Key {prefix}.{}", s.into_iter().collect::<String>())
    };
    let mut off_by_one = secret.to_owned().into_bytes();
    off_by_one[31] = if off_by_one[31] == b'a' { b'b' } else { b'a' };
    let off_by_one = String::from_utf8(off_by_one).unwrap();
    let mut other_prefix = prefix.to_owned().into_bytes();
    other_prefix[0] = if other_prefix[0] == b'Z' { b'Y' } else { b'Z' };
    let other_prefix = String::from_utf8(other_prefix).unwrap();

    vec![
        ("no header", vec![]),
        ("empty value", with(String::new())),
        ("scheme only", with("Api-Key".into())),
        ("scheme and space only", with("Api-Key ".into())),
        ("bearer scheme", with(format!("Bearer {key}"))),
        ("basic scheme", with(format!("Basic {key}"))),
        ("scheme without hyphen", with(format!("ApiKey {key}"))),
        ("scheme with underscore", with(format!("Api_Key {key}"))),
        ("missing space", with(format!("Api-Key{key}"))),
        ("tab instead of space", with(format!("Api-Key\t{key}"))),
        ("two spaces", with(format!("Api-Key  {key}"))),
        ("colon after scheme", with(format!("Api-Key: {key}"))),
        ("bare key, no scheme", with(key.to_owned())),
        ("prefix only", with(format!("Api-Key {prefix}"))),
        ("secret only", with(format!("Api-Key {secret}"))),
        (
            "prefix of 7",
            with(format!("Api-Key {}.{secret}", &prefix[..7])),
        ),
        ("prefix of 9", with(format!("Api-Key {prefix}x.{secret}"))),
        (
            "secret of 31",
            with(format!("Api-Key {prefix}.{}", &secret[..31])),
        ),
        ("secret of 33", with(format!("Api-Key {prefix}.{secret}x"))),
        ("no dot", with(format!("Api-Key {prefix}x{secret}"))),
        ("extra dot in secret", with(replace_secret_char(10, '.'))),
        (
            "two dots",
            with(format!("Api-Key {prefix}..{}", &secret[1..])),
        ),
        ("dash in secret", with(replace_secret_char(3, '-'))),
        ("underscore in secret", with(replace_secret_char(3, '_'))),
        ("slash in secret", with(replace_secret_char(3, '/'))),
        ("plus in secret", with(replace_secret_char(3, '+'))),
        ("equals in secret", with(replace_secret_char(31, '='))),
        ("percent in secret", with(replace_secret_char(3, '%'))),
        ("quote in secret", with(replace_secret_char(3, '"'))),
        (
            "dash in prefix",
            with(format!("Api-Key -{}.{secret}", &prefix[1..])),
        ),
        (
            "url-encoded dot",
            with(format!("Api-Key {prefix}%2E{secret}")),
        ),
        ("quoted key", with(format!("Api-Key \"{key}\""))),
        ("auth-param key=", with(format!("Api-Key key={key}"))),
        ("auth-param quoted", with(format!("Api-Key key=\"{key}\""))),
        (
            "realm then key",
            with(format!("Api-Key realm=\"x\", {key}")),
        ),
        (
            "comma-joined credentials",
            with(format!("Api-Key {key}, Api-Key {key}")),
        ),
        (
            "comma-joined with other scheme",
            with(format!("Bearer abc, Api-Key {key}")),
        ),
        (
            "repeated good headers",
            vec![format!("Api-Key {key}").into_bytes(); 2],
        ),
        (
            "good header then bad one",
            vec![
                format!("Api-Key {key}").into_bytes(),
                b"Api-Key nope".to_vec(),
            ],
        ),
        ("non-ascii in secret", {
            let mut v = format!("Api-Key {prefix}.{}", &secret[..30]).into_bytes();
            v.extend_from_slice("é".as_bytes());
            vec![v]
        }),
        ("obs-text byte 0xff", {
            let mut v = format!("Api-Key {key}").into_bytes();
            v[20] = 0xff;
            vec![v]
        }),
        (
            "8 KiB value",
            with(format!("Api-Key {}", "A".repeat(8 * 1024))),
        ),
        (
            "64 KiB value",
            with(format!("Api-Key {key}{}", "A".repeat(64 * 1024))),
        ),
        (
            "257-byte value",
            with(format!("Api-Key {}", "a".repeat(249))),
        ),
        (
            "unknown prefix",
            with(format!("Api-Key {other_prefix}.{secret}")),
        ),
        (
            "secret off by one character",
            with(format!("Api-Key {prefix}.{off_by_one}")),
        ),
        (
            "secret in other case",
            with(format!("Api-Key {prefix}.{}", swap_case(secret))),
        ),
        (
            "prefix in other case",
            with(format!("Api-Key {}.{secret}", swap_case(prefix))),
        ),
    ]
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// Held by the tests of one binary that load the machine or measure time,
/// so that they do not run beside each other: a flood of slow checks next
/// to a test with a deadline made that one miss it on a 2-core machine.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ALONE.lock().await
}

/// Which server protocol a [`deaf_proxy`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushes {
    /// PostgreSQL's (without TLS): notifications are messages of type `A`.
    Postgres,
    /// Redis's RESP: pub/sub messages are arrays starting `message` or `pmessage`.
    Redis,
}

/// A proxy to `target` that forwards every request and its answer, but
/// drops the messages the server pushes to subscribers: a line that
/// answers its heartbeat and delivers nothing, as behind a pooler in
/// transaction mode or on a cluster node cut off from its bus.
pub async fn deaf_proxy(target: &str, pushes: Pushes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let target = target.to_owned();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut client_read, mut client_write) = inbound.into_split();
                let (mut server_read, mut server_write) = outbound.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut pending: Vec<u8> = Vec::new();
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(read @ 1..) = server_read.read(&mut buffer).await {
                    pending.extend_from_slice(&buffer[..read]);
                    let mut passed = Vec::new();
                    let mut at = 0;
                    while let Some(len) = message_len(pushes, &pending[at..]) {
                        let message = &pending[at..at + len];
                        if !is_push(pushes, message) {
                            passed.extend_from_slice(message);
                        }
                        at += len;
                    }
                    pending.drain(..at);
                    if client_write.write_all(&passed).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    addr
}

/// The length of the whole message at the start of `bytes`, if it is all there.
fn message_len(pushes: Pushes, bytes: &[u8]) -> Option<usize> {
    match pushes {
        Pushes::Postgres => {
            let len = u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?) as usize;
            (bytes.len() > len).then_some(len + 1)
        }
        Pushes::Redis => resp_len(bytes),
    }
}

fn is_push(pushes: Pushes, message: &[u8]) -> bool {
    match pushes {
        Pushes::Postgres => message[0] == b'A',
        Pushes::Redis => {
            // `*3\r\n$7\r\nmessage\r\n…` or `*4\r\n$8\r\npmessage\r\n…`
            // (RESP2), `>…` (RESP3): the first element names the kind.
            let Some(line_end) = message.windows(2).position(|w| w == b"\r\n") else {
                return false;
            };
            let rest = &message[line_end + 2..];
            (message[0] == b'*' || message[0] == b'>')
                && (rest.starts_with(b"$7\r\nmessage\r\n")
                    || rest.starts_with(b"$8\r\npmessage\r\n"))
        }
    }
}

/// The length of the RESP value at the start of `bytes`, if it is all there.
fn resp_len(bytes: &[u8]) -> Option<usize> {
    let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&bytes[1..line_end]).ok()?;
    let after_head = line_end + 2;
    match bytes[0] {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(after_head),
        b'$' | b'!' | b'=' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after_head);
            }
            let end = after_head + n as usize + 2;
            (bytes.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            let elements = if matches!(bytes[0], b'%' | b'|') {
                n * 2
            } else {
                n.max(0)
            };
            let mut at = after_head;
            for _ in 0..elements {
                at += resp_len(&bytes[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

/// Everything `tracing` says in a test binary, from one global subscriber.
/// (A subscriber per test, set as its thread's default, missed an event now
/// and then: events on other threads go elsewhere, and another test's
/// subscriber coming and going can leave a callsite's cached interest at
/// "never".) Tests find their own lines by the ids they made.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// The binary's log, capturing from the first call on.
    pub fn captured() -> &'static Log {
        static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
        LOG.get_or_init(|| {
            let log = Log::default();
            let writer = log.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in a test binary");
            log
        })
    }

    /// Every line so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines that hold every one of `parts`.
    pub fn lines_with(&self, parts: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| parts.iter().all(|part| line.contains(part)))
            .map(str::to_owned)
            .collect()
    }

    /// The first line holding every one of `parts`, waiting for it (a
    /// minute at most: events from other tasks come when they come).
    pub async fn wait_for(&self, parts: &[&str]) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = self.lines_with(parts).into_iter().next() {
                return line;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no line with {parts:?} in a minute; the log:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A namespace of a test's own on a shared Redis: `apikey-test-<8 random>`.
pub fn namespace() -> String {
    format!(
        "apikey-test-{}",
        api_key_auth::key::ApiKey::generate().unwrap().prefix()
    )
}

/// A record for `store` as `create` would make it, its key thrown away: for
/// tests that insert records themselves.
pub fn fresh_record(store: &dyn KeyManager, name: &str) -> api_key_auth::KeyRecord {
    let key = api_key_auth::key::ApiKey::generate().unwrap();
    let hash = store.hasher().hash(&key);
    let id = store.new_id(key.prefix(), &hash);
    api_key_auth::KeyRecord::new(id, name, key.prefix(), hash)
}

/// Request headers carrying `key` as `Authorization: Api-Key <key>`.
pub fn key_headers(key: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Api-Key {key}").parse().unwrap(),
    );
    headers
}
