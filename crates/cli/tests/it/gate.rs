//! `api-key gate` as a process on a SQLite store, asked as a gateway asks:
//! its routes from a rules file, the identity of a key that passes, a key
//! the command revokes refused within a second, and a rules file changed
//! while it runs (a bad one said on stderr, the rules in force kept).

use crate::common;

use crate::binary::{api_key, created, GateProcess};

use std::{
    process::Command,
    time::{Duration, Instant},
};

/// The gate's answer for the client's `method` `path`, as Traefik asks.
async fn status(
    gate: &GateProcess,
    method: &str,
    path: &str,
    key: Option<&str>,
) -> common::RawResponse {
    let authorization = key.map(|key| format!("Api-Key {key}"));
    let mut headers = vec![("X-Forwarded-Method", method), ("X-Forwarded-Uri", path)];
    if let Some(authorization) = &authorization {
        headers.push(("Authorization", authorization));
    }
    common::http_get(gate.addr, "/auth", &headers).await
}

const RULES: &str = r#"
[[route]]
path = "/health"
open = true

[[route]]
path = "/orders/*"
all_of = ["orders"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_answers_gateways_and_follows_the_command_and_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let rules = dir.path().join("gate.toml");
    std::fs::write(&rules, RULES).unwrap();
    let (id, key) = created(&store, &["--name", "shop", "--scope", "orders"]);
    let gate = GateProcess::start(
        &store,
        &[
            "--trusted-proxy".as_ref(),
            "127.0.0.1".as_ref(),
            "--rules".as_ref(),
            rules.as_ref(),
        ],
    );
    let said = format!("(2 routes from {})", rules.display());
    assert!(gate.listening.ends_with(&said), "{}", gate.listening);

    assert_eq!(status(&gate, "GET", "/health", None).await.status, 200);
    let passed = status(&gate, "POST", "/orders/7", Some(&key)).await;
    assert_eq!(passed.status, 200);
    assert_eq!(passed.header("x-api-key-name"), Some("shop"));
    assert_eq!(passed.header("x-api-key-id"), Some(id.as_str()));
    assert_eq!(status(&gate, "GET", "/orders/7", None).await.status, 401);
    assert_eq!(status(&gate, "GET", "/admin", Some(&key)).await.status, 403);

    // A key revoked by the command is refused within a second.
    api_key(&store, &["revoke", &id, "--yes"]);
    let revoked = Instant::now();
    loop {
        match status(&gate, "GET", "/orders/7", Some(&key)).await.status {
            401 => break,
            200 if revoked.elapsed() < Duration::from_secs(1) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            other => panic!("{other} {:?} after the revocation", revoked.elapsed()),
        }
    }

    // A bad file is said on one line, and the rules in force stay.
    std::fs::write(&rules, "[[route]]\npath = \"/admin\"\nopne = true\n").unwrap();
    let said = gate.said("the rules in force stay");
    assert!(said.contains("line 3"), "{said}");
    assert_eq!(status(&gate, "GET", "/health", None).await.status, 200);

    // A good one is in force once the gate says so.
    std::fs::write(&rules, "[[route]]\npath = \"/admin\"\nopen = true\n").unwrap();
    gate.said("1 route from");
    assert_eq!(status(&gate, "GET", "/admin", None).await.status, 200);
    assert_eq!(status(&gate, "GET", "/health", None).await.status, 401);

    // SIGHUP re-reads the file though it did not change.
    #[cfg(unix)]
    {
        let hup = Command::new("kill")
            .args(["-HUP", &gate.id().to_string()])
            .status()
            .unwrap();
        assert!(hup.success());
        gate.said("1 route from");
    }
}

/// `gate --help` works an example for each gateway, and its rules file is
/// one the gate reads.
#[test]
fn the_help_shows_each_gateway_and_rules_that_read() {
    let output = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["gate", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for gateway in [
        "# nginx auth_request",
        "# ingress-nginx",
        "# Traefik ForwardAuth",
        "# Caddy forward_auth",
        "# Envoy ext_authz",
    ] {
        assert!(help.contains(gateway), "{gateway}: {help}");
    }
    let rules: String = help
        .lines()
        .skip_while(|line| !line.starts_with("gate.toml"))
        .skip_while(|line| !line.is_empty() && !line.starts_with("  "))
        .take_while(|line| line.starts_with("  "))
        .map(|line| format!("{}\n", &line[2..]))
        .collect();
    assert!(rules.contains("[[route]]"), "{help}");
    let auth = api_key_auth::Authenticator::new(api_key_auth::MemoryStore::new());
    let read = api_key_auth::gate::Rules::from_toml(&rules, &auth)
        .unwrap_or_else(|err| panic!("{err}: {rules}"));
    assert_eq!(read.len(), 3);
}

/// `--owner-rate` and `--owner-rate-for`: an owner's keys share one budget
/// through the gate, an owner named has its own, and a bad limit is one
/// clear line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_holds_an_owner_s_keys_to_one_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let (_, a) = created(&store, &["--name", "a", "--owner", "acme"]);
    let (_, b) = created(&store, &["--name", "b", "--owner", "acme"]);
    let (_, big) = created(&store, &["--name", "big", "--owner", "initech"]);
    let gate = GateProcess::start(
        &store,
        &[
            "--trusted-proxy".as_ref(),
            "127.0.0.1".as_ref(),
            "--owner-rate".as_ref(),
            "2/h".as_ref(),
            "--owner-rate-for".as_ref(),
            "initech=4/h".as_ref(),
        ],
    );
    for key in [&a, &b] {
        assert_eq!(status(&gate, "GET", "/x", Some(key)).await.status, 200);
    }
    let over = status(&gate, "GET", "/x", Some(&a)).await;
    assert_eq!(over.status, 429, "{over:?}");
    assert_eq!(
        over.header("ratelimit-policy"),
        Some("\"owner\";q=2;w=3600")
    );
    for _ in 0..4 {
        assert_eq!(status(&gate, "GET", "/x", Some(&big)).await.status, 200);
    }
    assert_eq!(status(&gate, "GET", "/x", Some(&big)).await.status, 429);
    drop(gate);

    let output = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", &store, "gate", "--owner-rate-for", "acme"])
        .env_remove("APIKEY_STORE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("OWNER=LIMIT"), "{stderr}");
}

/// `--credit-lease`: the gate spends a key's usage credits from blocks it
/// takes, a route's `cost` from the rules file; exactly the key's credits
/// are admitted, then 403, and the store counts them all taken. A block
/// of none is one clear line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_leases_credits_and_charges_each_route_its_cost() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let rules = dir.path().join("gate.toml");
    std::fs::write(
        &rules,
        "default = \"key\"\n[[route]]\npath = \"/reports\"\ncost = 3\n",
    )
    .unwrap();
    let (id, key) = created(&store, &["--name", "metered", "--credits", "10"]);
    let gate = GateProcess::start(
        &store,
        &[
            "--trusted-proxy".as_ref(),
            "127.0.0.1".as_ref(),
            "--rules".as_ref(),
            rules.as_ref(),
            "--credit-lease".as_ref(),
            "4".as_ref(),
        ],
    );
    for _ in 0..3 {
        assert_eq!(
            status(&gate, "GET", "/reports", Some(&key)).await.status,
            200
        );
    }
    // 9 spent: the 1 left pays for a route of 1, not one of 3.
    assert_eq!(
        status(&gate, "GET", "/reports", Some(&key)).await.status,
        403
    );
    assert_eq!(
        status(&gate, "GET", "/orders", Some(&key)).await.status,
        200
    );
    let gone = status(&gate, "GET", "/orders", Some(&key)).await;
    assert_eq!(gone.status, 403, "{gone:?}");
    drop(gate);
    let shown = api_key(&store, &["show", &id]);
    assert!(shown.contains("credits   0 left"), "{shown}");

    let output = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", &store, "gate", "--credit-lease", "0"])
        .env_remove("APIKEY_STORE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--credit-lease 0"), "{stderr}");
}
