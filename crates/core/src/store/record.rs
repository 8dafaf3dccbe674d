//! What a store keeps about a key, how a rotation retires one, and a use of one.

use std::{
    collections::BTreeMap,
    fmt,
    time::{Duration, SystemTime},
};

use super::latest_expiry;
use crate::{
    hash::StoredHash,
    key::Prefix,
    store::{AddressAllowlist, Credits, RateLimit},
};

/// What a store keeps about one key: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyRecord {
    /// The store's identifier for the key.
    pub id: String,
    /// A human name given at creation ("billing-service", "ci").
    pub name: String,
    /// The key's public prefix.
    pub prefix: Prefix,
    /// The hash the presented key is checked against.
    pub hash: StoredHash,
    /// When the key was created.
    pub created: SystemTime,
    /// When the key stops working, if ever.
    pub expires: Option<SystemTime>,
    /// Whether the key has been revoked.
    pub revoked: bool,
    /// Whether the key is suspended: refused until resumed
    /// ([`KeyManager::suspend`](super::KeyManager::suspend)), unlike a
    /// revocation reversible; a djangorestframework-api-key table has no
    /// column for it, and its keys are never suspended.
    pub suspended: bool,
    /// What the key may do; see [`scope`](crate::scope).
    pub scopes: Vec<String>,
    /// Who the key belongs to, if the store records it.
    pub owner: Option<String>,
    /// Free-form data kept with the key.
    pub metadata: BTreeMap<String, String>,
    /// The id of the key this one replaced, when it was made by
    /// [`KeyManager::rotate`](super::KeyManager::rotate). A djangorestframework-api-key table has no
    /// column for it: there it is always `None`.
    pub replaces: Option<String>,
    /// The id of the key that replaced this one: set by a rotation, whose
    /// grace period this key is in until it expires. `None` on a
    /// djangorestframework-api-key table, as `replaces`.
    pub replaced_by: Option<String>,
    /// The id of the key a chain of rotations began with, on every key a
    /// rotation made (the first key's id, however many rotations followed):
    /// the chain spends one rate-limit budget. `None` for a key no rotation
    /// made, and on a djangorestframework-api-key table.
    pub lineage: Option<String>,
    /// When the key was last used, as far as the store has been told (see
    /// [`LastUseTracker`](crate::last_use::LastUseTracker)): writes are
    /// batched, so this may lag real use by the tracker's interval.
    pub last_used: Option<SystemTime>,
    /// How fast the key may be used; `None`: as fast as the service allows.
    /// A djangorestframework-api-key table has no column for it.
    pub rate_limit: Option<RateLimit>,
    /// The networks the key may be used from; `None`: anywhere. A client
    /// elsewhere is refused once the key is verified
    /// ([`AuthFailure::AddressRefused`](crate::AuthFailure::AddressRefused)).
    /// A djangorestframework-api-key table has no column for it.
    pub allowed_from: Option<AddressAllowlist>,
    /// The usage credits the key may still spend; `None`: unlimited. The
    /// store keeps the count, spent by every authenticator
    /// ([`KeyStore::spend_credits`](super::KeyStore::spend_credits)): a
    /// cached record's count is only as fresh as the cache.
    pub credits: Option<Credits>,
}

impl KeyRecord {
    /// A record created now, never expiring, neither revoked nor suspended, with no scopes, owner, metadata, rate limit or address allowlist.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        prefix: Prefix,
        hash: StoredHash,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            prefix,
            hash,
            created: SystemTime::now(),
            expires: None,
            revoked: false,
            suspended: false,
            scopes: Vec::new(),
            owner: None,
            metadata: BTreeMap::new(),
            replaces: None,
            replaced_by: None,
            lineage: None,
            last_used: None,
            rate_limit: None,
            allowed_from: None,
            credits: None,
        }
    }

    /// Whether the key has expired at `now`. A key expires at its expiry instant.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// Whether the key is neither revoked nor expired at `now`: one a
    /// rotation may replace. A suspended key is active in this sense (a
    /// rotation carries its suspension to the successor), though refused.
    pub fn is_active_at(&self, now: SystemTime) -> bool {
        !self.revoked && !self.is_expired_at(now)
    }

    /// Whether the key works at `now`, or why not: what every front end
    /// shows as the key's status.
    pub fn status_at(&self, now: SystemTime) -> KeyStatus {
        if self.revoked {
            KeyStatus::Revoked
        } else if self.is_expired_at(now) {
            KeyStatus::Expired
        } else if self.suspended {
            KeyStatus::Suspended
        } else {
            KeyStatus::Active
        }
    }

    /// When a key in a rotation's grace period stops working: its expiry,
    /// once another key has replaced it; `None` for any other key.
    pub fn sunset(&self) -> Option<SystemTime> {
        if self.revoked {
            return None;
        }
        self.replaced_by.as_ref().and(self.expires)
    }

    /// The record as a rotation leaves it: retired as `retirement` says and
    /// naming `replaced_by` as its successor.
    pub fn retired(&self, retirement: Retirement, replaced_by: &str) -> Self {
        let mut retired = self.clone();
        match retirement {
            Retirement::Revoke => retired.revoked = true,
            Retirement::ExpireAt(at) => {
                retired.expires = Some(self.expires.map_or(at, |expires| expires.min(at)));
            }
        }
        retired.replaced_by = Some(replaced_by.to_owned());
        retired
    }
}

/// Whether a key works, or why not ([`KeyRecord::status_at`]): the first
/// of revoked, expired and suspended that holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStatus {
    /// Neither revoked, expired nor suspended.
    Active,
    /// Revoked.
    Revoked,
    /// Past its expiry, not revoked.
    Expired,
    /// Suspended until resumed; neither revoked nor expired.
    Suspended,
}

impl KeyStatus {
    /// `active`, `revoked`, `expired` or `suspended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Suspended => "suspended",
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How [`KeyManager::rotate`](super::KeyManager::rotate) retires the key it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retirement {
    /// Revoked at once: a rotation with no grace period.
    Revoke,
    /// Kept working until this instant (or its own expiry, if sooner), then
    /// expired: the grace period in which clients move to the new key.
    ExpireAt(SystemTime),
}

impl Retirement {
    /// The retirement a rotation at `now` with `grace` means: revoked at
    /// once for a zero grace, else expiring at `now + grace` (at
    /// [`latest_expiry`] at the latest).
    pub fn after(grace: Duration, now: SystemTime) -> Self {
        if grace.is_zero() {
            return Self::Revoke;
        }
        let at = now
            .checked_add(grace)
            .map_or_else(latest_expiry, |at| at.min(latest_expiry()));
        Self::ExpireAt(at)
    }
}

/// One key's use, as the [`LastUseTracker`](crate::last_use::LastUseTracker)
/// hands it to [`KeyManager::record_last_use`](super::KeyManager::record_last_use).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyUse {
    /// The key's id.
    pub id: String,
    /// The key's prefix (the Redis store finds records by it).
    pub prefix: Prefix,
    /// When it was used, to the millisecond.
    pub at: SystemTime,
}

impl KeyUse {
    /// The key `record` was used at `at`.
    pub fn new(record: &KeyRecord, at: SystemTime) -> Self {
        Self {
            id: record.id.clone(),
            prefix: record.prefix,
            at,
        }
    }
}
