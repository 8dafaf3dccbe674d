//! `api-key gate` as a process on a SQLite store, asked as a gateway asks:
//! its routes from a rules file, the identity of a key that passes, a key
//! the command revokes refused within a second, and a rules file changed
//! while it runs (a bad one said on stderr, the rules in force kept).

use crate::common;

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// A running gate, stopped when dropped; its stderr lines, as they come.
struct GateProcess {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl GateProcess {
    fn start(store: &str, rules: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_api-key"))
            .args(["--store", store, "gate", "--listen", "127.0.0.1:0"])
            .args(["--trusted-proxy", "127.0.0.1", "--rules"])
            .arg(rules)
            .env_remove("APIKEY_STORE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the api-key binary runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines
            .next()
            .expect("the gate says where it listens")
            .unwrap();
        let addr = line
            .strip_prefix("gate listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        let said = format!("(2 routes from {})", rules.display());
        assert!(line.ends_with(&said), "{line}");
        std::thread::spawn(move || lines.for_each(drop));
        let (sender, stderr) = mpsc::channel();
        let err = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Self {
            child,
            addr,
            stderr,
        }
    }

    /// The gate's status for the client's `method` `path`, as Traefik asks.
    async fn status(&self, method: &str, path: &str, key: Option<&str>) -> common::RawResponse {
        let authorization = key.map(|key| format!("Api-Key {key}"));
        let mut headers = vec![("X-Forwarded-Method", method), ("X-Forwarded-Uri", path)];
        if let Some(authorization) = &authorization {
            headers.push(("Authorization", authorization));
        }
        common::http_get(self.addr, "/auth", &headers).await
    }

    /// Waits for a stderr line holding `text`, at most a minute.
    fn said(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("the gate never said {text:?}"),
            }
        }
    }
}

impl Drop for GateProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        "api-key {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
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
    let created: serde_json::Value = serde_json::from_str(&api_key(
        &store,
        &["create", "--name", "shop", "--scope", "orders", "--json"],
    ))
    .unwrap();
    let (id, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let gate = GateProcess::start(&store, &rules);

    assert_eq!(gate.status("GET", "/health", None).await.status, 200);
    let passed = gate.status("POST", "/orders/7", Some(&key)).await;
    assert_eq!(passed.status, 200);
    assert_eq!(passed.header("x-api-key-name"), Some("shop"));
    assert_eq!(passed.header("x-api-key-id"), Some(id.as_str()));
    assert_eq!(gate.status("GET", "/orders/7", None).await.status, 401);
    assert_eq!(gate.status("GET", "/admin", Some(&key)).await.status, 403);

    // A key revoked by the command is refused within a second.
    api_key(&store, &["revoke", &id, "--yes"]);
    let revoked = Instant::now();
    loop {
        match gate.status("GET", "/orders/7", Some(&key)).await.status {
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
    assert_eq!(gate.status("GET", "/health", None).await.status, 200);

    // A good one is in force once the gate says so.
    std::fs::write(&rules, "[[route]]\npath = \"/admin\"\nopen = true\n").unwrap();
    gate.said("1 route from");
    assert_eq!(gate.status("GET", "/admin", None).await.status, 200);
    assert_eq!(gate.status("GET", "/health", None).await.status, 401);

    // SIGHUP re-reads the file though it did not change.
    #[cfg(unix)]
    {
        let hup = Command::new("kill")
            .args(["-HUP", &gate.child.id().to_string()])
            .status()
            .unwrap();
        assert!(hup.success());
        gate.said("1 route from");
    }
}
