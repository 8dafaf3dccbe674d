//! The SQL a store runs, for each database and table layout, as plain
//! strings built once when the store is made. The tests at the end pin every
//! statement of every dialect and schema, so the SQL can be read in one place.

use super::schema::Schema;
use crate::store::KeyFilter;

/// The databases, as far as their SQL differs. Every dialect's SQL is built
/// (and tested) whichever store features are on; a build with one store
/// constructs only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

/// The SQL a store runs, built once for its database and schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statements {
    /// The record of one prefix (parameter 1).
    pub(crate) find: String,
    /// The record with id parameter 1.
    pub(crate) by_id: String,
    /// Every record, oldest first.
    pub(crate) list: String,
    /// A new record: id, prefix, hashed_key, name, created_ms, expires_ms,
    /// revoked, then (native schema only) scopes, owner, metadata.
    pub(crate) insert: String,
    /// Many new records in one statement, their values in turn as `insert` takes one's.
    pub(crate) insert_rows: InsertRows,
    /// Marks the key with id parameter 1 revoked and gives its `prefix`; or,
    /// where the database cannot return rows from an UPDATE, locks the row
    /// and gives its prefix, and `revoke_update` marks it.
    pub(crate) revoke: String,
    pub(crate) revoke_update: Option<String>,
    /// Run in the revoking transaction with (channel, prefix), to tell other
    /// instances; only PostgreSQL has a channel.
    pub(crate) notify: Option<String>,
    /// The record with key parameter 1 (id, or a DRF table's prefix),
    /// locked for the rest of the transaction where the database can.
    pub(crate) lock_row: String,
    /// Retires a rotated key: revoked parameter 1, expiry (ms) parameter 2,
    /// then (native schema only) the successor's id, then the key.
    pub(crate) retire: String,
    /// Replaces hash parameter 3 of the key with prefix parameter 2 by
    /// parameter 1 (a legacy hash upgraded), only while it is still that hash.
    pub(crate) upgrade_hash: String,
    /// Resuming (`[0]`) and suspending (`[1]`) the key with id parameter 1;
    /// a DRF table has no column for it.
    pub(crate) suspension: Option<[String; 2]>,
    /// Spending credits, `[spend, refill]`: parameters (cost, id, cost,
    /// now ms) take a credit from a key whose count holds it and whose
    /// refill is not due; (amount, refilled ms, id, old refilled ms) set the
    /// count back once, whoever comes first. A DRF table keeps none.
    pub(crate) credits: Option<[String; 2]>,
    /// Last-use writes; a DRF table has no column for it.
    pub(crate) last_use: Option<LastUseSql>,
    /// What listing pages are built from (see [`Statements::page`]).
    pub(crate) pages: PageParts,
    /// The table recording which shipped migrations a database has.
    pub(crate) migrations_table: &'static str,
    /// Whether migration version parameter 1 is recorded, and recording one
    /// (version, applied_ms).
    pub(crate) migration_applied: String,
    pub(crate) migration_record: String,
}

/// A statement reading one page of keys, and the values it takes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageStatement {
    pub(crate) sql: String,
    pub(crate) binds: Vec<PageBind>,
}

/// A value a page statement takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageBind {
    /// The id after which the page starts (`''` for the first page).
    Cursor,
    /// Now, in milliseconds since the epoch, for expiry.
    Now,
    /// How many rows at most.
    Limit,
    /// Keys unused since this instant (ms).
    UnusedSince,
    /// Keys expiring by this instant (ms).
    ExpiringBefore,
    /// Keys of this owner.
    Owner,
}

/// The values a page statement binds, by [`PageBind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageValues {
    pub(crate) cursor: String,
    pub(crate) now_ms: i64,
    pub(crate) limit: i64,
    pub(crate) unused_ms: i64,
    pub(crate) expiring_ms: i64,
    pub(crate) owner: String,
}

/// A value bound to a statement, owned: text or an integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bound {
    Text(String),
    Int(i64),
}

/// A value bound to a statement: text or an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindValue<'a> {
    Text(&'a str),
    Int(i64),
}

impl PageValues {
    /// The values of `request` at `now`, reading one row past the page
    /// (which says whether a next page exists); the instants compared with
    /// expiries as `schema`'s table writes them.
    pub(crate) fn of(
        request: &crate::store::PageRequest,
        now: std::time::SystemTime,
        schema: &Schema,
    ) -> Self {
        use crate::store::row::to_millis;
        Self {
            cursor: request.cursor().unwrap_or("").to_owned(),
            now_ms: schema.utc_to_stored(to_millis(now)),
            limit: i64::from(request.limit()) + 1,
            unused_ms: request.unused_cutoff().map_or(0, to_millis),
            expiring_ms: request
                .expiry_cutoff()
                .map_or(0, |at| schema.utc_to_stored(to_millis(at))),
            owner: request.owner_wanted().unwrap_or_default().to_owned(),
        }
    }

    pub(crate) fn value(&self, bind: PageBind) -> BindValue<'_> {
        match bind {
            PageBind::Cursor => BindValue::Text(&self.cursor),
            PageBind::Now => BindValue::Int(self.now_ms),
            PageBind::Limit => BindValue::Int(self.limit),
            PageBind::UnusedSince => BindValue::Int(self.unused_ms),
            PageBind::ExpiringBefore => BindValue::Int(self.expiring_ms),
            PageBind::Owner => BindValue::Text(&self.owner),
        }
    }
}

/// What the page statements of a table are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageParts {
    dialect: Dialect,
    read: String,
    table: String,
    key: String,
    /// The expiry, the creation time and the last use in milliseconds
    /// (columns or expressions; last use `None` where no column keeps it).
    expires: String,
    created: String,
    last_used: Option<String>,
    /// The suspension flag's column; `None` where no column keeps it.
    suspended: Option<String>,
    /// The owner's column; `None` where no column keeps it.
    owner: Option<String>,
}

impl PageParts {
    /// The statement of a page of `filter`, with the last-use, expiry and
    /// owner conditions when asked: rows after the cursor in key order, at
    /// most the limit.
    ///
    /// `None` when the table keeps no last use and it was asked, or for a
    /// filter this crate does not know.
    pub(crate) fn statement(
        &self,
        filter: KeyFilter,
        unused: bool,
        expiring: bool,
        owned: bool,
    ) -> Option<PageStatement> {
        let (dialect, expires) = (self.dialect, &self.expires);
        let mut binds = Vec::new();
        let mut bind = |what: PageBind| {
            binds.push(what);
            dialect.param(binds.len())
        };
        let cursor = bind(PageBind::Cursor);
        // A DRF table has no suspensions: every key there is unsuspended.
        let (unsuspended, suspended) = match &self.suspended {
            Some(column) => (
                format!(" AND {column} = FALSE"),
                format!(" AND {column} = TRUE"),
            ),
            None => (String::new(), " AND 1 = 0".to_owned()),
        };
        let mut condition = match filter {
            KeyFilter::Active => format!(
                " AND revoked = FALSE AND ({expires} IS NULL OR {expires} > {}){unsuspended}",
                bind(PageBind::Now)
            ),
            KeyFilter::Suspended => format!(
                " AND revoked = FALSE AND ({expires} IS NULL OR {expires} > {}){suspended}",
                bind(PageBind::Now)
            ),
            KeyFilter::Revoked => " AND revoked = TRUE".to_owned(),
            KeyFilter::Expired => format!(
                " AND revoked = FALSE AND {expires} IS NOT NULL AND {expires} <= {}",
                bind(PageBind::Now)
            ),
            KeyFilter::All => String::new(),
            // A filter the core added later: no statement, so the listing
            // is refused as unsupported rather than widened.
            _ => return None,
        };
        if unused {
            let last_used = self.last_used.as_ref()?;
            condition.push_str(&format!(
                " AND COALESCE({last_used}, {}) < {}",
                self.created,
                bind(PageBind::UnusedSince)
            ));
        }
        if expiring {
            condition.push_str(&format!(
                " AND {expires} IS NOT NULL AND {expires} > {} AND {expires} <= {}",
                bind(PageBind::Now),
                bind(PageBind::ExpiringBefore)
            ));
        }
        if owned {
            match &self.owner {
                // Byte for byte: MySQL's default collation would take
                // `ACME` for `acme`, and a bulk revocation by owner must not.
                Some(column) => {
                    let owner = bind(PageBind::Owner);
                    condition.push_str(&match dialect {
                        Dialect::MySql => {
                            format!(" AND CAST({column} AS BINARY) = CAST({owner} AS BINARY)")
                        }
                        Dialect::Sqlite | Dialect::Postgres => format!(" AND {column} = {owner}"),
                    });
                }
                // A DRF table keeps no owner: no key there has one.
                None => condition.push_str(" AND 1 = 0"),
            }
        }
        let limit = bind(PageBind::Limit);
        let (read, table, key) = (&self.read, &self.table, &self.key);
        // The key qualified by its table: in MySQL the selected `id` is a
        // cast of the column (in the session's collation), and ordering
        // by it would disagree with the cursor's comparison on the column.
        Some(PageStatement {
            sql: format!(
                "SELECT {read} FROM {table} WHERE {table}.{key} > {cursor}{condition} \
                 ORDER BY {table}.{key} LIMIT {limit}"
            ),
            binds,
        })
    }
}

/// The last-use write of a batch of keys: each key's `last_used_ms` moved
/// to its use unless it already holds a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastUseSql {
    dialect: Dialect,
}

/// The most keys one last-use statement writes (two parameters each).
pub(crate) const LAST_USE_BATCH: usize = 500;

impl LastUseSql {
    /// The statement for `rows` keys, taking (id, ms) for each in turn.
    pub(crate) fn batch(&self, rows: usize) -> String {
        let d = self.dialect;
        let p = |n: usize| d.param(n);
        let later = "(api_keys.last_used_ms IS NULL OR api_keys.last_used_ms < v.ms)";
        let pairs = |first: &dyn Fn(usize) -> String| -> String {
            (0..rows).map(first).collect::<Vec<_>>().join(", ")
        };
        match d {
            // SQLite names a VALUES table's columns column1, column2.
            Dialect::Sqlite => format!(
                "UPDATE api_keys SET last_used_ms = v.ms FROM (SELECT column1 AS id, column2 AS ms \
                 FROM (VALUES {})) AS v WHERE api_keys.id = v.id AND {later}",
                pairs(&|i| format!("({}, {})", p(2 * i + 1), p(2 * i + 2)))
            ),
            Dialect::Postgres => format!(
                "UPDATE api_keys SET last_used_ms = v.ms FROM (VALUES {}) AS v(id, ms) \
                 WHERE api_keys.id = v.id AND {later}",
                pairs(&|i| format!(
                    "(CAST({} AS TEXT), CAST({} AS BIGINT))",
                    p(2 * i + 1),
                    p(2 * i + 2)
                ))
            ),
            Dialect::MySql => {
                let rows: Vec<String> = (0..rows)
                    .map(|i| {
                        if i == 0 {
                            "SELECT ? AS id, CAST(? AS SIGNED) AS ms".to_owned()
                        } else {
                            "SELECT ?, ?".to_owned()
                        }
                    })
                    .collect();
                format!(
                    "UPDATE api_keys JOIN ({}) AS v ON api_keys.id = v.id \
                     SET api_keys.last_used_ms = v.ms WHERE {later}",
                    rows.join(" UNION ALL ")
                )
            }
        }
    }
}

/// The channel PostgreSQL revocations are announced on.
pub(crate) const REVOCATION_CHANNEL: &str = "api_key_auth_revoked";

const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS api_key_auth_migrations \
     (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)";

impl Dialect {
    /// The placeholder of parameter `n` (1-based).
    pub(crate) fn param(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("?{n}"),
            Self::Postgres => format!("${n}"),
            // Positional: every statement here takes its parameters in order.
            Self::MySql => "?".to_owned(),
        }
    }

    /// `identifier` quoted: double quotes in SQLite and PostgreSQL, backticks
    /// in MySQL, with the quote character doubled inside.
    pub(crate) fn quote(self, identifier: &str) -> String {
        match self {
            Self::MySql => format!("`{}`", identifier.replace('`', "``")),
            Self::Sqlite | Self::Postgres => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    /// Milliseconds since the epoch of a DRF datetime column, as BIGINT.
    fn millis_of(self, column: &str) -> String {
        match self {
            Self::Sqlite => {
                format!("CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER)")
            }
            Self::Postgres => format!("CAST(ROUND(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)"),
            // Calendar arithmetic on the DATETIME as it is stored (in UTC, as
            // Django stores it), over the column's whole range: UNIX_TIMESTAMP
            // would give NULL outside 1970-2038.
            Self::MySql => format!(
                "CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {column}) / 1000) AS SIGNED)"
            ),
        }
    }

    /// A DRF datetime value from a millisecond parameter (NULL stays NULL).
    fn datetime_of(self, param: &str) -> String {
        match self {
            Self::Sqlite => format!("strftime('%Y-%m-%d %H:%M:%f', {param} / 1000.0, 'unixepoch')"),
            Self::Postgres => format!("to_timestamp(CAST({param} AS DOUBLE PRECISION) / 1000.0)"),
            // Not FROM_UNIXTIME, whose range ends in 2038.
            Self::MySql => {
                format!("TIMESTAMPADD(MICROSECOND, {param} * 1000, '1970-01-01 00:00:00')")
            }
        }
    }

    fn text_literal(self, text: &str) -> String {
        match self {
            Self::Sqlite => format!("'{text}'"),
            Self::Postgres => format!("CAST('{text}' AS TEXT)"),
            Self::MySql => format!("CAST('{text}' AS CHAR)"),
        }
    }

    /// `column` read as text under `name`. MySQL reports a column of a
    /// binary collation as binary, which would not decode as a string.
    fn read_text(self, column: &str, name: &str) -> String {
        match self {
            Self::MySql => format!("CAST({column} AS CHAR) AS {name}"),
            Self::Sqlite | Self::Postgres if column == name => column.to_owned(),
            Self::Sqlite | Self::Postgres => format!("{column} AS {name}"),
        }
    }

    /// A flag (`revoked`, `suspended`), read so that only a true boolean
    /// passes.
    ///
    /// SQLite keeps whatever a hand-made UPDATE put in the column, and
    /// reads text such as `'true'` as 0, so anything but the integers 0 and
    /// 1 becomes NULL there, which the store refuses (503, never a pass).
    fn read_flag(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!(
                "CASE WHEN typeof({column}) = 'integer' AND {column} IN (0, 1) \
                 THEN {column} END AS {column}"
            ),
            // BOOLEAN is a TINYINT here: 2 or -1 would decode as true.
            Self::MySql => format!("CASE WHEN {column} IN (0, 1) THEN {column} END AS {column}"),
            Self::Postgres => column.to_owned(),
        }
    }

    fn null_text(self) -> &'static str {
        match self {
            Self::MySql => "CAST(NULL AS CHAR)",
            Self::Sqlite | Self::Postgres => "CAST(NULL AS TEXT)",
        }
    }

    /// `INSERT` that skips a row whose key is taken.
    fn insert_or_skip(self, table: &str, columns: &str, values: &str) -> String {
        match self {
            Self::MySql => format!("INSERT IGNORE INTO {table} ({columns}) VALUES ({values})"),
            Self::Sqlite | Self::Postgres => {
                format!("INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING")
            }
        }
    }

    /// Revoking the row where `key` (a column) is parameter 1: the statement
    /// giving the prefix, and the update, if separate.
    fn revoke(self, table: &str, key: &str) -> (String, Option<String>) {
        let p = self.param(1);
        match self {
            // No RETURNING on UPDATE: lock the row, read it, then update it.
            Self::MySql => (
                format!(
                    "SELECT {} FROM {table} WHERE {key} = {p} FOR UPDATE",
                    self.read_text("prefix", "prefix")
                ),
                Some(format!(
                    "UPDATE {table} SET revoked = TRUE WHERE {key} = {p}"
                )),
            ),
            Self::Sqlite | Self::Postgres => (
                format!("UPDATE {table} SET revoked = TRUE WHERE {key} = {p} RETURNING prefix"),
                None,
            ),
        }
    }

    /// The record with `key` (a column) parameter 1, locked for the
    /// transaction where the database can (SQLite's write lock is taken by
    /// the transaction itself).
    fn lock_row(self, read: &str, table: &str, key: &str) -> String {
        let p = self.param(1);
        match self {
            Self::Sqlite => format!("SELECT {read} FROM {table} WHERE {table}.{key} = {p}"),
            Self::Postgres | Self::MySql => {
                format!("SELECT {read} FROM {table} WHERE {table}.{key} = {p} FOR UPDATE")
            }
        }
    }

    /// Whether text parameter `param` fits `table`'s `hashed_key` column
    /// (qualified by `qualifier`, whose parts are checked names): checked in
    /// the statement, so a hash is never cut to fit (MySQL without strict
    /// mode would) nor the update failed (PostgreSQL). SQLite keeps any length.
    fn fits_hashed_key(self, param: &str, qualifier: Option<&str>, table: &str) -> String {
        match self {
            Self::Sqlite => format!("length({param}) > 0"),
            Self::Postgres => format!(
                "char_length(CAST({param} AS TEXT)) <= COALESCE((SELECT character_maximum_length \
                 FROM information_schema.columns WHERE table_schema = {} AND table_name = '{table}' \
                 AND column_name = 'hashed_key'), 2147483647)",
                qualifier.map_or("current_schema()".to_owned(), |q| format!("'{q}'"))
            ),
            Self::MySql => format!(
                "CHAR_LENGTH({param}) <= COALESCE((SELECT CHARACTER_MAXIMUM_LENGTH \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = '{table}' \
                 AND COLUMN_NAME = 'hashed_key'), 4294967295)",
                qualifier.map_or("DATABASE()".to_owned(), |q| format!("'{q}'"))
            ),
        }
    }

    /// `NULL` as a BIGINT.
    fn null_int(self) -> &'static str {
        match self {
            Self::MySql => "CAST(NULL AS SIGNED)",
            Self::Sqlite | Self::Postgres => "CAST(NULL AS BIGINT)",
        }
    }

    fn notify(self) -> Option<String> {
        match self {
            Self::Postgres => Some("SELECT pg_notify($1, $2)".to_owned()),
            Self::Sqlite | Self::MySql => None,
        }
    }
}

/// An INSERT of many rows: the head, then a tuple of placeholders per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InsertRows {
    dialect: Dialect,
    /// `INSERT INTO table (columns) VALUES `.
    head: String,
    /// A DRF table: seven values, its dates written from milliseconds.
    drf: bool,
}

impl InsertRows {
    /// How many values a row takes.
    pub(crate) fn width(&self) -> usize {
        if self.drf {
            7
        } else {
            21
        }
    }

    /// The placeholders of row `row` (0-based).
    fn tuple(&self, row: usize) -> String {
        let p = |n: usize| self.dialect.param(row * self.width() + n);
        let values: Vec<String> = if self.drf {
            vec![
                p(1),
                p(2),
                p(3),
                p(4),
                self.dialect.datetime_of(&p(5)),
                self.dialect.datetime_of(&p(6)),
                p(7),
            ]
        } else {
            (1..=21).map(p).collect()
        };
        format!("({})", values.join(", "))
    }

    /// The statement inserting `rows` rows.
    pub(crate) fn sql(&self, rows: usize) -> String {
        let tuples: Vec<String> = (0..rows).map(|row| self.tuple(row)).collect();
        format!("{}{}", self.head, tuples.join(", "))
    }
}

impl Statements {
    pub(crate) fn new(dialect: Dialect, schema: &Schema) -> Self {
        let p = |n| dialect.param(n);
        let migration_applied = format!(
            "SELECT version FROM api_key_auth_migrations WHERE version = {}",
            p(1)
        );
        let migration_record = dialect.insert_or_skip(
            "api_key_auth_migrations",
            "version, applied_ms",
            &format!("{}, {}", p(1), p(2)),
        );
        let (find, by_id, list, insert_rows, (revoke, revoke_update), pages) = match schema {
            Schema::Native => {
                let columns = "id, prefix, hashed_key, name, created_ms, expires_ms, revoked, \
                     scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, \
                     suspended, allowed_from, credits_remaining, credits_refill_amount, \
                     credits_refill_ms, credits_refilled_ms";
                let text = |c: &str| dialect.read_text(c, c);
                let read = format!(
                    "{}, {}, {}, {}, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, \
                     {}, {}, {}, {}, {}, {}, last_used_ms, {}, {}, {}, {}, \
                     credits_remaining, credits_refill_amount, credits_refill_ms, credits_refilled_ms",
                    text("id"),
                    text("prefix"),
                    text("hashed_key"),
                    text("name"),
                    dialect.read_flag("revoked"),
                    text("scopes"),
                    text("owner"),
                    text("metadata"),
                    text("replaces"),
                    text("replaced_by"),
                    text("rate_limit"),
                    text("lineage"),
                    dialect.read_flag("suspended"),
                    text("allowed_from"),
                );
                (
                    format!("SELECT {read} FROM api_keys WHERE prefix = {}", p(1)),
                    format!("SELECT {read} FROM api_keys WHERE api_keys.id = {}", p(1)),
                    format!("SELECT {read} FROM api_keys ORDER BY created_ms, id"),
                    InsertRows {
                        dialect,
                        head: format!("INSERT INTO api_keys ({columns}) VALUES "),
                        drf: false,
                    },
                    dialect.revoke("api_keys", "id"),
                    PageParts {
                        dialect,
                        read,
                        table: "api_keys".to_owned(),
                        key: "id".to_owned(),
                        expires: "expires_ms".to_owned(),
                        created: "created_ms".to_owned(),
                        last_used: Some("last_used_ms".to_owned()),
                        suspended: Some("suspended".to_owned()),
                        owner: Some("owner".to_owned()),
                    },
                )
            }
            Schema::Drf(table) => {
                let table = &table.quoted(dialect);
                let read = format!(
                    "{}, {}, {}, {}, {} AS created_ms, {} AS expires_ms, \
                     expiry_date IS NOT NULL AS has_expiry, {}, \
                     {} AS scopes, {} AS owner, {} AS metadata, \
                     {} AS replaces, {} AS replaced_by, {} AS last_used_ms, {} AS rate_limit, \
                     {} AS lineage, {} AS allowed_from, {} AS credits_remaining, \
                     {} AS credits_refill_amount, {} AS credits_refill_ms, {} AS credits_refilled_ms",
                    dialect.read_text("prefix", "id"),
                    dialect.read_text("prefix", "prefix"),
                    dialect.read_text("hashed_key", "hashed_key"),
                    dialect.read_text("name", "name"),
                    dialect.millis_of("created"),
                    dialect.millis_of("expiry_date"),
                    dialect.read_flag("revoked"),
                    dialect.text_literal("[]"),
                    dialect.null_text(),
                    dialect.text_literal("{}"),
                    dialect.null_text(),
                    dialect.null_text(),
                    dialect.null_int(),
                    dialect.null_text(),
                    dialect.null_text(),
                    dialect.null_text(),
                    dialect.null_int(),
                    dialect.null_int(),
                    dialect.null_int(),
                    dialect.null_int(),
                );
                (
                    format!("SELECT {read} FROM {table} WHERE prefix = {}", p(1)),
                    // A DRF table's ids here are its prefixes.
                    format!("SELECT {read} FROM {table} WHERE {table}.prefix = {}", p(1)),
                    format!("SELECT {read} FROM {table} ORDER BY created, id"),
                    InsertRows {
                        dialect,
                        head: format!(
                            "INSERT INTO {table} \
                             (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES "
                        ),
                        drf: true,
                    },
                    dialect.revoke(table, "prefix"),
                    PageParts {
                        dialect,
                        read,
                        table: table.clone(),
                        key: "prefix".to_owned(),
                        expires: dialect.millis_of("expiry_date"),
                        created: dialect.millis_of("created"),
                        last_used: None,
                        suspended: None,
                        owner: None,
                    },
                )
            }
        };
        let (table, key) = (&pages.table, &pages.key);
        let lock_row = dialect.lock_row(&pages.read, table, key);
        let retire = match schema {
            Schema::Native => format!(
                "UPDATE api_keys SET revoked = {}, expires_ms = {}, replaced_by = {} WHERE id = {}",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            Schema::Drf(_) => format!(
                "UPDATE {table} SET revoked = {}, expiry_date = {} WHERE prefix = {}",
                p(1),
                dialect.datetime_of(&p(2)),
                p(3)
            ),
        };
        let (qualifier, name) = match schema {
            Schema::Native => (None, "api_keys"),
            Schema::Drf(drf) => drf.parts(),
        };
        let upgrade_hash = format!(
            "UPDATE {table} SET hashed_key = {} WHERE prefix = {} AND hashed_key = {} AND {}",
            p(1),
            p(2),
            p(3),
            dialect.fits_hashed_key(&p(4), qualifier, name)
        );
        let last_use = (!schema.is_drf()).then_some(LastUseSql { dialect });
        let suspension = (!schema.is_drf()).then(|| {
            [false, true].map(|to| {
                let to = if to { "TRUE" } else { "FALSE" };
                format!("UPDATE api_keys SET suspended = {to} WHERE id = {}", p(1))
            })
        });
        let credits = (!schema.is_drf()).then(|| {
            [
                format!(
                    "UPDATE api_keys SET credits_remaining = credits_remaining - {} \
                     WHERE id = {} AND credits_remaining >= {} \
                     AND (credits_refill_ms IS NULL OR credits_refilled_ms + credits_refill_ms > {})",
                    p(1),
                    p(2),
                    p(3),
                    p(4)
                ),
                format!(
                    "UPDATE api_keys SET credits_remaining = {}, credits_refilled_ms = {} \
                     WHERE id = {} AND credits_refilled_ms = {}",
                    p(1),
                    p(2),
                    p(3),
                    p(4)
                ),
            ]
        });
        Self {
            find,
            by_id,
            list,
            insert: insert_rows.sql(1),
            insert_rows,
            revoke,
            revoke_update,
            notify: dialect.notify(),
            lock_row,
            retire,
            upgrade_hash,
            suspension,
            credits,
            last_use,
            pages,
            migrations_table: MIGRATIONS_TABLE,
            migration_applied,
            migration_record,
        }
    }
}

impl Statements {
    /// The page statement for `request`; a store error when it asks for
    /// last use of a table that keeps none, or for a filter unknown here.
    pub(crate) fn page(
        &self,
        request: &crate::store::PageRequest,
    ) -> Result<PageStatement, crate::store::StoreError> {
        self.pages
            .statement(
                request.key_filter(),
                request.unused_cutoff().is_some(),
                request.expiry_cutoff().is_some(),
                request.owner_wanted().is_some(),
            )
            .ok_or_else(|| {
                crate::store::StoreError::unsupported(
                    if request.unused_cutoff().is_some() && self.pages.last_used.is_none() {
                        "a djangorestframework-api-key table records no last use"
                    } else {
                        "this store does not know the listing's filter"
                    },
                )
            })
    }
}

/// PostgreSQL only: the statements installing (or, with `install` false,
/// removing) triggers on `schema`'s table that announce every change to a row,
/// an update or a delete, on the revocation channel, whoever makes it (Django's
/// admin, a hand-written UPDATE).
///
/// Each names the row's prefix, and the new one too when an update changes it.
/// The columns whose change PostgreSQL's trigger does not announce.
const UNANNOUNCED: &str = "ARRAY['last_used_ms', 'credits_remaining', 'credits_refilled_ms']";

#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // pinned by the tests whatever the features
pub(crate) fn postgres_change_triggers(schema: &Schema, install: bool) -> Vec<String> {
    use crate::store::EVERY_KEY;
    let table = match schema {
        Schema::Native => "api_keys".to_owned(),
        Schema::Drf(table) => table.quoted(Dialect::Postgres),
    };
    let drop = [
        format!("DROP TRIGGER IF EXISTS api_key_auth_announce_change ON {table}"),
        format!("DROP TRIGGER IF EXISTS api_key_auth_announce_truncate ON {table}"),
    ];
    if !install {
        return drop.to_vec();
    }
    let [drop_change, drop_truncate] = drop;
    vec![
        // An update that changed nothing but `last_used_ms` (the last-use
        // tracker's writes) or a credit count and its refill time (every
        // spend writes them; the store is asked for them, never the cache)
        // is not announced: it changes nothing a cache serves.
        format!(
            "CREATE OR REPLACE FUNCTION api_key_auth_announce_change() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
             IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - {UNANNOUNCED}) = (to_jsonb(OLD) - {UNANNOUNCED}) \
             THEN RETURN NULL; END IF; \
             PERFORM pg_notify('{REVOCATION_CHANNEL}', OLD.prefix); \
             IF TG_OP = 'UPDATE' AND NEW.prefix IS DISTINCT FROM OLD.prefix THEN \
             PERFORM pg_notify('{REVOCATION_CHANNEL}', NEW.prefix); END IF; \
             RETURN NULL; END $$"
        ),
        // A TRUNCATE fires no row trigger: a statement-level one says
        // "everything", which a listener hears as a flush.
        format!(
            "CREATE OR REPLACE FUNCTION api_key_auth_announce_truncate() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
             PERFORM pg_notify('{REVOCATION_CHANNEL}', '{EVERY_KEY}'); \
             RETURN NULL; END $$"
        ),
        drop_change,
        format!(
            "CREATE TRIGGER api_key_auth_announce_change AFTER UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION api_key_auth_announce_change()"
        ),
        drop_truncate,
        format!(
            "CREATE TRIGGER api_key_auth_announce_truncate AFTER TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION api_key_auth_announce_truncate()"
        ),
    ]
}

/// The statements of a shipped migration file: comment lines dropped, the
/// rest split at semicolons, which the files use only to end statements.
pub(crate) fn migration_statements(file: &str) -> Vec<String> {
    let code: String = file
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .map(|line| format!("{line}\n"))
        .collect();
    code.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement of every dialect and schema, as one text.
    fn all_statements() -> String {
        let mut out = String::from(
            "-- Every statement the SQL stores run, by database and schema.\n\
             -- Pinned by api-key-auth-sql's statements::tests; after a deliberate change run\n\
             --   UPDATE_SQL=1 cargo test -p api-key-auth-sql --all-features --lib statements\n",
        );
        let schemas = [
            ("native", Schema::Native),
            ("drf", Schema::drf()),
            (
                "drf, schema-qualified",
                Schema::drf_table("keys.app_apikey").unwrap(),
            ),
        ];
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            for (name, schema) in &schemas {
                let sql = Statements::new(dialect, schema);
                out.push_str(&format!("\n-- ==== {dialect:?}, {name} ====\n"));
                let mut put = |what: &str, text: &str| {
                    out.push_str(&format!("-- {what}\n{text};\n"));
                };
                put("find", &sql.find);
                put("find by id", &sql.by_id);
                put("list", &sql.list);
                put("insert", &sql.insert);
                put("revoke", &sql.revoke);
                if let Some(update) = &sql.revoke_update {
                    put("revoke, then", update);
                }
                if let Some(notify) = &sql.notify {
                    put("in the revoking transaction", notify);
                }
                put("rotation, the old row locked", &sql.lock_row);
                put("rotation, the old row retired", &sql.retire);
                put("legacy hash upgraded", &sql.upgrade_hash);
                if let Some([resume, suspend]) = &sql.suspension {
                    put("suspend", suspend);
                    put("resume", resume);
                }
                if let Some([spend, refill]) = &sql.credits {
                    put("credits, spend", spend);
                    put("credits, refill", refill);
                }
                if let Some(last_use) = &sql.last_use {
                    put("last use, two keys", &last_use.batch(2));
                }
                let filters = [
                    ("all", KeyFilter::All),
                    ("active", KeyFilter::Active),
                    ("revoked", KeyFilter::Revoked),
                    ("expired", KeyFilter::Expired),
                    ("suspended", KeyFilter::Suspended),
                ];
                for (name, filter) in filters {
                    let page = sql.pages.statement(filter, false, false, false).unwrap();
                    put(
                        &format!("page, {name}, binding {:?}", page.binds),
                        &page.sql,
                    );
                }
                let conditions = [
                    ("unused", true, false, false),
                    ("expiring", false, true, false),
                    ("owned", false, false, true),
                ];
                for (name, unused, expiring, owned) in conditions {
                    if let Some(page) =
                        sql.pages
                            .statement(KeyFilter::Active, unused, expiring, owned)
                    {
                        put(
                            &format!("page, active and {name}, binding {:?}", page.binds),
                            &page.sql,
                        );
                    }
                }
                if dialect == Dialect::Postgres {
                    for statement in postgres_change_triggers(schema, true) {
                        put("change triggers, installed", &statement);
                    }
                    for statement in postgres_change_triggers(schema, false) {
                        put("change triggers, removed", &statement);
                    }
                }
                if let Some(log) = super::super::change_log::ChangeLogSql::new(dialect, schema) {
                    for statement in &log.install {
                        put("change log, installed", statement);
                    }
                    for statement in &log.remove {
                        put("change log, triggers removed", statement);
                    }
                    put("change log, read", &log.read);
                    put("change log, oldest", &log.oldest);
                    put("change log, newest", &log.newest);
                    put("change log, trim", &log.trim);
                    put("change log, triggers present", &log.triggers);
                    put("change log, skipped entries read again", &log.between);
                    put("change log, one entry", &log.at);
                    if let Some(version) = &log.data_version {
                        put("change log, anything new?", version);
                    }
                }
                put("migrations table", sql.migrations_table);
                put("migration applied?", &sql.migration_applied);
                put("migration recorded", &sql.migration_record);
            }
        }
        out
    }

    /// The SQL of every dialect and schema is exactly what
    /// `statements.sql`, beside this file, shows a reviewer.
    #[test]
    fn the_statements_are_the_ones_pinned_in_statements_sql() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/statements.sql");
        let now = all_statements();
        if std::env::var_os("UPDATE_SQL").is_some() {
            std::fs::write(path, &now).unwrap();
        }
        let pinned = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            pinned == now,
            "the SQL differs from {path}; if the change is meant, run \
             UPDATE_SQL=1 cargo test -p api-key-auth-sql --all-features --lib statements and review the diff"
        );
    }

    #[test]
    fn identifiers_are_quoted_with_their_quote_doubled() {
        assert_eq!(Dialect::Postgres.quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::Sqlite.quote("t"), "\"t\"");
        assert_eq!(Dialect::MySql.quote("a`b"), "`a``b`");
    }

    #[test]
    fn migration_files_split_into_statements_without_comments() {
        let file = "-- a comment; with a semicolon\nCREATE TABLE t (a INT);\n\n  -- another\nCREATE INDEX i ON t (a);\n";
        assert_eq!(
            migration_statements(file),
            ["CREATE TABLE t (a INT)", "CREATE INDEX i ON t (a)"]
        );
    }
}
