//! A scope requirement, framework-neutral: which scopes a key must have and
//! the answers for a request that lacks them.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response};

use crate::{
    auth::Authenticator,
    error::ConfigError,
    identity::{Identity, Unauthenticated},
    reject::Responses,
    text::is_scope_token,
};

/// Whether a key needs every scope of a requirement or any one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeMode {
    All,
    Any,
}

/// Scopes a key must have, and the answers for a request that lacks them,
/// made by [`Authenticator::require_all`](crate::Authenticator::require_all)
/// or [`require_any`](crate::Authenticator::require_any). Framework-neutral:
/// the tower [`RequireScopesLayer`](crate::scope::RequireScopesLayer) and the
/// actix-web guard both carry one.
#[derive(Debug, Clone)]
pub struct ScopeRequirement(Arc<Requirement>);

impl Authenticator {
    /// A requirement answering 403 unless the authenticated key has every
    /// one of `scopes`: a tower layer with [`RequireScopesLayer::from`](crate::scope::RequireScopesLayer),
    /// an actix-web guard with `actix::RequireScopes::from`.
    pub fn require_all<I, S>(&self, scopes: I) -> Result<ScopeRequirement, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeRequirement::new(ScopeMode::All, scopes, self.responses())
    }

    /// A requirement answering 403 unless the authenticated key has at least
    /// one of `scopes`; see [`require_all`](Self::require_all).
    pub fn require_any<I, S>(&self, scopes: I) -> Result<ScopeRequirement, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeRequirement::new(ScopeMode::Any, scopes, self.responses())
    }
}

#[derive(Debug)]
struct Requirement {
    mode: ScopeMode,
    scopes: Vec<String>,
    challenge: HeaderValue,
    responses: Arc<Responses>,
    #[cfg(feature = "metrics")]
    forbidden: metrics::Counter,
}

impl ScopeRequirement {
    pub(crate) fn new<I, S>(
        mode: ScopeMode,
        scopes: I,
        responses: Arc<Responses>,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        if scopes.is_empty() {
            return Err(ConfigError::NoScopes);
        }
        if let Some(bad) = scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(ConfigError::Scope(bad.clone()));
        }
        let challenge = responses.scope_challenge(&scopes)?;
        Ok(Self(Arc::new(Requirement {
            mode,
            scopes,
            challenge,
            responses,
            #[cfg(feature = "metrics")]
            forbidden: crate::metrics::forbidden(),
        })))
    }

    /// The scopes required.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    fn is_met_by(&self, identity: &Identity) -> bool {
        let scopes = &self.0.scopes;
        match self.0.mode {
            ScopeMode::All => scopes.iter().all(|s| identity.has_scope(s)),
            ScopeMode::Any => scopes.iter().any(|s| identity.has_scope(s)),
        }
    }

    /// The refusal of a request, if it is refused.
    ///
    /// None when its key has the scopes, else 403, or the authenticator's
    /// 401 (with the challenge of the one that let it through without a
    /// key, when one did) for a request with no key at all.
    pub(crate) fn refusal(
        &self,
        identity: Option<&Identity>,
        unauthenticated: Option<&Unauthenticated>,
    ) -> Option<Response<Bytes>> {
        match identity {
            Some(identity) if self.is_met_by(identity) => None,
            Some(identity) => {
                tracing::debug!(prefix = %identity.prefix(), required = ?self.0.scopes, "API key lacks scope");
                #[cfg(feature = "metrics")]
                self.0.forbidden.increment(1);
                Some(self.0.responses.forbidden(&self.0.challenge))
            }
            None => Some(
                unauthenticated
                    .map_or(&*self.0.responses, |u| &*u.0)
                    .unauthorized(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{hash::Hasher, key::ApiKey, store::KeyRecord};

    fn identity(scopes: &[&str]) -> Identity {
        let key = ApiKey::generate().unwrap();
        let mut record = KeyRecord::new("id", "name", key.prefix(), Hasher::default().hash(&key));
        record.scopes = scopes.iter().map(|s| s.to_string()).collect();
        Identity::new(Arc::new(record))
    }

    fn requirement(mode: ScopeMode, scopes: &[&str]) -> ScopeRequirement {
        ScopeRequirement::new(mode, scopes.iter().copied(), Arc::new(Responses::default())).unwrap()
    }

    #[test]
    fn all_needs_every_scope_and_any_needs_one() {
        let all = requirement(ScopeMode::All, &["a", "b"]);
        let any = requirement(ScopeMode::Any, &["a", "b"]);
        assert!(all
            .refusal(Some(&identity(&["a", "b", "c"])), None)
            .is_none());
        assert_eq!(
            all.refusal(Some(&identity(&["a"])), None).unwrap().status(),
            403
        );
        assert!(any.refusal(Some(&identity(&["b"])), None).is_none());
        assert_eq!(
            any.refusal(Some(&identity(&["c"])), None).unwrap().status(),
            403
        );
    }

    #[test]
    fn no_identity_is_the_authenticators_401_with_its_challenge() {
        let all = requirement(ScopeMode::All, &["a"]);
        let theirs = Responses::new("Bearer", "billing", 1, false).unwrap();
        let refusal = all
            .refusal(None, Some(&Unauthenticated(Arc::new(theirs))))
            .unwrap();
        assert_eq!(refusal.status(), 401);
        assert_eq!(
            refusal.headers()["www-authenticate"],
            r#"Bearer realm="billing""#
        );
        assert_eq!(all.refusal(None, None).unwrap().status(), 401);
    }

    #[test]
    fn scopes_are_checked_when_the_requirement_is_made() {
        let responses = Arc::new(Responses::default());
        let none: [&str; 0] = [];
        assert_eq!(
            ScopeRequirement::new(ScopeMode::All, none, responses.clone()).unwrap_err(),
            ConfigError::NoScopes
        );
        for bad in ["", "a b", "a\"b", "caf\u{e9}"] {
            assert!(
                ScopeRequirement::new(ScopeMode::Any, [bad], responses.clone()).is_err(),
                "{bad:?}"
            );
        }
    }
}
