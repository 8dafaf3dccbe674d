//! api-key-auth's SQL stores: SQLite (rusqlite), PostgreSQL and MySQL
//! (sqlx), on this crate's own table or on a djangorestframework-api-key
//! table ([`Schema`]), with their migrations and the feeds that carry
//! revocations to every instance's cache.
//!
//! Use them through `api-key-auth` (`api_key_auth::store::sqlite` and so
//! on, with the feature of the same name).
//!
//! Inside: the statements of each database and schema (`statements.rs`),
//! the table layouts (`schema.rs`), the change log of the databases
//! without a notification channel (`change_log.rs`, and `feed.rs`, which
//! follows it), the store generic over sqlx's databases (`sqlx_store.rs`)
//! that PostgreSQL and MySQL run on. SQLite runs the same statements
//! through rusqlite (`sqlite/`).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// With no store on, the crate is only `Schema` and `DrfTable`: what the
// stores share has no user.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports)
)]

// The core's modules, under the names the stores were written against.
use api_key_auth_core::{hash, key, store};

#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub mod mysql;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

mod change_log;
#[cfg(all(feature = "cache", any(feature = "sqlite", feature = "mysql")))]
pub(crate) mod feed;
mod rows;
mod schema;
#[cfg(feature = "_sqlx")]
mod sqlx_store;
mod statements;

pub(crate) use change_log::ChangeLogSql;
pub(crate) use rows::{
    found, found_by_id, new_row, page, records, rotation, spent, take_credits, Take,
};
pub use schema::{DrfTable, Schema};
#[cfg(feature = "_sqlx")]
pub(crate) use sqlx_store::{forward_sql_store, store_error, MigrationLock, SqlStore};
#[cfg(feature = "postgres")]
pub(crate) use statements::postgres_change_triggers;
#[cfg(feature = "postgres")]
pub(crate) use statements::REVOCATION_CHANNEL;
pub(crate) use statements::{
    migration_statements, BindValue, Bound, Dialect, PageStatement, PageValues, Statements,
    LAST_USE_BATCH,
};

/// The migrations of this crate's own table on `dialect`, in order, from
/// its shipped files (`migrations/<database>/`, version, text).
///
/// 1 the table; 2 (SQLite, MySQL) the change log and its triggers; 3 the
/// lifecycle columns (`replaces`, `replaced_by`, `last_used_ms`) and change
/// triggers that ignore last-use writes; 4 the `rate_limit` column, watched
/// by the triggers too; 5 the `lineage` column, watched too, and on
/// PostgreSQL the triggers that announce every change (and a `TRUNCATE`),
/// which until then only `install_change_triggers` put in; 6 the
/// `suspended` column, watched too (PostgreSQL's triggers announce every
/// column already); 7 the `allowed_from` column, watched too; 8 the
/// credits' columns, which no trigger watches (spends write every request).
pub(crate) fn native_migrations(
    dialect: Dialect,
    files: &[(i64, &str)],
) -> Vec<(i64, Vec<String>)> {
    let file = |version: i64| {
        files
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, text)| migration_statements(text))
            .unwrap_or_default()
    };
    let mut migrations = vec![(1, file(1))];
    if let Some(log) = ChangeLogSql::before_last_use(dialect) {
        migrations.push((2, log.install));
    }
    let mut third = file(3);
    match dialect {
        Dialect::Postgres => {
            // The announcing function, which triggers may already call.
            third.extend(
                statements::postgres_change_triggers(&Schema::Native, true)
                    .into_iter()
                    .take(1),
            );
        }
        Dialect::Sqlite | Dialect::MySql => third.extend(ChangeLogSql::upgrade(dialect, 3)),
    }
    migrations.push((3, third));
    let mut fourth = file(4);
    fourth.extend(ChangeLogSql::upgrade(dialect, 4));
    migrations.push((4, fourth));
    let mut fifth = file(5);
    match dialect {
        Dialect::Postgres => {
            fifth.extend(statements::postgres_change_triggers(&Schema::Native, true))
        }
        Dialect::Sqlite | Dialect::MySql => fifth.extend(ChangeLogSql::upgrade(dialect, 5)),
    }
    migrations.push((5, fifth));
    let mut sixth = file(6);
    sixth.extend(ChangeLogSql::upgrade(dialect, 6));
    migrations.push((6, sixth));
    let mut seventh = file(7);
    seventh.extend(ChangeLogSql::upgrade(dialect, 7));
    migrations.push((7, seventh));
    // Credits' columns change on every spend: no trigger watches them, and
    // PostgreSQL's announcing function learns to pass them over.
    let mut eighth = file(8);
    if dialect == Dialect::Postgres {
        eighth.extend(
            statements::postgres_change_triggers(&Schema::Native, true)
                .into_iter()
                .take(1),
        );
    }
    migrations.push((8, eighth));
    migrations
}
