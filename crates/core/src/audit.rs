//! Audit events: what happened to a key, as `tracing` events with the one
//! target `api_key_auth::audit`, so a subscriber can send them apart from
//! the rest (`RUST_LOG=api_key_auth::audit=info`, or a filter on the target).
//!
//! | `event` | when | fields besides `event`, `key_id`, `prefix` |
//! |---|---|---|
//! | `created` | a key is created (admin API, `api-key create`) | `name`, `actor`, `client`, `allowed_from` (its networks, comma-separated; empty for anywhere) |
//! | `revoked` | a key is revoked | `actor`, `client` |
//! | `suspended` | a key is suspended (refused until resumed) | `actor`, `client` |
//! | `resumed` | a suspended key works again | `actor`, `client` |
//! | `rotated` | a key is replaced by a new one | `new_key_id`, `new_prefix`, `sunset` (RFC 3339, or `now` when revoked at once), `actor`, `client` |
//! | `first_use` | a key never used before passes, as the [`LastUseTracker`](crate::last_use::LastUseTracker) sees it (once per process) | |
//! | `grace_use` | a key in a rotation's grace period was used, once per tracker interval | `sunset`, `uses` (in the interval) |
//! | `address_refused` | a valid key was used from outside its address allowlist (refused with 403) | `client` |
//! | `hash_upgraded` | a key's Django password hash (DRF before 3.0) was replaced by `sha512$$` on a successful check | `from` (the old algorithm) |
//!
//! `actor` is who did it: `key:<id>` for the admin API (the admin key's
//! id), `cli:<user>` for the `api-key` command; `client` is the address the
//! request came from, where the server tells it. Both are empty when not
//! known. No event carries a secret, a hash or a whole key: only ids and
//! prefixes, which identify keys and are no secret.
//!
//! Every field whose text comes from a store or a person (`key_id`, `name`,
//! `actor`, `new_key_id`) is written quoted, with quotes, backslashes,
//! control and format characters escaped (Rust's `Debug` form of a string):
//! a key named `ci actor=key:ALICE` cannot forge an `actor` field, nor a
//! name with a newline or a bidi override a line of its own.
//!
//! The functions here send the events, for tools of your own that change
//! keys through [`KeyManager`](crate::KeyManager) to report as the crate's do.

use std::{net::IpAddr, time::SystemTime};

use crate::store::{rfc3339, KeyRecord, Rotated};

/// The `tracing` target of every audit event.
pub const TARGET: &str = "api_key_auth::audit";

/// Who acted, and from where, when known.
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor<'a> {
    /// `key:<id>`, `cli:<user>`, or a name of your own.
    pub who: Option<&'a str>,
    /// The client address the request came from.
    pub client: Option<IpAddr>,
}

impl<'a> Actor<'a> {
    /// An actor named `who`, from an unknown address.
    pub fn named(who: &'a str) -> Self {
        Self {
            who: Some(who),
            client: None,
        }
    }

    /// The same actor, acting from `client`.
    pub fn from_client(mut self, client: Option<IpAddr>) -> Self {
        self.client = client;
        self
    }

    fn who(&self) -> &str {
        self.who.unwrap_or_default()
    }

    fn client(&self) -> String {
        self.client.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

/// A key was created.
pub fn created(record: &KeyRecord, actor: Actor<'_>) {
    tracing::info!(
        target: "api_key_auth::audit",
        event = "created",
        key_id = ?record.id,
        prefix = %record.prefix,
        name = ?record.name,
        actor = ?actor.who(),
        client = %actor.client(),
        allowed_from = %record.allowed_from.as_ref().map(ToString::to_string).unwrap_or_default(),
        "API key created"
    );
}

/// A valid key was used from `client`, outside its address allowlist.
pub fn address_refused(record: &KeyRecord, client: IpAddr) {
    tracing::info!(
        target: "api_key_auth::audit",
        event = "address_refused",
        key_id = ?record.id,
        prefix = %record.prefix,
        client = %client,
        "API key used from outside its allowlist"
    );
}

/// A key was revoked.
pub fn revoked(record: &KeyRecord, actor: Actor<'_>) {
    tracing::info!(
        target: "api_key_auth::audit",
        event = "revoked",
        key_id = ?record.id,
        prefix = %record.prefix,
        actor = ?actor.who(),
        client = %actor.client(),
        "API key revoked"
    );
}

/// A key was suspended (`suspended`) or resumed, as asked: the event says
/// what was done, whatever another change made of the record since.
pub fn suspension(record: &KeyRecord, suspended: bool, actor: Actor<'_>) {
    let (event, message) = if suspended {
        ("suspended", "API key suspended")
    } else {
        ("resumed", "API key resumed")
    };
    tracing::info!(
        target: "api_key_auth::audit",
        event,
        key_id = ?record.id,
        prefix = %record.prefix,
        actor = ?actor.who(),
        client = %actor.client(),
        "{message}"
    );
}

/// A key was rotated: `rotated.retired` replaced by `rotated.new`.
pub fn rotated(rotated: &Rotated, actor: Actor<'_>) {
    let old = &rotated.retired;
    let new = rotated.new.record();
    let sunset = if old.revoked {
        "now".to_owned()
    } else {
        old.expires.map(rfc3339).unwrap_or_default()
    };
    tracing::info!(
        target: "api_key_auth::audit",
        event = "rotated",
        key_id = ?old.id,
        prefix = %old.prefix,
        new_key_id = ?new.id,
        new_prefix = %new.prefix,
        sunset = %sunset,
        actor = ?actor.who(),
        client = %actor.client(),
        "API key rotated"
    );
}

/// A key never used before was used.
pub fn first_use(record: &KeyRecord) {
    tracing::info!(
        target: "api_key_auth::audit",
        event = "first_use",
        key_id = ?record.id,
        prefix = %record.prefix,
        "API key used for the first time"
    );
}

/// A key in a rotation's grace period, which ends at `sunset`, was used
/// `uses` times since the last such event.
pub fn grace_use(record: &KeyRecord, sunset: SystemTime, uses: u64) {
    tracing::info!(
        target: "api_key_auth::audit",
        event = "grace_use",
        key_id = ?record.id,
        prefix = %record.prefix,
        sunset = %rfc3339(sunset),
        uses,
        "replaced API key still in use during its grace period"
    );
}

/// A key's stored Django password hash was upgraded to `sha512$$`.
pub fn hash_upgraded(record: &KeyRecord) {
    tracing::info!(
        target: "api_key_auth::audit",
        event = "hash_upgraded",
        key_id = ?record.id,
        prefix = %record.prefix,
        from = %record.hash.algorithm(),
        "API key's legacy hash upgraded"
    );
}
