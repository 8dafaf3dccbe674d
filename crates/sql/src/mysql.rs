//! A MySQL or MariaDB key store (feature `mysql`): one key table shared by
//! many instances of a service, for those whose database is MySQL 8.0.29 or
//! MariaDB 10.5 and later.
//!
//! ```no_run
//! use api_key_auth::{store::mysql::MySqlStore, ApiKeyLayer};
//!
//! # async fn run() -> Result<(), api_key_auth::StoreError> {
//! let store = MySqlStore::connect("mysql://app:secret@127.0.0.1:3306/app").await?;
//! let layer = ApiKeyLayer::new(store);
//! # Ok(()) }
//! ```
//!
//! [`MySqlStore::connect`] creates the `api_keys` table with the migrations
//! shipped in `migrations/mysql/` (in a binary collation, so prefixes stay
//! case-sensitive); [`MySqlStore::connect_drf`] serves a
//! djangorestframework-api-key table as it is. Sessions run in UTC, as
//! Django's do (sqlx's default; a pool of yours given to [`MySqlStore::new`]
//! must keep it). MySQL has no notification channel: triggers write every
//! change to a key row to a change log, `api_key_auth_changes`, which
//! [`MySqlStore::revocations`] (feature `cache`) follows for a `CachedStore`
//! in front of the store. Migrations hold a named lock (`GET_LOCK`), so
//! instances starting together apply each once.

use std::{str::FromStr, time::Duration};

use sqlx::{
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
    MySql, MySqlPool,
};

use crate::{
    forward_sql_store, native_migrations, store::StoreError, store_error, Dialect, MigrationLock,
    Schema, SqlStore,
};

/// The shipped migration files, by version (see `native_migrations`).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/mysql/0001_api_keys.sql")),
    (
        3,
        include_str!("../migrations/mysql/0003_key_lifecycle.sql"),
    ),
    (4, include_str!("../migrations/mysql/0004_rate_limit.sql")),
    (5, include_str!("../migrations/mysql/0005_lineage.sql")),
    (6, include_str!("../migrations/mysql/0006_suspended.sql")),
    (7, include_str!("../migrations/mysql/0007_allowed_from.sql")),
    (8, include_str!("../migrations/mysql/0008_credits.sql")),
];

/// Serialises migrators: a named lock, one per database (the names are the
/// server's). MySQL commits each DDL statement at once, so only the lock
/// keeps two instances from applying one migration together.
const MIGRATION_LOCK: MigrationLock = MigrationLock {
    take: "SELECT CAST(GET_LOCK(CONCAT('api_key_auth_migrate_', SHA1(COALESCE(DATABASE(), ''))), 0) AS SIGNED)",
    release: "SELECT CAST(COALESCE(RELEASE_LOCK(CONCAT('api_key_auth_migrate_', SHA1(COALESCE(DATABASE(), '')))), 0) AS SIGNED)",
};

/// Keys in a MySQL or MariaDB database. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    inner: SqlStore<MySql>,
}

forward_sql_store!(MySqlStore, MySql);

impl MySqlStore {
    /// Connects a pool to `url` (`mysql://user:password@host:port/database`)
    /// and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::new(pool(url).await?, Schema::Native);
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to a Django service's database and serves its
    /// djangorestframework-api-key table, `rest_framework_api_key_apikey`.
    /// Nothing is created; new keys are hashed as DRF hashes them.
    pub async fn connect_drf(url: &str) -> Result<Self, StoreError> {
        Self::open(url, Schema::drf()).await
    }

    /// Connects a pool to `url` and serves `schema`'s table, creating
    /// nothing: with [`Schema::Native`], call [`migrate`](Self::migrate)
    /// once before use; [`Schema::with_naive_time_zone`] reads a Django
    /// table's dates in the time zone Django wrote them in.
    pub async fn open(url: &str, schema: Schema) -> Result<Self, StoreError> {
        Ok(Self::new(pool(url).await?, schema))
    }

    /// Applies the shipped migrations not yet applied. Safe to run at every
    /// start, from many instances at once: every statement of a migration is
    /// one that a second run skips (MySQL commits DDL at once, so a
    /// transaction could not make them atomic).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner
            .migrate(
                &native_migrations(Dialect::MySql, MIGRATIONS),
                MIGRATION_LOCK,
            )
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

async fn pool(url: &str) -> Result<MySqlPool, StoreError> {
    let options = MySqlConnectOptions::from_str(url)
        .map_err(|e| StoreError::config(format!("not a MySQL URL: {e}")))?
        .timezone(Some("+00:00".to_owned()));
    MySqlPoolOptions::new()
        .max_connections(16)
        // A lookup waiting longer than this for a connection is a store failure (503), not a hang.
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .map_err(store_error)
}

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use revocations::MySqlRevocations;

#[cfg(feature = "cache")]
mod revocations {
    use std::time::Duration;

    use async_trait::async_trait;
    use sqlx::{
        pool::{PoolConnection, PoolOptions},
        MySql,
    };

    use super::MySqlStore;
    use crate::{
        feed::ChangeFeed,
        store::{Invalidation, InvalidationSource},
        ChangeLogSql,
    };

    /// Changes to keys made by anyone (another process, the `api-key`
    /// command, Django), read from the change log, for a
    /// [`CachedStore`](api_key_auth_core::cache::CachedStore).
    ///
    /// Every [`interval`](Self::interval) (250 ms by default) it reads the
    /// log's new entries on a connection of its own, and names each changed
    /// key's prefix. MySQL numbers an entry before its transaction commits:
    /// numbers skipped are asked for again at every read, and their keys
    /// named when they commit. It yields [`Invalidation::All`] whenever it
    /// may have missed one: at every failed read, when it gives a skipped
    /// number up (trimmed, or waited for 10 minutes), and at every check
    /// (once a second) that finds the table without its triggers or the log
    /// made again. A read that takes over a second counts as failed. It also
    /// keeps the log trimmed to its newest 10,000 entries.
    #[derive(Debug)]
    pub struct MySqlRevocations(ChangeFeed<PoolConnection<MySql>>);

    impl MySqlStore {
        #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
        /// The changes to this store's table, to pass to
        /// [`CachedStore::with_invalidations`](api_key_auth_core::cache::CachedStore::with_invalidations).
        /// The table needs its change triggers: this crate's own has them
        /// (see [`migrate`](Self::migrate)); a Django table gets them from
        /// [`install_change_triggers`](Self::install_change_triggers).
        pub fn revocations(&self) -> MySqlRevocations {
            let log = self
                .inner
                .change_log()
                .expect("SQLite and MySQL tables have a change log");
            MySqlRevocations::following(self, log)
        }
    }

    impl MySqlRevocations {
        fn following(store: &MySqlStore, log: ChangeLogSql) -> Self {
            let options = (*store.pool().connect_options()).clone();
            let pool = PoolOptions::<MySql>::new()
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
    impl InvalidationSource for MySqlRevocations {
        async fn next(&mut self) -> Option<Invalidation> {
            Some(self.0.next().await)
        }
    }
}
