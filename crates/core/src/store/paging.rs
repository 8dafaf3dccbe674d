//! Listing keys a page at a time, filtered.

use std::{sync::Arc, time::SystemTime};

use super::{KeyRecord, KeyStatus};

/// Which keys a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyFilter {
    /// Every key.
    #[default]
    All,
    /// Keys that work: neither revoked, expired nor suspended.
    Active,
    /// Revoked keys.
    Revoked,
    /// Keys past their expiry that are not revoked.
    Expired,
    /// Suspended keys, neither revoked nor expired.
    Suspended,
}

impl KeyFilter {
    /// Whether `record` is one of the keys this filter lists, at `now`.
    pub fn admits(self, record: &KeyRecord, now: SystemTime) -> bool {
        match self {
            Self::All => true,
            Self::Active => record.status_at(now) == KeyStatus::Active,
            Self::Revoked => record.status_at(now) == KeyStatus::Revoked,
            Self::Expired => record.status_at(now) == KeyStatus::Expired,
            Self::Suspended => record.status_at(now) == KeyStatus::Suspended,
        }
    }
}

/// The most keys one page holds.
pub const MAX_PAGE: u32 = 1000;

/// Which page of a listing to read: a filter, the cursor of the page before
/// (none for the first page), and how many keys at most.
///
/// ```
/// use api_key_auth::{store::{KeyFilter, PageRequest}, KeyManager, MemoryStore, NewKey};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// for i in 0..5 {
///     store.create(NewKey::named(format!("key {i}"))).await?;
/// }
/// let mut request = PageRequest::first(2).filter(KeyFilter::Active);
/// let mut seen = 0;
/// loop {
///     let page = store.list_page(&request).await?;
///     seen += page.keys.len();
///     match page.next {
///         Some(cursor) => request = request.after(cursor),
///         None => break,
///     }
/// }
/// assert_eq!(seen, 5);
/// # Ok::<(), api_key_auth::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    filter: KeyFilter,
    after: Option<String>,
    limit: u32,
    unused_since: Option<SystemTime>,
    expiring_before: Option<SystemTime>,
    owner: Option<String>,
}

impl PageRequest {
    /// The first page of at most `limit` keys (1 to [`MAX_PAGE`]; values
    /// outside are brought to the nearest end), all keys.
    pub fn first(limit: u32) -> Self {
        Self {
            filter: KeyFilter::All,
            after: None,
            limit: limit.clamp(1, MAX_PAGE),
            unused_since: None,
            expiring_before: None,
            owner: None,
        }
    }

    /// Lists only keys not used since `since`: last used before it, or
    /// never used and created before it. `api-key list --unused-for 90d`.
    pub fn unused_since(mut self, since: SystemTime) -> Self {
        self.unused_since = Some(since);
        self
    }

    /// Lists only keys that have not expired yet but will by `by`.
    /// `api-key list --expiring-within 7d`.
    pub fn expiring_before(mut self, by: SystemTime) -> Self {
        self.expiring_before = Some(by);
        self
    }

    /// Lists only the keys of `owner` (exactly that text, case and all).
    /// `api-key list --owner acme`.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// The [`owner`](Self::owner) asked for.
    pub fn owner_wanted(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The [`unused_since`](Self::unused_since) asked for.
    pub fn unused_cutoff(&self) -> Option<SystemTime> {
        self.unused_since
    }

    /// The [`expiring_before`](Self::expiring_before) asked for.
    pub fn expiry_cutoff(&self) -> Option<SystemTime> {
        self.expiring_before
    }

    /// Whether `record` belongs on a page of this listing at `now`: the
    /// filter, and the last-use, expiry and owner conditions, all hold.
    pub fn admits(&self, record: &KeyRecord, now: SystemTime) -> bool {
        let unused = self
            .unused_since
            .is_none_or(|since| record.last_used.unwrap_or(record.created) < since);
        let expiring = self.expiring_before.is_none_or(|by| {
            record
                .expires
                .is_some_and(|expires| expires > now && expires <= by)
        });
        let owned = self
            .owner
            .as_deref()
            .is_none_or(|owner| record.owner.as_deref() == Some(owner));
        self.filter.admits(record, now) && unused && expiring && owned
    }

    /// Lists only the keys `filter` admits.
    pub fn filter(mut self, filter: KeyFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The page after the one whose [`Page::next`] was `cursor`.
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.after = Some(cursor.into());
        self
    }

    /// The filter asked for.
    pub fn key_filter(&self) -> KeyFilter {
        self.filter
    }

    /// The cursor: keys with ids after it come next.
    pub fn cursor(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// The most keys the page holds.
    pub fn limit(&self) -> u32 {
        self.limit
    }
}

/// One page of a listing: keys ordered by id, and the cursor of the next
/// page when there may be more.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The keys, ordered by id.
    pub keys: Vec<Arc<KeyRecord>>,
    /// Pass to [`PageRequest::after`] for the next page; `None` on the last.
    pub next: Option<String>,
}

impl Page {
    /// A page of the first `limit` of `keys` (ordered by id, as found
    /// after the cursor), with a cursor when more were found.
    pub fn of(mut keys: Vec<Arc<KeyRecord>>, limit: u32) -> Self {
        let limit = limit as usize;
        let next = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().map(|last| last.id.clone())
        } else {
            None
        };
        Self { keys, next }
    }
}
