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

use std::{str::FromStr, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
    Sqlite, SqlitePool,
};

use crate::store::{
    sql::{forward_sql_store, store_error, Schema, SqlStore},
    StoreError,
};

/// The shipped migrations, in order.
const MIGRATIONS: &[(i64, &str)] =
    &[(1, include_str!("../../migrations/sqlite/0001_api_keys.sql"))];

/// The migration that adds the change log and its triggers to `api_keys`.
const CHANGE_LOG_MIGRATION: i64 = 2;

/// Keys in a SQLite database. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: SqlStore<Sqlite>,
}

forward_sql_store!(SqliteStore, Sqlite);

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url`, such as
    /// `sqlite:keys.db` or `sqlite::memory:`, and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::new(pool(url).await?, Schema::Native);
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database of a Django service and serves its
    /// djangorestframework-api-key table, `rest_framework_api_key_apikey`.
    /// Nothing is created; new keys are hashed as DRF hashes them.
    pub async fn connect_drf(url: &str) -> Result<Self, StoreError> {
        Ok(Self::new(pool(url).await?, Schema::drf()))
    }

    /// Applies the shipped migrations not yet applied. Safe to run at every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner
            .migrate(MIGRATIONS, Some(CHANGE_LOG_MIGRATION), None)
            .await
    }

    /// Installs triggers on the store's table that write every change to a
    /// row (revoked, expiry moved, hash replaced, row deleted), whoever
    /// makes it, to the change log `api_key_auth_changes`, which
    /// [`revocations`](Self::revocations) follows: a key revoked in Django's
    /// admin is then dropped from every cache within the feed's interval,
    /// not after the cache TTL. [`migrate`](Self::migrate) does this for this
    /// crate's own table; for a Django table it is an explicit step, safe to
    /// repeat, that adds the log table and two triggers
    /// (`api_key_auth_log_upd_<table>`, `api_key_auth_log_del_<table>`) and
    /// touches no column or migration of Django's.
    /// [`remove_change_triggers`](Self::remove_change_triggers) undoes it.
    pub async fn install_change_triggers(&self) -> Result<(), StoreError> {
        self.inner.change_log_triggers(true).await
    }

    /// Drops the triggers [`install_change_triggers`](Self::install_change_triggers)
    /// added. The log table stays (another table's triggers may write to it);
    /// drop it by hand once no trigger does.
    pub async fn remove_change_triggers(&self) -> Result<(), StoreError> {
        self.inner.change_log_triggers(false).await
    }
}

async fn pool(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::config(format!("{url:?} is not a SQLite URL: {e}")))?
        .create_if_missing(true)
        .busy_timeout(Duration::from_secs(5));
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool = if in_memory {
        // Each connection to `:memory:` is a database of its own: keep exactly one, for ever.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
    } else {
        SqlitePoolOptions::new()
            .connect_with(options.journal_mode(SqliteJournalMode::Wal))
            .await
    };
    pool.map_err(store_error)
}

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use revocations::SqliteRevocations;

#[cfg(feature = "cache")]
mod revocations {
    use std::time::Duration;

    use async_trait::async_trait;
    use sqlx::{pool::PoolOptions, Sqlite};

    use super::SqliteStore;
    use crate::store::{
        sql::{feed::ChangeFeed, ChangeLogSql},
        Invalidation, InvalidationSource,
    };

    /// Changes to keys made by anyone (another process, the `api-key`
    /// command, Django), read from the change log, for a
    /// [`CachedStore`](crate::cache::CachedStore).
    ///
    /// Every [`interval`](Self::interval) (250 ms by default) it reads the
    /// log's new entries on a connection of its own, skipped while SQLite's `PRAGMA data_version` says no other
    /// connection committed anything since the last read, and names
    /// each changed key's prefix. It yields [`Invalidation::All`] whenever
    /// it may have missed one: at every failed read, when entries it had not
    /// read were trimmed, and when a hole in the log's sequence stays open
    /// over 5 seconds (a transaction that never committed). A read that takes
    /// over a second counts as failed. It also keeps the log trimmed to its
    /// newest 10,000 entries.
    #[derive(Debug)]
    pub struct SqliteRevocations(ChangeFeed<Sqlite>);

    impl SqliteStore {
        #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
        /// The changes to this store's table, to pass to
        /// [`CachedStore::with_invalidations`](crate::cache::CachedStore::with_invalidations).
        /// The table needs its change triggers: this crate's own has them
        /// (see [`migrate`](Self::migrate)); a Django table gets them from
        /// [`install_change_triggers`](Self::install_change_triggers).
        pub fn revocations(&self) -> SqliteRevocations {
            let log = self
                .inner
                .change_log()
                .expect("SQLite and MySQL tables have a change log");
            SqliteRevocations::following(self, log)
        }
    }

    impl SqliteRevocations {
        fn following(store: &SqliteStore, log: ChangeLogSql) -> Self {
            let options = (*store.pool().connect_options()).clone();
            let pool = PoolOptions::<Sqlite>::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(1))
                .connect_lazy_with(options);
            Self(ChangeFeed::new(pool, log))
        }

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
}
