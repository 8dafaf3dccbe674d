//! The flat form of a [`KeyRecord`] that database stores keep: text, integers
//! and a flag, with scopes and metadata as JSON. Shared by the SQL and Redis stores.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::{
    hash::StoredHash,
    key::Prefix,
    store::{AddressAllowlist, Credits, RateLimit, Refill},
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
    /// The credits left, their refill's amount and interval (ms), and when
    /// they were last set (ms): all `None` for a key without credits.
    pub credits: CreditColumns,
}

/// A key's credits as stored: four integers, all or none of the first
/// and last, the refill's two both or neither.
#[derive(Debug, Default, Clone, Copy)]
pub struct CreditColumns {
    pub remaining: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_ms: Option<i64>,
    pub refilled_ms: Option<i64>,
}

impl CreditColumns {
    /// The columns of `credits`.
    pub fn of(credits: Option<&Credits>) -> Self {
        let Some(credits) = credits else {
            return Self::default();
        };
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Self {
            remaining: Some(int(credits.remaining())),
            refill_amount: credits.refill().map(|r| int(r.amount())),
            refill_ms: credits
                .refill()
                .map(|r| i64::try_from(r.every().as_millis()).unwrap_or(i64::MAX)),
            refilled_ms: Some(to_millis(credits.refilled())),
        }
    }

    /// The credits these columns hold, read exactly: a negative count, a
    /// refill half there, an interval that is no refill's, or a count
    /// without its time is refused.
    pub fn read(self) -> Result<Option<Credits>, String> {
        let count = |n: i64, what: &str| {
            u64::try_from(n).map_err(|_| format!("credits: {what} {n} is negative"))
        };
        let refill = match (self.refill_amount, self.refill_ms) {
            (None, None) => None,
            (Some(amount), Some(ms)) => {
                let every = std::time::Duration::from_millis(count(ms, "the refill interval")?);
                Some(
                    Refill::new(count(amount, "the refill amount")?, every)
                        .map_err(|e| format!("credits: {e}"))?,
                )
            }
            _ => return Err("credits: a refill with only its amount or its interval".to_owned()),
        };
        match (self.remaining, self.refilled_ms) {
            (None, None) if refill.is_none() => Ok(None),
            (Some(remaining), Some(refilled)) => Ok(Some(Credits::new(
                count(remaining, "the count")?,
                refill,
                from_millis(refilled),
            ))),
            _ => Err("credits: a count without its time, or a refill without a count".to_owned()),
        }
    }
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
        let credits = self.credits.read().map_err(&invalid)?;
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
            credits,
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
    pub credits: CreditColumns,
}

impl InsertValues {
    pub fn new(record: KeyRecord, drf_schema: bool) -> Result<Self, StoreError> {
        let has_extras = !record.scopes.is_empty()
            || record.owner.is_some()
            || !record.metadata.is_empty()
            || record.rate_limit.is_some()
            || record.suspended
            || record.allowed_from.is_some()
            || record.credits.is_some();
        if drf_schema && has_extras {
            return Err(StoreError::config(
                "a djangorestframework-api-key table has no columns for scopes, owner, metadata, a rate limit, a suspension, an address allowlist or usage credits",
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
            credits: CreditColumns::of(record.credits.as_ref()),
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
