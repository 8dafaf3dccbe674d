//! The conformance kit: built-in stores pass it, and broken stores fail the
//! check that describes their fault.

use std::{
    sync::{Arc, Mutex},
    time::SystemTime,
};

use api_key_auth::{
    key::Prefix,
    store::{KeyUse, Retirement},
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
    let failure = Conformance::new(Plain::default()).run().await.unwrap_err();
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
