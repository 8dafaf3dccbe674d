//! The gate behind real gateways, with the configurations the README
//! shows: nginx (`APIKEY_TEST_NGINX`, or `nginx` on the path), also as
//! ingress-nginx renders its annotations, Caddy (`APIKEY_TEST_CADDY`, or
//! `caddy`) and Traefik (`APIKEY_TEST_TRAEFIK`, or `traefik`); Envoy's
//! HTTP `ext_authz` asked as the README's Envoy configuration asks, and its
//! gRPC `ext_authz` asked from Python (`APIKEY_TEST_GRPC_PYTHON`). One not
//! installed is said on one line and skipped; one named by its variable
//! that does not run fails.

use crate::{
    binary::{api_key, created, GateProcess},
    common,
};

use std::{
    ffi::OsStr,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{extract::Request, routing::any, Router};

/// A gateway's binary: from its variable (which must then work), else on
/// the path, else `None` after a line saying the test is skipped.
fn gateway_binary(var: &str, name: &str, test: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        common::skip_line(&format!(
            "skipping {test}: no {name} (install it, or set {var} to its path)"
        ));
    }
    found
}

/// The backend behind the gateway: answers every request 200 with the
/// headers it received, one `name: value` a line, and counts them.
struct Backend {
    addr: SocketAddr,
    seen: Arc<AtomicUsize>,
    last: Arc<Mutex<String>>,
}

async fn backend() -> Backend {
    let seen = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(Mutex::new(String::new()));
    let (count, keep) = (seen.clone(), last.clone());
    let router = Router::new().fallback(any(move |request: Request| {
        let (count, keep) = (count.clone(), keep.clone());
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            let headers: String = request
                .headers()
                .iter()
                .map(|(name, value)| {
                    format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes()))
                })
                .collect();
            *keep.lock().unwrap() = headers.clone();
            headers
        }
    }));
    let addr = common::serve(router).await;
    Backend { addr, seen, last }
}

/// A free port on 127.0.0.1 (bound, then let go for the gateway to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The README's code block after `marker`.
fn readme_block(marker: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let after = &readme[readme.find(marker).expect("the README's marker")..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

const RULES: &str = r#"
default = "key"

[[route]]
path = "/health"
open = true

[[route]]
path = "/orders/*"
all_of = ["orders"]
"#;

/// What every gateway's test starts from: a SQLite store with the keys, and
/// the gate on it with [`RULES`], trusting the gateways on 127.0.0.1 and
/// given `args` besides.
struct Setup {
    dir: tempfile::TempDir,
    store: String,
    keys: Keys,
    gate: GateProcess,
}

impl Setup {
    fn new(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("keys.db").display());
        let rules = dir.path().join("gate.toml");
        std::fs::write(&rules, RULES).unwrap();
        let keys = keys(&store);
        let mut all: Vec<&OsStr> = vec!["--trusted-proxy".as_ref(), "127.0.0.1".as_ref()];
        all.extend(["--rules".as_ref(), rules.as_os_str()]);
        all.extend(args.iter().map(OsStr::new));
        let gate = GateProcess::start(&store, &all);
        Self {
            dir,
            store,
            keys,
            gate,
        }
    }
}

/// nginx from `conf`'s `http` block body (its `server`s), with its temporary
/// files and logs in `dir`; once it listens on `port`.
async fn start_nginx(nginx: &Path, dir: &Path, port: u16, servers: &str) -> Running {
    let root = dir.display();
    let conf = format!(
        "worker_processes 1;\nerror_log {root}/error.log;\npid {root}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {root}/body;\n proxy_temp_path {root}/proxy;\n\
         fastcgi_temp_path {root}/fastcgi;\n uwsgi_temp_path {root}/uwsgi;\n scgi_temp_path {root}/scgi;\n\
         {servers}\n}}\n"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let running = Running(
        Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", nginx.display())),
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    listening(addr, &dir.join("error.log")).await;
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_nginx() {
    let Some(nginx) = gateway_binary("APIKEY_TEST_NGINX", "nginx", "gateways::through_nginx")
    else {
        return;
    };
    let setup = Setup::new(&["--for", "nginx"]);
    let backend = backend().await;
    let port = free_port();
    let locations = readme_block("<!-- nginx-gate -->")
        .replace("127.0.0.1:9000", &setup.gate.addr.to_string())
        .replace("127.0.0.1:8080", &backend.addr.to_string());
    let servers = format!("server {{\n listen 127.0.0.1:{port};\n{locations}\n}}");
    let _nginx = start_nginx(&nginx, setup.dir.path(), port, &servers).await;
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    guarded_through(addr, &backend, &setup).await;
}

/// The README's Ingress annotations, `name: value` (a `|` block's lines
/// joined), in the order written.
fn ingress_annotations() -> Vec<(String, String)> {
    let block = readme_block("<!-- ingress-nginx-gate -->");
    let mut annotations: Vec<(String, String)> = Vec::new();
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line
            .trim()
            .strip_prefix("nginx.ingress.kubernetes.io/")
            .and_then(|rest| rest.split_once(": "))
        else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let value = if value == "|" {
            let mut text = String::new();
            while let Some(next) = lines.next_if(|next| {
                next.len() - next.trim_start().len() > indent || next.trim().is_empty()
            }) {
                text.push_str(next.trim());
                text.push('\n');
            }
            text
        } else {
            value.trim_matches('"').to_owned()
        };
        annotations.push((name.to_owned(), value));
    }
    annotations
}

/// The README's ingress-nginx annotations, rendered into the locations
/// ingress-nginx's template makes of them (its external-auth location and
/// the guarded one, with what they set) and run in a real nginx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_ingress_nginx_annotations() {
    let Some(nginx) = gateway_binary(
        "APIKEY_TEST_NGINX",
        "nginx",
        "gateways::through_ingress_nginx_annotations",
    ) else {
        return;
    };
    let setup = Setup::new(&["--for", "nginx"]);
    let backend = backend().await;
    let annotations = ingress_annotations();
    let annotation = |name: &str| {
        annotations
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let auth_url = annotation("auth-url").replace("127.0.0.1:9000", &setup.gate.addr.to_string());
    assert!(auth_url.starts_with("http://"), "{auth_url}");
    let auth_host = auth_url["http://".len()..]
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // ingress-nginx's buildAuthResponseHeaders: one variable a header.
    let response_headers: String = annotation("auth-response-headers")
        .split(',')
        .enumerate()
        .map(|(n, name)| {
            let name = name.trim();
            let variable = name.to_ascii_lowercase().replace('-', "_");
            format!(
                "  auth_request_set $authHeader{n} $upstream_http_{variable};\n  proxy_set_header '{name}' $authHeader{n};\n"
            )
        })
        .collect();
    let port = free_port();
    let server_snippet = annotation("server-snippet");
    let configuration_snippet = annotation("configuration-snippet");
    let backend_addr = backend.addr;
    let servers = format!(
        "server {{\n listen 127.0.0.1:{port};\n{server_snippet}\n\
         location = /_external-auth-Lw-Prefix {{\n  internal;\n\
           proxy_pass_request_body off;\n  proxy_set_header Content-Length \"\";\n\
           proxy_set_header Host {auth_host};\n\
           proxy_set_header X-Original-URL $scheme://$http_host$request_uri;\n\
           proxy_set_header X-Original-Method $request_method;\n\
           proxy_set_header X-Sent-From \"nginx-ingress-controller\";\n\
           proxy_set_header X-Real-IP $remote_addr;\n\
           proxy_set_header X-Forwarded-For $remote_addr;\n\
           proxy_set_header X-Auth-Request-Redirect $request_uri;\n\
           proxy_http_version 1.1;\n  proxy_pass_request_headers on;\n\
           set $target {auth_url};\n  proxy_pass $target;\n }}\n\
         location / {{\n  auth_request /_external-auth-Lw-Prefix;\n\
           auth_request_set $auth_cookie $upstream_http_set_cookie;\n\
           add_header Set-Cookie $auth_cookie;\n{response_headers}\
           proxy_set_header X-Real-IP $remote_addr;\n\
           proxy_set_header X-Forwarded-For $remote_addr;\n\
           proxy_set_header X-Forwarded-Proto $scheme;\n\
           {configuration_snippet}\n  proxy_pass http://{backend_addr};\n }}\n}}"
    );
    let _nginx = start_nginx(&nginx, setup.dir.path(), port, &servers).await;
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    guarded_through(addr, &backend, &setup).await;
}

/// Waits until `addr` takes connections, at most 30 s (then fails with
/// what `log` says).
async fn listening(addr: SocketAddr, log: &Path) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the gateway never listened on {addr}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The keys each gateway is tried with.
struct Keys {
    shop_id: String,
    shop: String,
    reader: String,
    metered: String,
    expiring: String,
    /// When `expiring` has certainly expired: its second, and one more for
    /// a store that keeps whole seconds.
    expired_by: Instant,
}

fn keys(store: &str) -> Keys {
    let (shop_id, shop) = created(store, &["--name", "shop", "--scope", "orders"]);
    let (_, reader) = created(store, &["--name", "reader"]);
    let (_, metered) = created(store, &["--name", "metered", "--rate", "1/h"]);
    let asked = Instant::now();
    let (_, expiring) = created(store, &["--name", "brief", "--expires-in", "1s"]);
    Keys {
        shop_id,
        shop,
        reader,
        metered,
        expiring,
        expired_by: asked + Duration::from_secs(2),
    }
}

/// `GET path` through `gateway` with `key`, and `headers` besides.
async fn get(
    gateway: SocketAddr,
    path: &str,
    key: Option<&str>,
    headers: &[(&str, &str)],
) -> common::RawResponse {
    let authorization = key.map(|key| format!("Api-Key {key}"));
    let mut all = headers.to_vec();
    all.extend(
        authorization
            .iter()
            .map(|value| ("Authorization", value.as_str())),
    );
    common::http_get(gateway, path, &all).await
}

/// What every gateway in front of the gate must do, asked through `gateway`.
async fn guarded_through(gateway: SocketAddr, backend: &Backend, setup: &Setup) {
    let Keys {
        shop_id,
        shop,
        reader,
        metered,
        expiring,
        expired_by,
    } = &setup.keys;

    // A valid key reaches the backend with its identity and without its key.
    let passed = get(gateway, "/orders/7", Some(shop), &[]).await;
    assert_eq!(passed.status, 200, "{passed:?}");
    let seen = backend.last.lock().unwrap().clone();
    assert!(seen.contains("x-api-key-name: shop\n"), "{seen}");
    assert!(
        seen.contains(&format!("x-api-key-id: {shop_id}\n")),
        "{seen}"
    );
    assert!(
        !seen.to_ascii_lowercase().contains("authorization"),
        "{seen}"
    );
    assert_eq!(get(gateway, "/health", None, &[]).await.status, 200);
    let reached = backend.seen.load(Ordering::SeqCst);

    // Refusals never reach the backend.
    let missing = get(gateway, "/orders/7", None, &[]).await;
    assert_eq!(missing.status, 401);
    assert!(missing.header("www-authenticate").is_some(), "{missing:?}");
    let wrong = format!("{}.{}", &shop[..8], "x".repeat(32));
    assert_eq!(
        get(gateway, "/orders/7", Some(&wrong), &[]).await.status,
        401
    );
    assert_eq!(
        get(gateway, "/orders/7", Some(reader), &[]).await.status,
        403
    );
    tokio::time::sleep_until((*expired_by).into()).await;
    assert_eq!(
        get(gateway, "/other", Some(expiring), &[]).await.status,
        401
    );
    assert_eq!(get(gateway, "/other", Some(metered), &[]).await.status, 200);
    let over = get(gateway, "/other", Some(metered), &[]).await;
    assert_eq!(over.status, 429, "{over:?}");
    assert!(over.header("retry-after").is_some(), "{over:?}");
    assert_eq!(
        backend.seen.load(Ordering::SeqCst),
        reached + 1,
        "only the metered key's first request"
    );

    // A key revoked with the command is refused within a second.
    api_key(&setup.store, &["revoke", shop_id, "--yes"]);
    let revoked = Instant::now();
    loop {
        match get(gateway, "/orders/7", Some(shop), &[]).await.status {
            401 => break,
            200 if revoked.elapsed() < Duration::from_secs(1) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            other => panic!("{other} {:?} after the revocation", revoked.elapsed()),
        }
    }

    // The gateway writes the address it saw into X-Forwarded-For: a client
    // forging another with each guess spends its own budget of failures
    // (10 a minute, a few already spent above), and is then refused even
    // with a valid key and yet another forged address.
    let mut guesses = 0;
    loop {
        guesses += 1;
        let forged = format!("203.0.113.{guesses}");
        let answer = get(
            gateway,
            "/other",
            Some(&wrong),
            &[("X-Forwarded-For", &forged)],
        )
        .await;
        match answer.status {
            429 => break,
            401 if guesses <= 10 => {}
            other => panic!("guess {guesses} from {forged}: {other} {answer:?}"),
        }
    }
    let valid = get(
        gateway,
        "/other",
        Some(reader),
        &[("X-Forwarded-For", "198.51.100.200")],
    )
    .await;
    assert_eq!(valid.status, 429, "{valid:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_caddy() {
    let Some(caddy) = gateway_binary("APIKEY_TEST_CADDY", "caddy", "gateways::through_caddy")
    else {
        return;
    };
    let setup = Setup::new(&[]);
    let (dir, gate_addr) = (setup.dir.path(), setup.gate.addr);
    let backend = backend().await;

    let port = free_port();
    let site = readme_block("<!-- caddy-gate -->")
        .replace("http://:8000", &format!("http://:{port}"))
        .replace("127.0.0.1:9000", &gate_addr.to_string())
        .replace("127.0.0.1:8080", &backend.addr.to_string());
    // No admin endpoint (tests run side by side), no certificates.
    let conf = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
    let conf_path = dir.join("Caddyfile");
    std::fs::write(&conf_path, conf).unwrap();
    let log = dir.join("caddy.log");
    let _caddy = Running(
        Command::new(&caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&conf_path)
            .env("XDG_DATA_HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .env("HOME", dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", caddy.display())),
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    listening(addr, &log).await;
    guarded_through(addr, &backend, &setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_traefik() {
    let Some(traefik) = gateway_binary(
        "APIKEY_TEST_TRAEFIK",
        "traefik",
        "gateways::through_traefik",
    ) else {
        return;
    };
    let setup = Setup::new(&[]);
    let (dir, gate_addr) = (setup.dir.path(), setup.gate.addr);
    let backend = backend().await;

    let port = free_port();
    let dynamic = readme_block("<!-- traefik-gate -->")
        .replace("127.0.0.1:9000", &gate_addr.to_string())
        .replace("127.0.0.1:8080", &backend.addr.to_string());
    let dynamic_path = dir.join("dynamic.yml");
    std::fs::write(&dynamic_path, dynamic).unwrap();
    let log = dir.join("traefik.log");
    let _traefik = Running(
        Command::new(&traefik)
            .arg(format!("--entryPoints.web.address=127.0.0.1:{port}"))
            .arg(format!(
                "--providers.file.filename={}",
                dynamic_path.display()
            ))
            .args(["--log.level=ERROR", "--global.checkNewVersion=false"])
            .arg("--global.sendAnonymousUsage=false")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", traefik.display())),
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    listening(addr, &log).await;
    // The file provider's routes come a moment after the port: ready once
    // the open route answers through them.
    let started = Instant::now();
    while common::http_get(addr, "/health", &[]).await.status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Traefik never routed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    guarded_through(addr, &backend, &setup).await;
}

/// The `- exact:` header names under `list` in the README's Envoy
/// configuration.
fn envoy_allowed(envoy: &str, list: &str) -> Vec<String> {
    let at = envoy.find(&format!("{list}:")).expect(list);
    let line_start = envoy[..at].rfind('\n').map_or(0, |newline| newline + 1);
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut lines = envoy[line_start..].lines();
    let first = indent(lines.next().unwrap());
    lines
        .take_while(|line| indent(line) > first)
        .filter_map(|line| line.trim().strip_prefix("- exact: "))
        .map(str::to_owned)
        .collect()
}

/// Envoy's HTTP `ext_authz` as the README configures it: Envoy asks with
/// the client's own method and path under `path_prefix` (the gate's
/// `--strip-prefix`), and copies only the headers the configuration names,
/// upstream on a pass and to the client on a refusal. Envoy is not packaged
/// for these machines, so the test asks as that configuration makes it ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_http_ext_authz_as_configured() {
    let envoy = readme_block("<!-- envoy-gate -->");
    let prefix = envoy
        .lines()
        .find_map(|line| line.trim().strip_prefix("path_prefix: "))
        .expect("a path_prefix")
        .trim()
        .to_owned();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    assert!(
        readme.contains(&format!("gate --strip-prefix {prefix} ")),
        "the README runs the gate with the configuration's prefix"
    );
    let upstream = envoy_allowed(&envoy, "allowed_upstream_headers");
    let client = envoy_allowed(&envoy, "allowed_client_headers");
    assert!(!upstream.is_empty() && !client.is_empty());
    // Envoy appends the client's own address to X-Forwarded-For and sends
    // the gate that header, so a key's address allowlist is checked
    // against the client, not against Envoy.
    assert_eq!(
        envoy_allowed(&envoy, "allowed_headers"),
        ["x-forwarded-for"]
    );
    assert!(envoy.contains("use_remote_address: true"));

    let setup = Setup::new(&["--strip-prefix", &prefix]);
    let Keys {
        shop,
        reader,
        metered,
        ..
    } = &setup.keys;
    let gate = setup.gate.addr;
    let ask = |path: &str, key: Option<&str>| {
        let (path, key) = (format!("{prefix}{path}"), key.map(str::to_owned));
        async move { get(gate, &path, key.as_deref(), &[]).await }
    };

    assert_eq!(ask("/health", None).await.status, 200);
    let passed = ask("/orders/7", Some(shop)).await;
    assert_eq!(passed.status, 200, "{passed:?}");
    for name in &upstream {
        assert!(
            passed.header(name).is_some(),
            "{name} on a pass: {passed:?}"
        );
    }
    assert_eq!(passed.header("x-api-key-name"), Some("shop"));

    // As Envoy asks for a client at 198.51.100.9 that sent its own
    // X-Forwarded-For: the right-most address is the one Envoy appended.
    let (_, confined) = created(
        &setup.store,
        &[
            "--name",
            "office",
            "--scope",
            "orders",
            "--allow-from",
            "198.51.100.0/24",
        ],
    );
    for (forwarded, status) in [
        ("10.1.1.1, 198.51.100.9", 200),
        ("198.51.100.9, 203.0.113.5", 403),
    ] {
        let path = format!("{prefix}/orders/7");
        let answer = get(
            gate,
            &path,
            Some(&confined),
            &[("x-forwarded-for", forwarded)],
        )
        .await;
        assert_eq!(answer.status, status, "{forwarded}: {answer:?}");
    }
    let path = format!("{prefix}/orders/7");
    let unnamed = get(gate, &path, Some(&confined), &[]).await;
    assert_eq!(
        unnamed.status, 503,
        "without the header Envoy's address is no client's"
    );

    let refusals = [
        (ask("/orders/7", None).await, 401),
        (ask("/orders/7", Some(reader)).await, 403),
        (ask("/other", Some(metered)).await, 200),
        (ask("/other", Some(metered)).await, 429),
    ];
    for (answer, status) in &refusals {
        assert_eq!(answer.status, *status, "{answer:?}");
    }
    // What a client needs of each refusal is among what Envoy passes on.
    let needed = [
        (&refusals[0].0, "www-authenticate"),
        (&refusals[3].0, "retry-after"),
        (&refusals[3].0, "ratelimit"),
    ];
    for (answer, name) in needed {
        assert!(answer.header(name).is_some(), "{name}: {answer:?}");
        assert!(
            client.iter().any(|allowed| allowed == name),
            "{name} not allowed to the client"
        );
    }
}

/// The `proto/` directory of the envoy-types crate cargo downloaded.
fn envoy_protos() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry/src"))
        .unwrap()
        .flatten()
        .flat_map(|index| {
            std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("envoy-types-"))
        })
        .map(|path| path.join("proto"))
        .filter(|path| path.is_dir())
        .collect();
    found.sort();
    found
        .pop()
        .expect("envoy-types' protos, downloaded by cargo")
}

/// Envoy's gRPC `ext_authz` on the gate's port, asked by grpcio from
/// Python with stubs generated from Envoy's own `external_auth.proto`
/// (`APIKEY_TEST_GRPC_PYTHON`: a Python with grpcio-tools).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_grpc_ext_authz_from_python() {
    let Some(python) = std::env::var_os("APIKEY_TEST_GRPC_PYTHON").filter(|p| !p.is_empty()) else {
        common::skip_line(
            "skipping gateways::envoy_grpc_ext_authz_from_python: set APIKEY_TEST_GRPC_PYTHON to a python with grpcio-tools",
        );
        return;
    };
    let setup = Setup::new(&[]);
    let (dir, keys, gate_addr) = (setup.dir.path(), &setup.keys, setup.gate.addr);
    let case = |path: &str, key: Option<&str>| {
        let mut headers = serde_json::Map::new();
        headers.insert(":path".into(), path.into());
        if let Some(key) = key {
            headers.insert("authorization".into(), format!("Api-Key {key}").into());
        }
        serde_json::json!({
            "method": "GET", "path": path, "host": "api.example.com",
            "headers": headers, "source": "198.51.100.7",
        })
    };
    let cases = serde_json::json!([
        case("/orders/7", Some(&keys.shop)),
        case("/orders/7", None),
        case("/orders/7", Some(&keys.reader)),
        case("/health", None),
    ]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/ext_authz/check.py"
    );
    let output = Command::new(&python)
        .arg(script)
        .arg(envoy_protos())
        .arg(dir.join("stubs"))
        .arg(gate_addr.to_string())
        .arg(cases.to_string())
        .output()
        .unwrap_or_else(|e| panic!("APIKEY_TEST_GRPC_PYTHON={python:?} does not run: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let [passed, missing, unscoped, open] = results.as_array().unwrap().as_slice() else {
        panic!("{results}")
    };
    assert_eq!(passed["code"], 0, "{passed}");
    assert_eq!(passed["headers"]["x-api-key-name"], "shop", "{passed}");
    assert_eq!(
        passed["headers"]["x-api-key-id"],
        keys.shop_id.as_str(),
        "{passed}"
    );
    assert_eq!(
        passed["removed"],
        serde_json::json!(["authorization"]),
        "{passed}"
    );
    assert_eq!(
        (missing["code"].as_i64(), missing["status"].as_i64()),
        (Some(16), Some(401)),
        "{missing}"
    );
    assert_eq!(
        missing["headers"]["www-authenticate"], r#"Api-Key realm="api""#,
        "{missing}"
    );
    assert_eq!(
        (unscoped["code"].as_i64(), unscoped["status"].as_i64()),
        (Some(7), Some(403)),
        "{unscoped}"
    );
    assert_eq!(open["code"], 0, "{open}");
}
