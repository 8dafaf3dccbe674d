//! A SQLite key store (feature `sqlite`): the embedded, persistent default.
//!
//! ```
//! use api_key_auth::{store::sqlite::SqliteStore, KeyManager, KeyStore, NewKey};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // A file path (`sqlite:keys.db`, created if missing) or an in-memory database:
//! let store = SqliteStore::connect("sqlite::memory:").await?;
//! let (record, key) = store.create(NewKey::named("ci")).await?.reveal();
//! assert!(store.find(record.prefix).await?.is_some());
//! # Ok::<(), api_key_auth::StoreError>(())
//! # }).unwrap();
//! ```
//!
//! [`SqliteStore::connect`] creates the `api_keys` table with the migrations
//! shipped in `migrations/sqlite/`, recording them in `api_key_auth_migrations`;
//! [`SqliteStore::connect_drf`] serves a djangorestframework-api-key table as it is.
//!
//! The store runs on [rusqlite](https://docs.rs/rusqlite) (SQLite bundled), a
//! pool of up to ten connections to a file (in WAL mode, so readers never
//! wait for a writer), each used on tokio's blocking pool: a lookup is one
//! hop to a blocking thread and a prepared statement, about a third of
//! sqlx's driver's cost here (`benches/sqlite_lookup.rs`). Every change to a
//! key row is written to a change log that
//! [`revocations`](SqliteStore::revocations) follows, so caches in other
//! processes on the same file hear of it.
//!
//! URLs: `sqlite:PATH` or `sqlite://PATH` (created if missing; `?mode=rw`
//! if it must exist, `?mode=ro` read-only), `sqlite::memory:` (a database
//! in this process, gone with the store).

mod connect;
mod queries;

use std::{fmt, sync::Arc, time::SystemTime};

use async_trait::async_trait;

use self::{
    connect::{Pool, Target},
    queries::{run, run_wanted},
};
use crate::{
    found, found_by_id,
    hash::{Algorithm, Hasher, StoredHash},
    key::Prefix,
    native_migrations, new_row, page, records,
    store::{
        row::to_millis, KeyManager, KeyRecord, KeyStore, KeyUse, Lookup, Page, PageRequest,
        Retirement, StoreError,
    },
    ChangeLogSql, Dialect, PageValues, Schema, Statements, LAST_USE_BATCH,
};

/// The shipped migration files, by version (see `native_migrations`).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_api_keys.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_key_lifecycle.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_rate_limit.sql")),
    (5, include_str!("../migrations/sqlite/0005_lineage.sql")),
    (6, include_str!("../migrations/sqlite/0006_suspended.sql")),
    (
        7,
        include_str!("../migrations/sqlite/0007_allowed_from.sql"),
    ),
    (8, include_str!("../migrations/sqlite/0008_credits.sql")),
];

/// Keys in a SQLite database. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool,
    target: Target,
    sql: Arc<Statements>,
    schema: Schema,
    hasher: Hasher,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("database", &self.target)
            .field("schema", &self.schema)
            .field("hasher", &self.hasher.algorithm())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url`, such as
    /// `sqlite:keys.db` or `sqlite::memory:`, and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::open(url, Schema::Native).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database of a Django service and serves its
    /// djangorestframework-api-key table, `rest_framework_api_key_apikey`.
    /// Nothing is created; new keys are hashed as DRF hashes them.
    pub async fn connect_drf(url: &str) -> Result<Self, StoreError> {
        Self::open(url, Schema::drf()).await
    }

    /// Opens the database at `url` and serves `schema`'s table, creating
    /// nothing: with [`Schema::Native`], call [`migrate`](Self::migrate)
    /// once before use; [`Schema::drf_table`] names a DRF table of another
    /// name. An error says what was wrong with the URL or the file.
    pub async fn open(url: &str, schema: Schema) -> Result<Self, StoreError> {
        let target = Target::parse(url)?;
        let pool = target.pool().await?;
        Ok(Self {
            pool,
            target,
            sql: Arc::new(Statements::new(Dialect::Sqlite, &schema)),
            hasher: schema.default_hasher(),
            schema,
        })
    }

    /// Hashes new keys with `hasher` (and verifies with it in the conformance kit).
    pub fn with_hasher(mut self, hasher: Hasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// The schema the store reads.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Applies the shipped migrations not yet applied, and the change log
    /// of the `api_keys` table. Safe to run at every start, from many
    /// processes at once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrations = native_migrations(Dialect::Sqlite, MIGRATIONS);
        let sql = self.sql.clone();
        run(&self.pool, move |conn| {
            queries::apply_migrations(conn, &sql, &migrations)
        })
        .await
    }

    /// Installs triggers that write every change to a row of the store's
    /// table to the change log that [`revocations`](Self::revocations)
    /// follows.
    ///
    /// Every change counts (revoked, expiry moved, hash replaced, row
    /// deleted), whoever makes it: a key revoked in Django's admin is
    /// dropped from every cache within the feed's interval, not after the
    /// cache TTL. [`migrate`](Self::migrate) does this for this crate's own
    /// table; for a Django table it is an explicit step, safe to repeat,
    /// that adds the log table `api_key_auth_changes` and two triggers
    /// (`api_key_auth_log_upd_<table>`, `api_key_auth_log_del_<table>`) and
    /// touches no column or migration of Django's. Django rebuilds a SQLite
    /// table for some schema changes, which drops triggers: run it again
    /// after Django's migrations.
    /// [`remove_change_triggers`](Self::remove_change_triggers) undoes it.
    pub async fn install_change_triggers(&self) -> Result<(), StoreError> {
        self.change_log_triggers(true).await
    }

    /// Drops the triggers [`install_change_triggers`](Self::install_change_triggers)
    /// added. The log table stays (another table's triggers may write to it);
    /// drop it by hand once no trigger does.
    pub async fn remove_change_triggers(&self) -> Result<(), StoreError> {
        self.change_log_triggers(false).await
    }

    fn change_log(&self) -> ChangeLogSql {
        ChangeLogSql::new(Dialect::Sqlite, &self.schema).expect("SQLite tables have a change log")
    }

    async fn change_log_triggers(&self, install: bool) -> Result<(), StoreError> {
        let log = self.change_log();
        let statements = if install { log.install } else { log.remove };
        run(&self.pool, move |conn| {
            queries::execute_all(conn, &statements)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn find(&self, prefix: Prefix) -> Lookup {
        let sql = self.sql.clone();
        let raw = run(&self.pool, move |conn| {
            queries::find_row(conn, &sql.find, prefix.as_str())
        })
        .await?;
        found(raw, prefix, &self.schema)
    }

    fn hash_algorithm(&self) -> Option<Algorithm> {
        Some(self.hasher.algorithm())
    }

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        let sql = self.sql.clone();
        let new = new.to_string();
        let texts = [
            new.clone(),
            record.prefix.to_string(),
            record.hash.to_string(),
            new,
        ];
        let changed = run(&self.pool, move |conn| {
            queries::execute_texts(conn, &sql.upgrade_hash, &texts)
        })
        .await?;
        Ok(changed == 1)
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<crate::store::CreditSpend, StoreError> {
        let take = crate::Take::Exactly(cost);
        self.take_credits(record, take).await.map(crate::spent)
    }

    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<crate::store::CreditLease, StoreError> {
        self.take_credits(record, crate::Take::UpTo(up_to)).await
    }
}

#[async_trait]
impl KeyManager for SqliteStore {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let (id, values) = new_row(record, &self.schema)?;
        let (sql, own_columns) = (self.sql.clone(), !self.schema.is_drf());
        run_wanted(&self.pool, move |conn, wanted| {
            queries::insert_row(conn, &sql.insert, id, values, own_columns, wanted)
        })
        .await
    }

    /// One transaction: all the rows or none.
    async fn insert_many(&self, records: Vec<KeyRecord>) -> Result<(), StoreError> {
        crate::store::check_batch(records.len())?;
        let rows = records
            .into_iter()
            .map(|record| new_row(record, &self.schema))
            .collect::<Result<Vec<_>, _>>()?;
        let (sql, own_columns) = (self.sql.clone(), !self.schema.is_drf());
        run_wanted(&self.pool, move |conn, wanted| {
            queries::insert_rows(conn, &sql.insert, rows, own_columns, wanted)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let sql = self.sql.clone();
        records(
            run(&self.pool, move |conn| queries::all_rows(conn, &sql.list)).await?,
            &self.schema,
        )
    }

    async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        let statement = self.sql.page(request)?;
        let values = PageValues::of(request, SystemTime::now(), &self.schema);
        let rows = run(&self.pool, move |conn| {
            queries::page_rows(conn, &statement, &values)
        })
        .await?;
        page(rows, request.limit(), &self.schema)
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let (id, values) = new_row(new, &self.schema)?;
        let (sql, schema, old_id) = (self.sql.clone(), self.schema.clone(), old_id.to_owned());
        run_wanted(&self.pool, move |conn, wanted| {
            queries::rotate_row(
                conn,
                &sql,
                &schema,
                &old_id,
                (id, values),
                retirement,
                wanted,
            )
        })
        .await
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        if self.sql.last_use.is_none() {
            return Err(StoreError::unsupported(
                "a djangorestframework-api-key table has no column for last use",
            ));
        }
        for chunk in uses.chunks(LAST_USE_BATCH) {
            let pairs: Vec<(String, i64)> = chunk
                .iter()
                .map(|used| (used.id.clone(), to_millis(used.at)))
                .collect();
            let sql = self.sql.clone();
            run(&self.pool, move |conn| {
                let batch = sql.last_use.as_ref().map(|l| l.batch(pairs.len()));
                queries::write_last_use(conn, batch.as_deref().unwrap_or_default(), &pairs)
            })
            .await?;
        }
        Ok(())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let (sql, key) = (self.sql.clone(), id.to_owned());
        let raw = run(&self.pool, move |conn| {
            queries::find_row(conn, &sql.by_id, &key)
        })
        .await?;
        found_by_id(raw, id, &self.schema)
    }

    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let (sql, key, drf) = (self.sql.clone(), id.to_owned(), self.schema.is_drf());
        let revoked = run(&self.pool, move |conn| {
            queries::revoke_row(conn, &sql, &key, drf)
        })
        .await?;
        Ok(revoked.is_some())
    }

    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        self.set_suspended_row(id, suspended).await
    }

    fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }
}

impl SqliteStore {
    /// Takes credits of `record`'s key as `take` asks.
    async fn take_credits(
        &self,
        record: &KeyRecord,
        take: crate::Take,
    ) -> Result<crate::store::CreditLease, StoreError> {
        crate::take_credits(
            &self.sql.credits,
            record,
            take,
            |sql, values| async move {
                let changed = run(&self.pool, move |conn| {
                    queries::execute_values(conn, &sql, values)
                })
                .await?;
                Ok(u64::try_from(changed).unwrap_or(u64::MAX))
            },
            || self.find_by_id(&record.id),
        )
        .await
    }

    async fn set_suspended_row(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        let Some(statements) = &self.sql.suspension else {
            return Err(crate::rows::no_suspension());
        };
        let sql = statements[usize::from(suspended)].clone();
        let key = [id.to_owned()];
        let changed = run(&self.pool, move |conn| {
            queries::execute_texts(conn, &sql, &key)
        })
        .await?;
        Ok(changed > 0 || self.find_by_id(id).await?.is_some())
    }
}

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use revocations::SqliteRevocations;

#[cfg(feature = "cache")]
mod revocations {
    use std::{
        sync::{Arc, Mutex},
        time::Duration,
    };

    use async_trait::async_trait;
    use r2d2_sqlite::rusqlite::{self, Connection};

    use super::{connect::Target, SqliteStore};
    use crate::{
        feed::{ChangeFeed, Entry, LogConnection},
        store::{Invalidation, InvalidationSource},
    };

    /// Changes to keys made by anyone (another process, the `api-key`
    /// command, Django), read from the change log, for a
    /// [`CachedStore`](api_key_auth_core::cache::CachedStore).
    ///
    /// Every [`interval`](Self::interval) (250 ms by default) it asks SQLite
    /// on a connection of its own whether any other connection committed
    /// anything (`PRAGMA data_version`), and only then reads the log's new
    /// entries, naming each changed key's prefix. It yields
    /// [`Invalidation::All`] whenever it may have missed one: at every failed
    /// read, when entries it had not read were trimmed, and whenever the
    /// database changed while the table is without its triggers (Django
    /// rebuilds a SQLite table for some migrations, dropping them) or the log
    /// was made again. A read that takes over a second counts as failed. It
    /// also keeps the log trimmed to its newest 10,000 entries.
    #[derive(Debug)]
    pub struct SqliteRevocations(ChangeFeed<FeedConnection>);

    impl SqliteStore {
        #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
        /// The changes to this store's table, to pass to
        /// [`CachedStore::with_invalidations`](api_key_auth_core::cache::CachedStore::with_invalidations).
        /// The table needs its change triggers: this crate's own has them
        /// (see [`migrate`](Self::migrate)); a Django table gets them from
        /// [`install_change_triggers`](Self::install_change_triggers).
        pub fn revocations(&self) -> SqliteRevocations {
            SqliteRevocations(ChangeFeed::new(self.target.clone(), self.change_log()))
        }
    }

    impl SqliteRevocations {
        /// How often the log is read; 250 ms by default, 10 ms at least.
        pub fn interval(mut self, every: Duration) -> Self {
            self.0.set_interval(every);
            self
        }
    }

    #[async_trait]
    impl InvalidationSource for SqliteRevocations {
        async fn next(&mut self) -> Option<Invalidation> {
            Some(self.0.next().await)
        }
    }

    /// The feed's own connection, used on the blocking pool. Shared with
    /// the blocking task, so a read the feed stopped waiting for finishes
    /// before the next one starts.
    pub(crate) struct FeedConnection(Arc<Mutex<Connection>>);

    impl FeedConnection {
        async fn with<T: Send + 'static>(
            &self,
            work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        ) -> Result<T, String> {
            let conn = self.0.clone();
            tokio::task::spawn_blocking(move || {
                let conn = conn.lock().map_err(|_| "a read panicked".to_owned())?;
                work(&conn).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        }
    }

    #[async_trait]
    impl LogConnection for FeedConnection {
        type Opener = Target;

        async fn open(target: &Target) -> Result<Self, String> {
            let target = target.clone();
            let conn = tokio::task::spawn_blocking(move || target.open())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            Ok(Self(Arc::new(Mutex::new(conn))))
        }

        async fn scalar(&mut self, sql: &str, params: &[i64]) -> Result<i64, String> {
            let (sql, params) = (sql.to_owned(), params.to_vec());
            self.with(move |conn| {
                conn.query_row(&sql, rusqlite::params_from_iter(params), |row| row.get(0))
            })
            .await
        }

        async fn execute(&mut self, sql: &str, params: &[i64]) -> Result<(), String> {
            let (sql, params) = (sql.to_owned(), params.to_vec());
            self.with(move |conn| {
                conn.execute(&sql, rusqlite::params_from_iter(params))
                    .map(drop)
            })
            .await
        }

        async fn entries(&mut self, sql: &str, params: &[i64]) -> Result<Vec<Entry>, String> {
            let (sql, params) = (sql.to_owned(), params.to_vec());
            self.with(move |conn| {
                conn.prepare_cached(&sql)?
                    .query_map(rusqlite::params_from_iter(params), |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })?
                    .collect()
            })
            .await
        }
    }
}
