//! The `api-key` binary cargo built for these tests, run as a user runs it:
//! a command that must succeed, a key it creates, and the gate as a
//! process.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Runs `api-key --store STORE ARGS…`, which must succeed; its output.
pub fn api_key(store: &str, args: &[&str]) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("APIKEY_STORE")
        .output()
        .expect("the api-key binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(status.success(), "api-key {args:?}: {}", text(&stderr));
    text(&stdout)
}

/// A key `api-key create --json ARGS…` makes: its id and the key itself.
pub fn created(store: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["create", "--json"];
    all.extend_from_slice(args);
    let json: serde_json::Value = serde_json::from_str(&api_key(store, &all)).unwrap();
    (
        json["id"].as_str().unwrap().to_owned(),
        json["key"].as_str().unwrap().to_owned(),
    )
}

/// `api-key gate` running on a free port, stopped when dropped.
pub struct GateProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The line saying so, which also says the rules it read.
    pub listening: String,
    stderr: mpsc::Receiver<String>,
}

impl GateProcess {
    /// `api-key --store STORE gate --listen 127.0.0.1:0 ARGS…`, once it
    /// listens.
    pub fn start(store: &str, args: &[&std::ffi::OsStr]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_api-key"))
            .args(["--store", store, "gate", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("APIKEY_STORE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the api-key binary runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let listening = lines
            .next()
            .expect("the gate says where it listens")
            .unwrap();
        let addr = listening
            .strip_prefix("gate listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {listening:?}"))
            .parse()
            .unwrap();
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
            listening,
            stderr,
        }
    }

    /// The process id, for signals.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line holding `text`, at most a minute.
    pub fn said(&self, text: &str) -> String {
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
