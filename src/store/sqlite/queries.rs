//! The statements of `store::sql` run through rusqlite, each on a pooled
//! connection on tokio's blocking pool, and rusqlite's errors as store errors.

use r2d2_sqlite::rusqlite::{
    self, ffi, types::Value, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior,
};

use super::connect::Pool;
use crate::store::{
    row::{to_millis, InsertValues, RawRecord},
    sql::{migration_statements, PageBind, PageStatement, Statements},
    StoreError,
};

/// Runs `work` on a connection of `pool`, off the async threads. A request
/// that stops waiting (a timeout, a client gone) leaves it to finish: a
/// read, or a write in a transaction of its own, never half done.
pub(crate) async fn run<T, F>(pool: &Pool, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(StoreError::unavailable)?;
        work(&mut conn).map_err(store_error)
    })
    .await
    .map_err(StoreError::unavailable)?
}

/// A unique violation is a conflict, a value that does not read as its
/// column's type an invalid record (refused, 503), anything else unavailability.
pub(crate) fn store_error(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && matches!(
                    failure.extended_code,
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
        {
            StoreError::conflict(err)
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::InvalidColumnName(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::invalid_record(err),
        _ => StoreError::unavailable(err),
    }
}

/// A row as the statements return it, by column name.
fn decode(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok(RawRecord {
        id: row.get("id")?,
        prefix: row.get("prefix")?,
        hashed_key: row.get("hashed_key")?,
        name: row.get("name")?,
        created_ms: row.get("created_ms")?,
        expires_ms: row.get("expires_ms")?,
        has_expiry: row.get("has_expiry")?,
        // NULL when the column held anything but the integers 0 and 1.
        revoked: row.get("revoked")?,
        scopes: row.get("scopes")?,
        owner: row.get("owner")?,
        metadata: row.get("metadata")?,
    })
}

/// The row `sql` gives for `key`, if any.
pub(crate) fn find_row(
    conn: &Connection,
    sql: &str,
    key: &str,
) -> rusqlite::Result<Option<RawRecord>> {
    conn.prepare_cached(sql)?
        .query_row([key], decode)
        .optional()
}

pub(crate) fn all_rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<RawRecord>> {
    conn.prepare_cached(sql)?.query_map([], decode)?.collect()
}

pub(crate) fn page_rows(
    conn: &Connection,
    page: &PageStatement,
    cursor: &str,
    now_ms: i64,
    limit: i64,
) -> rusqlite::Result<Vec<RawRecord>> {
    let values = page.binds.iter().map(|bind| match bind {
        PageBind::Cursor => Value::Text(cursor.to_owned()),
        PageBind::Now => Value::Integer(now_ms),
        PageBind::Limit => Value::Integer(limit),
    });
    conn.prepare_cached(&page.sql)?
        .query_map(rusqlite::params_from_iter(values), decode)?
        .collect()
}

pub(crate) fn insert_row(
    conn: &Connection,
    sql: &str,
    id: String,
    values: InsertValues,
    extras: bool,
) -> rusqlite::Result<()> {
    let mut params: Vec<Value> = vec![
        Value::Text(id),
        Value::Text(values.prefix),
        Value::Text(values.hashed_key),
        Value::Text(values.name),
        Value::Integer(values.created_ms),
        values.expires_ms.map_or(Value::Null, Value::Integer),
        Value::Integer(i64::from(values.revoked)),
    ];
    if extras {
        params.push(Value::Text(values.scopes));
        params.push(values.owner.map_or(Value::Null, Value::Text));
        params.push(Value::Text(values.metadata));
    }
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))
        .map(drop)
}

/// Revokes the row whose key column is `id` and gives its prefix. With
/// `id_is_prefix` (a DRF table) a row whose prefix is not exactly `id` is
/// left alone.
pub(crate) fn revoke_row(
    conn: &mut Connection,
    sql: &Statements,
    id: &str,
    id_is_prefix: bool,
) -> rusqlite::Result<Option<String>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let prefix: Option<String> = tx
        .prepare_cached(&sql.revoke)?
        .query_row([id], |row| row.get("prefix"))
        .optional()?;
    match prefix {
        // Dropping the transaction rolls the update back.
        Some(prefix) if id_is_prefix && prefix != id => Ok(None),
        Some(prefix) => {
            tx.commit()?;
            Ok(Some(prefix))
        }
        None => Ok(None),
    }
}

/// Runs `statements` in one transaction.
pub(crate) fn execute_all(conn: &mut Connection, statements: &[String]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for statement in statements {
        tx.execute_batch(statement)?;
    }
    tx.commit()
}

/// Applies the shipped migrations not recorded, in one transaction that
/// holds the write lock from the start, so two processes starting together
/// do not both apply one.
pub(crate) fn apply_migrations(
    conn: &mut Connection,
    sql: &Statements,
    migrations: &[(i64, Vec<String>)],
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(sql.migrations_table)?;
    for (version, statements) in migrations {
        let applied = tx
            .query_row(&sql.migration_applied, [version], |_| Ok(()))
            .optional()?;
        if applied.is_some() {
            continue;
        }
        for statement in statements {
            tx.execute_batch(statement)?;
        }
        tx.execute(
            &sql.migration_record,
            [*version, to_millis(std::time::SystemTime::now())],
        )?;
    }
    tx.commit()
}

/// The migrations of shipped files (version, text).
pub(crate) fn file_migrations(files: &[(i64, &str)]) -> Vec<(i64, Vec<String>)> {
    files
        .iter()
        .map(|&(version, file)| (version, migration_statements(file)))
        .collect()
}
