//! The statements of `store::sql` run through rusqlite, each on a pooled
//! connection on tokio's blocking pool, and rusqlite's errors as store errors.

use r2d2_sqlite::rusqlite::{
    self, ffi, types::Value, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior,
};

use super::connect::Pool;
use std::sync::Arc;

use crate::{
    rotation,
    store::{
        row::{to_millis, InsertValues, RawRecord},
        KeyRecord, Retirement, StoreError,
    },
    BindValue, PageStatement, PageValues, Schema, Statements,
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

/// Runs `work`, a write that must not outlive its caller, on a connection of
/// `pool` off the async threads: if the caller stops waiting (a client gone, a
/// timeout), `work` sees it through [`Wanted`] before committing, and rolls
/// back.
///
/// A new key whose secret nobody will see is never stored.
pub(crate) async fn run_wanted<T, F>(pool: &Pool, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection, &Wanted) -> Result<T, StoreError> + Send + 'static,
{
    let pool = pool.clone();
    let wanted = Wanted(Arc::new(std::sync::atomic::AtomicBool::new(true)));
    let mut guard = CallerWaits(Some(wanted.0.clone()));
    let done = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(StoreError::unavailable)?;
        work(&mut conn, &wanted)
    })
    .await
    .map_err(StoreError::unavailable)?;
    guard.0 = None;
    done
}

/// Whether the caller of a write still waits for it.
pub(crate) struct Wanted(Arc<std::sync::atomic::AtomicBool>);

impl Wanted {
    /// Refuses (rolling the caller's transaction back) once the caller is gone.
    pub(crate) fn still(&self) -> Result<(), StoreError> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(StoreError::unavailable(
                "the caller stopped waiting; the write was rolled back",
            ))
        }
    }
}

/// Held by the waiting caller: dropped while it still holds the flag (the
/// caller's future dropped), it tells the write it is no longer wanted.
struct CallerWaits(Option<Arc<std::sync::atomic::AtomicBool>>);

impl Drop for CallerWaits {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(false, std::sync::atomic::Ordering::SeqCst);
        }
    }
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
        // As `revoked`; a DRF table's statements do not ask for the column
        // it lacks (its keys are never suspended).
        suspended: match row.get("suspended") {
            Err(rusqlite::Error::InvalidColumnName(_)) => Some(false),
            other => other?,
        },
        scopes: row.get("scopes")?,
        owner: row.get("owner")?,
        metadata: row.get("metadata")?,
        replaces: row.get("replaces")?,
        replaced_by: row.get("replaced_by")?,
        last_used_ms: row.get("last_used_ms")?,
        rate_limit: row.get("rate_limit")?,
        lineage: row.get("lineage")?,
        allowed_from: row.get("allowed_from")?,
        credits: crate::store::row::CreditColumns {
            remaining: row.get("credits_remaining")?,
            refill_amount: row.get("credits_refill_amount")?,
            refill_ms: row.get("credits_refill_ms")?,
            refilled_ms: row.get("credits_refilled_ms")?,
        },
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
    values: &PageValues,
) -> rusqlite::Result<Vec<RawRecord>> {
    let params = page.binds.iter().map(|bind| match values.value(*bind) {
        BindValue::Text(text) => Value::Text(text.to_owned()),
        BindValue::Int(n) => Value::Integer(n),
    });
    conn.prepare_cached(&page.sql)?
        .query_map(rusqlite::params_from_iter(params), decode)?
        .collect()
}

/// Inserts a row in a transaction of its own, committed only while its
/// caller still waits.
pub(crate) fn insert_row(
    conn: &mut Connection,
    sql: &str,
    id: String,
    values: InsertValues,
    own_columns: bool,
    wanted: &Wanted,
) -> Result<(), StoreError> {
    insert_rows(conn, sql, vec![(id, values)], own_columns, wanted)
}

/// Inserts `rows`, all in one transaction or none.
pub(crate) fn insert_rows(
    conn: &mut Connection,
    sql: &str,
    rows: Vec<(String, InsertValues)>,
    own_columns: bool,
    wanted: &Wanted,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error)?;
    {
        let mut statement = tx.prepare_cached(sql).map_err(store_error)?;
        for (id, values) in rows {
            statement
                .execute(rusqlite::params_from_iter(insert_params(
                    id,
                    values,
                    own_columns,
                )))
                .map_err(store_error)?;
        }
    }
    wanted.still()?;
    tx.commit().map_err(store_error)
}

/// The values of a new row: the seven every table has, then (`own_columns`,
/// the native schema) scopes, owner, metadata, the lifecycle columns and
/// the suspension.
fn insert_params(id: String, values: InsertValues, own_columns: bool) -> Vec<Value> {
    let text = |t: Option<String>| t.map_or(Value::Null, Value::Text);
    let int = |n: Option<i64>| n.map_or(Value::Null, Value::Integer);
    let mut params: Vec<Value> = vec![
        Value::Text(id),
        Value::Text(values.prefix),
        Value::Text(values.hashed_key),
        Value::Text(values.name),
        Value::Integer(values.created_ms),
        int(values.expires_ms),
        Value::Integer(i64::from(values.revoked)),
    ];
    if own_columns {
        params.push(Value::Text(values.scopes));
        params.push(text(values.owner));
        params.push(Value::Text(values.metadata));
        params.push(text(values.replaces));
        params.push(text(values.replaced_by));
        params.push(int(values.last_used_ms));
        params.push(text(values.rate_limit));
        params.push(text(values.lineage));
        params.push(Value::Integer(i64::from(values.suspended)));
        params.push(text(values.allowed_from));
        params.push(int(values.credits.remaining));
        params.push(int(values.credits.refill_amount));
        params.push(int(values.credits.refill_ms));
        params.push(int(values.credits.refilled_ms));
    }
    params
}

/// Inserts the successor (primary key `id`) and retires the row with id
/// `old_id`, in one transaction that holds the write lock from its start.
pub(crate) fn rotate_row(
    conn: &mut Connection,
    sql: &Statements,
    schema: &Schema,
    old_id: &str,
    (id, values): (String, InsertValues),
    retirement: Retirement,
    wanted: &Wanted,
) -> Result<Arc<KeyRecord>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error)?;
    let raw = tx
        .prepare_cached(&sql.lock_row)
        .and_then(|mut statement| statement.query_row([old_id], decode).optional())
        .map_err(store_error)?;
    // Dropping the transaction on any refusal rolls it back.
    let (retired, write) = rotation(raw, old_id, &values, retirement, schema)?;
    let drf = schema.is_drf();
    tx.prepare_cached(&sql.insert)
        .and_then(|mut statement| {
            statement.execute(rusqlite::params_from_iter(insert_params(id, values, !drf)))
        })
        .map_err(store_error)?;
    let mut params = vec![
        Value::Integer(i64::from(write.revoked)),
        write.expires_ms.map_or(Value::Null, Value::Integer),
    ];
    if !drf {
        params.push(write.replaced_by.map_or(Value::Null, Value::Text));
    }
    params.push(Value::Text(old_id.to_owned()));
    tx.prepare_cached(&sql.retire)
        .and_then(|mut statement| statement.execute(rusqlite::params_from_iter(params)))
        .map_err(store_error)?;
    wanted.still()?;
    tx.commit().map_err(store_error)?;
    Ok(retired)
}

/// Runs `sql` binding each (id, ms) pair in turn.
pub(crate) fn write_last_use(
    conn: &Connection,
    sql: &str,
    uses: &[(String, i64)],
) -> rusqlite::Result<()> {
    let params = uses
        .iter()
        .flat_map(|(id, ms)| [Value::Text(id.clone()), Value::Integer(*ms)]);
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))
        .map(drop)
}

/// Runs `sql` with `values`, in order; how many rows it changed.
pub(crate) fn execute_values(
    conn: &Connection,
    sql: &str,
    values: Vec<crate::Bound>,
) -> rusqlite::Result<usize> {
    let params = values.into_iter().map(|value| match value {
        crate::Bound::Text(text) => Value::Text(text),
        crate::Bound::Int(n) => Value::Integer(n),
    });
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))
}

/// Runs `sql` with text parameters, in order; how many rows it changed.
pub(crate) fn execute_texts(
    conn: &Connection,
    sql: &str,
    texts: &[String],
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(texts))
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
