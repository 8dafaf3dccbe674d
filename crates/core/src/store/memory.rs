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

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::{
    hash::{Hasher, StoredHash},
    key::Prefix,
    store::{KeyManager, KeyRecord, KeyStore, KeyUse, Lookup, Retirement, StoreError},
};

/// Keys in a map in this process: for tests, demos and single-instance services
/// whose keys come from configuration.
///
/// Cheap to clone: clones share one map. Reads take no lock: records sit in a
/// concurrent map made for reads (papaya), so threads verifying keys at once
/// share no cache line but the records' own. Writes are made one at a time,
/// each whole before the next; a read sees a record before or after a write,
/// never half of one (a rotation writes two records: the new one first). No lock is ever held across an `.await`. A key's id is
/// its prefix, which is unique here.
#[derive(Clone, Default)]
pub struct MemoryStore {
    keys: Arc<Keys>,
    hasher: Hasher,
}

/// Records by prefix, and the ids of records whose id is not their prefix.
struct Keys {
    by_prefix: papaya::HashMap<Prefix, Arc<KeyRecord>, foldhash::fast::RandomState>,
    /// Prefixes by id, for records loaded from elsewhere whose id is not
    /// their prefix (the store's own keys are found by their prefix).
    others: papaya::HashMap<String, Prefix, foldhash::fast::RandomState>,
    /// Taken by every write, so a check and the change it allows are one step.
    writing: Mutex<()>,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            by_prefix: read_mostly(),
            others: read_mostly(),
            writing: Mutex::new(()),
        }
    }
}

/// A map for reads, not writes: a resize finishes before the write that
/// began it does, so no read ever has to look in two tables.
pub(crate) fn read_mostly<K, V>() -> papaya::HashMap<K, V, foldhash::fast::RandomState> {
    papaya::HashMap::builder()
        .hasher(foldhash::fast::RandomState::default())
        .resize_mode(papaya::ResizeMode::Blocking)
        .build()
}

// Prefixes are drawn at random by the store, never chosen by a client, so
// a fast seeded hash is safe here: a client's unknown prefix can only probe
// the slots the store's own keys fill.

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
        let keys = Keys::default();
        {
            let by_prefix = keys.by_prefix.pin();
            let others = keys.others.pin();
            for record in records {
                if let Some(earlier) = by_prefix.get(&record.prefix) {
                    others.remove(&earlier.id);
                }
                if record.id != record.prefix.as_str() {
                    others.insert(record.id.clone(), record.prefix);
                }
                by_prefix.insert(record.prefix, Arc::new(record));
            }
        }
        Self {
            keys: Arc::new(keys),
            hasher: Hasher::default(),
        }
    }

    /// How many keys the store holds, revoked ones included.
    pub fn len(&self) -> usize {
        self.keys.by_prefix.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, prefix: &Prefix) -> Option<Arc<KeyRecord>> {
        self.keys.by_prefix.pin().get(prefix).cloned()
    }

    /// Runs `f` as the only writer. A panic elsewhere while writing cannot
    /// leave a half-written entry (each change is one map operation), so a
    /// poisoned lock is still sound.
    fn write<T>(&self, f: impl FnOnce(&Keys) -> T) -> T {
        let _writing = self
            .keys
            .writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&self.keys)
    }
}

impl Keys {
    /// The prefix of the key with id `id`: its own when the id is one (the
    /// store's own keys), else from the index of other ids.
    fn prefix_of(&self, id: &str) -> Option<Prefix> {
        let own = Prefix::parse(id)
            .ok()
            .filter(|prefix| self.by_prefix.pin().get(prefix).is_some_and(|r| r.id == id));
        own.or_else(|| self.others.pin().get(id).copied())
    }

    fn is_taken(&self, record: &KeyRecord) -> bool {
        self.by_prefix.pin().contains_key(&record.prefix) || self.prefix_of(&record.id).is_some()
    }

    /// Stores `record`, its prefix and id known to be free.
    fn put(&self, record: KeyRecord) {
        if record.id != record.prefix.as_str() {
            self.others.pin().insert(record.id.clone(), record.prefix);
        }
        self.by_prefix.pin().insert(record.prefix, Arc::new(record));
    }

    /// Replaces the record at `prefix` with what `change` makes of it, if
    /// there is one and `change` makes something.
    fn change<T>(
        &self,
        prefix: Prefix,
        change: impl FnOnce(&KeyRecord) -> Result<Option<KeyRecord>, T>,
    ) -> Result<Option<Arc<KeyRecord>>, T> {
        let by_prefix = self.by_prefix.pin();
        let Some(current) = by_prefix.get(&prefix) else {
            return Ok(None);
        };
        match change(current)? {
            Some(changed) => {
                let changed = Arc::new(changed);
                by_prefix.insert(prefix, changed.clone());
                Ok(Some(changed))
            }
            None => Ok(Some(current.clone())),
        }
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
        Ok(self.get(&prefix))
    }

    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        Some(Ok(self.get(&prefix)))
    }

    fn hash_algorithm(&self) -> Option<crate::hash::Algorithm> {
        Some(self.hasher.algorithm())
    }

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        let mut upgraded = false;
        self.write(|keys| {
            keys.change(record.prefix, |entry| {
                if entry.id != record.id || entry.hash != record.hash {
                    return Ok::<_, ()>(None);
                }
                upgraded = true;
                Ok(Some(KeyRecord {
                    hash: new,
                    ..entry.clone()
                }))
            })
        })
        .ok();
        Ok(upgraded)
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<super::CreditSpend, StoreError> {
        self.spend(record, cost, std::time::SystemTime::now())
    }

    fn spend_credits_now(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Option<Result<super::CreditSpend, StoreError>> {
        Some(self.spend(record, cost, std::time::SystemTime::now()))
    }

    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<super::CreditLease, StoreError> {
        use super::{CreditLease, CreditSpend};
        let now = std::time::SystemTime::now();
        Ok(match self.take(record, up_to, true, now)? {
            (_, Some((count, lapses))) => CreditLease::Taken { count, lapses },
            (CreditSpend::Exhausted { next_refill }, None) => {
                CreditLease::Exhausted { next_refill }
            }
            (CreditSpend::Spent { .. }, None) => CreditLease::Exhausted { next_refill: None },
        })
    }
}

impl MemoryStore {
    /// Spends `cost` of the credits of `record`'s key at `now`.
    fn spend(
        &self,
        record: &KeyRecord,
        cost: u64,
        now: std::time::SystemTime,
    ) -> Result<super::CreditSpend, StoreError> {
        self.take(record, cost, false, now).map(|(spend, _)| spend)
    }

    /// Takes `cost` of the credits of `record`'s key at `now` (with
    /// `up_to`, as many as are left up to `cost`, and says how many), as
    /// the only writer, so that no two takers see the same count.
    fn take(
        &self,
        record: &KeyRecord,
        cost: u64,
        up_to: bool,
        now: std::time::SystemTime,
    ) -> Result<(super::CreditSpend, Option<TakenCredits>), StoreError> {
        use super::CreditSpend;
        self.write(|keys| {
            let mut outcome = Err(StoreError::not_found(format!(
                "no key has the id {:?}",
                record.id
            )));
            keys.change(record.prefix, |entry| {
                if entry.id != record.id {
                    return Ok::<_, ()>(None);
                }
                let Some(credits) = entry.credits else {
                    outcome = Err(StoreError::invalid_record(format!(
                        "key {:?} keeps no credits any more",
                        record.id
                    )));
                    return Ok(None);
                };
                let taken = if up_to {
                    credits.taken(cost, now)
                } else {
                    credits.spent(cost, now).map(|left| (left, cost))
                };
                match taken {
                    Some((left, count)) => {
                        outcome = Ok((
                            CreditSpend::Spent {
                                remaining: Some(left.remaining()),
                            },
                            Some((count, left.next_refill(now))),
                        ));
                        Ok(Some(KeyRecord {
                            credits: Some(left),
                            ..entry.clone()
                        }))
                    }
                    None => {
                        let next_refill = credits.next_refill(now);
                        outcome = Ok((CreditSpend::Exhausted { next_refill }, None));
                        Ok(None)
                    }
                }
            })
            .ok();
            outcome
        })
    }
}

#[async_trait]
impl KeyManager for MemoryStore {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.write(|keys| {
            if keys.is_taken(&record) {
                return Err(StoreError::conflict(format!(
                    "prefix {} or id {:?} is already stored",
                    record.prefix, record.id
                )));
            }
            keys.put(record);
            Ok(())
        })
    }

    async fn insert_many(&self, records: Vec<KeyRecord>) -> Result<(), StoreError> {
        crate::store::check_batch(records.len())?;
        self.write(|keys| {
            let mut prefixes = std::collections::HashSet::with_capacity(records.len());
            let mut ids = std::collections::HashSet::with_capacity(records.len());
            for record in &records {
                if keys.is_taken(record)
                    || !prefixes.insert(record.prefix)
                    || !ids.insert(record.id.as_str())
                {
                    return Err(StoreError::conflict(format!(
                        "prefix {} or id {:?} is already stored or twice in the batch",
                        record.prefix, record.id
                    )));
                }
            }
            for record in records {
                keys.put(record);
            }
            Ok(())
        })
    }

    fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let mut all: Vec<_> = self.keys.by_prefix.pin().values().cloned().collect();
        all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        Ok(self
            .keys
            .prefix_of(id)
            .and_then(|prefix| self.get(&prefix))
            .filter(|record| record.id == id))
    }

    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.write(|keys| {
            let Some(prefix) = keys.prefix_of(id) else {
                return Ok(false);
            };
            let found = keys.change(prefix, |entry| {
                Ok::<_, StoreError>((!entry.revoked).then(|| KeyRecord {
                    revoked: true,
                    ..entry.clone()
                }))
            })?;
            Ok(found.is_some())
        })
    }

    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        self.write(|keys| {
            let Some(prefix) = keys.prefix_of(id) else {
                return Ok(false);
            };
            let found = keys.change(prefix, |entry| {
                Ok::<_, StoreError>((entry.suspended != suspended).then(|| KeyRecord {
                    suspended,
                    ..entry.clone()
                }))
            })?;
            Ok(found.is_some())
        })
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        self.write(|keys| {
            let not_found = || StoreError::not_found(format!("no key has the id {old_id:?}"));
            let old = keys
                .prefix_of(old_id)
                .and_then(|prefix| self.get(&prefix))
                .ok_or_else(not_found)?;
            if !old.is_active_at(std::time::SystemTime::now()) || old.replaced_by.is_some() {
                return Err(StoreError::inactive(format!(
                    "key {old_id:?} is revoked, expired or already replaced"
                )));
            }
            if old.suspended != new.suspended {
                // Suspended or resumed since the rotation read it: a
                // rotation never lifts a suspension made while it ran.
                return Err(StoreError::inactive(format!(
                    "key {old_id:?} was suspended or resumed while it was being rotated: rotate it again"
                )));
            }
            if old.allowed_from != new.allowed_from {
                // Changed since the rotation read it: the successor is
                // never less confined than the key it replaces.
                return Err(StoreError::inactive(format!(
                    "key {old_id:?}'s address allowlist changed while it was being rotated: rotate it again"
                )));
            }
            if keys.is_taken(&new) {
                return Err(StoreError::conflict(format!(
                    "prefix {} or id {:?} is already stored",
                    new.prefix, new.id
                )));
            }
            // Every check passed: the new key first, then the old one
            // retired, so no reader ever finds the rotation with neither
            // key working. (The new key's secret reaches its holder only
            // once this returns.)
            let retired = Arc::new(old.retired(retirement, &new.id));
            keys.put(new);
            keys.by_prefix.pin().insert(old.prefix, retired.clone());
            Ok(retired)
        })
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        self.write(|keys| {
            for used in uses {
                keys.change(used.prefix, |entry| {
                    let later = entry.id == used.id && entry.last_used.is_none_or(|l| l < used.at);
                    Ok::<_, ()>(later.then(|| KeyRecord {
                        last_used: Some(used.at),
                        ..entry.clone()
                    }))
                })
                .ok();
            }
        });
        Ok(())
    }
}

/// How many credits a take took, and when their period ends.
type TakenCredits = (u64, Option<std::time::SystemTime>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{key::ApiKey, store::NewKey};

    fn loaded(id: &str) -> (KeyRecord, ApiKey) {
        let key = ApiKey::generate().unwrap();
        let record = KeyRecord::new(id, "loaded", key.prefix(), Hasher::default().hash(&key));
        (record, key)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A Rust caller is held to the rules the admin API and the command keep,
    /// one key or a batch: a `NewKey` whose name holds a bidi override, or is
    /// longer than a name may be, is refused, not stored.
    ///
    /// A rotation of a key stored before the rules still works.
    #[test]
    fn keys_that_do_not_validate_are_refused_by_every_way_in() {
        let store = MemoryStore::new();
        for bad in [
            NewKey::named("evil\u{202e}gnp"),
            NewKey::named("n".repeat(51)),
            NewKey::named("x").scopes(["two words"]),
            NewKey::named("x").owner("a\u{1b}[2J"),
        ] {
            let refused = block_on(store.create(bad.clone())).unwrap_err();
            assert!(refused.is_config(), "{refused:?}");
            let refused = block_on(store.create_many(vec![NewKey::named("ok"), bad])).unwrap_err();
            assert!(refused.is_config(), "{refused:?}");
        }
        assert_eq!(store.len(), 0);
        let (mut old, _) = loaded("from before");
        old.name = "made \u{202e} before the rules".to_owned();
        block_on(store.insert(old.clone())).unwrap();
        let rotated = block_on(store.rotate(&old.id, std::time::Duration::from_secs(60))).unwrap();
        assert_eq!(rotated.new.record().name, old.name);
    }

    /// Records loaded from elsewhere keep ids that are not their prefix:
    /// they are found, revoked and rotated by those ids, and an id one of
    /// them holds is taken, as is a prefix.
    #[test]
    fn keys_loaded_with_ids_of_their_own_are_found_by_them() {
        block_on(async {
            let (a, _) = loaded("7f3c0e2a-0001");
            let (b, _) = loaded("7f3c0e2a-0002");
            let (a_prefix, b_prefix) = (a.prefix, b.prefix);
            let store = MemoryStore::from_records([a.clone(), b]);
            assert_eq!(store.len(), 2);
            let found = store.find_by_id("7f3c0e2a-0001").await.unwrap().unwrap();
            assert_eq!(found.prefix, a_prefix);
            assert!(store.find_by_id("7f3c0e2a-0003").await.unwrap().is_none());
            assert!(store.find_by_id(a_prefix.as_str()).await.unwrap().is_none());

            let (mut same_id, _) = loaded("7f3c0e2a-0002");
            let err = store.insert(same_id.clone()).await.unwrap_err();
            assert!(err.is_conflict(), "{err}");
            same_id.prefix = a_prefix;
            same_id.id = "another".to_owned();
            assert!(store.insert(same_id).await.unwrap_err().is_conflict());

            assert!(store.revoke("7f3c0e2a-0002").await.unwrap());
            assert!(store.find(b_prefix).await.unwrap().unwrap().revoked);
            assert!(!store.find(a_prefix).await.unwrap().unwrap().revoked);
            assert!(!store.revoke("7f3c0e2a-0003").await.unwrap());

            let rotated = store
                .rotate("7f3c0e2a-0001", std::time::Duration::ZERO)
                .await
                .unwrap();
            assert!(rotated.retired.revoked);
            let (new, _) = rotated.new.reveal();
            assert_eq!(new.replaces.as_deref(), Some("7f3c0e2a-0001"));
            assert!(store.find(a_prefix).await.unwrap().unwrap().revoked);
            assert_eq!(
                store.find_by_id(&new.id).await.unwrap().unwrap().prefix,
                new.prefix
            );
            assert_eq!(store.len(), 3);
        });
    }

    /// A later record with an earlier one's prefix replaces it, and the
    /// earlier one's id no longer names anything.
    #[test]
    fn a_later_record_replaces_an_earlier_one_with_its_prefix() {
        block_on(async {
            let (first, _) = loaded("first");
            let mut second = first.clone();
            second.id = "second".to_owned();
            let store = MemoryStore::from_records([first, second]);
            assert_eq!(store.len(), 1);
            assert!(store.find_by_id("first").await.unwrap().is_none());
            assert!(store.find_by_id("second").await.unwrap().is_some());
        });
    }
}
