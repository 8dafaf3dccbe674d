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
    hash::{Hasher, StoredHash},
    key::Prefix,
    store::{KeyManager, KeyRecord, KeyStore, KeyUse, Lookup, Retirement, StoreError},
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

    fn write<T>(&self, f: impl FnOnce(&mut Keys) -> T) -> T {
        f(&mut self.keys.write().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The entry of the key with id `id`: found by prefix when the id is one
/// (the store's own keys), else by a scan (records loaded from elsewhere).
fn by_id<'a>(keys: &'a mut Keys, id: &str) -> Option<&'a mut Arc<KeyRecord>> {
    let prefix = Prefix::parse(id)
        .ok()
        .filter(|prefix| keys.get(prefix).is_some_and(|r| r.id == id));
    match prefix {
        Some(prefix) => keys.get_mut(&prefix),
        None => keys.values_mut().find(|r| r.id == id),
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

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        Ok(self.write(|keys| {
            let Some(entry) = keys.get_mut(&record.prefix) else {
                return false;
            };
            if entry.id != record.id || entry.hash != record.hash {
                return false;
            }
            let mut upgraded = KeyRecord::clone(entry);
            upgraded.hash = new;
            *entry = Arc::new(upgraded);
            true
        }))
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
        self.write(|keys| {
            let Some(entry) = by_id(keys, id) else {
                return Ok(false);
            };
            if !entry.revoked {
                let mut revoked = KeyRecord::clone(entry);
                revoked.revoked = true;
                *entry = Arc::new(revoked);
            }
            Ok(true)
        })
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        self.write(|keys| {
            let taken = keys.contains_key(&new.prefix) || keys.values().any(|r| r.id == new.id);
            let Some(old) = by_id(keys, old_id) else {
                return Err(StoreError::not_found(format!(
                    "no key has the id {old_id:?}"
                )));
            };
            if !old.is_active_at(std::time::SystemTime::now()) || old.replaced_by.is_some() {
                return Err(StoreError::inactive(format!(
                    "key {old_id:?} is revoked, expired or already replaced"
                )));
            }
            if taken {
                return Err(StoreError::conflict(format!(
                    "prefix {} or id {:?} is already stored",
                    new.prefix, new.id
                )));
            }
            let retired = Arc::new(old.retired(retirement, &new.id));
            *old = retired.clone();
            keys.insert(new.prefix, Arc::new(new));
            Ok(retired)
        })
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        self.write(|keys| {
            for used in uses {
                let Some(entry) = keys.get_mut(&used.prefix) else {
                    continue;
                };
                if entry.id == used.id && entry.last_used.is_none_or(|last| last < used.at) {
                    let mut updated = KeyRecord::clone(entry);
                    updated.last_used = Some(used.at);
                    *entry = Arc::new(updated);
                }
            }
        });
        Ok(())
    }
}
