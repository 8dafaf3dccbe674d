//! The store generic over sqlx's databases: PostgreSQL and MySQL differ
//! only in the SQL they are given and in how they connect.

use std::{sync::Arc, time::SystemTime};

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};

use super::{
    found, found_by_id, new_row, page, records, rotation,
    statements::{InsertRows, REVOCATION_CHANNEL},
    BindValue, Bound, ChangeLogSql, Dialect, PageStatement, PageValues, Schema, Statements,
    LAST_USE_BATCH,
};
use crate::{
    hash::{Algorithm, Hasher, StoredHash},
    key::Prefix,
    store::{
        row::{to_millis, InsertValues, RawRecord},
        KeyRecord, KeyUse, Lookup, Page, PageRequest, Retirement, StoreError,
    },
};

/// A database error as a store error: a unique violation is a conflict, a
/// row that does not decode an invalid record, anything else unavailability.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::conflict(err),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. } => StoreError::invalid_record(err),
        _ => StoreError::unavailable(err),
    }
}

/// A database a SQL store runs on, and its dialect.
pub(crate) trait SqlDatabase: Database {
    const DIALECT: Dialect;
}

/// How many rows a statement changed: each database's result says so in
/// its own type.
pub(crate) trait RowsChanged {
    fn rows_changed(&self) -> u64;
}

#[cfg(feature = "postgres")]
impl RowsChanged for sqlx::postgres::PgQueryResult {
    fn rows_changed(&self) -> u64 {
        self.rows_affected()
    }
}

#[cfg(feature = "mysql")]
impl RowsChanged for sqlx::mysql::MySqlQueryResult {
    fn rows_changed(&self) -> u64 {
        self.rows_affected()
    }
}

#[cfg(feature = "postgres")]
impl SqlDatabase for sqlx::Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
}

#[cfg(feature = "mysql")]
impl SqlDatabase for sqlx::MySql {
    const DIALECT: Dialect = Dialect::MySql;
}

/// The queries a store runs, written once for every database sqlx can run
/// them on: the one place that says what the store needs of sqlx.
#[async_trait]
pub(crate) trait Queries: SqlDatabase {
    async fn find_row(
        pool: &Pool<Self>,
        sql: &str,
        prefix: &str,
    ) -> Result<Option<RawRecord>, sqlx::Error>;
    async fn all_rows(pool: &Pool<Self>, sql: &str) -> Result<Vec<RawRecord>, sqlx::Error>;
    async fn page_rows(
        pool: &Pool<Self>,
        page: &PageStatement,
        values: &PageValues,
    ) -> Result<Vec<RawRecord>, sqlx::Error>;
    async fn insert_row(
        pool: &Pool<Self>,
        sql: &str,
        id: String,
        values: InsertValues,
        own_columns: bool,
    ) -> Result<(), sqlx::Error>;
    /// Inserts `rows` in one transaction: all or none.
    async fn insert_rows(
        pool: &Pool<Self>,
        sql: &InsertRows,
        rows: Vec<(String, InsertValues)>,
        own_columns: bool,
    ) -> Result<(), sqlx::Error>;
    /// Inserts the successor (primary key `id`) and retires the row with
    /// id `old_id`, in one transaction holding the old row's lock.
    async fn rotate_row(
        pool: &Pool<Self>,
        sql: &Statements,
        schema: &Schema,
        old_id: &str,
        id: String,
        values: InsertValues,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError>;
    /// Runs `sql` binding each (id, ms) pair in turn.
    async fn write_last_use(
        pool: &Pool<Self>,
        sql: &str,
        uses: &[(String, i64)],
    ) -> Result<(), sqlx::Error>;
    /// Runs `sql` with text parameters, in order; how many rows it changed.
    async fn execute_texts(
        pool: &Pool<Self>,
        sql: &str,
        texts: &[&str],
    ) -> Result<u64, sqlx::Error>;
    /// Runs `sql` with `values`, in order; how many rows it changed.
    async fn execute_values(
        pool: &Pool<Self>,
        sql: &str,
        values: Vec<Bound>,
    ) -> Result<u64, sqlx::Error>;
    /// Revokes the row whose key column is `id`, in one transaction, and
    /// gives its prefix. With `id_is_prefix` (a DRF table, whose ids are
    /// prefixes) a row whose prefix is not exactly `id` is left alone.
    async fn revoke_row(
        pool: &Pool<Self>,
        sql: &Statements,
        id: &str,
        id_is_prefix: bool,
    ) -> Result<Option<String>, sqlx::Error>;
    /// Runs `statements` in one transaction.
    async fn execute_all(pool: &Pool<Self>, statements: &[String]) -> Result<(), sqlx::Error>;
    /// The first column, an integer, of the one row `sql` answers on `conn`
    /// with integer `params`.
    async fn scalar(
        conn: &mut Self::Connection,
        sql: &str,
        params: &[i64],
    ) -> Result<i64, sqlx::Error>;
    /// Runs `sql` on `conn` with integer `params`; rows affected ignored.
    #[cfg_attr(not(all(feature = "cache", feature = "mysql")), allow(dead_code))]
    async fn execute_with(
        conn: &mut Self::Connection,
        sql: &str,
        params: &[i64],
    ) -> Result<(), sqlx::Error>;
    /// Change-log entries (`seq`, `prefix`) `sql` gives with integer `params`.
    #[cfg_attr(not(all(feature = "cache", feature = "mysql")), allow(dead_code))]
    async fn entries(
        conn: &mut Self::Connection,
        sql: &str,
        params: &[i64],
    ) -> Result<Vec<(i64, Option<String>)>, sqlx::Error>;
    /// Applies the migrations (version, statements) not recorded, in one
    /// transaction, holding `lock`.
    async fn apply_migrations(
        pool: &Pool<Self>,
        sql: &Statements,
        migrations: &[(i64, Vec<String>)],
        lock: MigrationLock,
    ) -> Result<(), sqlx::Error>;
}

#[async_trait]
impl<DB> Queries for DB
where
    DB: SqlDatabase,
    DB::QueryResult: RowsChanged,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> Option<String>: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> Option<i64>: Decode<'r, DB>,
    for<'r> bool: Decode<'r, DB>,
    for<'r> Option<bool>: Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn find_row(
        pool: &Pool<Self>,
        sql: &str,
        prefix: &str,
    ) -> Result<Option<RawRecord>, sqlx::Error> {
        let row = sqlx::query(sql).bind(prefix).fetch_optional(pool).await?;
        row.as_ref().map(decode::<DB>).transpose()
    }

    async fn all_rows(pool: &Pool<Self>, sql: &str) -> Result<Vec<RawRecord>, sqlx::Error> {
        let rows = sqlx::query(sql).fetch_all(pool).await?;
        rows.iter().map(decode::<DB>).collect()
    }

    async fn page_rows(
        pool: &Pool<Self>,
        page: &PageStatement,
        values: &PageValues,
    ) -> Result<Vec<RawRecord>, sqlx::Error> {
        let mut query = sqlx::query(&page.sql);
        for bind in &page.binds {
            query = match values.value(*bind) {
                BindValue::Text(text) => query.bind(text),
                BindValue::Int(n) => query.bind(n),
            };
        }
        let rows = query.fetch_all(pool).await?;
        rows.iter().map(decode::<DB>).collect()
    }

    async fn insert_row(
        pool: &Pool<Self>,
        sql: &str,
        id: String,
        values: InsertValues,
        own_columns: bool,
    ) -> Result<(), sqlx::Error> {
        bind_row::<DB>(sqlx::query(sql), id, values, own_columns)
            .execute(pool)
            .await?;
        Ok(())
    }

    async fn insert_rows(
        pool: &Pool<Self>,
        sql: &InsertRows,
        rows: Vec<(String, InsertValues)>,
        own_columns: bool,
    ) -> Result<(), sqlx::Error> {
        // Statements of at most ROWS_AT_ONCE rows (well under the databases'
        // limits on parameters), in one transaction, which rolls back if
        // dropped before its commit (a cancelled call).
        const ROWS_AT_ONCE: usize = 250;
        let mut writer = Writer::acquire(pool).await?;
        let mut tx = writer.begin().await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(ROWS_AT_ONCE).collect();
            let statement = sql.sql(chunk.len());
            let mut query = sqlx::query(&statement);
            for (id, values) in chunk {
                query = bind_row(query, id, values, own_columns);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        writer.finish();
        Ok(())
    }

    async fn rotate_row(
        pool: &Pool<Self>,
        sql: &Statements,
        schema: &Schema,
        old_id: &str,
        id: String,
        values: InsertValues,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let mut writer = Writer::acquire(pool).await.map_err(store_error)?;
        let mut tx = writer.begin().await.map_err(store_error)?;
        let row = sqlx::query(&sql.lock_row)
            .bind(old_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        let raw = row
            .as_ref()
            .map(decode::<DB>)
            .transpose()
            .map_err(store_error)?;
        // Dropping the transaction on any refusal rolls it back.
        let (retired, write) = rotation(raw, old_id, &values, retirement, schema)?;
        bind_row::<DB>(sqlx::query(&sql.insert), id, values, !schema.is_drf())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut retire = sqlx::query(&sql.retire)
            .bind(write.revoked)
            .bind(write.expires_ms);
        if !schema.is_drf() {
            retire = retire.bind(write.replaced_by);
        }
        retire
            .bind(old_id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        if let Some(notify) = &sql.notify {
            sqlx::query(notify)
                .bind(REVOCATION_CHANNEL)
                .bind(retired.prefix.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        writer.finish();
        Ok(retired)
    }

    async fn write_last_use(
        pool: &Pool<Self>,
        sql: &str,
        uses: &[(String, i64)],
    ) -> Result<(), sqlx::Error> {
        let query = uses.iter().fold(sqlx::query(sql), |query, (id, ms)| {
            query.bind(id.as_str()).bind(*ms)
        });
        query.execute(pool).await.map(drop)
    }

    async fn execute_texts(
        pool: &Pool<Self>,
        sql: &str,
        texts: &[&str],
    ) -> Result<u64, sqlx::Error> {
        let query = texts
            .iter()
            .fold(sqlx::query(sql), |query, text| query.bind(*text));
        Ok(query.execute(pool).await?.rows_changed())
    }

    async fn execute_values(
        pool: &Pool<Self>,
        sql: &str,
        values: Vec<Bound>,
    ) -> Result<u64, sqlx::Error> {
        let query = values
            .into_iter()
            .fold(sqlx::query(sql), |query, value| match value {
                Bound::Text(text) => query.bind(text),
                Bound::Int(n) => query.bind(n),
            });
        Ok(query.execute(pool).await?.rows_changed())
    }

    async fn revoke_row(
        pool: &Pool<Self>,
        sql: &Statements,
        id: &str,
        id_is_prefix: bool,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut writer = Writer::acquire(pool).await?;
        let mut tx = writer.begin().await?;
        let Some(row) = sqlx::query(&sql.revoke)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let prefix: String = row.try_get("prefix")?;
        if id_is_prefix && prefix != id {
            // A table compared without regard to case (MySQL's default
            // collation) found a prefix's case twin, whose id is not the one
            // asked for: revoke nothing (dropping the transaction rolls it
            // back), so no cache goes on serving a key revoked by another name.
            return Ok(None);
        }
        if let Some(update) = &sql.revoke_update {
            sqlx::query(update).bind(id).execute(&mut *tx).await?;
        }
        if let Some(notify) = &sql.notify {
            sqlx::query(notify)
                .bind(REVOCATION_CHANNEL)
                .bind(prefix.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        writer.finish();
        Ok(Some(prefix))
    }

    async fn execute_all(pool: &Pool<Self>, statements: &[String]) -> Result<(), sqlx::Error> {
        let mut writer = Writer::acquire(pool).await?;
        let mut tx = writer.begin().await?;
        for statement in statements {
            // Unprepared: MySQL cannot prepare CREATE TRIGGER.
            (&mut *tx).execute(statement.as_str()).await?;
        }
        tx.commit().await?;
        writer.finish();
        Ok(())
    }

    async fn scalar(
        conn: &mut Self::Connection,
        sql: &str,
        params: &[i64],
    ) -> Result<i64, sqlx::Error> {
        with_params::<DB>(sql, params)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0usize)
    }

    async fn execute_with(
        conn: &mut Self::Connection,
        sql: &str,
        params: &[i64],
    ) -> Result<(), sqlx::Error> {
        with_params::<DB>(sql, params)
            .execute(&mut *conn)
            .await
            .map(drop)
    }

    async fn entries(
        conn: &mut Self::Connection,
        sql: &str,
        params: &[i64],
    ) -> Result<Vec<(i64, Option<String>)>, sqlx::Error> {
        let rows = with_params::<DB>(sql, params).fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("seq")?, row.try_get("prefix")?)))
            .collect()
    }

    async fn apply_migrations(
        pool: &Pool<Self>,
        sql: &Statements,
        migrations: &[(i64, Vec<String>)],
        lock: MigrationLock,
    ) -> Result<(), sqlx::Error> {
        // A connection of the migration's own, out of the pool: if the
        // migration fails or is cancelled, dropping it closes the session,
        // and the session's lock goes with it.
        let mut conn = pool.acquire().await?.detach();
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        while DB::scalar(&mut conn, lock.take, &[]).await? != 1 {
            if tokio::time::Instant::now() >= deadline {
                return Err(sqlx::Error::Protocol(format!(
                    "another instance has held the migration lock for over {LOCK_WAIT:?}"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        apply_unlocked(&mut conn, sql, migrations).await?;
        DB::scalar(&mut conn, lock.release, &[]).await?;
        sqlx::Connection::close(conn).await
    }
}

/// How long a migration waits for another instance's.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The migrations not recorded, in one transaction (MySQL commits each DDL
/// statement at once: there, every statement is one a second run skips).
async fn apply_unlocked<DB: Queries>(
    conn: &mut DB::Connection,
    sql: &Statements,
    migrations: &[(i64, Vec<String>)],
) -> Result<(), sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    use sqlx::Connection as _;
    let mut tx = conn.begin().await?;
    sqlx::query(sql.migrations_table).execute(&mut *tx).await?;
    for (version, statements) in migrations {
        let applied = sqlx::query(&sql.migration_applied)
            .bind(*version)
            .fetch_optional(&mut *tx)
            .await?;
        if applied.is_some() {
            continue;
        }
        for statement in statements {
            // Unprepared: MySQL cannot prepare CREATE TRIGGER.
            match (&mut *tx).execute(statement.as_str()).await {
                Ok(_) => {}
                // MySQL commits each DDL statement at once, so a run cut
                // short after adding a column left it there unrecorded; the
                // next run finds it (MySQL 8 has no ADD COLUMN IF NOT EXISTS).
                Err(sqlx::Error::Database(db))
                    if db.code().as_deref() == Some("42S21")
                        && statement.starts_with("ALTER TABLE") => {}
                Err(err) => return Err(err),
            }
        }
        sqlx::query(&sql.migration_record)
            .bind(*version)
            .bind(to_millis(SystemTime::now()))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A session lock that serialises the instances migrating one database:
/// `take` tries for it without waiting and answers 1 when held, 0 when
/// another session holds it; `release` lets it go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MigrationLock {
    pub(crate) take: &'static str,
    pub(crate) release: &'static str,
}

/// The insert of a new row: the seven values every table has, then
/// (`own_columns`, the native schema) scopes, owner, metadata and the lifecycle
/// columns.
///
/// A pooled connection for one write transaction, closed rather than pooled
/// again unless [`finish`](Self::finish)ed: a caller that gives up (a timeout,
/// a client gone) while its BEGIN is on the wire leaves the server's
/// transaction open on sqlx 0.8 (the transaction that would roll back on drop
/// exists only once BEGIN has answered), and a connection back in the pool
/// inside an old transaction would answer lookups from an old snapshot under
/// MySQL's REPEATABLE READ: a key revoked since found not revoked. Closing it
/// ends that transaction on the server.
struct Writer<DB: Database> {
    connection: sqlx::pool::PoolConnection<DB>,
    finished: bool,
}

impl<DB: Database> Writer<DB> {
    async fn acquire(pool: &Pool<DB>) -> Result<Self, sqlx::Error> {
        Ok(Self {
            connection: pool.acquire().await?,
            finished: false,
        })
    }

    async fn begin(&mut self) -> Result<sqlx::Transaction<'_, DB>, sqlx::Error> {
        sqlx::Connection::begin(&mut *self.connection).await
    }

    /// The transaction is over (committed): the connection may be pooled again.
    fn finish(mut self) {
        self.finished = true;
    }
}

impl<DB: Database> Drop for Writer<DB> {
    fn drop(&mut self) {
        if !self.finished {
            self.connection.close_on_drop();
        }
    }
}

/// `query` with one new row's values bound after what it holds.
fn bind_row<'q, DB>(
    query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    id: String,
    values: InsertValues,
    own_columns: bool,
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
{
    let query = query
        .bind(id)
        .bind(values.prefix)
        .bind(values.hashed_key)
        .bind(values.name)
        .bind(values.created_ms)
        .bind(values.expires_ms)
        .bind(values.revoked);
    if own_columns {
        query
            .bind(values.scopes)
            .bind(values.owner)
            .bind(values.metadata)
            .bind(values.replaces)
            .bind(values.replaced_by)
            .bind(values.last_used_ms)
            .bind(values.rate_limit)
            .bind(values.lineage)
            .bind(values.suspended)
            .bind(values.allowed_from)
            .bind(values.credits.remaining)
            .bind(values.credits.refill_amount)
            .bind(values.credits.refill_ms)
            .bind(values.credits.refilled_ms)
    } else {
        query
    }
}

/// `sql` with integer `params` bound in order.
fn with_params<'q, DB>(
    sql: &'q str,
    params: &[i64],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
{
    params
        .iter()
        .fold(sqlx::query(sql), |query, &param| query.bind(param))
}

/// The suspension flag as read: a DRF table's statements do not ask for
/// the column it lacks (its keys are never suspended); any other failure
/// stands.
fn suspended_of(read: Result<Option<bool>, sqlx::Error>) -> Result<Option<bool>, sqlx::Error> {
    match read {
        Err(sqlx::Error::ColumnNotFound(_)) => Ok(Some(false)),
        other => other,
    }
}

/// A row as the statements return it, before it is checked.
fn decode<DB>(row: &DB::Row) -> Result<RawRecord, sqlx::Error>
where
    DB: Database,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> Option<i64>: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'r> Option<bool>: Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    Ok(RawRecord {
        id: row.try_get("id")?,
        prefix: row.try_get("prefix")?,
        hashed_key: row.try_get("hashed_key")?,
        name: row.try_get("name")?,
        created_ms: row.try_get("created_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        has_expiry: row.try_get("has_expiry")?,
        // Read as optional: sqlx's SQLite driver decodes a NULL bool as
        // false, and an unreadable flag must not pass.
        revoked: row.try_get::<Option<bool>, _>("revoked")?,
        suspended: suspended_of(row.try_get::<Option<bool>, _>("suspended"))?,
        scopes: row.try_get("scopes")?,
        owner: row.try_get("owner")?,
        metadata: row.try_get("metadata")?,
        replaces: row.try_get("replaces")?,
        replaced_by: row.try_get("replaced_by")?,
        last_used_ms: row.try_get("last_used_ms")?,
        rate_limit: row.try_get("rate_limit")?,
        lineage: row.try_get("lineage")?,
        allowed_from: row.try_get("allowed_from")?,
        credits: api_key_auth_core::store::row::CreditColumns {
            remaining: row.try_get("credits_remaining")?,
            refill_amount: row.try_get("credits_refill_amount")?,
            refill_ms: row.try_get("credits_refill_ms")?,
            refilled_ms: row.try_get("credits_refilled_ms")?,
        },
    })
}

/// A key store on a SQL database `DB`: its pool, the statements for its
/// dialect and schema, and the hasher for new keys. The public stores
/// (`PostgresStore`, `MySqlStore`) wrap one.
pub(crate) struct SqlStore<DB: Database> {
    pool: Pool<DB>,
    sql: Arc<Statements>,
    schema: Schema,
    hasher: Hasher,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sql: self.sql.clone(),
            schema: self.schema.clone(),
            hasher: self.hasher.clone(),
        }
    }
}

impl<DB: Database> std::fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("database", &DB::NAME)
            .field("schema", &self.schema)
            .field("hasher", &self.hasher.algorithm())
            .finish_non_exhaustive()
    }
}

impl<DB: Queries> SqlStore<DB> {
    pub(crate) fn new(pool: Pool<DB>, schema: Schema) -> Self {
        // PostgreSQL's `timestamptz` columns carry their instant: a naive
        // time zone says nothing of them.
        let schema = match DB::DIALECT {
            Dialect::Postgres => schema.without_naive_time_zone(),
            Dialect::Sqlite | Dialect::MySql => schema,
        };
        Self {
            sql: Arc::new(Statements::new(DB::DIALECT, &schema)),
            hasher: schema.default_hasher(),
            pool,
            schema,
        }
    }

    pub(crate) fn set_hasher(&mut self, hasher: Hasher) {
        self.hasher = hasher;
    }

    pub(crate) fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(crate) fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }

    pub(crate) fn hash_algorithm(&self) -> Algorithm {
        self.hasher.algorithm()
    }

    /// Applies the migrations (version, statements) not yet applied; see
    /// [`native_migrations`](super::native_migrations).
    pub(crate) async fn migrate(
        &self,
        migrations: &[(i64, Vec<String>)],
        lock: MigrationLock,
    ) -> Result<(), StoreError> {
        DB::apply_migrations(&self.pool, &self.sql, migrations, lock)
            .await
            .map_err(store_error)
    }

    /// The change log of this store's table: `None` on PostgreSQL.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) fn change_log(&self) -> Option<ChangeLogSql> {
        ChangeLogSql::new(DB::DIALECT, &self.schema)
    }

    /// Installs (or with `install` false, removes) the triggers that write
    /// every change to a key row to the change log.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) async fn change_log_triggers(&self, install: bool) -> Result<(), StoreError> {
        let Some(log) = self.change_log() else {
            return Err(StoreError::config(
                "this database announces changes with triggers of its own",
            ));
        };
        let statements = if install { log.install } else { log.remove };
        self.execute_all(&statements).await
    }

    pub(crate) async fn find(&self, prefix: Prefix) -> Lookup {
        let raw = DB::find_row(&self.pool, &self.sql.find, prefix.as_str())
            .await
            .map_err(store_error)?;
        found(raw, prefix, &self.schema)
    }

    pub(crate) async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let (id, values) = new_row(record, &self.schema)?;
        DB::insert_row(
            &self.pool,
            &self.sql.insert,
            id,
            values,
            !self.schema.is_drf(),
        )
        .await
        .map_err(store_error)
    }

    pub(crate) async fn insert_many(&self, records: Vec<KeyRecord>) -> Result<(), StoreError> {
        crate::store::check_batch(records.len())?;
        let rows = records
            .into_iter()
            .map(|record| new_row(record, &self.schema))
            .collect::<Result<Vec<_>, _>>()?;
        DB::insert_rows(
            &self.pool,
            &self.sql.insert_rows,
            rows,
            !self.schema.is_drf(),
        )
        .await
        .map_err(store_error)
    }

    pub(crate) async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let rows = DB::all_rows(&self.pool, &self.sql.list)
            .await
            .map_err(store_error)?;
        records(rows, &self.schema)
    }

    /// Runs `statements` in one transaction (MySQL commits each DDL at once).
    pub(crate) async fn execute_all(&self, statements: &[String]) -> Result<(), StoreError> {
        DB::execute_all(&self.pool, statements)
            .await
            .map_err(store_error)
    }

    pub(crate) async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let raw = DB::find_row(&self.pool, &self.sql.by_id, id)
            .await
            .map_err(store_error)?;
        found_by_id(raw, id, &self.schema)
    }

    pub(crate) async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        let statement = self.sql.page(request)?;
        let values = PageValues::of(request, SystemTime::now(), &self.schema);
        let rows = DB::page_rows(&self.pool, &statement, &values)
            .await
            .map_err(store_error)?;
        page(rows, request.limit(), &self.schema)
    }

    pub(crate) async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let (id, values) = new_row(new, &self.schema)?;
        DB::rotate_row(
            &self.pool,
            &self.sql,
            &self.schema,
            old_id,
            id,
            values,
            retirement,
        )
        .await
    }

    pub(crate) async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        let Some(last_use) = &self.sql.last_use else {
            return Err(StoreError::unsupported(
                "a djangorestframework-api-key table has no column for last use",
            ));
        };
        for chunk in uses.chunks(LAST_USE_BATCH) {
            let pairs: Vec<(String, i64)> = chunk
                .iter()
                .map(|used| (used.id.clone(), to_millis(used.at)))
                .collect();
            DB::write_last_use(&self.pool, &last_use.batch(pairs.len()), &pairs)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    pub(crate) async fn upgrade_hash(
        &self,
        record: &KeyRecord,
        new: StoredHash,
    ) -> Result<bool, StoreError> {
        let (new, old) = (new.to_string(), record.hash.to_string());
        let changed = DB::execute_texts(
            &self.pool,
            &self.sql.upgrade_hash,
            &[&new, record.prefix.as_str(), &old, &new],
        )
        .await
        .map_err(store_error)?;
        Ok(changed == 1)
    }

    pub(crate) async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let revoked = DB::revoke_row(&self.pool, &self.sql, id, self.schema.is_drf())
            .await
            .map_err(store_error)?;
        Ok(revoked.is_some())
    }

    /// Takes credits of `record`'s key as `take` asks.
    pub(crate) async fn take_credits(
        &self,
        record: &KeyRecord,
        take: crate::Take,
    ) -> Result<crate::store::CreditLease, StoreError> {
        crate::take_credits(
            &self.sql.credits,
            record,
            take,
            |sql, values| async move {
                DB::execute_values(&self.pool, &sql, values)
                    .await
                    .map_err(store_error)
            },
            || self.find_by_id(&record.id),
        )
        .await
    }

    pub(crate) async fn set_suspended(
        &self,
        id: &str,
        suspended: bool,
    ) -> Result<bool, StoreError> {
        let Some(statements) = &self.sql.suspension else {
            return Err(crate::rows::no_suspension());
        };
        let sql = &statements[usize::from(suspended)];
        let changed = DB::execute_texts(&self.pool, sql, &[id])
            .await
            .map_err(store_error)?;
        // MySQL counts only rows whose value changed: a key already so is
        // found, not missing.
        let found = self.find_by_id(id).await?;
        if let (Some(notify), Some(record)) = (&self.sql.notify, &found) {
            // PostgreSQL's triggers announce the change too; this says it
            // even where they were removed, as a revocation does.
            DB::execute_texts(
                &self.pool,
                notify,
                &[REVOCATION_CHANNEL, record.prefix.as_str()],
            )
            .await
            .map_err(store_error)?;
        }
        Ok(changed > 0 || found.is_some())
    }
}

/// The public face of a SQL store type `$store` wrapping `SqlStore<$db>` in
/// a field `inner`: constructors and accessors, and the store traits, each
/// forwarded as it is.
macro_rules! forward_sql_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// A store over a pool of yours. With
            /// [`Schema::Native`]($crate::Schema::Native), call
            /// [`migrate`](Self::migrate) once before use.
            pub fn new(pool: sqlx::Pool<$db>, schema: $crate::Schema) -> Self {
                Self {
                    inner: $crate::SqlStore::new(pool, schema),
                }
            }

            /// Hashes new keys with `hasher` (and verifies with it in the conformance kit).
            pub fn with_hasher(mut self, hasher: $crate::hash::Hasher) -> Self {
                self.inner.set_hasher(hasher);
                self
            }

            /// The pool the store uses.
            pub fn pool(&self) -> &sqlx::Pool<$db> {
                self.inner.pool()
            }

            /// The schema the store reads.
            pub fn schema(&self) -> &$crate::Schema {
                self.inner.schema()
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::KeyStore for $store {
            async fn find(&self, prefix: $crate::key::Prefix) -> $crate::store::Lookup {
                self.inner.find(prefix).await
            }

            fn hash_algorithm(&self) -> Option<$crate::hash::Algorithm> {
                Some(self.inner.hash_algorithm())
            }

            async fn upgrade_hash(
                &self,
                record: &$crate::store::KeyRecord,
                new: $crate::hash::StoredHash,
            ) -> Result<bool, $crate::store::StoreError> {
                self.inner.upgrade_hash(record, new).await
            }

            async fn spend_credits(
                &self,
                record: &$crate::store::KeyRecord,
                cost: u64,
            ) -> Result<$crate::store::CreditSpend, $crate::store::StoreError> {
                let take = $crate::Take::Exactly(cost);
                self.inner
                    .take_credits(record, take)
                    .await
                    .map($crate::spent)
            }

            async fn lease_credits(
                &self,
                record: &$crate::store::KeyRecord,
                up_to: u64,
            ) -> Result<$crate::store::CreditLease, $crate::store::StoreError> {
                self.inner
                    .take_credits(record, $crate::Take::UpTo(up_to))
                    .await
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::KeyManager for $store {
            async fn insert(
                &self,
                record: $crate::store::KeyRecord,
            ) -> Result<(), $crate::store::StoreError> {
                self.inner.insert(record).await
            }

            async fn insert_many(
                &self,
                records: Vec<$crate::store::KeyRecord>,
            ) -> Result<(), $crate::store::StoreError> {
                self.inner.insert_many(records).await
            }

            async fn list(
                &self,
            ) -> Result<Vec<std::sync::Arc<$crate::store::KeyRecord>>, $crate::store::StoreError>
            {
                self.inner.list().await
            }

            async fn revoke(&self, id: &str) -> Result<bool, $crate::store::StoreError> {
                self.inner.revoke(id).await
            }

            async fn list_page(
                &self,
                request: &$crate::store::PageRequest,
            ) -> Result<$crate::store::Page, $crate::store::StoreError> {
                self.inner.list_page(request).await
            }

            async fn find_by_id(
                &self,
                id: &str,
            ) -> Result<Option<std::sync::Arc<$crate::store::KeyRecord>>, $crate::store::StoreError>
            {
                self.inner.find_by_id(id).await
            }

            fn hasher(&self) -> $crate::hash::Hasher {
                self.inner.hasher()
            }

            async fn replace(
                &self,
                old_id: &str,
                new: $crate::store::KeyRecord,
                retirement: $crate::store::Retirement,
            ) -> Result<std::sync::Arc<$crate::store::KeyRecord>, $crate::store::StoreError> {
                self.inner.replace(old_id, new, retirement).await
            }

            async fn record_last_use(
                &self,
                uses: &[$crate::store::KeyUse],
            ) -> Result<(), $crate::store::StoreError> {
                self.inner.record_last_use(uses).await
            }

            async fn set_suspended(
                &self,
                id: &str,
                suspended: bool,
            ) -> Result<bool, $crate::store::StoreError> {
                self.inner.set_suspended(id, suspended).await
            }
        }
    };
}

pub(crate) use forward_sql_store;

/// A feed's connection on a sqlx database: one from a pool of the feed's own.
#[cfg(all(feature = "cache", feature = "mysql"))]
#[async_trait]
impl<DB: Queries> super::feed::LogConnection for sqlx::pool::PoolConnection<DB> {
    type Opener = Pool<DB>;

    async fn open(pool: &Pool<DB>) -> Result<Self, String> {
        pool.acquire().await.map_err(|e| e.to_string())
    }

    async fn scalar(&mut self, sql: &str, params: &[i64]) -> Result<i64, String> {
        DB::scalar(self, sql, params)
            .await
            .map_err(|e| e.to_string())
    }

    async fn execute(&mut self, sql: &str, params: &[i64]) -> Result<(), String> {
        DB::execute_with(self, sql, params)
            .await
            .map_err(|e| e.to_string())
    }

    async fn entries(
        &mut self,
        sql: &str,
        params: &[i64],
    ) -> Result<Vec<super::feed::Entry>, String> {
        DB::entries(self, sql, params)
            .await
            .map_err(|e| e.to_string())
    }

    fn discard(mut self) {
        // Its state after a cut-short query is unknown: close, never reuse.
        self.close_on_drop();
    }
}
