//! The authenticated key, as handlers see it.

use std::{collections::BTreeMap, fmt, sync::Arc, time::SystemTime};

use crate::{key::Prefix, reject::Responses, store::KeyRecord};

/// The key a request was authenticated with: put into the request's
/// extensions by the layer, read by handlers (in axum, as an extractor).
///
/// It exposes who the key is (id, name, prefix, scopes, owner, metadata),
/// never its hash. Cloning is a reference-count increment.
#[derive(Clone)]
pub struct Identity(Arc<KeyRecord>);

impl Identity {
    pub(crate) fn new(record: Arc<KeyRecord>) -> Self {
        Self(record)
    }

    /// The store's id for the key.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The key's public prefix.
    pub fn prefix(&self) -> Prefix {
        self.0.prefix
    }

    /// The scopes the key grants.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// Whether the key grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// Who the key belongs to, if recorded.
    pub fn owner(&self) -> Option<&str> {
        self.0.owner.as_deref()
    }

    /// Free-form data kept with the key.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.0.metadata
    }

    /// When the key was created.
    pub fn created(&self) -> SystemTime {
        self.0.created
    }

    /// When the key stops working, if ever.
    pub fn expires(&self) -> Option<SystemTime> {
        self.0.expires
    }

    /// When the key stops working if a rotation replaced it and it is in
    /// its grace period (what `Sunset` says); `None` otherwise.
    pub fn sunset(&self) -> Option<SystemTime> {
        self.0.sunset()
    }

    /// The id of the key this one replaced in a rotation, if it did.
    pub fn replaces(&self) -> Option<&str> {
        self.0.replaces.as_deref()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.0.id)
            .field("name", &self.0.name)
            .field("prefix", &self.0.prefix)
            .field("scopes", &self.0.scopes)
            .field("owner", &self.0.owner)
            .finish_non_exhaustive()
    }
}

/// Marks a request let through without a key by an optional authenticator,
/// so extractors and scope guards refuse it with the authenticator's own
/// challenge.
#[derive(Clone, Debug)]
pub(crate) struct Unauthenticated(pub(crate) Arc<Responses>);

#[cfg(any(feature = "axum", feature = "actix"))]
/// The refusal of an [`Identity`] extractor (axum, actix-web) on a request
/// with no authenticated key: the guarding authenticator's 401.
pub struct MissingIdentity(pub(crate) http::Response<bytes::Bytes>);

#[cfg(any(feature = "axum", feature = "actix"))]
impl MissingIdentity {
    /// The refusal of a request with `marker` on `path`: the guarding
    /// authenticator's 401, or, on a route no authenticator guards (a
    /// wiring mistake, logged), the default one. Never a 500.
    pub(crate) fn of(marker: Option<&Unauthenticated>, path: &str) -> Self {
        Self(match marker {
            Some(Unauthenticated(responses)) => responses.unauthorized(),
            None => {
                tracing::error!(
                    path,
                    "Identity extracted on a route no API key layer guards; answering 401"
                );
                Responses::default().unauthorized()
            }
        })
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl fmt::Debug for MissingIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MissingIdentity")
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl fmt::Display for MissingIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no authenticated API key")
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
impl std::error::Error for MissingIdentity {}
