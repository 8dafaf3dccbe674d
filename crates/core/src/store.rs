//! The key store contract: [`KeyStore`] finds a key's record by its prefix,
//! [`KeyManager`] creates, lists and revokes keys.
//!
//! Implement [`KeyStore`] against your own database; the layer needs nothing more.
//!
//! ```
//! use std::sync::Arc;
//! use api_key_auth::{KeyRecord, KeyStore, StoreError};
//! use api_key_auth::key::Prefix;
//!
//! /// Keys kept in a user's own table; here, a vector.
//! struct MyStore {
//!     rows: Vec<Arc<KeyRecord>>,
//! }
//!
//! #[async_trait::async_trait]
//! impl KeyStore for MyStore {
//!     async fn find(&self, prefix: Prefix) -> Result<Option<Arc<KeyRecord>>, StoreError> {
//!         Ok(self.rows.iter().find(|r| r.prefix == prefix).cloned())
//!     }
//! }
//! ```

use std::{
    collections::BTreeMap,
    error::Error as StdError,
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::{
    hash::{Algorithm, Hasher, StoredHash},
    key::{ApiKey, KeyGenError, Prefix},
    limit::RateLimit,
};

#[cfg(feature = "cache")]
mod invalidation;
pub mod memory;
#[cfg(feature = "_stored")]
#[doc(hidden)]
pub mod row;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use invalidation::{Invalidation, InvalidationSource};
#[cfg(all(feature = "cache", feature = "_stored"))]
#[doc(hidden)]
pub use invalidation::{Line, Listener};

/// What a store keeps about one key: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyRecord {
    /// The store's identifier for the key.
    pub id: String,
    /// A human name given at creation ("billing-service", "ci").
    pub name: String,
    /// The key's public prefix.
    pub prefix: Prefix,
    /// The hash the presented key is checked against.
    pub hash: StoredHash,
    /// When the key was created.
    pub created: SystemTime,
    /// When the key stops working, if ever.
    pub expires: Option<SystemTime>,
    /// Whether the key has been revoked.
    pub revoked: bool,
    /// What the key may do; see [`scope`](crate::scope).
    pub scopes: Vec<String>,
    /// Who the key belongs to, if the store records it.
    pub owner: Option<String>,
    /// Free-form data kept with the key.
    pub metadata: BTreeMap<String, String>,
    /// The id of the key this one replaced, when it was made by
    /// [`KeyManager::rotate`]. A djangorestframework-api-key table has no
    /// column for it: there it is always `None`.
    pub replaces: Option<String>,
    /// The id of the key that replaced this one: set by a rotation, whose
    /// grace period this key is in until it expires. `None` on a
    /// djangorestframework-api-key table, as `replaces`.
    pub replaced_by: Option<String>,
    /// The id of the key a chain of rotations began with, on every key a
    /// rotation made (the first key's id, however many rotations followed):
    /// the chain spends one rate-limit budget. `None` for a key no rotation
    /// made, and on a djangorestframework-api-key table.
    pub lineage: Option<String>,
    /// When the key was last used, as far as the store has been told (see
    /// [`LastUseTracker`](crate::last_use::LastUseTracker)): writes are
    /// batched, so this may lag real use by the tracker's interval.
    pub last_used: Option<SystemTime>,
    /// How fast the key may be used; `None`: as fast as the service allows.
    /// A djangorestframework-api-key table has no column for it.
    pub rate_limit: Option<RateLimit>,
}

impl KeyRecord {
    /// A record created now, never expiring, not revoked, with no scopes, owner, metadata or rate limit.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        prefix: Prefix,
        hash: StoredHash,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            prefix,
            hash,
            created: SystemTime::now(),
            expires: None,
            revoked: false,
            scopes: Vec::new(),
            owner: None,
            metadata: BTreeMap::new(),
            replaces: None,
            replaced_by: None,
            lineage: None,
            last_used: None,
            rate_limit: None,
        }
    }

    /// Whether the key has expired at `now`. A key expires at its expiry instant.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// Whether the key works at `now`: neither revoked nor expired.
    pub fn is_active_at(&self, now: SystemTime) -> bool {
        !self.revoked && !self.is_expired_at(now)
    }

    /// When a key in a rotation's grace period stops working: its expiry,
    /// once another key has replaced it; `None` for any other key.
    pub fn sunset(&self) -> Option<SystemTime> {
        if self.revoked {
            return None;
        }
        self.replaced_by.as_ref().and(self.expires)
    }

    /// The record as a rotation leaves it: retired as `retirement` says and
    /// naming `replaced_by` as its successor.
    pub fn retired(&self, retirement: Retirement, replaced_by: &str) -> Self {
        let mut retired = self.clone();
        match retirement {
            Retirement::Revoke => retired.revoked = true,
            Retirement::ExpireAt(at) => {
                retired.expires = Some(self.expires.map_or(at, |expires| expires.min(at)));
            }
        }
        retired.replaced_by = Some(replaced_by.to_owned());
        retired
    }
}

/// How [`KeyManager::rotate`] retires the key it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retirement {
    /// Revoked at once: a rotation with no grace period.
    Revoke,
    /// Kept working until this instant (or its own expiry, if sooner), then
    /// expired: the grace period in which clients move to the new key.
    ExpireAt(SystemTime),
}

impl Retirement {
    /// The retirement a rotation at `now` with `grace` means: revoked at
    /// once for a zero grace, else expiring at `now + grace` (at
    /// [`latest_expiry`] at the latest).
    pub fn after(grace: Duration, now: SystemTime) -> Self {
        if grace.is_zero() {
            return Self::Revoke;
        }
        let at = now
            .checked_add(grace)
            .map_or_else(latest_expiry, |at| at.min(latest_expiry()));
        Self::ExpireAt(at)
    }
}

/// What a rotation made: the new key, shown once, and the old key's record
/// as the rotation left it (revoked, or expiring at the end of its grace).
#[derive(Debug)]
#[non_exhaustive]
pub struct Rotated {
    /// The new key, with the same name, scopes, owner and metadata.
    pub new: CreatedKey,
    /// The key it replaces, retired.
    pub retired: Arc<KeyRecord>,
}

/// One key's use, as the [`LastUseTracker`](crate::last_use::LastUseTracker)
/// hands it to [`KeyManager::record_last_use`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyUse {
    /// The key's id.
    pub id: String,
    /// The key's prefix (the Redis store finds records by it).
    pub prefix: Prefix,
    /// When it was used, to the millisecond.
    pub at: SystemTime,
}

impl KeyUse {
    /// The key `record` was used at `at`.
    pub fn new(record: &KeyRecord, at: SystemTime) -> Self {
        Self {
            id: record.id.clone(),
            prefix: record.prefix,
            at,
        }
    }
}

/// The message on a revocation channel that stands for every key (a table
/// emptied at once): no prefix, which is 8 letters and digits.
#[doc(hidden)]
pub const EVERY_KEY: &str = "*";

/// The outcome of a lookup: the record, `None` for an unknown prefix, or a store failure.
pub type Lookup = Result<Option<Arc<KeyRecord>>, StoreError>;

/// Finds key records by prefix. This is all the layer needs of a store.
///
/// Implementations must be cheap to share between requests (the layer holds
/// one behind an `Arc`) and must not hold a lock across an `.await`.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The record whose prefix is `prefix`, or `None` if there is none.
    ///
    /// Revoked and expired records are returned as they are: the
    /// authenticator checks the hash first and then refuses them.
    async fn find(&self, prefix: Prefix) -> Lookup;

    /// Answers at once when the store can without waiting (an in-process map,
    /// a cache hit), letting the layer skip the boxed future of [`find`](Self::find).
    ///
    /// `None` means "ask `find`". The default always says so.
    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        let _ = prefix;
        None
    }

    /// The algorithm this store's records are hashed with, when the store
    /// knows (a djangorestframework-api-key table: `sha512`). On a prefix the
    /// store does not know, the authenticator spends the work of checking a
    /// record of this kind, so that a known prefix with a wrong secret and an
    /// unknown prefix take the same time.
    ///
    /// `None`, the default, leaves the authenticator to follow the records
    /// it has seen, starting from its own hasher's algorithm.
    fn hash_algorithm(&self) -> Option<Algorithm> {
        None
    }

    /// Replaces the stored hash of `record` by `new`, after the
    /// authenticator verified a key against a hash of an older kind (a
    /// djangorestframework-api-key table made before 3.0 holds Django
    /// password hashes), as DRF itself does on a key's first check. Only a
    /// row still holding `record`'s hash is changed, so concurrent upgrades
    /// agree, and only `hashed_key`: a djangorestframework-api-key row keeps
    /// its primary key, as DRF 3 leaves it. Nothing else of the record is
    /// written (it may be a cached copy): a revocation made since stays.
    ///
    /// `Ok(false)` when nothing was changed: the row holds another hash by
    /// now, or its column is too narrow for the new one (DRF before 2.2
    /// made `hashed_key` 100 characters; `sha512$$` needs 136), which is
    /// checked in the statement, never left to truncate the hash.
    ///
    /// The default changes nothing and says so (the key keeps its old hash,
    /// and its slow check, until upgraded elsewhere).
    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        let _ = (record, new);
        Err(StoreError::unsupported(
            "this store does not upgrade stored hashes",
        ))
    }
}

#[async_trait]
impl<T: KeyStore + ?Sized> KeyStore for Arc<T> {
    async fn find(&self, prefix: Prefix) -> Lookup {
        (**self).find(prefix).await
    }

    fn find_now(&self, prefix: Prefix) -> Option<Lookup> {
        (**self).find_now(prefix)
    }

    fn hash_algorithm(&self) -> Option<Algorithm> {
        (**self).hash_algorithm()
    }

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        (**self).upgrade_hash(record, new).await
    }
}

/// Creates, lists and revokes keys: the administrator's side of a store.
///
/// A store implements [`insert`](Self::insert), [`list`](Self::list) and
/// [`revoke`](Self::revoke); [`create`](Self::create) is provided on top of
/// `insert`: it draws a key, hashes it with [`hasher`](Self::hasher), and
/// draws again if the prefix is taken.
#[async_trait]
pub trait KeyManager: KeyStore {
    /// Saves a new record. A record whose prefix or id is already stored
    /// must be refused with [`StoreError::conflict`], never overwrite.
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError>;

    /// Every key record, revoked ones included, oldest first.
    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError>;

    /// One page of the keys that `request` asks for, in the store's order of
    /// ids (byte order, or a database's collation), and the cursor of the next page: a listing that never holds more than a page,
    /// however many keys there are. Keys created while a listing runs are
    /// either on a later page or not, never twice; none that exists
    /// throughout is missed.
    ///
    /// The default reads [`list`](Self::list) and pages it in memory, for
    /// custom stores; the crate's own stores page in the database.
    async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        let now = SystemTime::now();
        let mut keys: Vec<Arc<KeyRecord>> = self
            .list()
            .await?
            .into_iter()
            .filter(|record| {
                request
                    .cursor()
                    .is_none_or(|after| record.id.as_str() > after)
            })
            .filter(|record| request.admits(record, now))
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Page::of(keys, request.limit()))
    }

    /// The key whose id is `id`, or, when `id` is a prefix, whose prefix it
    /// is. The default looks the prefix up first (one lookup; the crate's
    /// stores give keys their prefix as id), then reads the listing page by page.
    async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        if let Ok(prefix) = Prefix::parse(id) {
            if let Some(record) = self.find(prefix).await? {
                return Ok(Some(record));
            }
        }
        let mut request = PageRequest::first(MAX_PAGE);
        loop {
            let page = self.list_page(&request).await?;
            if let Some(record) = page.keys.iter().find(|r| r.id == id) {
                return Ok(Some(record.clone()));
            }
            match page.next {
                Some(next) => request = request.after(next),
                None => return Ok(None),
            }
        }
    }

    /// Revokes the key with id `id`. `Ok(false)` means no key has that id.
    /// Revoking a revoked key succeeds and changes nothing.
    async fn revoke(&self, id: &str) -> Result<bool, StoreError>;

    /// The hasher new keys are hashed with; SHA-256 unless the store says otherwise.
    fn hasher(&self) -> Hasher {
        Hasher::default()
    }

    /// The id a new key gets; its prefix unless the store says otherwise.
    fn new_id(&self, prefix: Prefix, hash: &StoredHash) -> String {
        let _ = hash;
        prefix.to_string()
    }

    /// Saves `new`, a key replacing the one with id `old_id`, and retires
    /// that one as `retirement` says, naming `new` as its successor, all in
    /// one step (a transaction, a script): either both happen or neither.
    /// Gives the old key's record as it is left.
    ///
    /// Refuses with [`StoreError::not_found`] when no key has `old_id`,
    /// [`StoreError::inactive`] when that key is revoked, expired or already
    /// replaced by the time the step runs (two rotations of one key: one
    /// wins), and [`StoreError::conflict`] when `new`'s prefix or id is
    /// taken. [`rotate`](Self::rotate) is built on it.
    ///
    /// The default says the store cannot: a store of your own implements it
    /// to be rotatable (the conformance kit checks it).
    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let _ = (old_id, new, retirement);
        Err(StoreError::unsupported(
            "this store cannot rotate keys (it does not implement KeyManager::replace)",
        ))
    }

    /// Replaces the key with id `id` by a new one with the same name,
    /// scopes, owner and metadata, which names it in
    /// [`replaces`](KeyRecord::replaces). The old key keeps working for
    /// `grace` (a zero grace revokes it at once), and while it does,
    /// responses to it carry `Sunset` with the moment it stops. A key that
    /// expired in `N` days gets a new one expiring `N` days from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use api_key_auth::{KeyManager, MemoryStore, NewKey};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let (old, _) = store.create(NewKey::named("billing")).await?.reveal();
    /// let rotated = store.rotate(&old.id, Duration::from_secs(24 * 3600)).await?;
    /// assert!(rotated.retired.sunset().is_some()); // works for one more day
    /// let (new, key) = rotated.new.reveal();        // shown once
    /// assert_eq!(new.replaces.as_deref(), Some(old.id.as_str()));
    /// # let _ = key; Ok::<(), api_key_auth::StoreError>(())
    /// # }).unwrap();
    /// ```
    async fn rotate(&self, id: &str, grace: Duration) -> Result<Rotated, StoreError> {
        let old = self
            .find_by_id(id)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("no key has the id {id:?}")))?;
        let now = SystemTime::now();
        if !old.is_active_at(now) {
            return Err(StoreError::inactive(format!(
                "key {:?} is {}: only a working key can be rotated",
                old.id,
                if old.revoked { "revoked" } else { "expired" }
            )));
        }
        if let Some(successor) = &old.replaced_by {
            return Err(StoreError::inactive(format!(
                "key {:?} was already replaced by {successor:?}: rotate that one",
                old.id
            )));
        }
        let retirement = Retirement::after(grace, now);
        let successor = NewKey::replacing(&old, now);
        let hasher = self.hasher();
        for _ in 0..5 {
            let (record, key) =
                successor.mint(&hasher, |prefix, hash| self.new_id(prefix, hash))?;
            let stored = Arc::new(record.clone());
            match self.replace(&old.id, record, retirement).await {
                Ok(retired) => {
                    return Ok(Rotated {
                        new: CreatedKey::new(stored, key),
                        retired,
                    })
                }
                Err(err) if err.is_conflict() => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::conflict(
            "five fresh prefixes in a row were already taken",
        ))
    }

    /// Records when keys were last used: each key's `last_used` becomes the
    /// use's instant unless it already holds a later one (instances write
    /// in any order). Ids the store does not hold are skipped. One batched
    /// write per call where the database allows.
    ///
    /// The default says the store cannot; the
    /// [`LastUseTracker`](crate::last_use::LastUseTracker) then stops
    /// asking, once, with a warning.
    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        let _ = uses;
        Err(StoreError::unsupported(
            "this store does not record last use (it does not implement KeyManager::record_last_use)",
        ))
    }

    /// Saves `records` all together or not at all (one transaction, one
    /// script), refusing with [`StoreError::conflict`] when any prefix or id
    /// is taken, or two of them are the same. At most [`MAX_BATCH`] records.
    ///
    /// The default says the store cannot, and so does
    /// [`create_many`](Self::create_many) then. The crate's stores implement it.
    async fn insert_many(&self, records: Vec<KeyRecord>) -> Result<(), StoreError> {
        let _ = records;
        Err(StoreError::unsupported(
            "this store saves one key at a time (it does not implement KeyManager::insert_many)",
        ))
    }

    /// Creates a key for each of `news` (at most [`MAX_BATCH`]) in one step,
    /// through [`insert_many`](Self::insert_many): all are created or none.
    /// A store without `insert_many` says it cannot
    /// ([`StoreError::is_unsupported`]): keys made one at a time could not
    /// be taken back should the caller give up halfway, their secrets lost
    /// with it; call [`create`](Self::create) for each instead.
    ///
    /// ```
    /// use api_key_auth::{KeyManager, MemoryStore, NewKey};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let created = store
    ///     .create_many((0..500).map(|n| NewKey::named(format!("device {n}"))).collect())
    ///     .await?;
    /// assert_eq!(created.len(), 500);
    /// assert_eq!(store.len(), 500);
    /// # Ok::<(), api_key_auth::StoreError>(())
    /// # }).unwrap();
    /// ```
    async fn create_many(&self, news: Vec<NewKey>) -> Result<Vec<CreatedKey>, StoreError> {
        check_batch(news.len())?;
        let hasher = self.hasher();
        // A taken prefix fails the whole batch: draw them all again, as
        // `create` draws one again.
        for _ in 0..5 {
            let mut records = Vec::with_capacity(news.len());
            let mut created = Vec::with_capacity(news.len());
            for new in &news {
                let (record, key) = new.mint(&hasher, |prefix, hash| self.new_id(prefix, hash))?;
                created.push(CreatedKey::new(Arc::new(record.clone()), key));
                records.push(record);
            }
            match self.insert_many(records).await {
                Ok(()) => return Ok(created),
                Err(err) if err.is_conflict() => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::conflict(
            "five batches of fresh prefixes in a row met a taken one",
        ))
    }

    /// Creates a key. The plaintext key is in the result and nowhere else:
    /// the store keeps only its hash. A prefix already taken is drawn again.
    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError> {
        let hasher = self.hasher();
        // 62^8 prefixes make one collision rare and five in a row a sign of a
        // store that refuses everything; say so rather than loop forever.
        for _ in 0..5 {
            let (record, key) = new.mint(&hasher, |prefix, hash| self.new_id(prefix, hash))?;
            let stored = Arc::new(record.clone());
            match self.insert(record).await {
                Ok(()) => return Ok(CreatedKey::new(stored, key)),
                Err(err) if err.is_conflict() => continue,
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::conflict(
            "five fresh prefixes in a row were already taken",
        ))
    }
}

/// The most keys [`KeyManager::create_many`] and
/// [`KeyManager::insert_many`] take at once.
pub const MAX_BATCH: usize = 1000;

/// Refuses a batch of more than [`MAX_BATCH`] keys, as every `insert_many`
/// and `create_many` does.
#[doc(hidden)]
pub fn check_batch(len: usize) -> Result<(), StoreError> {
    if len > MAX_BATCH {
        return Err(StoreError::config(format!(
            "{len} keys in one batch: at most {MAX_BATCH}"
        )));
    }
    Ok(())
}

#[async_trait]
impl<T: KeyManager + ?Sized> KeyManager for Arc<T> {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        (**self).insert(record).await
    }

    async fn insert_many(&self, records: Vec<KeyRecord>) -> Result<(), StoreError> {
        (**self).insert_many(records).await
    }

    async fn create_many(&self, news: Vec<NewKey>) -> Result<Vec<CreatedKey>, StoreError> {
        (**self).create_many(news).await
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        (**self).list().await
    }

    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        (**self).revoke(id).await
    }

    async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        (**self).list_page(request).await
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        (**self).find_by_id(id).await
    }

    fn hasher(&self) -> Hasher {
        (**self).hasher()
    }

    fn new_id(&self, prefix: Prefix, hash: &StoredHash) -> String {
        (**self).new_id(prefix, hash)
    }

    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError> {
        (**self).create(new).await
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        (**self).replace(old_id, new, retirement).await
    }

    async fn rotate(&self, id: &str, grace: Duration) -> Result<Rotated, StoreError> {
        (**self).rotate(id, grace).await
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        (**self).record_last_use(uses).await
    }
}

/// The latest expiry a key can be given, in seconds from the epoch:
/// 9999-12-31T23:59:59Z, the end of what RFC 3339 and SQL dates can write.
pub const LATEST_EXPIRY_SECS: u64 = 253_402_300_799;

/// [`LATEST_EXPIRY_SECS`] as a time.
pub fn latest_expiry() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(LATEST_EXPIRY_SECS)
}

/// `at` as RFC 3339 in UTC to the second (`2026-11-27T23:11:50Z`), for
/// showing a record's times. A time outside the years 1970 to 9999 (a row
/// another tool wrote) is shown as seconds from the epoch, never a panic.
pub fn rfc3339(at: SystemTime) -> String {
    let secs = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) if since.as_secs() <= LATEST_EXPIRY_SECS => since.as_secs(),
        Ok(since) => return format!("{}s after the epoch", since.as_secs()),
        Err(before) => return format!("{}s before the epoch", before.duration().as_secs()),
    };
    // Days to a civil date (Howard Hinnant's algorithm), in whole numbers.
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// Which keys a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyFilter {
    /// Every key.
    #[default]
    All,
    /// Keys that are neither revoked nor expired.
    Active,
    /// Revoked keys.
    Revoked,
    /// Keys past their expiry that are not revoked.
    Expired,
}

impl KeyFilter {
    /// Whether `record` is one of the keys this filter lists, at `now`.
    pub fn admits(self, record: &KeyRecord, now: SystemTime) -> bool {
        match self {
            Self::All => true,
            Self::Active => !record.revoked && !record.is_expired_at(now),
            Self::Revoked => record.revoked,
            Self::Expired => !record.revoked && record.is_expired_at(now),
        }
    }
}

/// The most keys one page holds.
pub const MAX_PAGE: u32 = 1000;

/// Which page of a listing to read: a filter, the cursor of the page before
/// (none for the first page), and how many keys at most.
///
/// ```
/// use api_key_auth::{store::{KeyFilter, PageRequest}, KeyManager, MemoryStore, NewKey};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// for i in 0..5 {
///     store.create(NewKey::named(format!("key {i}"))).await?;
/// }
/// let mut request = PageRequest::first(2).filter(KeyFilter::Active);
/// let mut seen = 0;
/// loop {
///     let page = store.list_page(&request).await?;
///     seen += page.keys.len();
///     match page.next {
///         Some(cursor) => request = request.after(cursor),
///         None => break,
///     }
/// }
/// assert_eq!(seen, 5);
/// # Ok::<(), api_key_auth::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    filter: KeyFilter,
    after: Option<String>,
    limit: u32,
    unused_since: Option<SystemTime>,
    expiring_before: Option<SystemTime>,
}

impl PageRequest {
    /// The first page of at most `limit` keys (1 to [`MAX_PAGE`]; values
    /// outside are brought to the nearest end), all keys.
    pub fn first(limit: u32) -> Self {
        Self {
            filter: KeyFilter::All,
            after: None,
            limit: limit.clamp(1, MAX_PAGE),
            unused_since: None,
            expiring_before: None,
        }
    }

    /// Lists only keys not used since `since`: last used before it, or
    /// never used and created before it. `api-key list --unused-for 90d`.
    pub fn unused_since(mut self, since: SystemTime) -> Self {
        self.unused_since = Some(since);
        self
    }

    /// Lists only keys that have not expired yet but will by `by`.
    /// `api-key list --expiring-within 7d`.
    pub fn expiring_before(mut self, by: SystemTime) -> Self {
        self.expiring_before = Some(by);
        self
    }

    /// The [`unused_since`](Self::unused_since) asked for.
    pub fn unused_cutoff(&self) -> Option<SystemTime> {
        self.unused_since
    }

    /// The [`expiring_before`](Self::expiring_before) asked for.
    pub fn expiry_cutoff(&self) -> Option<SystemTime> {
        self.expiring_before
    }

    /// Whether `record` belongs on a page of this listing at `now`: the
    /// filter, and the last-use and expiry conditions, all hold.
    pub fn admits(&self, record: &KeyRecord, now: SystemTime) -> bool {
        let unused = self
            .unused_since
            .is_none_or(|since| record.last_used.unwrap_or(record.created) < since);
        let expiring = self.expiring_before.is_none_or(|by| {
            record
                .expires
                .is_some_and(|expires| expires > now && expires <= by)
        });
        self.filter.admits(record, now) && unused && expiring
    }

    /// Lists only the keys `filter` admits.
    pub fn filter(mut self, filter: KeyFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The page after the one whose [`Page::next`] was `cursor`.
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.after = Some(cursor.into());
        self
    }

    /// The filter asked for.
    pub fn key_filter(&self) -> KeyFilter {
        self.filter
    }

    /// The cursor: keys with ids after it come next.
    pub fn cursor(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// The most keys the page holds.
    pub fn limit(&self) -> u32 {
        self.limit
    }
}

/// One page of a listing: keys ordered by id, and the cursor of the next
/// page when there may be more.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The keys, ordered by id.
    pub keys: Vec<Arc<KeyRecord>>,
    /// Pass to [`PageRequest::after`] for the next page; `None` on the last.
    pub next: Option<String>,
}

impl Page {
    /// A page of the first `limit` of `keys` (ordered by id, as found
    /// after the cursor), with a cursor when more were found.
    pub fn of(mut keys: Vec<Arc<KeyRecord>>, limit: u32) -> Self {
        let limit = limit as usize;
        let next = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().map(|last| last.id.clone())
        } else {
            None
        };
        Self { keys, next }
    }
}

/// The longest key name, in characters: what a djangorestframework-api-key
/// table holds.
pub const MAX_NAME: usize = 50;

/// What is wrong with a [`NewKey`]: the field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
#[non_exhaustive]
pub struct InvalidNewKey {
    /// The field at fault: `name`, `scopes`, `owner` or `metadata`.
    pub field: &'static str,
    /// Why, said so that a person can put it right.
    pub reason: String,
}

impl InvalidNewKey {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// What to create: a name and, optionally, scopes, an expiry, an owner and metadata.
///
/// A new key checks itself ([`validate`](Self::validate)) wherever it is
/// made, so the Rust API, the admin API, the key page and the `api-key`
/// command accept the same keys: a name of 1 to [`MAX_NAME`] characters,
/// not starting or ending with white space, scopes of printable ASCII
/// without spaces, quotes or backslashes, and no control or format
/// characters (see [`text`](crate::text)) in the name, the owner or the
/// metadata.
///
/// ```
/// use std::time::Duration;
/// use api_key_auth::NewKey;
///
/// let new = NewKey::named("billing")
///     .scopes(["invoices:read", "invoices:write"])
///     .expires_in(Duration::from_secs(90 * 24 * 3600))
///     .owner("team-billing")
///     .metadata("ticket", "OPS-1234");
/// assert_eq!(new.name(), "billing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    name: String,
    scopes: Vec<String>,
    expires: Option<SystemTime>,
    owner: Option<String>,
    metadata: BTreeMap<String, String>,
    replaces: Option<String>,
    lineage: Option<String>,
    rate_limit: Option<RateLimit>,
    /// Made from a stored record by a rotation and not changed since: what
    /// it copies was stored already, and a rotation never fails on a record
    /// made before the rules. Every setter clears it.
    inherited: bool,
}

impl NewKey {
    /// A key named `name`, with no scopes, expiry, owner or metadata.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            scopes: Vec::new(),
            expires: None,
            owner: None,
            metadata: BTreeMap::new(),
            replaces: None,
            lineage: None,
            rate_limit: None,
            inherited: false,
        }
    }

    /// The successor of `old` in a rotation at `now`: its name, scopes,
    /// owner and metadata, naming it as the key it replaces and its chain's
    /// first key as its [lineage](KeyRecord::lineage), and, if `old` had an
    /// expiry, as long a life from `now` as `old` was given.
    pub fn replacing(old: &KeyRecord, now: SystemTime) -> Self {
        let expires = old.expires.map(|expires| {
            expires
                .duration_since(old.created)
                .ok()
                .and_then(|life| now.checked_add(life))
                .map_or(expires, |at| at.min(latest_expiry()))
        });
        Self {
            name: old.name.clone(),
            scopes: old.scopes.clone(),
            expires,
            owner: old.owner.clone(),
            metadata: old.metadata.clone(),
            replaces: Some(old.id.clone()),
            // A key rotated before lineages were kept names only the key it
            // replaced: that one's budget is the one the chain spends on.
            lineage: Some(
                old.lineage
                    .as_ref()
                    .or(old.replaces.as_ref())
                    .unwrap_or(&old.id)
                    .clone(),
            ),
            rate_limit: old.rate_limit,
            inherited: true,
        }
    }

    /// Grants these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self.inherited = false;
        self
    }

    /// Makes the key stop working at `at` (at [`latest_expiry`] at the latest).
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires = Some(at.min(latest_expiry()));
        self.inherited = false;
        self
    }

    /// Makes the key stop working `ttl` from now (at [`latest_expiry`] at the latest).
    pub fn expires_in(self, ttl: Duration) -> Self {
        let at = SystemTime::now()
            .checked_add(ttl)
            .map_or_else(latest_expiry, |at| at.min(latest_expiry()));
        self.expires_at(at)
    }

    /// Records who the key belongs to.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self.inherited = false;
        self
    }

    /// Limits how fast the key may be used: requests per period and a burst,
    /// enforced by every authenticator (see [`rate_limit`](crate::rate_limit)).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self.inherited = false;
        self
    }

    /// Adds one metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self.inherited = false;
        self
    }

    /// The name given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the key against the rules every front end shares (see the
    /// [type's docs](Self)); the first field at fault, and why.
    ///
    /// ```
    /// use api_key_auth::NewKey;
    ///
    /// assert!(NewKey::named("billing").scopes(["invoices:read"]).validate().is_ok());
    /// let refused = NewKey::named("evil\u{202e}gnp").validate().unwrap_err();
    /// assert_eq!(refused.field, "name");
    /// assert_eq!(NewKey::named("x").scopes(["two words"]).validate().unwrap_err().field, "scopes");
    /// ```
    pub fn validate(&self) -> Result<(), InvalidNewKey> {
        use crate::text::{first_unprintable, is_scope_token};
        let unprintable =
            |field: &'static str, what: &str, text: &str| match first_unprintable(text) {
                Some(c) => Err(InvalidNewKey::new(
                    field,
                    format!(
                        "{what} holds the character U+{:04X}, a control or format character that \
                     does not show as itself",
                        u32::from(c)
                    ),
                )),
                None => Ok(()),
            };
        if self.name.trim().is_empty() {
            return Err(InvalidNewKey::new("name", "a key needs a name"));
        }
        if self.name.trim() != self.name {
            return Err(InvalidNewKey::new(
                "name",
                "a name neither starts nor ends with white space",
            ));
        }
        if self.name.chars().count() > MAX_NAME {
            return Err(InvalidNewKey::new(
                "name",
                format!("a name is at most {MAX_NAME} characters"),
            ));
        }
        unprintable("name", "the name", &self.name)?;
        if let Some(bad) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(InvalidNewKey::new(
                "scopes",
                format!(
                    "the scope {:?} must be printable ASCII without spaces, quotes or backslashes",
                    crate::text::printable(bad)
                ),
            ));
        }
        if let Some(owner) = &self.owner {
            unprintable("owner", "the owner", owner)?;
        }
        for (key, value) in &self.metadata {
            unprintable("metadata", "a metadata key", key)?;
            unprintable("metadata", "a metadata value", value)?;
        }
        Ok(())
    }

    /// Draws a fresh key and builds its record with id `id`, for stores
    /// that implement [`KeyManager::create`] themselves. The store keeps the
    /// record and hands the key back once in a [`CreatedKey`]. A key that
    /// does not [validate](Self::validate) is refused
    /// ([`StoreError::is_config`]), with the field and the reason.
    pub fn mint(
        &self,
        hasher: &Hasher,
        id: impl FnOnce(Prefix, &StoredHash) -> String,
    ) -> Result<(KeyRecord, ApiKey), StoreError> {
        if !self.inherited {
            self.validate().map_err(StoreError::config)?;
        }
        let key = ApiKey::generate()?;
        let prefix = key.prefix();
        let hash = hasher.hash(&key);
        let record = KeyRecord {
            id: id(prefix, &hash),
            name: self.name.clone(),
            prefix,
            hash,
            created: SystemTime::now(),
            expires: self.expires,
            revoked: false,
            scopes: self.scopes.clone(),
            owner: self.owner.clone(),
            metadata: self.metadata.clone(),
            replaces: self.replaces.clone(),
            replaced_by: None,
            lineage: self.lineage.clone(),
            last_used: None,
            rate_limit: self.rate_limit,
        };
        Ok((record, key))
    }
}

/// A key just created: its record, and the plaintext key that is shown once.
#[derive(Debug)]
pub struct CreatedKey {
    record: Arc<KeyRecord>,
    key: ApiKey,
}

impl CreatedKey {
    /// Pairs a stored record with the key it was made from.
    pub fn new(record: Arc<KeyRecord>, key: ApiKey) -> Self {
        Self { record, key }
    }

    /// The stored record (no secret in it).
    pub fn record(&self) -> &Arc<KeyRecord> {
        &self.record
    }

    /// Consumes the created key and reveals the plaintext, the one time it can
    /// be seen: hand it to its owner and keep no copy.
    pub fn reveal(self) -> (Arc<KeyRecord>, PlaintextKey) {
        let plaintext = PlaintextKey(self.key.to_plaintext());
        (self.record, plaintext)
    }
}

/// The full `PREFIX.SECRET` text of a new key. Zeroized on drop; `Debug` redacts it.
pub struct PlaintextKey(Zeroizing<String>);

impl PlaintextKey {
    /// The key, for showing to its owner once.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlaintextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlaintextKey(<redacted>)")
    }
}

/// A key store failed. Opaque, with predicates for what kind of failure it was.
///
/// `Display` says what kind of failure it was; what the store or database
/// said is the [`source`](std::error::Error::source), as std's convention
/// asks, so a reporter walking the chain prints each cause once.
///
/// The layer turns every store error into `503 Service Unavailable`: a failing
/// store says nothing about whether the client's key is good.
pub struct StoreError {
    kind: Kind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unavailable,
    Timeout,
    InvalidRecord,
    Conflict,
    Config,
    Random,
    NotFound,
    Inactive,
    Unsupported,
}

impl StoreError {
    /// The store could not be reached or could not answer.
    pub fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Unavailable,
            source: Some(source.into()),
        }
    }

    /// The store did not answer in time.
    pub fn timeout() -> Self {
        Self {
            kind: Kind::Timeout,
            source: None,
        }
    }

    /// The store returned a record it cannot have meant (a malformed hash or prefix).
    pub fn invalid_record(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::InvalidRecord,
            source: Some(source.into()),
        }
    }

    /// A record with the same prefix or id is already stored.
    pub fn conflict(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Conflict,
            source: Some(source.into()),
        }
    }

    /// The store cannot do what was asked as it is configured (a schema
    /// without a column the request needs, say).
    pub fn config(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Config,
            source: Some(source.into()),
        }
    }

    /// No key has the id asked for.
    pub fn not_found(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::NotFound,
            source: Some(source.into()),
        }
    }

    /// The key asked for is revoked or expired, and what was asked needs a
    /// working one (a rotation).
    pub fn inactive(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Inactive,
            source: Some(source.into()),
        }
    }

    /// The store does not do what was asked at all (a custom store without
    /// rotation, a table without a last-use column).
    pub fn unsupported(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Unsupported,
            source: Some(source.into()),
        }
    }

    /// Whether no key has the id asked for.
    pub fn is_not_found(&self) -> bool {
        self.kind == Kind::NotFound
    }

    /// Whether the key asked for is revoked or expired.
    pub fn is_inactive(&self) -> bool {
        self.kind == Kind::Inactive
    }

    /// Whether the store does not do what was asked at all.
    pub fn is_unsupported(&self) -> bool {
        self.kind == Kind::Unsupported
    }

    /// Whether a record with the same prefix or id was already stored.
    pub fn is_conflict(&self) -> bool {
        self.kind == Kind::Conflict
    }

    /// Whether the store's configuration does not allow what was asked.
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }

    /// Whether the store could not be reached or could not answer.
    pub fn is_unavailable(&self) -> bool {
        self.kind == Kind::Unavailable
    }

    /// Whether the store did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// Whether the store held a record that does not parse.
    pub fn is_invalid_record(&self) -> bool {
        self.kind == Kind::InvalidRecord
    }
}

impl From<KeyGenError> for StoreError {
    fn from(err: KeyGenError) -> Self {
        Self {
            kind: Kind::Random,
            source: Some(Box::new(err)),
        }
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StoreError");
        d.field("kind", &self.kind);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Unavailable => "key store unavailable",
            Kind::Timeout => "key store timed out",
            Kind::InvalidRecord => "key store returned an invalid record",
            Kind::Conflict => "a key with that prefix or id is already stored",
            Kind::Config => "the key store is not configured for this",
            Kind::Random => "could not draw a new key",
            Kind::NotFound => "no such key",
            Kind::Inactive => "the key is not active",
            Kind::Unsupported => "the key store does not support this",
        };
        // The cause is the error's `source()`, not part of its message, so
        // an error reporter walking the chain prints it once.
        f.write_str(what)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_as_rfc3339_and_odd_ones_never_panic() {
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_795_820_400)), "2026-11-27T23:00:00Z");
        assert_eq!(rfc3339(latest_expiry()), "9999-12-31T23:59:59Z");
        assert!(rfc3339(latest_expiry() + Duration::from_secs(1)).contains("after the epoch"));
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(14_182_940);
        assert_eq!(rfc3339(before), "14182940s before the epoch");
        let far = NewKey::named("far").expires_in(Duration::MAX);
        assert_eq!(far.expires, Some(latest_expiry()));
    }
}
