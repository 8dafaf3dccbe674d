//! A PostgreSQL key store (feature `postgres`): one key table shared by many
//! instances of a service.
//!
//! ```no_run
//! use api_key_auth::{store::postgres::PostgresStore, ApiKeyLayer};
//!
//! # async fn run() -> Result<(), api_key_auth::StoreError> {
//! let store = PostgresStore::connect("postgres://app@127.0.0.1/app").await?;
//! let layer = ApiKeyLayer::new(store);
//! # Ok(()) }
//! ```
//!
//! [`PostgresStore::connect`] creates the `api_keys` table with the
//! migrations shipped in `migrations/postgres/` (under an advisory lock, so
//! instances starting together do not race); [`PostgresStore::connect_drf`]
//! serves a djangorestframework-api-key table as it is. Every revocation is
//! announced with `NOTIFY api_key_auth_revoked, '<prefix>'` in the revoking
//! transaction, for caches in other instances to drop the key.
//!
//! TLS: enable one of sqlx's TLS features in your own `Cargo.toml`
//! (`sqlx = { version = "0.8", features = ["tls-rustls"] }`) and use `sslmode` in the URL.

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool, Postgres,
};

use crate::{
    forward_sql_store, native_migrations, postgres_change_triggers, store::StoreError, store_error,
    Dialect, MigrationLock, Schema, SqlStore,
};

/// The channel revocations are announced on.
pub const REVOCATION_CHANNEL: &str = crate::REVOCATION_CHANNEL;

/// The shipped migration files, by version (see `native_migrations`).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_api_keys.sql")),
    (
        3,
        include_str!("../migrations/postgres/0003_key_lifecycle.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_rate_limit.sql"),
    ),
    (5, include_str!("../migrations/postgres/0005_lineage.sql")),
    (6, include_str!("../migrations/postgres/0006_suspended.sql")),
    (
        7,
        include_str!("../migrations/postgres/0007_allowed_from.sql"),
    ),
    (8, include_str!("../migrations/postgres/0008_credits.sql")),
];

/// Serialises migrators, on an arbitrary, fixed advisory-lock key ("apkeyaut").
const MIGRATION_LOCK: MigrationLock = MigrationLock {
    take: "SELECT CAST(CAST(pg_try_advisory_lock(7021229902642902388) AS INT) AS BIGINT)",
    release: "SELECT CAST(CAST(pg_advisory_unlock(7021229902642902388) AS INT) AS BIGINT)",
};

/// Keys in a PostgreSQL database. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    inner: SqlStore<Postgres>,
}

forward_sql_store!(PostgresStore, Postgres);

impl PostgresStore {
    /// Connects a pool to `url` (`postgres://user:password@host:port/database`)
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
    /// once before use.
    pub async fn open(url: &str, schema: Schema) -> Result<Self, StoreError> {
        Ok(Self::new(pool(url).await?, schema))
    }

    /// Applies the shipped migrations not yet applied. Safe to run at every
    /// start, from many instances at once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner
            .migrate(
                &native_migrations(Dialect::Postgres, MIGRATIONS),
                MIGRATION_LOCK,
            )
            .await
    }

    /// Installs triggers that announce every change to a row of the store's
    /// table on the channel [`revocations`](Self::revocations) listens to.
    ///
    /// Every change counts (revoked, expiry moved, hash replaced, row
    /// deleted), whoever makes it: a key revoked in Django's admin is
    /// dropped from every cache within the listener's reach, not after the
    /// cache TTL. An explicit step, safe to repeat: it adds a function
    /// (`api_key_auth_announce_change`) and a trigger of that name, and
    /// touches no column or migration of Django's.
    /// [`remove_change_triggers`](Self::remove_change_triggers) undoes it.
    pub async fn install_change_triggers(&self) -> Result<(), StoreError> {
        let statements = postgres_change_triggers(self.schema(), true);
        self.inner.execute_all(&statements).await
    }

    /// Removes the trigger [`install_change_triggers`](Self::install_change_triggers) added.
    pub async fn remove_change_triggers(&self) -> Result<(), StoreError> {
        let statements = postgres_change_triggers(self.schema(), false);
        self.inner.execute_all(&statements).await
    }
}

async fn pool(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::config(format!("not a PostgreSQL URL: {e}")))?;
    PgPoolOptions::new()
        .max_connections(16)
        // A lookup waiting longer than this for a connection is a store failure (503), not a hang.
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .map_err(store_error)
}

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use revocations::PgRevocations;

#[cfg(feature = "cache")]
mod revocations {
    use std::time::Duration;

    use async_trait::async_trait;
    use sqlx::{
        postgres::{PgListener, PgPoolOptions},
        PgPool,
    };

    use super::{PostgresStore, REVOCATION_CHANNEL};
    use crate::store::{Invalidation, InvalidationSource, Line, Listener};

    /// Revocations made by other instances, from PostgreSQL's `LISTEN`, for
    /// a [`CachedStore`](api_key_auth_core::cache::CachedStore).
    ///
    /// It yields [`Invalidation::All`] whenever it may have missed a
    /// notification: when it finds its connection lost, at every failed
    /// attempt to listen again (so while it cannot listen, nothing cached
    /// outlives one retry, at most a few seconds), and once listening again.
    /// A connection that stays open but carries nothing (a stalled proxy or
    /// NAT, a pooler in transaction mode that sends `LISTEN` to a server
    /// connection it then hands to someone else) is found by a heartbeat:
    /// after every [`heartbeat`](Self::heartbeat) without traffic, a probe is
    /// sent with `pg_notify` on a connection of its own, and must come back
    /// on the listening one within the heartbeat (at most a second).
    #[derive(Debug)]
    pub struct PgRevocations(Listener<PgLine>);

    /// The listening connection's pool: one of its own, so a dead listener's
    /// connection, whose `UNLISTEN` on drop may hang until TCP gives up,
    /// never holds a slot the store's lookups need.
    pub(crate) struct PgLine(PgPool);

    impl PostgresStore {
        #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
        /// A source of the revocations other instances announce, to pass to
        /// [`CachedStore::with_invalidations`](api_key_auth_core::cache::CachedStore::with_invalidations).
        pub fn revocations(&self) -> PgRevocations {
            let options = (*self.pool().connect_options()).clone();
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(3))
                .connect_lazy_with(options);
            PgRevocations(Listener::new(PgLine(pool)))
        }
    }

    impl PgRevocations {
        /// How long the listening connection may be quiet before a probe is
        /// sent through it; 5 s by default. A silent dead or deaf connection
        /// is noticed (and the cache flushed) within this plus at most a second.
        pub fn heartbeat(mut self, every: Duration) -> Self {
            self.0.set_heartbeat(every);
            self
        }
    }

    #[async_trait]
    impl InvalidationSource for PgRevocations {
        async fn next(&mut self) -> Option<Invalidation> {
            Some(self.0.next().await)
        }
    }

    #[async_trait]
    impl Line for PgLine {
        type Open = PgListener;
        const WHAT: &'static str = "LISTEN";

        async fn open(&self) -> Result<PgListener, String> {
            let mut listener = PgListener::connect_with(&self.0)
                .await
                .map_err(|e| e.to_string())?;
            listener.ignore_pool_close_event(true);
            // A lost connection comes back only through the listener's
            // `next`, which flushes first: reconnecting inside `try_recv`,
            // where the heartbeat's timeout could cut it short, would hide the loss.
            listener.eager_reconnect(false);
            listener
                .listen(REVOCATION_CHANNEL)
                .await
                .map_err(|e| e.to_string())?;
            Ok(listener)
        }

        /// `try_recv` is cancel-safe: a notification half read when the
        /// heartbeat fires stays buffered for the next call.
        async fn recv(listener: &mut PgListener) -> Option<String> {
            match listener.try_recv().await {
                Ok(Some(notification)) => Some(notification.payload().to_owned()),
                Ok(None) | Err(_) => None,
            }
        }

        /// Through the pool, on a connection other than the listener's, as
        /// another instance's trigger would.
        async fn publish(&self, payload: &str) -> Result<(), String> {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(REVOCATION_CHANNEL)
                .bind(payload)
                .execute(&self.0)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    }
}
