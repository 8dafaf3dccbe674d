//! SQLite and MySQL have no notification channel, so a change to a key row
//! is written down instead: triggers on the key table (this crate's own or a
//! djangorestframework-api-key one) append the row's prefix to a small log
//! table of the crate's own, `api_key_auth_changes`, in the transaction that
//! changes the row, whoever runs it. A revocation feed follows the log by
//! its sequence number. This file holds the SQL; `feed.rs` follows it.
//!
//! PostgreSQL needs none of this: its triggers call `pg_notify`.

use super::{schema::Schema, statements::Dialect};

/// The log table's name.
pub(crate) const LOG_TABLE: &str = "api_key_auth_changes";

/// How many of the newest entries a trim keeps. A feed further behind than
/// this finds a gap and flushes its cache.
#[cfg_attr(
    not(all(feature = "cache", any(feature = "sqlite", feature = "mysql"))),
    allow(dead_code)
)]
pub(crate) const LOG_KEEP: i64 = 10_000;

/// The statements that install, remove and read the change log of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeLogSql {
    /// Creates the log (if missing) and (re)creates the triggers on the key
    /// table. Repeatable.
    pub(crate) install: Vec<String>,
    /// Drops the triggers. The log stays: a trigger of another table in the
    /// same database may still write to it, and would fail without it.
    pub(crate) remove: Vec<String>,
    /// `seq, prefix` of the entries after sequence number parameter 1, in
    /// order, at most parameter 2 of them.
    pub(crate) read: String,
    /// The oldest and the newest sequence number in the log, 0 when empty.
    pub(crate) oldest: String,
    pub(crate) newest: String,
    /// Deletes the entries up to sequence number parameter 1.
    pub(crate) trim: String,
    /// A query whose answer changes whenever another connection commits to
    /// the database, if the database has one (SQLite's `PRAGMA data_version`):
    /// while it stays the same, the log need not be read.
    pub(crate) data_version: Option<String>,
}

impl ChangeLogSql {
    /// The change log of `schema`'s table; `None` on PostgreSQL.
    pub(crate) fn new(dialect: Dialect, schema: &Schema) -> Option<Self> {
        let (qualifier, table) = match schema {
            Schema::Native => (None, "api_keys"),
            Schema::Drf(table) => table.parts(),
        };
        // Trigger names are unique per database: name them after the table
        // (cut to fit MySQL's 64 characters).
        let short: String = table.chars().take(40).collect();
        let q = |name: &str| match qualifier {
            Some(qualifier) => format!("{}.{}", dialect.quote(qualifier), dialect.quote(name)),
            None => dialect.quote(name),
        };
        let updated = q(&format!("api_key_auth_log_upd_{short}"));
        let deleted = q(&format!("api_key_auth_log_del_{short}"));
        let log = q(LOG_TABLE);
        let p = |n| dialect.param(n);
        let (create, on_update, on_delete, read_prefix, data_version) = match dialect {
            Dialect::Postgres => return None,
            Dialect::Sqlite => {
                // SQLite: a trigger lives in its table's database, names its
                // table unqualified, and writes only to tables of that
                // database, named unqualified too.
                let body_log = dialect.quote(LOG_TABLE);
                (
                    format!(
                        "CREATE TABLE IF NOT EXISTS {log} \
                         (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT)"
                    ),
                    format!(
                        "CREATE TRIGGER {updated} AFTER UPDATE ON {table} FOR EACH ROW BEGIN \
                         INSERT INTO {body_log} (prefix) VALUES (CAST(OLD.prefix AS TEXT)); \
                         INSERT INTO {body_log} (prefix) SELECT CAST(NEW.prefix AS TEXT) \
                         WHERE NEW.prefix IS NOT OLD.prefix; END",
                        table = dialect.quote(table),
                    ),
                    format!(
                        "CREATE TRIGGER {deleted} AFTER DELETE ON {table} FOR EACH ROW BEGIN \
                         INSERT INTO {body_log} (prefix) VALUES (CAST(OLD.prefix AS TEXT)); END",
                        table = dialect.quote(table),
                    ),
                    "prefix".to_owned(),
                    Some(match qualifier {
                        Some(qualifier) => {
                            format!("PRAGMA {}.data_version", dialect.quote(qualifier))
                        }
                        None => "PRAGMA data_version".to_owned(),
                    }),
                )
            }
            Dialect::MySql => {
                let table = q(table);
                (
                    // A binary collation: prefixes are case-sensitive.
                    format!(
                        "CREATE TABLE IF NOT EXISTS {log} \
                         (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, prefix VARCHAR(255) NULL) \
                         ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
                    ),
                    format!(
                        "CREATE TRIGGER {updated} AFTER UPDATE ON {table} FOR EACH ROW BEGIN \
                         INSERT INTO {log} (prefix) VALUES (OLD.prefix); \
                         IF NOT (NEW.prefix <=> OLD.prefix) THEN \
                         INSERT INTO {log} (prefix) VALUES (NEW.prefix); END IF; END"
                    ),
                    format!(
                        "CREATE TRIGGER {deleted} AFTER DELETE ON {table} FOR EACH ROW \
                         INSERT INTO {log} (prefix) VALUES (OLD.prefix)"
                    ),
                    "CAST(prefix AS CHAR) AS prefix".to_owned(),
                    None,
                )
            }
        };
        let drop_updated = format!("DROP TRIGGER IF EXISTS {updated}");
        let drop_deleted = format!("DROP TRIGGER IF EXISTS {deleted}");
        Some(Self {
            install: vec![
                create,
                drop_updated.clone(),
                on_update,
                drop_deleted.clone(),
                on_delete,
            ],
            remove: vec![drop_updated, drop_deleted],
            read: format!(
                "SELECT seq, {read_prefix} FROM {log} WHERE seq > {} ORDER BY seq LIMIT {}",
                p(1),
                p(2)
            ),
            oldest: format!("SELECT COALESCE(MIN(seq), 0) AS seq FROM {log}"),
            newest: format!("SELECT COALESCE(MAX(seq), 0) AS seq FROM {log}"),
            trim: format!("DELETE FROM {log} WHERE seq <= {}", p(1)),
            data_version,
        })
    }
}
