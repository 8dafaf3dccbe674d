//! Rate limits shared by all of an owner's keys: one budget per owner,
//! spent by every request of any of its keys, on top of each key's own.

use std::{collections::HashMap, sync::Arc};

use super::RateLimit;

/// Which owners' keys share a rate limit, and what it is: every owner's,
/// or some owners' own, or both (an owner named has its own).
///
/// ```
/// use api_key_auth::rate_limit::{OwnerLimits, RateLimit};
///
/// let limits = OwnerLimits::every("1000/m".parse::<RateLimit>()?)
///     .with("acme", "5000/m".parse()?);
/// assert_eq!(limits.of("acme").map(|l| l.requests()), Some(5000));
/// assert_eq!(limits.of("globex").map(|l| l.requests()), Some(1000));
/// assert_eq!(OwnerLimits::none().with("acme", "5/s".parse()?).of("globex"), None);
/// # Ok::<(), api_key_auth::rate_limit::RateLimitError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerLimits {
    every: Option<RateLimit>,
    each: Arc<HashMap<String, RateLimit>>,
}

impl OwnerLimits {
    /// No owner's keys share a limit (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// Every owner's keys share `limit` between them, one budget per owner.
    pub fn every(limit: RateLimit) -> Self {
        Self {
            every: Some(limit),
            each: Arc::default(),
        }
    }

    /// `owner`'s keys share `limit` (exactly that owner, case and all).
    pub fn with(mut self, owner: impl Into<String>, limit: RateLimit) -> Self {
        Arc::make_mut(&mut self.each).insert(owner.into(), limit);
        self
    }

    /// The limit `owner`'s keys share, if any.
    pub fn of(&self, owner: &str) -> Option<RateLimit> {
        self.each.get(owner).copied().or(self.every)
    }

    /// Whether no owner has a limit.
    pub fn is_empty(&self) -> bool {
        self.every.is_none() && self.each.is_empty()
    }
}
