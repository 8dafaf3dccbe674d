//! One set of rules for a new key, whichever way it is asked for: the same
//! bad names, scopes, owners and metadata are refused by
//! `KeyManager::create` from Rust, by the admin API and by the `api-key`
//! command, each naming the same field, and none of them makes a key; what
//! one accepts the others accept.

use std::process::Command;

use api_key_auth::{admin::AdminApi, InvalidNewKey, KeyManager, MemoryStore, NewKey};
use axum::body::Body;
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

/// A key as each front end is asked for it.
struct Asked {
    name: String,
    scopes: Vec<String>,
    owner: Option<String>,
    metadata: Option<(String, String)>,
}

impl Asked {
    fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            scopes: Vec::new(),
            owner: None,
            metadata: None,
        }
    }

    fn scope(mut self, scope: &str) -> Self {
        self.scopes.push(scope.to_owned());
        self
    }

    fn owner(mut self, owner: &str) -> Self {
        self.owner = Some(owner.to_owned());
        self
    }

    fn meta(mut self, key: &str, value: &str) -> Self {
        self.metadata = Some((key.to_owned(), value.to_owned()));
        self
    }

    fn new_key(&self) -> NewKey {
        let mut new = NewKey::named(self.name.clone()).scopes(self.scopes.clone());
        if let Some(owner) = &self.owner {
            new = new.owner(owner.clone());
        }
        if let Some((key, value)) = &self.metadata {
            new = new.metadata(key.clone(), value.clone());
        }
        new
    }

    fn json(&self) -> Value {
        let mut body = json!({"name": self.name, "scopes": self.scopes});
        if let Some(owner) = &self.owner {
            body["owner"] = json!(owner);
        }
        if let Some((key, value)) = &self.metadata {
            body["metadata"] = json!({ key: value });
        }
        body
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["create".to_owned(), "--name".to_owned(), self.name.clone()];
        for scope in &self.scopes {
            args.extend(["--scope".to_owned(), scope.clone()]);
        }
        if let Some(owner) = &self.owner {
            args.extend(["--owner".to_owned(), owner.clone()]);
        }
        if let Some((key, value)) = &self.metadata {
            args.extend(["--meta".to_owned(), format!("{key}={value}")]);
        }
        args
    }
}

/// What each front end answered: `Ok` or the field it refused.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    rust: Result<(), String>,
    admin: Result<(), String>,
    command: Result<(), String>,
}

async fn ask_all(asked: &Asked, store_url: &str) -> Answers {
    // From Rust: the refusal is a configuration error whose source is the
    // rule broken, naming the field.
    let store = MemoryStore::new();
    let rust = match store.create(asked.new_key()).await {
        Ok(_) => Ok(()),
        Err(err) => {
            assert!(err.is_config(), "{err}");
            let invalid = std::error::Error::source(&err)
                .and_then(|source| source.downcast_ref::<InvalidNewKey>())
                .unwrap_or_else(|| panic!("no InvalidNewKey behind {err:?}"));
            Err(invalid.field.to_owned())
        }
    };
    if rust.is_err() {
        assert_eq!(store.len(), 0, "a refused key was stored");
    }

    // Through the admin API: a 400 problem naming the field.
    let admin_store = MemoryStore::new();
    let (_, admin_key) = admin_store
        .create(NewKey::named("admin").scopes(["keys:admin"]))
        .await
        .unwrap()
        .reveal();
    let router = AdminApi::new(admin_store.clone()).router().unwrap();
    let request = Request::post("/keys")
        .header(
            header::AUTHORIZATION,
            format!("Api-Key {}", admin_key.expose_secret()),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(asked.json().to_string()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    let admin = match status {
        StatusCode::CREATED => Ok(()),
        StatusCode::BAD_REQUEST => Err(problem["field"].as_str().unwrap_or("?").to_owned()),
        other => panic!("the admin API answered {other}: {problem}"),
    };
    if admin.is_err() {
        assert_eq!(admin_store.len(), 1, "the admin API stored a refused key");
    }

    // With the command: one line, `api-key: --<flag>: …`.
    let output = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .arg("--store")
        .arg(store_url)
        .args(asked.args())
        .env_remove("APIKEY_STORE")
        .env_remove("APIKEY_STORE_SCHEMA")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let command = if output.status.success() {
        Ok(())
    } else {
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let flag = stderr
            .strip_prefix("api-key: --")
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_else(|| panic!("no flag named: {stderr}"));
        Err(match flag {
            "scope" => "scopes",
            "meta" => "metadata",
            other => other,
        }
        .to_owned())
    };
    Answers {
        rust,
        admin,
        command,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_api_the_admin_api_and_the_command_refuse_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store_url = format!("sqlite:{}", dir.path().join("keys.db").display());
    let long = "n".repeat(51);
    let refused = [
        ("name", Asked::named("")),
        ("name", Asked::named("   ")),
        ("name", Asked::named(" padded")),
        ("name", Asked::named(&long)),
        ("name", Asked::named("a\u{1b}[2Jb")),
        ("name", Asked::named("evil\u{202e}gnp.exe")),
        ("name", Asked::named("zero\u{200b}width")),
        ("scopes", Asked::named("x").scope("two words")),
        ("scopes", Asked::named("x").scope("say\"what")),
        ("scopes", Asked::named("x").scope("back\\slash")),
        ("scopes", Asked::named("x").scope("")),
        ("scopes", Asked::named("x").scope("caf\u{e9}")),
        ("owner", Asked::named("x").owner("o\nrevoked")),
        ("owner", Asked::named("x").owner("\u{9b}31m")),
        ("metadata", Asked::named("x").meta("ticket", "v\u{7}")),
        ("metadata", Asked::named("x").meta("t\u{202e}k", "v")),
    ];
    for (field, asked) in &refused {
        let answers = ask_all(asked, &store_url).await;
        let expected = Err(field.to_string());
        assert_eq!(
            answers,
            Answers {
                rust: expected.clone(),
                admin: expected.clone(),
                command: expected,
            },
            "{:?}",
            asked.args()
        );
    }
    // What one accepts, all accept: names in any script, scopes with
    // colons and dots, an owner and metadata of printable text.
    let accepted = [
        Asked::named("café ☕ 日本"),
        Asked::named(&"n".repeat(50)),
        Asked::named("billing")
            .scope("invoices:read")
            .scope("a.b/c")
            .owner("team-α")
            .meta("ticket", "OPS-12 (two words)"),
    ];
    for asked in &accepted {
        let answers = ask_all(asked, &store_url).await;
        assert_eq!(
            answers,
            Answers {
                rust: Ok(()),
                admin: Ok(()),
                command: Ok(()),
            },
            "{:?}",
            asked.args()
        );
    }
}
