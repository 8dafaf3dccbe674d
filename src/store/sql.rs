//! What the SQL stores share: the schemas they read, their statements, and
//! the mapping between rows and [`KeyRecord`](crate::KeyRecord)s.

pub(crate) use super::row::to_millis;
use crate::store::StoreError;

/// Which table layout a SQL store reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schema {
    /// This crate's own table, `api_keys`, created by the shipped migrations
    /// (`migrations/<database>/`): every [`KeyRecord`](crate::KeyRecord) field has a column.
    Native,
    /// An existing djangorestframework-api-key table: `id`, `prefix`,
    /// `hashed_key`, `created`, `name`, `revoked`, `expiry_date`. Keys keep
    /// no scopes, owner or metadata there; new keys are hashed `sha512$$`
    /// and given DRF's primary keys, so the Django service accepts them too.
    ///
    /// DRF's primary key embeds the hash, so it stays inside the store: a
    /// [`KeyRecord`](crate::KeyRecord)'s id here is the key's prefix (unique
    /// in DRF's table too), and [`revoke`](crate::KeyManager::revoke) takes it.
    ///
    /// Built with [`Schema::drf`] or [`Schema::drf_table`]: a [`DrfTable`]
    /// cannot hold a name that was not checked.
    ///
    /// ```compile_fail
    /// // The table name is checked; there is no way around the check.
    /// let schema = api_key_auth::store::Schema::Drf(api_key_auth::store::DrfTable {
    ///     name: "t; DROP TABLE t".into(),
    /// });
    /// ```
    Drf(DrfTable),
}

/// The name of a djangorestframework-api-key table, checked: one or two
/// dot-separated parts (`table` or `schema.table`), each letters, digits and
/// underscores, not starting with a digit. Made by [`DrfTable::new`] only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrfTable {
    name: String,
}

impl DrfTable {
    /// Checks `name`. An error says what is wrong with it.
    pub fn new(name: &str) -> Result<Self, StoreError> {
        let valid_part = |part: &str| {
            !part.is_empty()
                && part.len() <= 63
                && !part.starts_with(|c: char| c.is_ascii_digit())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|p| valid_part(p)) {
            return Err(StoreError::config(format!(
                "table name {name:?} must be letters, digits and underscores (up to 63 per part), \
                 optionally schema-qualified"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
        })
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The name quoted for `dialect`, each part on its own, so that even a
    /// name that got past the check could not end the identifier.
    fn quoted(&self, dialect: Dialect) -> String {
        self.name
            .split('.')
            .map(|part| dialect.quote(part))
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl Schema {
    /// The hasher for new keys: DRF's `sha512$$` for a DRF table, so Django
    /// accepts the keys too; SHA-256 otherwise.
    pub(crate) fn default_hasher(&self) -> crate::hash::Hasher {
        if self.is_drf() {
            crate::hash::Hasher::sha512_drf()
        } else {
            crate::hash::Hasher::default()
        }
    }

    /// DRF's own model table, `rest_framework_api_key_apikey`.
    pub fn drf() -> Self {
        Self::Drf(DrfTable {
            name: "rest_framework_api_key_apikey".to_owned(),
        })
    }

    /// A DRF table of another name (a model subclassing `AbstractAPIKey`).
    /// The name may be schema-qualified (`keys.app_apikey`); each part is
    /// letters, digits and underscores.
    pub fn drf_table(table: &str) -> Result<Self, StoreError> {
        DrfTable::new(table).map(Self::Drf)
    }

    pub(crate) fn is_drf(&self) -> bool {
        matches!(self, Self::Drf(_))
    }
}

/// The SQL a store runs, built once for its database and schema.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) find: String,
    pub(crate) list: String,
    pub(crate) insert: String,
    /// Marks the key revoked and gives its prefix; or, where the database
    /// cannot return rows from an UPDATE, locks the row and gives its prefix,
    /// and `revoke_update` marks it.
    pub(crate) revoke: String,
    pub(crate) revoke_update: Option<String>,
    /// Whether a migration version is recorded, and recording one.
    pub(crate) migration_applied: String,
    pub(crate) migration_record: String,
}

/// The table that records which shipped migrations a database has.
pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS api_key_auth_migrations \
     (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL)";

/// The differences between the databases that the statements care about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dialect {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    MySql,
}

impl Dialect {
    fn param(self, n: usize) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => format!("?{n}"),
            #[cfg(feature = "postgres")]
            Self::Postgres => format!("${n}"),
            // Positional: every statement here takes its parameters in order.
            #[cfg(feature = "mysql")]
            Self::MySql => {
                let _ = n;
                "?".to_owned()
            }
        }
    }

    /// Milliseconds since the epoch of a DRF datetime column, as BIGINT.
    fn millis_of(self, column: &str) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => {
                format!("CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER)")
            }
            #[cfg(feature = "postgres")]
            Self::Postgres => format!("CAST(ROUND(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)"),
            // Calendar arithmetic on the DATETIME as it is stored (in UTC, as
            // Django stores it), over the column's whole range: UNIX_TIMESTAMP
            // would give NULL outside 1970-2038.
            #[cfg(feature = "mysql")]
            Self::MySql => format!(
                "CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {column}) / 1000) AS SIGNED)"
            ),
        }
    }

    /// A DRF datetime value from a millisecond parameter (NULL stays NULL).
    fn datetime_of(self, param: &str) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => format!("strftime('%Y-%m-%d %H:%M:%f', {param} / 1000.0, 'unixepoch')"),
            #[cfg(feature = "postgres")]
            Self::Postgres => format!("to_timestamp(CAST({param} AS DOUBLE PRECISION) / 1000.0)"),
            // Not FROM_UNIXTIME, whose range ends in 2038.
            #[cfg(feature = "mysql")]
            Self::MySql => {
                format!("TIMESTAMPADD(MICROSECOND, {param} * 1000, '1970-01-01 00:00:00')")
            }
        }
    }

    /// `identifier` quoted: double quotes in SQLite and PostgreSQL, backticks
    /// in MySQL, with the quote character doubled inside.
    fn quote(self, identifier: &str) -> String {
        match self {
            #[cfg(feature = "mysql")]
            Self::MySql => format!("`{}`", identifier.replace('`', "``")),
            #[allow(unreachable_patterns)]
            _ => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    fn text_literal(self, text: &str) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => format!("'{text}'"),
            #[cfg(feature = "postgres")]
            Self::Postgres => format!("CAST('{text}' AS TEXT)"),
            #[cfg(feature = "mysql")]
            Self::MySql => format!("CAST('{text}' AS CHAR)"),
        }
    }

    /// `column` read as text. MySQL reports a column of a binary collation
    /// as binary, which would not decode as a string.
    fn read_text(self, column: &str, name: &str) -> String {
        match self {
            #[cfg(feature = "mysql")]
            Self::MySql => format!("CAST({column} AS CHAR) AS {name}"),
            #[allow(unreachable_patterns)]
            _ if column == name => column.to_owned(),
            #[allow(unreachable_patterns)]
            _ => format!("{column} AS {name}"),
        }
    }

    /// The `revoked` flag, read so that only a true boolean passes:
    /// SQLite keeps whatever a hand-made UPDATE put in the column, and reads
    /// text such as `'true'` as 0, so anything but the integers 0 and 1
    /// becomes NULL there, which does not decode (503, never a pass).
    fn read_flag(self, column: &str) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => format!(
                "CASE WHEN typeof({column}) = 'integer' AND {column} IN (0, 1) \
                 THEN {column} END AS {column}"
            ),
            #[allow(unreachable_patterns)]
            _ => column.to_owned(),
        }
    }

    fn null_text(self) -> &'static str {
        match self {
            #[cfg(feature = "mysql")]
            Self::MySql => "CAST(NULL AS CHAR)",
            #[allow(unreachable_patterns)]
            _ => "CAST(NULL AS TEXT)",
        }
    }

    /// `INSERT` that skips a row whose key is taken.
    fn insert_or_skip(self, table: &str, columns: &str, values: &str) -> String {
        match self {
            #[cfg(feature = "mysql")]
            Self::MySql => format!("INSERT IGNORE INTO {table} ({columns}) VALUES ({values})"),
            #[allow(unreachable_patterns)]
            _ => {
                format!("INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING")
            }
        }
    }

    /// Revoking the rows where `key` (a column) is the first parameter:
    /// the statement giving the prefix, and the update, if separate.
    fn revoke(self, table: &str, key: &str) -> (String, Option<String>) {
        let p = self.param(1);
        match self {
            // No RETURNING on UPDATE: lock the row, read it, then update it.
            #[cfg(feature = "mysql")]
            Self::MySql => (
                format!(
                    "SELECT {} FROM {table} WHERE {key} = {p} FOR UPDATE",
                    self.read_text("prefix", "prefix")
                ),
                Some(format!(
                    "UPDATE {table} SET revoked = TRUE WHERE {key} = {p}"
                )),
            ),
            #[allow(unreachable_patterns)]
            _ => (
                format!("UPDATE {table} SET revoked = TRUE WHERE {key} = {p} RETURNING prefix"),
                None,
            ),
        }
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
        match schema {
            Schema::Native => {
                let columns = "id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata";
                let text = |c: &str| dialect.read_text(c, c);
                let read = format!(
                    "{}, {}, {}, {}, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, \
                     {}, {}, {}, {}",
                    text("id"),
                    text("prefix"),
                    text("hashed_key"),
                    text("name"),
                    dialect.read_flag("revoked"),
                    text("scopes"),
                    text("owner"),
                    text("metadata"),
                );
                let (revoke, revoke_update) = dialect.revoke("api_keys", "id");
                Self {
                    find: format!("SELECT {read} FROM api_keys WHERE prefix = {}", p(1)),
                    list: format!("SELECT {read} FROM api_keys ORDER BY created_ms, id"),
                    insert: format!(
                        "INSERT INTO api_keys ({columns}) VALUES ({})",
                        (1..=10).map(p).collect::<Vec<_>>().join(", ")
                    ),
                    revoke,
                    revoke_update,
                    migration_applied,
                    migration_record,
                }
            }
            Schema::Drf(table) => {
                let table = &table.quoted(dialect);
                let columns = format!(
                    "{}, {}, {}, {}, {} AS created_ms, {} AS expires_ms, \
                     expiry_date IS NOT NULL AS has_expiry, {}, \
                     {} AS scopes, {} AS owner, {} AS metadata",
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
                );
                let (revoke, revoke_update) = dialect.revoke(table, "prefix");
                Self {
                    find: format!("SELECT {columns} FROM {table} WHERE prefix = {}", p(1)),
                    list: format!("SELECT {columns} FROM {table} ORDER BY created, id"),
                    insert: format!(
                        "INSERT INTO {table} (id, prefix, hashed_key, name, created, expiry_date, revoked) \
                         VALUES ({}, {}, {}, {}, {}, {}, {})",
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        dialect.datetime_of(&p(5)),
                        dialect.datetime_of(&p(6)),
                        p(7),
                    ),
                    revoke,
                    revoke_update,
                    migration_applied,
                    migration_record,
                }
            }
        }
    }
}

/// The statements of a shipped migration file: comment lines dropped, the
/// rest split at semicolons, which the files use only to end statements.
pub(crate) fn statements(file: &str) -> Vec<String> {
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

/// The shared implementation of a sqlx store with fields `pool: $pool`,
/// `sql: Arc<Statements>`, `schema` and `hasher`: its common constructors and
/// accessors, [`KeyStore`](crate::KeyStore) and [`KeyManager`](crate::KeyManager).
/// `$after_revoke` runs in the revoking transaction with the revoked prefix
/// (to notify other instances).
macro_rules! sql_store_impls {
    ($store:ty, $pool:ty, $dialect:expr, $after_revoke:path) => {
        impl $store {
            /// A store over a pool of yours. With
            /// [`Schema::Native`]($crate::store::Schema::Native), call
            /// [`migrate`](Self::migrate) once before use.
            pub fn new(pool: $pool, schema: $crate::store::Schema) -> Self {
                let hasher = schema.default_hasher();
                Self {
                    sql: std::sync::Arc::new($crate::store::sql::Statements::new(
                        $dialect, &schema,
                    )),
                    pool,
                    schema,
                    hasher,
                }
            }

            /// Hashes new keys with `hasher` (and verifies with it in the conformance kit).
            pub fn with_hasher(mut self, hasher: $crate::hash::Hasher) -> Self {
                self.hasher = hasher;
                self
            }

            /// The pool the store uses.
            pub fn pool(&self) -> &$pool {
                &self.pool
            }

            /// The schema the store reads.
            pub fn schema(&self) -> &$crate::store::Schema {
                &self.schema
            }

            /// Applies `migrations` not yet recorded, in one transaction,
            /// after `lock` (a statement serialising concurrent migrators).
            async fn run_migrations(
                &self,
                migrations: &[(i64, &str)],
                lock: Option<&str>,
            ) -> Result<(), $crate::StoreError> {
                use $crate::store::sql::store_error;
                let mut tx = self.pool.begin().await.map_err(store_error)?;
                if let Some(lock) = lock {
                    sqlx::query(lock)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                sqlx::query($crate::store::sql::MIGRATIONS_TABLE)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                for &(version, file) in migrations {
                    let applied: Option<i64> = sqlx::query_scalar(&self.sql.migration_applied)
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    if applied.is_some() {
                        continue;
                    }
                    for statement in $crate::store::sql::statements(file) {
                        sqlx::query(&statement)
                            .execute(&mut *tx)
                            .await
                            .map_err(store_error)?;
                    }
                    sqlx::query(&self.sql.migration_record)
                        .bind(version)
                        .bind($crate::store::sql::to_millis(std::time::SystemTime::now()))
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)
            }

            fn decode(
                row: &<$store as $crate::store::sql::HasRow>::Row,
            ) -> Result<$crate::store::row::RawRecord, $crate::StoreError> {
                use sqlx::Row as _;
                let get = |e| $crate::store::sql::store_error(e);
                Ok($crate::store::row::RawRecord {
                    id: row.try_get("id").map_err(get)?,
                    prefix: row.try_get("prefix").map_err(get)?,
                    hashed_key: row.try_get("hashed_key").map_err(get)?,
                    name: row.try_get("name").map_err(get)?,
                    created_ms: row.try_get("created_ms").map_err(get)?,
                    expires_ms: row.try_get("expires_ms").map_err(get)?,
                    has_expiry: row.try_get("has_expiry").map_err(get)?,
                    // Read as optional: sqlx's SQLite driver decodes a NULL
                    // bool as false, and an unreadable flag must not pass.
                    revoked: row
                        .try_get::<Option<bool>, _>("revoked")
                        .map_err(get)?
                        .ok_or_else(|| {
                            $crate::StoreError::invalid_record(
                                "a revoked flag that is not a boolean",
                            )
                        })?,
                    scopes: row.try_get("scopes").map_err(get)?,
                    owner: row.try_get("owner").map_err(get)?,
                    metadata: row.try_get("metadata").map_err(get)?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::KeyStore for $store {
            async fn find(&self, prefix: $crate::key::Prefix) -> $crate::Lookup {
                let row = sqlx::query(&self.sql.find)
                    .bind(prefix.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::sql::store_error)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let record = Self::decode(&row)?.into_record()?;
                // A table compared without regard to case (a DRF table in
                // MySQL's default collation) may give a prefix's twin.
                if record.prefix != prefix {
                    return Ok(None);
                }
                Ok(Some(std::sync::Arc::new(record)))
            }

            fn hash_algorithm(&self) -> Option<$crate::hash::Algorithm> {
                Some(self.hasher.algorithm())
            }
        }

        #[async_trait::async_trait]
        impl $crate::KeyManager for $store {
            async fn insert(&self, record: $crate::KeyRecord) -> Result<(), $crate::StoreError> {
                let v = $crate::store::row::InsertValues::new(record, self.schema.is_drf())?;
                let id = if self.schema.is_drf() {
                    // djangorestframework-api-key's primary key: the prefix and the hash, joined by a dot.
                    format!("{}.{}", v.prefix, v.hashed_key)
                } else {
                    v.id
                };
                let query = sqlx::query(&self.sql.insert)
                    .bind(id)
                    .bind(v.prefix)
                    .bind(v.hashed_key)
                    .bind(v.name)
                    .bind(v.created_ms)
                    .bind(v.expires_ms)
                    .bind(v.revoked);
                let query = if self.schema.is_drf() {
                    query
                } else {
                    query.bind(v.scopes).bind(v.owner).bind(v.metadata)
                };
                query
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::sql::store_error)?;
                Ok(())
            }

            async fn list(
                &self,
            ) -> Result<Vec<std::sync::Arc<$crate::KeyRecord>>, $crate::StoreError> {
                let rows = sqlx::query(&self.sql.list)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::sql::store_error)?;
                rows.iter()
                    .map(|row| Ok(std::sync::Arc::new(Self::decode(row)?.into_record()?)))
                    .collect()
            }

            async fn revoke(&self, id: &str) -> Result<bool, $crate::StoreError> {
                use sqlx::Row as _;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err($crate::store::sql::store_error)?;
                let row = sqlx::query(&self.sql.revoke)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::store::sql::store_error)?;
                let Some(row) = row else {
                    return Ok(false);
                };
                let prefix: String = row
                    .try_get("prefix")
                    .map_err($crate::store::sql::store_error)?;
                // A DRF table compared without regard to case (MySQL's default
                // collation) finds the row of a prefix's case twin. Its id is
                // not the one asked for: revoke nothing (the transaction rolls
                // back), so no cache goes on serving a key revoked by another name.
                if self.schema.is_drf() && prefix != id {
                    return Ok(false);
                }
                if let Some(update) = &self.sql.revoke_update {
                    sqlx::query(update)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::store::sql::store_error)?;
                }
                $after_revoke(self, &mut tx, &prefix).await?;
                tx.commit().await.map_err($crate::store::sql::store_error)?;
                Ok(true)
            }

            fn hasher(&self) -> $crate::hash::Hasher {
                self.hasher.clone()
            }
        }
    };
}

pub(crate) use sql_store_impls;

/// Names the row type of a store's database, for the shared implementation.
pub(crate) trait HasRow {
    type Row;
}
