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

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow},
    Sqlite, SqlitePool, Transaction,
};

use crate::{
    hash::Hasher,
    store::{
        sql::{sql_store_impls, store_error, Dialect, HasRow, Schema, Statements},
        StoreError,
    },
};

/// The shipped migrations, in order.
const MIGRATIONS: &[(i64, &str)] =
    &[(1, include_str!("../../migrations/sqlite/0001_api_keys.sql"))];

/// Keys in a SQLite database. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    sql: Arc<Statements>,
    schema: Schema,
    hasher: Hasher,
}

impl HasRow for SqliteStore {
    type Row = SqliteRow;
}

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
        self.run_migrations(MIGRATIONS, None).await
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

/// SQLite has no other instances to tell of a revocation.
async fn after_revoke(
    _: &SqliteStore,
    _: &mut Transaction<'_, Sqlite>,
    _: &str,
) -> Result<(), StoreError> {
    Ok(())
}

sql_store_impls!(SqliteStore, SqlitePool, Dialect::Sqlite, after_revoke);
