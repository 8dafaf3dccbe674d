//! What the SQL stores share: the statements of each database and schema
//! (in `statements.rs`), the table layouts (in `schema.rs`), the change log
//! of the databases without a notification channel (`change_log.rs`, and
//! `feed.rs`, which follows it), and the store generic over sqlx's databases
//! (`sqlx_store.rs`) that PostgreSQL and MySQL run on. SQLite runs the same
//! statements through rusqlite (`store/sqlite/`).

mod answers;
mod change_log;
#[cfg(all(feature = "cache", any(feature = "sqlite", feature = "mysql")))]
pub(crate) mod feed;
mod schema;
#[cfg(feature = "_sqlx")]
mod sqlx_store;
mod statements;

pub(crate) use answers::{found, found_by_id, new_row, page, records, rows_for_page};
pub(crate) use change_log::ChangeLogSql;
pub use schema::{DrfTable, Schema};
#[cfg(feature = "_sqlx")]
pub(crate) use sqlx_store::{forward_sql_store, store_error, MigrationLock, SqlStore};
#[cfg(feature = "postgres")]
pub(crate) use statements::postgres_change_triggers;
#[cfg(feature = "postgres")]
pub(crate) use statements::REVOCATION_CHANNEL;
pub(crate) use statements::{migration_statements, Dialect, PageBind, PageStatement, Statements};
