//! The conformance kit: built-in stores pass it, and broken stores fail the
//! check that describes their fault. Also batches: every store takes one
//! all or none, and at most `MAX_BATCH` records of it; a store without
//! `insert_many` makes none.

use crate::common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime},
};

use api_key_auth::{
    key::Prefix,
    store::{KeyUse, Retirement, MAX_BATCH},
    testkit::Conformance,
    KeyManager, KeyRecord, KeyStore, Lookup, MemoryStore, NewKey, StoreError,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_keeps_the_contract() {
    Conformance::new(MemoryStore::new()).run().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_behind_an_arc_keeps_the_contract() {
    Conformance::new(Arc::new(MemoryStore::new()))
        .run()
        .await
        .unwrap();
}

/// A store with one fault at a time, over a plain vector.
#[derive(Clone, Default)]
struct Faulty {
    rows: Arc<Mutex<Vec<KeyRecord>>>,
    overwrite_on_clash: bool,
    drop_metadata: bool,
    revoke_ignored: bool,
    retire_ignored: bool,
    last_use_rewinds: bool,
}

#[async_trait::async_trait]
impl KeyStore for Faulty {
    async fn find(&self, prefix: Prefix) -> Lookup {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .iter()
            .rev()
            .find(|r| r.prefix == prefix)
            .cloned()
            .map(Arc::new))
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<api_key_auth::store::CreditSpend, StoreError> {
        use api_key_auth::store::CreditSpend;
        let mut rows = self.rows.lock().unwrap();
        let row = rows
            .iter_mut()
            .find(|r| r.id == record.id)
            .ok_or_else(|| StoreError::not_found("no such key"))?;
        let credits = row
            .credits
            .ok_or_else(|| StoreError::invalid_record("no credits"))?;
        let now = SystemTime::now();
        Ok(match credits.spent(cost, now) {
            Some(left) => {
                row.credits = Some(left);
                CreditSpend::Spent {
                    remaining: Some(left.remaining()),
                }
            }
            None => CreditSpend::Exhausted {
                next_refill: credits.next_refill(now),
            },
        })
    }
}

#[async_trait::async_trait]
impl KeyManager for Faulty {
    async fn insert(&self, mut record: KeyRecord) -> Result<(), StoreError> {
        let mut rows = self.rows.lock().unwrap();
        if !self.overwrite_on_clash && rows.iter().any(|r| r.prefix == record.prefix) {
            return Err(StoreError::conflict("prefix taken"));
        }
        if self.drop_metadata {
            record.metadata.clear();
        }
        rows.push(record);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .map(Arc::new)
            .collect())
    }

    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = rows.iter_mut().find(|r| r.id == id) else {
            return Ok(false);
        };
        if !self.revoke_ignored {
            row.revoked = true;
        }
        Ok(true)
    }

    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = rows.iter_mut().find(|r| r.id == id) else {
            return Ok(false);
        };
        row.suspended = suspended;
        Ok(true)
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        if rows
            .iter()
            .any(|r| r.prefix == new.prefix || r.id == new.id)
        {
            return Err(StoreError::conflict("prefix taken"));
        }
        let Some(old) = rows.iter_mut().find(|r| r.id == old_id) else {
            return Err(StoreError::not_found("no such key"));
        };
        if !old.is_active_at(SystemTime::now()) || old.replaced_by.is_some() {
            return Err(StoreError::inactive("revoked, expired or replaced"));
        }
        if old.suspended != new.suspended {
            return Err(StoreError::inactive("suspended or resumed since read"));
        }
        if old.allowed_from != new.allowed_from {
            return Err(StoreError::inactive("allowlist changed since read"));
        }
        if !self.retire_ignored {
            *old = old.retired(retirement, &new.id);
        }
        let retired = Arc::new(old.clone());
        rows.push(new);
        Ok(retired)
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        let mut rows = self.rows.lock().unwrap();
        for used in uses {
            if let Some(row) = rows.iter_mut().find(|r| r.id == used.id) {
                if self.last_use_rewinds || row.last_used.is_none_or(|at| at < used.at) {
                    row.last_used = Some(used.at);
                }
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_hand_written_store_passes() {
    Conformance::new(Faulty::default()).run().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_overwrites_on_a_clash_fails_prefix_collision() {
    let store = Faulty {
        overwrite_on_clash: true,
        ..Faulty::default()
    };
    let failure = Conformance::new(store).run().await.unwrap_err();
    assert_eq!(failure.check, "prefix_collision", "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_loses_metadata_fails_create_then_find() {
    let store = Faulty {
        drop_metadata: true,
        ..Faulty::default()
    };
    let failure = Conformance::new(store).run().await.unwrap_err();
    assert_eq!(failure.check, "create_then_find", "{failure}");
    assert!(failure.message.contains("metadata"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_ignores_revocation_fails_revoke() {
    let store = Faulty {
        revoke_ignored: true,
        ..Faulty::default()
    };
    let failure = Conformance::new(store).run().await.unwrap_err();
    assert_eq!(failure.check, "revoke", "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_rotation_leaves_the_old_key_working_fails_rotate() {
    let store = Faulty {
        retire_ignored: true,
        ..Faulty::default()
    };
    let failure = Conformance::new(store).run().await.unwrap_err();
    assert_eq!(failure.check, "rotate", "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_moves_last_use_back_fails_last_use() {
    let store = Faulty {
        last_use_rewinds: true,
        ..Faulty::default()
    };
    let failure = Conformance::new(store).run().await.unwrap_err();
    assert_eq!(failure.check, "last_use", "{failure}");
    assert!(failure.message.contains("earlier use"), "{failure}");
}

/// A store of one's own that does not implement rotation is told so by
/// the kit, in the check's name, rather than passing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_rotation_fails_rotate_saying_so() {
    #[derive(Clone, Default)]
    struct Plain(MemoryStore);
    #[async_trait::async_trait]
    impl KeyStore for Plain {
        async fn find(&self, prefix: Prefix) -> Lookup {
            self.0.find(prefix).await
        }
    }
    #[async_trait::async_trait]
    impl KeyManager for Plain {
        async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
            self.0.insert(record).await
        }
        async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
            self.0.list().await
        }
        async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
            self.0.revoke(id).await
        }
    }
    // Nor suspensions: the kit says which check, and how to tell it.
    let failure = Conformance::new(Plain::default()).run().await.unwrap_err();
    assert_eq!(failure.check, "suspend", "{failure}");
    assert!(failure.message.contains("without_suspensions"), "{failure}");
    let failure = Conformance::new(Plain::default())
        .without_suspensions()
        .without_credits()
        .run()
        .await
        .unwrap_err();
    assert_eq!(failure.check, "rotate", "{failure}");
    assert!(failure.message.contains("does not support"), "{failure}");

    // Nor batches: `create_many` says so and makes no key, rather than
    // making them one at a time, which a caller giving up could not undo.
    let plain = Plain::default();
    let refused = plain
        .create_many(vec![NewKey::named("batch"); 3])
        .await
        .unwrap_err();
    assert!(refused.is_unsupported(), "{refused}");
    assert!(plain.0.is_empty());
}

#[tokio::test]
async fn create_draws_again_when_a_prefix_is_taken() {
    /// Refuses the first two inserts as conflicts, as a store would on a
    /// prefix collision, then accepts.
    #[derive(Clone, Default)]
    struct Clashing {
        inner: MemoryStore,
        refusals: Arc<Mutex<Vec<Prefix>>>,
    }
    #[async_trait::async_trait]
    impl KeyStore for Clashing {
        async fn find(&self, prefix: Prefix) -> Lookup {
            self.inner.find(prefix).await
        }
    }
    #[async_trait::async_trait]
    impl KeyManager for Clashing {
        async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
            let refuse = {
                let mut refusals = self.refusals.lock().unwrap();
                let refuse = refusals.len() < 2;
                if refuse {
                    refusals.push(record.prefix);
                }
                refuse
            };
            if refuse {
                return Err(StoreError::conflict("taken"));
            }
            self.inner.insert(record).await
        }
        async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
            self.inner.list().await
        }
        async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
            self.inner.revoke(id).await
        }
    }
    let store = Clashing::default();
    let (record, _) = store
        .create(api_key_auth::NewKey::named("third time"))
        .await
        .unwrap()
        .reveal();
    let refused = store.refusals.lock().unwrap().clone();
    assert_eq!(refused.len(), 2);
    assert!(
        !refused.contains(&record.prefix),
        "each attempt drew a fresh prefix"
    );
    assert!(store.find(record.prefix).await.unwrap().is_some());
}

/// A third-party store with `insert` but no `insert_many`, whose `nth`
/// insert never answers (a database that hangs).
#[derive(Clone)]
struct OneAtATime {
    inner: MemoryStore,
    inserts: Arc<AtomicUsize>,
    hang_at: usize,
}

#[async_trait::async_trait]
impl KeyStore for OneAtATime {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.inner.find(prefix).await
    }
}

#[async_trait::async_trait]
impl KeyManager for OneAtATime {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        if self.inserts.fetch_add(1, Ordering::SeqCst) == self.hang_at {
            std::future::pending::<()>().await;
        }
        self.inner.insert(record).await
    }
    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        self.inner.list().await
    }
    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.revoke(id).await
    }
}

/// A cancelled `create_many` (a timeout, a client that hung up) leaves no
/// active key behind whose secret went with the dropped future, on a store
/// with `insert` but no `insert_many` too. Keys made there one at a time
/// could not be taken back should the caller give up halfway, so such a
/// store makes no batch: `create_many`'s "all are created or none" holds.
#[tokio::test]
async fn create_many_on_a_store_without_insert_many_leaves_no_key_behind() {
    let store = OneAtATime {
        inner: MemoryStore::new(),
        inserts: Arc::new(AtomicUsize::new(0)),
        hang_at: 2,
    };
    let cancelled = tokio::time::timeout(
        Duration::from_millis(200),
        store.create_many(vec![NewKey::named("batch"); 5]),
    )
    .await;
    // create_many says `unsupported` at once on such a store (it makes no
    // keys one at a time): nothing to cancel, nothing left.
    if let Ok(answer) = &cancelled {
        assert!(
            answer.as_ref().is_err_and(|e| e.is_unsupported()),
            "{answer:?}"
        );
    }
    let active: Vec<_> = store
        .inner
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| !r.revoked)
        .collect();
    assert!(
        active.is_empty(),
        "a cancelled create_many left {} active keys whose secrets nobody has",
        active.len()
    );
}

/// `KeyManager::insert_many` takes at most `MAX_BATCH` records, as the
/// trait documents, called directly and not only through `create_many`:
/// every store checks (here, the memory store). On Redis a batch is one
/// script, and a script of any size would block the server for all other
/// clients while it ran.
#[tokio::test]
async fn insert_many_refuses_more_than_max_batch() {
    let store = MemoryStore::new();
    let records: Vec<_> = (0..MAX_BATCH + 1)
        .map(|n| common::fresh_record(&store, &format!("n{n}")))
        .collect();
    let result = store.insert_many(records).await;
    assert!(
        result.is_err(),
        "insert_many took {} records, over MAX_BATCH ({MAX_BATCH})",
        MAX_BATCH + 1
    );
}

/// What every store's insert_many must do: refuse, and store nothing, a
/// batch with a taken id under a fresh prefix, one id twice under two
/// prefixes, one prefix twice at the end of 1000 (the last 250-row chunk of
/// the SQL stores), a prefix already taken at the end of 1000; take an empty
/// batch.
#[cfg(all(
    feature = "cache",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "redis"
))]
async fn batch_contract(store: &dyn KeyManager, what: &str) {
    let (taken, _) = store.create(NewKey::named("taken")).await.unwrap().reveal();
    let absent = |records: Vec<KeyRecord>| async move {
        for r in &records {
            assert!(
                store.find(r.prefix).await.unwrap().is_none(),
                "{what}: a refused batch left {} stored",
                r.prefix
            );
        }
    };

    // A taken id, with a prefix of its own.
    let first = common::fresh_record(store, "first");
    let mut same_id = common::fresh_record(store, "same id");
    same_id.id = taken.id.clone();
    let e = store
        .insert_many(vec![first.clone(), same_id.clone()])
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{what}: taken id: {e}");
    absent(vec![first, same_id]).await;

    // One id twice, two prefixes.
    let a = common::fresh_record(store, "a");
    let mut b = common::fresh_record(store, "b");
    b.id = a.id.clone();
    let e = store
        .insert_many(vec![a.clone(), b.clone()])
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{what}: one id twice: {e}");
    absent(vec![a, b]).await;

    // 1000 rows, the last repeating the first's prefix.
    let mut many: Vec<_> = (0..MAX_BATCH)
        .map(|n| common::fresh_record(store, &format!("many {n}")))
        .collect();
    let mut last = common::fresh_record(store, "last");
    last.prefix = many[0].prefix;
    last.id = format!("last-{}", many[0].prefix);
    many[MAX_BATCH - 1] = last;
    let e = store.insert_many(many.clone()).await.unwrap_err();
    assert!(e.is_conflict(), "{what}: prefix twice in 1000: {e}");
    absent(many[..MAX_BATCH - 1].to_vec()).await;

    // 1000 rows, the last with a prefix already stored.
    let mut many: Vec<_> = (0..MAX_BATCH)
        .map(|n| common::fresh_record(store, &format!("many {n}")))
        .collect();
    let mut last = common::fresh_record(store, "last");
    last.prefix = taken.prefix;
    last.id = format!("last-{}", taken.prefix);
    many[MAX_BATCH - 1] = last;
    let e = store.insert_many(many.clone()).await.unwrap_err();
    assert!(e.is_conflict(), "{what}: taken prefix at row 1000: {e}");
    absent(many[..MAX_BATCH - 1].to_vec()).await;
    assert_eq!(
        store.find(taken.prefix).await.unwrap().unwrap().id,
        taken.id,
        "{what}: the taken key was replaced"
    );

    // Empty.
    store.insert_many(Vec::new()).await.unwrap();
    assert!(store.create_many(Vec::new()).await.unwrap().is_empty());
}

/// Every store the environment offers, plain and behind a cache, keeps
/// the batch contract.
#[cfg(all(
    feature = "cache",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "redis"
))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_all_or_none_in_every_store() {
    use crate::common;
    use api_key_auth::{
        cache::CachedStore,
        store::{redis::RedisStore, sqlite::SqliteStore},
    };
    let namespace = || common::namespace();
    batch_contract(&MemoryStore::new(), "memory").await;
    batch_contract(&CachedStore::new(MemoryStore::new()), "cached memory").await;

    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::connect(&format!("sqlite:{}", dir.path().join("k.db").display()))
        .await
        .unwrap();
    batch_contract(&sqlite, "sqlite").await;

    if let Some(url) =
        common::postgres_url("conformance::batches_are_all_or_none_in_every_store postgres")
    {
        use api_key_auth::store::{postgres::PostgresStore, Schema};
        let store = PostgresStore::new(common::isolated_pg_pool(&url).await, Schema::Native);
        store.migrate().await.unwrap();
        batch_contract(&store, "postgres").await;
    }
    if let Some(url) =
        common::mysql_url("conformance::batches_are_all_or_none_in_every_store mysql")
    {
        use api_key_auth::store::mysql::MySqlStore;
        let store = MySqlStore::connect(&common::isolated_mysql_url(&url).await)
            .await
            .unwrap();
        batch_contract(&store, "mysql").await;
    }
    if let Some(url) =
        common::redis_url("conformance::batches_are_all_or_none_in_every_store redis")
    {
        let store = RedisStore::connect(&url)
            .await
            .unwrap()
            .with_namespace(&namespace());
        batch_contract(&store, "redis").await;
    }
    if let Some(url) =
        common::redis_cluster_url("conformance::batches_are_all_or_none_in_every_store cluster")
    {
        let store = RedisStore::connect(&url)
            .await
            .unwrap()
            .with_namespace(&namespace());
        batch_contract(&store, "redis cluster").await;
    }
}
