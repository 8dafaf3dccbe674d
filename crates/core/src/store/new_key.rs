//! A key to create, the rules it must keep, and what creating or rotating one gives back.

use std::{
    collections::BTreeMap,
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use zeroize::Zeroizing;

use super::{latest_expiry, KeyRecord, StoreError};
use crate::{
    hash::{Hasher, StoredHash},
    key::{ApiKey, Prefix},
    store::{AddressAllowlist, Credits, RateLimit, Refill},
};

/// What a rotation made: the new key, shown once, and the old key's record
/// as the rotation left it (revoked, or expiring at the end of its grace).
#[derive(Debug)]
#[non_exhaustive]
pub struct Rotated {
    /// The new key, with the same name, scopes, owner and metadata.
    pub new: CreatedKey,
    /// The key it replaces, retired.
    pub retired: Arc<KeyRecord>,
}

/// The longest owner, in characters: what listings by owner and the admin
/// API's `/owners/{owner}` take.
pub const MAX_OWNER: usize = 255;

/// The longest key name, in characters: what a djangorestframework-api-key
/// table holds.
pub const MAX_NAME: usize = 50;

/// What is wrong with a [`NewKey`]: the field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
#[non_exhaustive]
pub struct InvalidNewKey {
    /// The field at fault: `name`, `scopes`, `owner` or `metadata`.
    pub field: &'static str,
    /// Why, said so that a person can put it right.
    pub reason: String,
}

impl InvalidNewKey {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// What to create: a name and, optionally, scopes, an expiry, an owner and metadata.
///
/// A new key checks itself ([`validate`](Self::validate)) wherever it is
/// made, so the Rust API, the admin API, the key page and the `api-key`
/// command accept the same keys: a name of 1 to [`MAX_NAME`] characters,
/// not starting or ending with white space, scopes of printable ASCII
/// without spaces, quotes or backslashes, and no control or format
/// characters (see [`text`](crate::text)) in the name, the owner or the
/// metadata.
///
/// ```
/// use std::time::Duration;
/// use api_key_auth::NewKey;
///
/// let new = NewKey::named("billing")
///     .scopes(["invoices:read", "invoices:write"])
///     .expires_in(Duration::from_secs(90 * 24 * 3600))
///     .owner("team-billing")
///     .metadata("ticket", "OPS-1234");
/// assert_eq!(new.name(), "billing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    name: String,
    scopes: Vec<String>,
    expires: Option<SystemTime>,
    owner: Option<String>,
    metadata: BTreeMap<String, String>,
    replaces: Option<String>,
    lineage: Option<String>,
    rate_limit: Option<RateLimit>,
    allowed_from: Option<AddressAllowlist>,
    credits: Option<(u64, Option<Refill>)>,
    /// Set only by a rotation of a suspended key: a rotation does not lift
    /// a suspension.
    suspended: bool,
    /// Made from a stored record by a rotation and not changed since: what
    /// it copies was stored already, and a rotation never fails on a record
    /// made before the rules. Every setter clears it.
    inherited: bool,
}

impl NewKey {
    /// A key named `name`, with no scopes, expiry, owner or metadata.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            scopes: Vec::new(),
            expires: None,
            owner: None,
            metadata: BTreeMap::new(),
            replaces: None,
            lineage: None,
            rate_limit: None,
            allowed_from: None,
            credits: None,
            suspended: false,
            inherited: false,
        }
    }

    /// The successor of `old` in a rotation at `now`.
    ///
    /// It has `old`'s name, scopes, owner, metadata, rate limit, address
    /// allowlist and suspension (a rotation does not lift one), names `old` as the
    /// key it replaces and its chain's first key as its
    /// [lineage](KeyRecord::lineage), and, if `old` had an expiry, gets as
    /// long a life from `now` as `old` was given.
    pub fn replacing(old: &KeyRecord, now: SystemTime) -> Self {
        let expires = old.expires.map(|expires| {
            expires
                .duration_since(old.created)
                .ok()
                .and_then(|life| now.checked_add(life))
                .map_or(expires, |at| at.min(latest_expiry()))
        });
        Self {
            name: old.name.clone(),
            scopes: old.scopes.clone(),
            expires,
            owner: old.owner.clone(),
            metadata: old.metadata.clone(),
            replaces: Some(old.id.clone()),
            // A key rotated before lineages were kept names only the key it
            // replaced: that one's budget is the one the chain spends on.
            lineage: Some(
                old.lineage
                    .as_ref()
                    .or(old.replaces.as_ref())
                    .unwrap_or(&old.id)
                    .clone(),
            ),
            rate_limit: old.rate_limit,
            allowed_from: old.allowed_from.clone(),
            credits: old
                .credits
                .map(|credits| (credits.remaining(), credits.refill())),
            suspended: old.suspended,
            inherited: true,
        }
    }

    /// Grants these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self.inherited = false;
        self
    }

    /// Makes the key stop working at `at` (at [`latest_expiry`] at the latest).
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires = Some(at.min(latest_expiry()));
        self.inherited = false;
        self
    }

    /// Makes the key stop working `ttl` from now (at [`latest_expiry`] at the latest).
    pub fn expires_in(self, ttl: Duration) -> Self {
        let at = SystemTime::now()
            .checked_add(ttl)
            .map_or_else(latest_expiry, |at| at.min(latest_expiry()));
        self.expires_at(at)
    }

    /// Records who the key belongs to.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self.inherited = false;
        self
    }

    /// Limits how fast the key may be used: requests per period and a burst,
    /// enforced by every authenticator (see [`rate_limit`](crate::rate_limit)).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self.inherited = false;
        self
    }

    /// Lets the key be used only from these networks: any other client
    /// address is refused (403) once the key is verified.
    pub fn allow_from(mut self, networks: AddressAllowlist) -> Self {
        self.allowed_from = Some(networks);
        self.inherited = false;
        self
    }

    /// Lets the key be used `remaining` times (one credit per admitted
    /// request), set back to `refill`'s amount every interval if given.
    pub fn credits(mut self, remaining: u64, refill: Option<Refill>) -> Self {
        self.credits = Some((remaining, refill));
        self.inherited = false;
        self
    }

    /// Adds one metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self.inherited = false;
        self
    }

    /// The name given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the key against the rules every front end shares (see the
    /// [type's docs](Self)); the first field at fault, and why.
    ///
    /// ```
    /// use api_key_auth::NewKey;
    ///
    /// assert!(NewKey::named("billing").scopes(["invoices:read"]).validate().is_ok());
    /// let refused = NewKey::named("evil\u{202e}gnp").validate().unwrap_err();
    /// assert_eq!(refused.field, "name");
    /// assert_eq!(NewKey::named("x").scopes(["two words"]).validate().unwrap_err().field, "scopes");
    /// ```
    pub fn validate(&self) -> Result<(), InvalidNewKey> {
        use crate::text::{first_unprintable, is_scope_token};
        let unprintable =
            |field: &'static str, what: &str, text: &str| match first_unprintable(text) {
                Some(c) => Err(InvalidNewKey::new(
                    field,
                    format!(
                        "{what} holds the character U+{:04X}, a control or format character that \
                     does not show as itself",
                        u32::from(c)
                    ),
                )),
                None => Ok(()),
            };
        if self.name.trim().is_empty() {
            return Err(InvalidNewKey::new("name", "a key needs a name"));
        }
        if self.name.trim() != self.name {
            return Err(InvalidNewKey::new(
                "name",
                "a name neither starts nor ends with white space",
            ));
        }
        if self.name.chars().count() > MAX_NAME {
            return Err(InvalidNewKey::new(
                "name",
                format!("a name is at most {MAX_NAME} characters"),
            ));
        }
        unprintable("name", "the name", &self.name)?;
        if let Some(bad) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(InvalidNewKey::new(
                "scopes",
                format!(
                    "the scope {:?} must be printable ASCII without spaces, quotes or backslashes",
                    crate::text::printable(bad)
                ),
            ));
        }
        if let Some(owner) = &self.owner {
            if owner.is_empty() || owner.chars().count() > MAX_OWNER {
                return Err(InvalidNewKey::new(
                    "owner",
                    format!("an owner, when given, is 1 to {MAX_OWNER} characters"),
                ));
            }
            unprintable("owner", "the owner", owner)?;
        }
        for (key, value) in &self.metadata {
            unprintable("metadata", "a metadata key", key)?;
            unprintable("metadata", "a metadata value", value)?;
        }
        if self
            .credits
            .is_some_and(|(remaining, _)| remaining > super::MAX_CREDITS)
        {
            return Err(InvalidNewKey::new(
                "credits",
                format!("a key holds at most {} credits", super::MAX_CREDITS),
            ));
        }
        Ok(())
    }

    /// Draws a fresh key and builds its record with id `id`, for stores that
    /// implement [`KeyManager::create`](super::KeyManager::create) themselves.
    ///
    /// The store keeps the record and hands the key back once in a
    /// [`CreatedKey`]. A key that does not [validate](Self::validate) is
    /// refused ([`StoreError::is_config`]), with the field and the reason.
    pub fn mint(
        &self,
        hasher: &Hasher,
        id: impl FnOnce(Prefix, &StoredHash) -> String,
    ) -> Result<(KeyRecord, ApiKey), StoreError> {
        if !self.inherited {
            self.validate().map_err(StoreError::config)?;
        }
        let key = ApiKey::generate()?;
        let prefix = key.prefix();
        let hash = hasher.hash(&key);
        let created = SystemTime::now();
        let record = KeyRecord {
            id: id(prefix, &hash),
            name: self.name.clone(),
            prefix,
            hash,
            created,
            expires: self.expires,
            revoked: false,
            suspended: self.suspended,
            scopes: self.scopes.clone(),
            owner: self.owner.clone(),
            metadata: self.metadata.clone(),
            replaces: self.replaces.clone(),
            replaced_by: None,
            lineage: self.lineage.clone(),
            last_used: None,
            rate_limit: self.rate_limit,
            allowed_from: self.allowed_from.clone(),
            credits: self
                .credits
                .map(|(remaining, refill)| Credits::new(remaining, refill, created)),
        };
        Ok((record, key))
    }
}

/// A key just created: its record, and the plaintext key that is shown once.
#[derive(Debug)]
pub struct CreatedKey {
    record: Arc<KeyRecord>,
    key: ApiKey,
}

impl CreatedKey {
    /// Pairs a stored record with the key it was made from.
    pub fn new(record: Arc<KeyRecord>, key: ApiKey) -> Self {
        Self { record, key }
    }

    /// The stored record (no secret in it).
    pub fn record(&self) -> &Arc<KeyRecord> {
        &self.record
    }

    /// Consumes the created key and reveals the plaintext, the one time it can
    /// be seen: hand it to its owner and keep no copy.
    pub fn reveal(self) -> (Arc<KeyRecord>, PlaintextKey) {
        let plaintext = PlaintextKey(self.key.to_plaintext());
        (self.record, plaintext)
    }
}

/// The full `PREFIX.SECRET` text of a new key. Zeroized on drop; `Debug` redacts it.
pub struct PlaintextKey(Zeroizing<String>);

impl PlaintextKey {
    /// The key, for showing to its owner once.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlaintextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlaintextKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_past_the_latest_is_the_latest() {
        let far = NewKey::named("far").expires_in(Duration::MAX);
        assert_eq!(far.expires, Some(latest_expiry()));
    }

    #[tokio::test]
    async fn a_rotation_does_not_lift_a_suspension() {
        use crate::{store::KeyManager, MemoryStore};
        let store = MemoryStore::new();
        let (old, _) = store
            .create(NewKey::named("paused"))
            .await
            .unwrap()
            .reveal();
        assert!(store.suspend(&old.id).await.unwrap());
        let rotated = store
            .rotate(&old.id, Duration::from_secs(60))
            .await
            .unwrap();
        let new = rotated.new.record();
        assert!(
            new.suspended,
            "the successor of a suspended key is suspended"
        );
        assert_eq!(
            new.status_at(SystemTime::now()),
            super::super::KeyStatus::Suspended
        );
        assert!(store.resume(&new.id).await.unwrap());
        let resumed = store.find_by_id(&new.id).await.unwrap().unwrap();
        assert_eq!(
            resumed.status_at(SystemTime::now()),
            super::super::KeyStatus::Active
        );
    }
}
