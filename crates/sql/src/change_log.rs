//! SQLite and MySQL have no notification channel, so a change to a key row
//! is written down instead: triggers on the key table (this crate's own or a
//! djangorestframework-api-key one) append the row's prefix to a small log
//! table of the crate's own, `api_key_auth_changes`, in the transaction that
//! changes the row, whoever runs it. A revocation feed follows the log by
//! its sequence number. This file holds the SQL; `feed.rs` follows it.
//!
//! PostgreSQL needs none of this: its triggers call `pg_notify`.

use sha2::Digest as _;

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
    /// Creates the log and the triggers on the key table, each only if
    /// missing: repeatable, and never a moment without a trigger (MySQL
    /// commits each DDL statement at once, so a drop and a create would
    /// leave one).
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
    /// The entries numbered parameter 1 to parameter 2, at most parameter 3.
    pub(crate) between: String,
    /// The entry numbered parameter 1, if any.
    pub(crate) at: String,
    /// How many of the table's two triggers exist, on the table itself.
    pub(crate) triggers: String,
    /// A query whose answer changes whenever another connection commits to
    /// the database, if the database has one (SQLite's `PRAGMA data_version`):
    /// while it stays the same, the log need not be read.
    pub(crate) data_version: Option<String>,
    /// Whether entries commit in the order of their numbers (SQLite: one
    /// writer at a time), so that a number skipped can never turn up later.
    /// MySQL numbers an entry when it is written, before its transaction commits.
    pub(crate) commits_in_order: bool,
}

/// The columns of this crate's own table whose change a cache must hear
/// of: all but `last_used_ms`, which the last-use tracker writes every
/// minute and which changes nothing a cache serves. Migration 3 added
/// `replaces`, `replaced_by` and `last_used_ms`; migration 4 `rate_limit`;
/// migration 5 `lineage`; migration 6 `suspended`; migration 7 `allowed_from`.
const NATIVE_WATCHED: [&str; 16] = [
    "id",
    "prefix",
    "hashed_key",
    "name",
    "created_ms",
    "expires_ms",
    "revoked",
    "scopes",
    "owner",
    "metadata",
    "replaces",
    "replaced_by",
    "rate_limit",
    "lineage",
    "suspended",
    "allowed_from",
];

/// The migration that made the native table as it is now.
const LATEST: u8 = 7;

impl ChangeLogSql {
    /// The change log of `schema`'s table; `None` on PostgreSQL.
    pub(crate) fn new(dialect: Dialect, schema: &Schema) -> Option<Self> {
        Self::build(dialect, schema, LATEST)
    }

    /// The log and triggers as migration 2 made them on this crate's own
    /// table, before it had a last-use column: their update trigger fires
    /// on every update.
    pub(crate) fn before_last_use(dialect: Dialect) -> Option<Self> {
        Self::build(dialect, &Schema::Native, 2)
    }

    /// Migration `version`'s change to the triggers of this crate's own
    /// table.
    ///
    /// 3 ignores last-use writes, 4 watches `rate_limit` too, 5 `lineage`
    /// too, 6 `suspended` too, 7 `allowed_from` too. The new update trigger goes in, then the one before comes out:
    /// both log while both exist, so a change is logged twice, never
    /// missed.
    pub(crate) fn upgrade(dialect: Dialect, version: u8) -> Vec<String> {
        match (
            Self::build(dialect, &Schema::Native, version),
            Self::build(dialect, &Schema::Native, version - 1),
        ) {
            (Some(now), Some(before)) => vec![now.install[1].clone(), before.remove[0].clone()],
            _ => Vec::new(),
        }
    }

    /// The columns migration `version`'s update trigger watches, and its name's tag.
    fn watched(version: u8) -> Option<(&'static [&'static str], &'static str)> {
        match version {
            0..=2 => None,
            3 => Some((&NATIVE_WATCHED[..12], "upd2")),
            4 => Some((&NATIVE_WATCHED[..13], "upd3")),
            5 => Some((&NATIVE_WATCHED[..14], "upd4")),
            6 => Some((&NATIVE_WATCHED[..15], "upd5")),
            _ => Some((&NATIVE_WATCHED[..], "upd6")),
        }
    }

    fn build(dialect: Dialect, schema: &Schema, version: u8) -> Option<Self> {
        let (qualifier, table, full) = match schema {
            Schema::Native => (None, "api_keys", "api_keys"),
            Schema::Drf(drf) => {
                let (qualifier, table) = drf.parts();
                (qualifier, table, drf.as_str())
            }
        };
        // Trigger names are unique per database: named after the table, cut
        // to fit MySQL's 64 characters, with a digest of the whole name so
        // that two long names sharing a start do not share triggers.
        let short: String = table.chars().take(32).collect();
        let tag = format!("{short}_{}", hex::encode(&sha2::Sha256::digest(full)[..4]));
        // On this crate's own table, once it has a last-use column, the
        // update trigger watches the other columns only, under a name of
        // its migration's own (`upd2` to `upd5`), so each migration can put
        // it in beside the one before.
        let version = if schema.is_drf() { 2 } else { version };
        let (watched, update_tag) = match Self::watched(version) {
            Some((columns, tag)) => (Some(columns), tag),
            None => (None, "upd"),
        };
        let names = [
            format!("api_key_auth_log_{update_tag}_{tag}"),
            format!("api_key_auth_log_del_{tag}"),
        ];
        let older_updates: Vec<String> = ["upd", "upd2", "upd3", "upd4", "upd5"]
            .iter()
            .filter(|older| **older != update_tag)
            .map(|older| format!("api_key_auth_log_{older}_{tag}"))
            .collect();
        // Letters, digits and underscores only: safe inside quotes as literals.
        let listed = format!("'{}', '{}'", names[0], names[1]);
        let table_name = table;
        let q = |name: &str| match qualifier {
            Some(qualifier) => format!("{}.{}", dialect.quote(qualifier), dialect.quote(name)),
            None => dialect.quote(name),
        };
        let (updated, deleted, log) = (q(&names[0]), q(&names[1]), q(LOG_TABLE));
        let p = |n| dialect.param(n);
        let (create, on_update, on_delete, read_prefix, data_version, triggers) = match dialect {
            Dialect::Postgres => return None,
            Dialect::Sqlite => {
                // SQLite: a trigger lives in its table's database, names its
                // table unqualified, and writes only to tables of that
                // database, named unqualified too.
                let body_log = dialect.quote(LOG_TABLE);
                let table = dialect.quote(table);
                (
                    format!(
                        "CREATE TABLE IF NOT EXISTS {log} \
                         (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT)"
                    ),
                    format!(
                        "CREATE TRIGGER IF NOT EXISTS {updated} AFTER UPDATE{} ON {table} \
                         FOR EACH ROW BEGIN \
                         INSERT INTO {body_log} (prefix) VALUES (CAST(OLD.prefix AS TEXT)); \
                         INSERT INTO {body_log} (prefix) SELECT CAST(NEW.prefix AS TEXT) \
                         WHERE NEW.prefix IS NOT OLD.prefix; END",
                        watched.map_or(String::new(), |columns| format!(
                            " OF {}",
                            columns.join(", ")
                        ))
                    ),
                    format!(
                        "CREATE TRIGGER IF NOT EXISTS {deleted} AFTER DELETE ON {table} \
                         FOR EACH ROW BEGIN \
                         INSERT INTO {body_log} (prefix) VALUES (CAST(OLD.prefix AS TEXT)); END"
                    ),
                    "prefix".to_owned(),
                    Some(match qualifier {
                        Some(qualifier) => {
                            format!("PRAGMA {}.data_version", dialect.quote(qualifier))
                        }
                        None => "PRAGMA data_version".to_owned(),
                    }),
                    format!(
                        "SELECT COUNT(*) FROM {} WHERE type = 'trigger' AND name IN ({listed}) \
                         AND tbl_name = '{table_name}'",
                        q("sqlite_master")
                    ),
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
                    match watched {
                        None => format!(
                            "CREATE TRIGGER IF NOT EXISTS {updated} AFTER UPDATE ON {table} \
                             FOR EACH ROW BEGIN \
                             INSERT INTO {log} (prefix) VALUES (OLD.prefix); \
                             IF NOT (NEW.prefix <=> OLD.prefix) THEN \
                             INSERT INTO {log} (prefix) VALUES (NEW.prefix); END IF; END"
                        ),
                        // MySQL has no UPDATE OF: the body compares the columns.
                        Some(columns) => format!(
                            "CREATE TRIGGER IF NOT EXISTS {updated} AFTER UPDATE ON {table} \
                             FOR EACH ROW BEGIN IF NOT ({}) THEN \
                             INSERT INTO {log} (prefix) VALUES (OLD.prefix); \
                             IF NOT (NEW.prefix <=> OLD.prefix) THEN \
                             INSERT INTO {log} (prefix) VALUES (NEW.prefix); END IF; END IF; END",
                            columns
                                .iter()
                                // Byte for byte: in a case- or accent-blind collation
                                // `'a' <=> 'A'` holds, and a change of case (in a
                                // scope, say) would go unlogged.
                                .map(|c| format!("CAST(NEW.{c} AS BINARY) <=> CAST(OLD.{c} AS BINARY)"))
                                .collect::<Vec<_>>()
                                .join(" AND ")
                        ),
                    },
                    format!(
                        "CREATE TRIGGER IF NOT EXISTS {deleted} AFTER DELETE ON {table} \
                         FOR EACH ROW INSERT INTO {log} (prefix) VALUES (OLD.prefix)"
                    ),
                    "CAST(prefix AS CHAR) AS prefix".to_owned(),
                    None,
                    format!(
                        "SELECT COUNT(*) FROM information_schema.TRIGGERS \
                         WHERE TRIGGER_SCHEMA = {schema} AND TRIGGER_NAME IN ({listed}) \
                         AND EVENT_OBJECT_SCHEMA = {schema} AND EVENT_OBJECT_TABLE = '{table_name}'",
                        schema = qualifier.map_or("DATABASE()".to_owned(), |q| format!("'{q}'"))
                    ),
                )
            }
        };
        Some(Self {
            install: vec![create, on_update, on_delete],
            remove: {
                let mut remove = vec![
                    format!("DROP TRIGGER IF EXISTS {updated}"),
                    format!("DROP TRIGGER IF EXISTS {deleted}"),
                ];
                if watched.is_some() {
                    // A table whose migrations were cut short may still have an older one.
                    for older in &older_updates {
                        remove.push(format!("DROP TRIGGER IF EXISTS {}", q(older)));
                    }
                }
                remove
            },
            read: format!(
                "SELECT seq, {read_prefix} FROM {log} WHERE seq > {} ORDER BY seq LIMIT {}",
                p(1),
                p(2)
            ),
            oldest: format!("SELECT COALESCE(MIN(seq), 0) AS seq FROM {log}"),
            newest: format!("SELECT COALESCE(MAX(seq), 0) AS seq FROM {log}"),
            trim: format!("DELETE FROM {log} WHERE seq <= {}", p(1)),
            between: format!(
                "SELECT seq, {read_prefix} FROM {log} WHERE seq >= {} AND seq <= {} \
                 ORDER BY seq LIMIT {}",
                p(1),
                p(2),
                p(3)
            ),
            at: format!("SELECT seq, {read_prefix} FROM {log} WHERE seq = {}", p(1)),
            triggers,
            commits_in_order: dialect == Dialect::Sqlite,
            data_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two DRF tables whose long names share their start get triggers of
    /// their own: installing one's never drops the other's.
    #[test]
    fn long_table_names_sharing_a_start_get_triggers_of_their_own() {
        let start = "a".repeat(40);
        let [one, two] = [format!("{start}_one"), format!("{start}_two")].map(|name| {
            ChangeLogSql::new(Dialect::MySql, &Schema::drf_table(&name).unwrap()).unwrap()
        });
        assert_ne!(one.install[1], two.install[1]);
        assert_ne!(one.remove, two.remove);
        for statement in one.remove.iter().chain(&two.remove) {
            let name = statement.rsplit('`').nth(1).unwrap();
            assert!(name.len() <= 64, "{name} is longer than MySQL allows");
        }
    }
}
