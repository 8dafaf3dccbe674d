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
        self.inner.migrate(MIGRATIONS, None).await
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
