//! What a store says when it fails.

use std::{error::Error as StdError, fmt};

use crate::key::KeyGenError;

/// A key store failed. Opaque, with predicates for what kind of failure it was.
///
/// `Display` says what kind of failure it was; what the store or database
/// said is the [`source`](std::error::Error::source), as std's convention
/// asks, so a reporter walking the chain prints each cause once.
///
/// The layer turns every store error into `503 Service Unavailable`: a failing
/// store says nothing about whether the client's key is good.
pub struct StoreError {
    kind: Kind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unavailable,
    Timeout,
    InvalidRecord,
    Conflict,
    Config,
    Random,
    NotFound,
    Inactive,
    Unsupported,
}

impl StoreError {
    /// The store could not be reached or could not answer.
    pub fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Unavailable,
            source: Some(source.into()),
        }
    }

    /// The store did not answer in time.
    pub fn timeout() -> Self {
        Self {
            kind: Kind::Timeout,
            source: None,
        }
    }

    /// The store returned a record it cannot have meant (a malformed hash or prefix).
    pub fn invalid_record(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::InvalidRecord,
            source: Some(source.into()),
        }
    }

    /// A record with the same prefix or id is already stored.
    pub fn conflict(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Conflict,
            source: Some(source.into()),
        }
    }

    /// The store cannot do what was asked as it is configured (a schema
    /// without a column the request needs, say).
    pub fn config(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Config,
            source: Some(source.into()),
        }
    }

    /// No key has the id asked for.
    pub fn not_found(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::NotFound,
            source: Some(source.into()),
        }
    }

    /// The key asked for is revoked or expired, and what was asked needs a
    /// working one (a rotation).
    pub fn inactive(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Inactive,
            source: Some(source.into()),
        }
    }

    /// The store does not do what was asked at all (a custom store without
    /// rotation, a table without a last-use column).
    pub fn unsupported(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: Kind::Unsupported,
            source: Some(source.into()),
        }
    }

    /// Whether no key has the id asked for.
    pub fn is_not_found(&self) -> bool {
        self.kind == Kind::NotFound
    }

    /// Whether the key asked for is revoked or expired.
    pub fn is_inactive(&self) -> bool {
        self.kind == Kind::Inactive
    }

    /// Whether the store does not do what was asked at all.
    pub fn is_unsupported(&self) -> bool {
        self.kind == Kind::Unsupported
    }

    /// Whether a record with the same prefix or id was already stored.
    pub fn is_conflict(&self) -> bool {
        self.kind == Kind::Conflict
    }

    /// Whether the store's configuration does not allow what was asked.
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }

    /// Whether the store could not be reached or could not answer.
    pub fn is_unavailable(&self) -> bool {
        self.kind == Kind::Unavailable
    }

    /// Whether the store did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// Whether the store held a record that does not parse.
    pub fn is_invalid_record(&self) -> bool {
        self.kind == Kind::InvalidRecord
    }
}

impl From<KeyGenError> for StoreError {
    fn from(err: KeyGenError) -> Self {
        Self {
            kind: Kind::Random,
            source: Some(Box::new(err)),
        }
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StoreError");
        d.field("kind", &self.kind);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Unavailable => "key store unavailable",
            Kind::Timeout => "key store timed out",
            Kind::InvalidRecord => "key store returned an invalid record",
            Kind::Conflict => "a key with that prefix or id is already stored",
            Kind::Config => "the key store is not configured for this",
            Kind::Random => "could not draw a new key",
            Kind::NotFound => "no such key",
            Kind::Inactive => "the key is not active",
            Kind::Unsupported => "the key store does not support this",
        };
        // The cause is the error's `source()`, not part of its message, so
        // an error reporter walking the chain prints it once.
        f.write_str(what)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
