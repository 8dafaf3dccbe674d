//! Which table a SQL store reads: this crate's own, or a
//! djangorestframework-api-key table, whose name is checked before any SQL
//! is built from it.

use super::statements::Dialect;
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

    /// The schema (PostgreSQL), attached database (SQLite) or database
    /// (MySQL) the name is qualified by, if any, and the table's own name.
    pub(crate) fn parts(&self) -> (Option<&str>, &str) {
        match self.name.split_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, &self.name),
        }
    }

    /// The name quoted for `dialect`, each part on its own, so that even a
    /// name that got past the check could not end the identifier.
    pub(crate) fn quoted(&self, dialect: Dialect) -> String {
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
