//! A store of your own: keys kept in a JSON file that the service reads at
//! start, behind the same layer. `GET /health` open, `GET /whoami` guarded.
//!
//! ```text
//! cargo run --example custom_store                      # writes a demo keys file and prints its key
//! KEYS_FILE=keys.json cargo run --example custom_store  # serves the keys in keys.json
//! ```
//!
//! The file holds what a store keeps, never a key itself:
//!
//! ```json
//! [{"name": "billing", "prefix": "n58lzybi", "hashed_key": "sha256$$09fe…", "scopes": ["read"], "revoked": false}]
//! ```

use std::{collections::HashMap, path::Path, sync::Arc};

use api_key_auth::{
    hash::{Hasher, StoredHash},
    key::Prefix,
    throttle::Throttle,
    ApiKeyLayer, Authenticator, CreatedKey, Identity, KeyRecord, KeyStore, Lookup, NewKey,
};
use axum::{routing::get, Router};
use serde::{Deserialize, Serialize};

/// One key as the file keeps it.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyEntry {
    pub name: String,
    pub prefix: String,
    pub hashed_key: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub revoked: bool,
}

/// Keys read once from a JSON file: a read-only `KeyStore` in a few lines.
pub struct JsonFileStore {
    keys: HashMap<Prefix, Arc<KeyRecord>>,
}

impl JsonFileStore {
    /// Reads and checks every entry; a bad one is an error naming it, not a panic.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let entries: Vec<KeyEntry> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut keys = HashMap::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let prefix =
                Prefix::parse(&entry.prefix).map_err(|e| format!("entry {i}: prefix: {e}"))?;
            let hash = StoredHash::parse(&entry.hashed_key)
                .map_err(|e| format!("entry {i}: hashed_key: {e}"))?;
            let mut record = KeyRecord::new(entry.prefix.clone(), entry.name, prefix, hash);
            record.scopes = entry.scopes;
            record.revoked = entry.revoked;
            keys.insert(prefix, Arc::new(record));
        }
        Ok(Self { keys })
    }
}

#[async_trait::async_trait]
impl KeyStore for JsonFileStore {
    async fn find(&self, prefix: Prefix) -> Lookup {
        Ok(self.keys.get(&prefix).cloned())
    }

    // Everything is in memory: answer at once, and the layer skips the boxed future.
    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        Some(Ok(self.keys.get(&prefix).cloned()))
    }
}

/// The example's routes.
pub fn app(store: JsonFileStore) -> Router {
    async fn whoami(identity: Identity) -> String {
        format!("hello, {} ({})", identity.name(), identity.prefix())
    }
    let guarded = Router::new()
        .route("/whoami", get(whoami))
        .route_layer(ApiKeyLayer::from(
            Authenticator::builder(store)
                .throttle(Throttle::default())
                .build()
                .expect("the defaults are valid"),
        ));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(guarded)
}

/// Draws a key and the file entry that stores its hash; the key is shown once.
pub fn demo_entry(name: &str) -> Result<(KeyEntry, CreatedKey), api_key_auth::StoreError> {
    let (record, key) = NewKey::named(name)
        .scopes(["read"])
        .mint(&Hasher::default(), |p, _| p.to_string())?;
    let entry = KeyEntry {
        name: record.name.clone(),
        prefix: record.prefix.to_string(),
        hashed_key: record.hash.to_string(),
        scopes: record.scopes.clone(),
        revoked: false,
    };
    Ok((entry, CreatedKey::new(Arc::new(record), key)))
}

#[allow(dead_code)] // the tests reuse the store without running `main`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {text:?}"))?,
        Err(_) => 3000,
    };
    let path = match std::env::var("KEYS_FILE") {
        Ok(path) => std::path::PathBuf::from(path),
        Err(_) => {
            let path = std::env::temp_dir().join("api-key-auth-demo-keys.json");
            let (entry, created) = demo_entry("demo")?;
            std::fs::write(&path, serde_json::to_string_pretty(&[entry])?)?;
            let (_, key) = created.reveal();
            println!("wrote {} with one key, shown once:", path.display());
            println!();
            println!("    {}", key.expose_secret());
            println!();
            path
        }
    };
    let store = JsonFileStore::load(&path)?;
    println!(
        "serving {} key(s) from {}",
        store.keys.len(),
        path.display()
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://127.0.0.1:{port}; try: curl -i -H 'Authorization: Api-Key <key>' http://127.0.0.1:{port}/whoami");
    axum::serve(
        listener,
        app(store).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await?;
    Ok(())
}
