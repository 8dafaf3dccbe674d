//! An in-process key store.
//!
//! ```
//! use api_key_auth::{KeyManager, KeyStore, MemoryStore, NewKey};
//!
//! # tokio_test_block_on(async {
//! let store = MemoryStore::new();
//! let created = store.create(NewKey::named("ci").scopes(["deploy"])).await?;
//! let (record, key) = created.reveal();
//! println!("your key, shown once: {}", key.expose_secret());
//!
//! let found = store.find(record.prefix).await?.expect("just created");
//! assert_eq!(found.name, "ci");
//! assert!(store.revoke(&record.id).await?);
//! assert!(store.find(record.prefix).await?.unwrap().revoked);
//! # Ok::<(), api_key_auth::StoreError>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
};

use async_trait::async_trait;

use crate::{
    hash::Hasher,
    key::Prefix,
    store::{KeyManager, KeyRecord, KeyStore, Lookup, StoreError},
};

/// Keys in a map in this process: for tests, demos and single-instance services
/// whose keys come from configuration.
///
/// Cheap to clone: clones share one map. Safe under concurrent use; no lock is
/// ever held across an `.await`. A key's id is its prefix, which is unique here.
#[derive(Clone, Default)]
pub struct MemoryStore {
    keys: Arc<RwLock<Keys>>,
    hasher: Hasher,
}

/// Records by prefix. Prefixes are drawn at random by the store, never
/// chosen by a client, so a fast seeded hash is safe here: a client's unknown
/// prefix can only probe the slots the store's own keys fill.
type Keys = HashMap<Prefix, Arc<KeyRecord>, foldhash::fast::RandomState>;

impl MemoryStore {
    /// An empty store hashing new keys with SHA-256.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hashes new keys with `hasher`, as the other stores' `with_hasher` does.
    pub fn with_hasher(mut self, hasher: Hasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// A store holding `records` (loaded from configuration, say); a later
    /// record replaces an earlier one with the same prefix.
    pub fn from_records(records: impl IntoIterator<Item = KeyRecord>) -> Self {
        let keys = records
            .into_iter()
            .map(|r| (r.prefix, Arc::new(r)))
            .collect();
        Self {
            keys: Arc::new(RwLock::new(keys)),
            hasher: Hasher::default(),
        }
    }

    /// How many keys the store holds, revoked ones included.
    pub fn len(&self) -> usize {
        self.read(|keys| keys.len())
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read<T>(&self, f: impl FnOnce(&Keys) -> T) -> T {
        // A panic elsewhere while writing cannot leave a half-written entry
        // (inserts are single map operations), so a poisoned map is still sound.
        f(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("keys", &self.len())
            .field("hasher", &self.hasher.algorithm())
            .finish()
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn find(&self, prefix: Prefix) -> Lookup {
        Ok(self.read(|keys| keys.get(&prefix).cloned()))
    }

    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        Some(Ok(self.read(|keys| keys.get(&prefix).cloned())))
    }

    fn hash_algorithm(&self) -> Option<crate::hash::Algorithm> {
        Some(self.hasher.algorithm())
    }
}

#[async_trait]
impl KeyManager for MemoryStore {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if keys.contains_key(&record.prefix) || keys.values().any(|r| r.id == record.id) {
            return Err(StoreError::conflict(format!(
                "prefix {} or id {:?} is already stored",
                record.prefix, record.id
            )));
        }
        keys.insert(record.prefix, Arc::new(record));
        Ok(())
    }

    fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let mut all: Vec<_> = self.read(|keys| keys.values().cloned().collect());
        all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = keys.values_mut().find(|r| r.id == id) else {
            return Ok(false);
        };
        if !entry.revoked {
            let mut revoked = KeyRecord::clone(entry);
            revoked.revoked = true;
            *entry = Arc::new(revoked);
        }
        Ok(true)
    }
}
