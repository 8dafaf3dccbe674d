//! The store contract: [`KeyStore`] finds a record, [`KeyManager`] creates, lists, rotates and revokes.
//!
//! Rotation ([`KeyManager::replace`]), last use
//! ([`KeyManager::record_last_use`]), a hash upgrade
//! ([`KeyStore::upgrade_hash`]), paging and batches are methods with
//! defaults rather than traits of their own, as tower-sessions'
//! `ExpiredDeletion` is, for two reasons. What a store can do is a fact of
//! the table it was opened on, found at run time, not of its type: a
//! `PostgresStore` on this crate's table rotates and records last use, the
//! same type on a djangorestframework-api-key table cannot (no column for
//! either), and it answers [`StoreError::unsupported`] there. And every
//! front end holds its store as `Arc<dyn KeyManager>` chosen by a URL (the
//! admin API, the command, the last-use tracker), where a separate trait
//! would be a downcast that fails at run time all the same. So a store says
//! what it lacks by answering `unsupported` (never by pretending), the
//! front ends turn that into a clear refusal (the admin API's 501, the
//! command's one line), and [`Conformance`](crate::testkit::Conformance)
//! accepts `unsupported` from a capability and nothing else short of the
//! capability working. Paging and
//! batches have defaults that work on any store (over `list` and `insert`),
//! so they are never missing, only slower.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;

use super::{
    CreatedKey, CreditLease, CreditSpend, KeyRecord, KeyUse, NewKey, Page, PageRequest, Retirement,
    Rotated, StoreError, MAX_PAGE,
};
use crate::{
    hash::{Algorithm, Hasher, StoredHash},
    key::Prefix,
};

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

    /// The algorithm this store's records are hashed with, when the store knows
    /// (a djangorestframework-api-key table: `sha512`).
    ///
    /// On a prefix the store does not know, the authenticator spends the work
    /// of checking a record of this kind, so that a known prefix with a wrong
    /// secret and an unknown prefix take the same time.
    ///
    /// `None`, the default, leaves the authenticator to follow the records
    /// it has seen, starting from its own hasher's algorithm.
    fn hash_algorithm(&self) -> Option<Algorithm> {
        None
    }

    /// Replaces the stored hash of `record` by `new`, after the authenticator
    /// verified a key against a hash of an older kind (a
    /// djangorestframework-api-key table made before 3.0 holds Django password
    /// hashes), as DRF itself does on a key's first check.
    ///
    /// Only a row still holding `record`'s hash is changed, so concurrent
    /// upgrades agree, and only `hashed_key`: a djangorestframework-api-key row
    /// keeps its primary key, as DRF 3 leaves it. Nothing else of the record is
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

    /// Spends `cost` of the usage credits of the key `record` names (by
    /// its id), in one atomic step on the store: refilled first when a
    /// refill has come due, never below zero, so that instances sharing the
    /// store never admit more than the key holds. The record may be a
    /// cached copy: only its id is read.
    ///
    /// The default says the store keeps no credits: a key with credits is
    /// then refused (503), never let through uncounted.
    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<CreditSpend, StoreError> {
        let _ = (record, cost);
        Err(StoreError::unsupported("this store keeps no usage credits"))
    }

    /// Spends at once when the store can without waiting (in this
    /// process); `None` means "ask [`spend_credits`](Self::spend_credits)".
    fn spend_credits_now(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Option<Result<CreditSpend, StoreError>> {
        let _ = (record, cost);
        None
    }

    /// Takes a block of the key's credits for one instance to spend on its
    /// own ([leased credits](crate::CreditLeases)): as many as are left, up
    /// to `up_to`, in one atomic step, refilled first when a refill is due.
    /// What is taken is gone from the key's count whether or not it is
    /// spent.
    ///
    /// The default spends through [`spend_credits`](Self::spend_credits):
    /// the whole block, or else half of it, a quarter, and so on down to a
    /// single credit. The period the credits belong to is read from
    /// `record` (perhaps a cached copy) at the call's start, so that a
    /// refill during the call can only end the lease early. A store that
    /// can take what is left in one step does better.
    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<CreditLease, StoreError> {
        let lapses = record
            .credits
            .and_then(|credits| credits.next_refill(std::time::SystemTime::now()));
        let mut ask = up_to.max(1);
        loop {
            match self.spend_credits(record, ask).await? {
                CreditSpend::Spent { .. } => return Ok(CreditLease::Taken { count: ask, lapses }),
                CreditSpend::Exhausted { next_refill } if ask == 1 => {
                    return Ok(CreditLease::Exhausted { next_refill })
                }
                _ => ask /= 2,
            }
        }
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

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<CreditSpend, StoreError> {
        (**self).spend_credits(record, cost).await
    }

    fn spend_credits_now(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Option<Result<CreditSpend, StoreError>> {
        (**self).spend_credits_now(record, cost)
    }

    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<CreditLease, StoreError> {
        (**self).lease_credits(record, up_to).await
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
    /// ids (byte order, or a database's collation), and the cursor of the next
    /// page: a listing that never holds more than a page, however many keys
    /// there are.
    ///
    /// Keys created while a listing runs are either on a later page or not,
    /// never twice; none that exists throughout is missed.
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

    /// Suspends the key with id `id` (`suspended`) or resumes it: a
    /// suspended key is refused as a revoked one is until resumed, and
    /// keeps its expiry and rotation. `Ok(false)` means no key has that id;
    /// a revoked key may be suspended and resumed, and stays revoked.
    ///
    /// A store that cannot keep the flag (a djangorestframework-api-key
    /// table has no column for it) answers
    /// [`unsupported`](StoreError::is_unsupported), which is the default.
    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        let _ = (id, suspended);
        Err(StoreError::unsupported(
            "this store cannot suspend keys (it has no place for the flag)",
        ))
    }

    /// Suspends the key with id `id`; see [`set_suspended`](Self::set_suspended).
    async fn suspend(&self, id: &str) -> Result<bool, StoreError> {
        self.set_suspended(id, true).await
    }

    /// Resumes the suspended key with id `id`; see
    /// [`set_suspended`](Self::set_suspended).
    async fn resume(&self, id: &str) -> Result<bool, StoreError> {
        self.set_suspended(id, false).await
    }

    /// Revokes every key of `owner` not revoked yet, in one call: the keys
    /// it revoked, and what stopped it part way if something did (each key
    /// changed is reported either way, for the audit). The default reads the
    /// owner's keys a page at a time ([`PageRequest::owner`]) and revokes
    /// each; a key made for the owner while it runs may be missed (call it
    /// again). Keys are matched on the owner exactly, case and all, checked
    /// again on each record the listing gives, so a store whose listing
    /// ignored the owner still revokes no other owner's key.
    async fn revoke_owned(&self, owner: &str) -> OwnedChange {
        let mut change = OwnedChange::default();
        let found = match owned(self, owner, |record| !record.revoked).await {
            Ok(found) => found,
            Err(err) => return change.stopped_by(err),
        };
        for record in found {
            match self.revoke(&record.id).await {
                Ok(true) => {
                    let mut revoked = KeyRecord::clone(&record);
                    revoked.revoked = true;
                    change.changed.push(Arc::new(revoked));
                }
                Ok(false) => {}
                Err(err) => return change.stopped_by(err),
            }
        }
        change
    }

    /// Suspends (`suspended`) or resumes every key of `owner` not so
    /// already, as [`revoke_owned`](Self::revoke_owned) revokes them.
    /// Resuming resumes every suspended key of the owner, those suspended
    /// one by one included: no store keeps why a key was suspended.
    /// Unsupported where [`set_suspended`](Self::set_suspended) is.
    async fn set_owned_suspended(&self, owner: &str, suspended: bool) -> OwnedChange {
        let mut change = OwnedChange::default();
        let found = match owned(self, owner, |record| record.suspended != suspended).await {
            Ok(found) => found,
            Err(err) => return change.stopped_by(err),
        };
        for record in found {
            match self.set_suspended(&record.id, suspended).await {
                Ok(true) => {
                    let mut now = KeyRecord::clone(&record);
                    now.suspended = suspended;
                    change.changed.push(Arc::new(now));
                }
                Ok(false) => {}
                Err(err) => return change.stopped_by(err),
            }
        }
        change
    }

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

    /// Replaces the key with id `id` by a new one with the same name, scopes,
    /// owner and metadata, which names it in [`replaces`](KeyRecord::replaces).
    ///
    /// The old key keeps working for `grace` (a zero grace revokes it at once),
    /// and while it does, responses to it carry `Sunset` with the moment it
    /// stops. A key that expired in `N` days gets a new one expiring `N` days
    /// from now.
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
        if old.credits.is_some() {
            // Both keys work through the grace period: two counts would
            // hand out the credits twice.
            return Err(StoreError::unsupported(format!(
                "key {:?} has usage credits: a key with credits is not rotated (create a new \
                 key and revoke this one)",
                old.id
            )));
        }
        let retirement = Retirement::after(grace, now);
        let successor = NewKey::replacing(&old, now);
        let hasher = self.hasher();
        let (new, retired) = with_fresh_prefixes(
            || minted(&successor, &hasher, self),
            |record| self.replace(&old.id, record, retirement),
        )
        .await?;
        Ok(Rotated { new, retired })
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
    ///
    /// A store without `insert_many` says it cannot
    /// ([`StoreError::is_unsupported`]): keys made one at a time could not be
    /// taken back should the caller give up halfway, their secrets lost with
    /// it; call [`create`](Self::create) for each instead.
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
        // A taken prefix fails the whole batch: all are drawn again.
        let (created, ()) = with_fresh_prefixes(
            || {
                news.iter()
                    .map(|new| minted(new, &hasher, self))
                    .collect::<Result<(Vec<_>, Vec<_>), _>>()
            },
            |records| self.insert_many(records),
        )
        .await?;
        Ok(created)
    }

    /// Creates a key. The plaintext key is in the result and nowhere else:
    /// the store keeps only its hash. A prefix already taken is drawn again.
    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError> {
        let hasher = self.hasher();
        let (created, ()) =
            with_fresh_prefixes(|| minted(&new, &hasher, self), |record| self.insert(record))
                .await?;
        Ok(created)
    }
}

/// `new` minted for `store`: the key shown to the caller and the record to save.
fn minted<S: KeyManager + ?Sized>(
    new: &NewKey,
    hasher: &Hasher,
    store: &S,
) -> Result<(CreatedKey, KeyRecord), StoreError> {
    let (record, key) = new.mint(hasher, |prefix, hash| store.new_id(prefix, hash))?;
    Ok((CreatedKey::new(Arc::new(record.clone()), key), record))
}

/// Mints with `mint` and saves with `save` until the store takes the prefixes:
/// a taken one ([`StoreError::is_conflict`]) is drawn again.
///
/// 62^8 prefixes make one collision rare and five in a row a sign of a store
/// that refuses everything; that is said rather than looped on.
async fn with_fresh_prefixes<Shown, Saved, Answer, Mint, Save, Saving>(
    mut mint: Mint,
    mut save: Save,
) -> Result<(Shown, Answer), StoreError>
where
    Mint: FnMut() -> Result<(Shown, Saved), StoreError>,
    Save: FnMut(Saved) -> Saving,
    Saving: std::future::Future<Output = Result<Answer, StoreError>>,
{
    for _ in 0..5 {
        let (shown, saved) = mint()?;
        match save(saved).await {
            Ok(answer) => return Ok((shown, answer)),
            Err(err) if err.is_conflict() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::conflict(
        "five fresh prefixes in a row were already taken",
    ))
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

    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        (**self).set_suspended(id, suspended).await
    }

    async fn revoke_owned(&self, owner: &str) -> OwnedChange {
        (**self).revoke_owned(owner).await
    }

    async fn set_owned_suspended(&self, owner: &str, suspended: bool) -> OwnedChange {
        (**self).set_owned_suspended(owner, suspended).await
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

/// Every key of `owner` (exactly) that `wanted` takes, read a page at a
/// time before any is changed.
async fn owned<M: KeyManager + ?Sized>(
    store: &M,
    owner: &str,
    wanted: impl Fn(&KeyRecord) -> bool,
) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
    let mut found = Vec::new();
    let mut request = PageRequest::first(MAX_PAGE).owner(owner);
    loop {
        let page = store.list_page(&request).await?;
        found.extend(
            page.keys
                .into_iter()
                .filter(|record| record.owner.as_deref() == Some(owner) && wanted(record)),
        );
        match page.next {
            Some(next) => request = request.after(next),
            None => return Ok(found),
        }
    }
}

/// What a change to all of an owner's keys did
/// ([`KeyManager::revoke_owned`], [`KeyManager::set_owned_suspended`]).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct OwnedChange {
    /// The keys changed, as the change left them.
    pub changed: Vec<Arc<KeyRecord>>,
    /// What stopped the change part way (the keys before it are changed),
    /// or `None` when it went through.
    pub stopped: Option<StoreError>,
}

impl OwnedChange {
    /// The keys changed, or what stopped the change (for callers with no
    /// use for the keys changed before it).
    pub fn into_result(self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        match self.stopped {
            Some(err) => Err(err),
            None => Ok(self.changed),
        }
    }

    fn stopped_by(mut self, err: StoreError) -> Self {
        self.stopped = Some(err);
        self
    }
}
