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
    /// (`migrations/<database>/`): every [`KeyRecord`](api_key_auth_core::KeyRecord) field has a column.
    Native,
    /// An existing djangorestframework-api-key table: `id`, `prefix`,
    /// `hashed_key`, `created`, `name`, `revoked`, `expiry_date`. Keys keep
    /// no scopes, owner or metadata there; new keys are hashed `sha512$$`
    /// and given DRF's primary keys, so the Django service accepts them too.
    ///
    /// DRF's primary key embeds the hash, so it stays inside the store: a
    /// [`KeyRecord`](api_key_auth_core::KeyRecord)'s id here is the key's prefix (unique
    /// in DRF's table too), and [`revoke`](api_key_auth_core::KeyManager::revoke) takes it.
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
    /// The time zone of the table's naive dates; `None`: UTC.
    naive: Option<NaiveZone>,
}

/// The time zone a Django table's naive dates are written in, by its IANA
/// name: Django with `USE_TZ = False` writes local time (its `TIME_ZONE`)
/// into SQLite's text dates and MySQL's `DATETIME`s, which say no zone.
#[derive(Debug, Clone)]
struct NaiveZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl PartialEq for NaiveZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for NaiveZone {}

impl NaiveZone {
    /// A naive date (milliseconds read as if UTC) as the instant it names in
    /// this zone.
    ///
    /// A local time that happens twice (a clock set back) is the earlier
    /// instant, so an expiry never comes later than it could; one that never
    /// happens (a clock set forward) is read with the offset before the jump.
    fn instant_of(&self, naive_ms: i64) -> Result<i64, StoreError> {
        let civil = jiff::tz::TimeZone::UTC.to_datetime(timestamp(naive_ms));
        let at = self
            .zone
            .to_ambiguous_timestamp(civil)
            .earlier()
            .map_err(|e| {
                StoreError::invalid_record(format!(
                    "a date in {} that does not name an instant: {e}",
                    self.name
                ))
            })?;
        Ok(at.as_millisecond())
    }

    /// The naive date (milliseconds as if UTC) this zone's clocks show at
    /// the instant `utc_ms`.
    fn naive_at(&self, utc_ms: i64) -> i64 {
        let civil = self.zone.to_datetime(timestamp(utc_ms));
        jiff::tz::TimeZone::UTC
            .to_timestamp(civil)
            .unwrap_or(if utc_ms > 0 {
                jiff::Timestamp::MAX
            } else {
                jiff::Timestamp::MIN
            })
            .as_millisecond()
    }
}

/// `ms` as a timestamp, at the end of jiff's range (a day short of the
/// year 10000) when beyond it: only the latest expiry a key can be given
/// is, and a day there changes nothing.
fn timestamp(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms > 0 {
        jiff::Timestamp::MAX
    } else {
        jiff::Timestamp::MIN
    })
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
            naive: None,
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
            naive: None,
        })
    }

    /// Reads and writes the table's dates as local times in `zone` (an IANA
    /// name, `Europe/Berlin`), for a Django service with `USE_TZ = False`.
    ///
    /// Such a service writes its `TIME_ZONE`'s local time into SQLite's
    /// text dates and MySQL's `DATETIME`s; they say no zone, and are read
    /// as UTC otherwise (what Django writes with `USE_TZ = True`, its
    /// default since 5.0). PostgreSQL's `timestamptz` columns carry their
    /// instant: there this changes nothing. A local time a clock passes
    /// twice is read as the earlier instant, so an expiry never comes late.
    ///
    /// ```
    /// use api_key_auth::store::Schema;
    ///
    /// let schema = Schema::drf().with_naive_time_zone("Asia/Tokyo")?;
    /// assert!(Schema::drf().with_naive_time_zone("Mars/Olympus_Mons").is_err());
    /// assert!(Schema::Native.with_naive_time_zone("UTC").is_err());
    /// # let _ = schema; Ok::<(), api_key_auth::StoreError>(())
    /// ```
    pub fn with_naive_time_zone(self, zone: &str) -> Result<Self, StoreError> {
        let Self::Drf(mut table) = self else {
            return Err(StoreError::config(
                "this crate's own table keeps its times as milliseconds since the epoch, in no \
                 time zone: only a djangorestframework-api-key table has naive dates",
            ));
        };
        let found = jiff::tz::TimeZone::get(zone).map_err(|e| {
            StoreError::config(format!(
                "{zone:?} is not a time zone this system knows (an IANA name such as \
                 Europe/Berlin): {e}"
            ))
        })?;
        table.naive = Some(NaiveZone {
            name: zone.to_owned(),
            zone: found,
        });
        Ok(Self::Drf(table))
    }

    /// The same schema with its dates read as UTC: for a database whose
    /// columns carry their instant.
    #[cfg_attr(not(feature = "_sqlx"), allow(dead_code))]
    pub(crate) fn without_naive_time_zone(mut self) -> Self {
        if let Self::Drf(table) = &mut self {
            table.naive = None;
        }
        self
    }

    fn naive_zone(&self) -> Option<&NaiveZone> {
        match self {
            Self::Drf(table) => table.naive.as_ref(),
            Self::Native => None,
        }
    }

    /// A stored date (milliseconds as the statements read it) as the
    /// instant it names.
    pub(crate) fn stored_to_utc(&self, ms: i64) -> Result<i64, StoreError> {
        match self.naive_zone() {
            Some(zone) => zone.instant_of(ms),
            None => Ok(ms),
        }
    }

    /// An instant as the statements write it to this table.
    pub(crate) fn utc_to_stored(&self, ms: i64) -> i64 {
        match self.naive_zone() {
            Some(zone) => zone.naive_at(ms),
            None => ms,
        }
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
