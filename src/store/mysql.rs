//! A MySQL or MariaDB key store (feature `mysql`): one key table shared by
//! many instances of a service, for those whose database is MySQL 8 or
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
//! must keep it). There is no notification of revocations between instances:
//! give a `CachedStore` (feature `cache`) in front of this store a short TTL.

use std::{str::FromStr, time::Duration};

use sqlx::{
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
    MySql, MySqlPool,
};

use crate::store::{
    sql::{forward_sql_store, store_error, Schema, SqlStore},
    StoreError,
};

/// The shipped migrations, in order.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/mysql/0001_api_keys.sql"))];

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
        Ok(Self::new(pool(url).await?, Schema::drf()))
    }

    /// Applies the shipped migrations not yet applied. Safe to run at every
    /// start, from many instances at once: every statement of a migration is
    /// one that a second run skips (MySQL commits DDL at once, so a
    /// transaction could not make them atomic).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner.migrate(MIGRATIONS, None).await
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
