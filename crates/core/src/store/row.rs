//! The flat form of a [`KeyRecord`] that database stores keep: text, integers
//! and a flag, with scopes and metadata as JSON. Shared by the SQL and Redis stores.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::{
    hash::StoredHash,
    key::Prefix,
    store::{AddressAllowlist, RateLimit},
    store::{KeyRecord, StoreError},
};

/// A row as the statements return it, before it is checked.
#[derive(Debug)]
pub struct RawRecord {
    pub id: String,
    pub prefix: String,
    pub hashed_key: String,
    pub name: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    /// Whether the row holds an expiry at all. A row that holds one which
    /// did not read as a number (a zero date, a value out of a function's
    /// range) is refused, never taken for "never expires".
    pub has_expiry: bool,
    /// `None`: a flag that did not read as a boolean, refused.
    pub revoked: Option<bool>,
    /// `None`: a flag that did not read as a boolean, refused (a table
    /// without the column reads it as a constant false).
    pub suspended: Option<bool>,
    pub scopes: String,
    pub owner: Option<String>,
    pub metadata: String,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub lineage: Option<String>,
    pub last_used_ms: Option<i64>,
    /// JSON, as `RateLimit::to_json` writes it; read exactly or refused.
    pub rate_limit: Option<String>,
    /// JSON, as `AddressAllowlist::to_json` writes it; read exactly or refused.
    pub allowed_from: Option<String>,
}

impl RawRecord {
    pub fn into_record(self) -> Result<KeyRecord, StoreError> {
        let id = self.id;
        let invalid = |what: String| StoreError::invalid_record(format!("key {id:?}: {what}"));
        let revoked = self
            .revoked
            .ok_or_else(|| invalid("a revoked flag that is not a boolean".to_owned()))?;
        let suspended = self
            .suspended
            .ok_or_else(|| invalid("a suspended flag that is not a boolean".to_owned()))?;
        if self.has_expiry && self.expires_ms.is_none() {
            return Err(invalid(
                "an expiry date that does not read as a time".to_owned(),
            ));
        }
        let prefix = Prefix::parse(&self.prefix).map_err(|e| invalid(format!("prefix: {e}")))?;
        let hash =
            StoredHash::parse(&self.hashed_key).map_err(|e| invalid(format!("hashed_key: {e}")))?;
        let scopes =
            serde_json::from_str(&self.scopes).map_err(|e| invalid(format!("scopes: {e}")))?;
        let metadata =
            serde_json::from_str(&self.metadata).map_err(|e| invalid(format!("metadata: {e}")))?;
        let rate_limit = self
            .rate_limit
            .as_deref()
            .map(RateLimit::from_json)
            .transpose()
            .map_err(&invalid)?;
        let allowed_from = self
            .allowed_from
            .as_deref()
            .map(AddressAllowlist::from_json)
            .transpose()
            .map_err(&invalid)?;
        Ok(KeyRecord {
            id,
            name: self.name,
            prefix,
            hash,
            created: from_millis(self.created_ms),
            expires: self.expires_ms.map(from_millis),
            revoked,
            suspended,
            scopes,
            owner: self.owner,
            metadata,
            replaces: self.replaces,
            replaced_by: self.replaced_by,
            lineage: self.lineage,
            last_used: self.last_used_ms.map(from_millis),
            rate_limit,
            allowed_from,
        })
    }
}

/// A record's values in the order of the insert statement's parameters.
#[derive(Debug)]
pub struct InsertValues {
    pub id: String,
    pub prefix: String,
    pub hashed_key: String,
    pub name: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked: bool,
    pub suspended: bool,
    pub scopes: String,
    pub owner: Option<String>,
    pub metadata: String,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub lineage: Option<String>,
    pub last_used_ms: Option<i64>,
    pub rate_limit: Option<String>,
    pub allowed_from: Option<String>,
}

impl InsertValues {
    pub fn new(record: KeyRecord, drf_schema: bool) -> Result<Self, StoreError> {
        let has_extras = !record.scopes.is_empty()
            || record.owner.is_some()
            || !record.metadata.is_empty()
            || record.rate_limit.is_some()
            || record.suspended
            || record.allowed_from.is_some();
        if drf_schema && has_extras {
            return Err(StoreError::config(
                "a djangorestframework-api-key table has no columns for scopes, owner, metadata, a rate limit, a suspension or an address allowlist",
            ));
        }
        let json = |value: serde_json::Result<String>| value.map_err(StoreError::invalid_record);
        Ok(Self {
            prefix: record.prefix.to_string(),
            hashed_key: record.hash.to_string(),
            created_ms: to_millis(record.created),
            expires_ms: record.expires.map(to_millis),
            scopes: json(serde_json::to_string(&record.scopes))?,
            metadata: json(serde_json::to_string::<BTreeMap<String, String>>(
                &record.metadata,
            ))?,
            last_used_ms: record.last_used.map(to_millis),
            rate_limit: record.rate_limit.map(RateLimit::to_json),
            allowed_from: record.allowed_from.as_ref().map(AddressAllowlist::to_json),
            id: record.id,
            name: record.name,
            revoked: record.revoked,
            suspended: record.suspended,
            owner: record.owner,
            replaces: record.replaces,
            replaced_by: record.replaced_by,
            lineage: record.lineage,
        })
    }
}

/// Milliseconds since the Unix epoch; negative before it.
pub fn to_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub fn from_millis(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}
