//! The gate behind real gateways, with the configurations the README
//! shows: nginx (`APIKEY_TEST_NGINX`, or `nginx` on the path), Caddy
//! (`APIKEY_TEST_CADDY`, or `caddy`) and Traefik (`APIKEY_TEST_TRAEFIK`, or
//! `traefik`); and Envoy's gRPC `ext_authz` asked from Python
//! (`APIKEY_TEST_GRPC_PYTHON`). One not installed is said on one line and
//! skipped; one named by its variable that does not run fails.

use crate::common;

use std::{
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

/// The gate as a process; where it listens.
fn start_gate(store: &str, rules: &Path, mode: &str) -> (Running, SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args([
            "--store",
            store,
            "gate",
            "--listen",
            "127.0.0.1:0",
            "--for",
            mode,
        ])
        .args(["--trusted-proxy", "127.0.0.1", "--rules"])
        .arg(rules)
        .env_remove("APIKEY_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let addr = line
        .strip_prefix("gate listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    (Running(child), addr)
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

fn api_key(store: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", store])
        .args(args)
        .env_remove("APIKEY_STORE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn created(store: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["create", "--json"];
    all.extend_from_slice(args);
    let json: serde_json::Value = serde_json::from_str(&api_key(store, &all)).unwrap();
    (
        json["id"].as_str().unwrap().to_owned(),
        json["key"].as_str().unwrap().to_owned(),
    )
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

/// What every gateway's test starts from: a SQLite store with the keys, the
/// gate on it with [`RULES`] (refusals told as `mode` says), and a backend.
struct Setup {
    dir: tempfile::TempDir,
    store: String,
    keys: Keys,
    _gate: Running,
    gate_addr: SocketAddr,
    backend: Backend,
}

impl Setup {
    async fn new(mode: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("keys.db").display());
        let rules = dir.path().join("gate.toml");
        std::fs::write(&rules, RULES).unwrap();
        let keys = keys(&store);
        let (_gate, gate_addr) = start_gate(&store, &rules, mode);
        let backend = backend().await;
        Self {
            dir,
            store,
            keys,
            _gate,
            gate_addr,
            backend,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_nginx() {
    let Some(nginx) = gateway_binary("APIKEY_TEST_NGINX", "nginx", "gateways::through_nginx")
    else {
        return;
    };
    let Setup {
        dir,
        store,
        keys,
        _gate,
        gate_addr,
        backend,
    } = Setup::new("nginx").await;

    let port = free_port();
    let locations = readme_block("<!-- nginx-gate -->")
        .replace("127.0.0.1:9000", &gate_addr.to_string())
        .replace("127.0.0.1:8080", &backend.addr.to_string());
    let root = dir.path().display();
    let conf = format!(
        "worker_processes 1;\nerror_log {root}/error.log;\npid {root}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {root}/body;\n proxy_temp_path {root}/proxy;\n\
         fastcgi_temp_path {root}/fastcgi;\n uwsgi_temp_path {root}/uwsgi;\n scgi_temp_path {root}/scgi;\n\
         server {{\n listen 127.0.0.1:{port};\n{locations}\n}}\n}}\n"
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let _nginx = Running(
        Command::new(&nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", nginx.display())),
    );
    let nginx_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    listening(nginx_addr, &dir.path().join("error.log")).await;
    guarded_through(nginx_addr, &backend, &store, &keys).await;
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
}

fn keys(store: &str) -> Keys {
    let (shop_id, shop) = created(store, &["--name", "shop", "--scope", "orders"]);
    let (_, reader) = created(store, &["--name", "reader"]);
    let (_, metered) = created(store, &["--name", "metered", "--rate", "1/h"]);
    Keys {
        shop_id,
        shop,
        reader,
        metered,
    }
}

/// What every gateway in front of the gate must do, asked through `gateway`.
async fn guarded_through(gateway: SocketAddr, backend: &Backend, store: &str, keys: &Keys) {
    let Keys {
        shop_id,
        shop,
        reader,
        metered,
    } = keys;
    let (shop_id, shop, reader, metered) = (
        shop_id.clone(),
        shop.clone(),
        reader.clone(),
        metered.clone(),
    );
    let get = |path: &'static str, key: Option<String>| async move {
        let authorization = key.map(|key| format!("Api-Key {key}"));
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|value| ("Authorization", value.as_str()))
            .collect();
        common::http_get(gateway, path, &headers).await
    };

    // A valid key reaches the backend with its identity and without its key.
    let passed = get("/orders/7", Some(shop.clone())).await;
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
    assert_eq!(get("/health", None).await.status, 200);
    let reached = backend.seen.load(Ordering::SeqCst);

    // Refusals never reach the backend.
    let missing = get("/orders/7", None).await;
    assert_eq!(missing.status, 401);
    assert!(missing.header("www-authenticate").is_some(), "{missing:?}");
    let wrong = format!("{}.{}", &shop[..8], "x".repeat(32));
    assert_eq!(get("/orders/7", Some(wrong)).await.status, 401);
    assert_eq!(get("/orders/7", Some(reader.clone())).await.status, 403);
    assert_eq!(get("/other", Some(metered.clone())).await.status, 200);
    let over = get("/other", Some(metered)).await;
    assert_eq!(over.status, 429, "{over:?}");
    assert!(over.header("retry-after").is_some(), "{over:?}");
    assert_eq!(
        backend.seen.load(Ordering::SeqCst),
        reached + 1,
        "only the metered key's first request"
    );

    // A key revoked with the command is refused within a second.
    api_key(store, &["revoke", &shop_id, "--yes"]);
    let revoked = Instant::now();
    loop {
        match get("/orders/7", Some(shop.clone())).await.status {
            401 => break,
            200 if revoked.elapsed() < Duration::from_secs(1) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            other => panic!("{other} {:?} after the revocation", revoked.elapsed()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_caddy() {
    let Some(caddy) = gateway_binary("APIKEY_TEST_CADDY", "caddy", "gateways::through_caddy")
    else {
        return;
    };
    let Setup {
        dir,
        store,
        keys,
        _gate,
        gate_addr,
        backend,
    } = Setup::new("standard").await;

    let port = free_port();
    let site = readme_block("<!-- caddy-gate -->")
        .replace("http://:8000", &format!("http://:{port}"))
        .replace("127.0.0.1:9000", &gate_addr.to_string())
        .replace("127.0.0.1:8080", &backend.addr.to_string());
    // No admin endpoint (tests run side by side), no certificates.
    let conf = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
    let conf_path = dir.path().join("Caddyfile");
    std::fs::write(&conf_path, conf).unwrap();
    let log = dir.path().join("caddy.log");
    let _caddy = Running(
        Command::new(&caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&conf_path)
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .env("HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", caddy.display())),
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    listening(addr, &log).await;
    guarded_through(addr, &backend, &store, &keys).await;
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
    let Setup {
        dir,
        store,
        keys,
        _gate,
        gate_addr,
        backend,
    } = Setup::new("standard").await;

    let port = free_port();
    let dynamic = readme_block("<!-- traefik-gate -->")
        .replace("127.0.0.1:9000", &gate_addr.to_string())
        .replace("127.0.0.1:8080", &backend.addr.to_string());
    let dynamic_path = dir.path().join("dynamic.yml");
    std::fs::write(&dynamic_path, dynamic).unwrap();
    let log = dir.path().join("traefik.log");
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
    guarded_through(addr, &backend, &store, &keys).await;
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
    let Setup {
        dir,
        keys,
        _gate,
        gate_addr,
        ..
    } = Setup::new("standard").await;
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
        .arg(dir.path().join("stubs"))
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
