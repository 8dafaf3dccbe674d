//! A Redis key store (feature `redis`): keys in a Redis server shared by many
//! instances, through the redis crate's connection manager, which reconnects
//! by itself after a dropped connection.
//!
//! ```no_run
//! use api_key_auth::{store::redis::RedisStore, ApiKeyLayer};
//!
//! # async fn run() -> Result<(), api_key_auth::StoreError> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?.with_namespace("billing");
//! let layer = ApiKeyLayer::new(store);
//! # Ok(()) }
//! ```
//!
//! On a Redis Cluster (feature `redis-cluster`), name the seed nodes:
//!
//! ```no_run
//! use api_key_auth::store::redis::RedisStore;
//!
//! # async fn run() -> Result<(), api_key_auth::StoreError> {
//! let store = RedisStore::connect("redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000").await?;
//! // or: RedisStore::connect_cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]).await?
//! # Ok(()) }
//! ```
//!
//! Under the namespace `ns` (default `apikey`) the store keeps the keys
//! below, each named `ns:…` on one server and `{ns}:…` on a cluster: the
//! braces are a hash tag, which puts all of a namespace's keys in one hash
//! slot, so every script and pipeline touches one slot, as a cluster
//! requires, and stays atomic. A namespace therefore lives on one primary
//! (and its replicas) of the cluster; several namespaces spread over it.
//! A key takes about 1 KB of the server's memory (`used_memory` grew by
//! 1,022 bytes a key over 100,000 keys made by `api-key create --count`),
//! so a million keys take about 1 GB of one node.
//!
//! | key | type | what |
//! |---|---|---|
//! | `ns:key:<prefix>` | hash | the record: `id`, `name`, `hashed_key`, `created_ms`, `expires_ms`, `revoked`, `suspended` (`0` or `1`; absent on records written before it was kept: not suspended), `scopes` (JSON), `owner`, `metadata` (JSON), and once set `replaces`, `replaced_by`, `lineage`, `last_used_ms`, `rate_limit` (JSON), `allowed_from` (JSON, the networks the key may be used from) |
//! | `ns:id:<id>` | string | the prefix of the key with that id |
//! | `ns:created` | sorted set | prefixes scored by creation time, for listing |
//! | `ns:ids` | sorted set | ids, all scored 0 so they sort by id, for paged listing |
//! | `ns:ids:complete` | string | set once `ns:ids` holds the ids of keys stored before it existed |
//!
//! Inserts, revocations, rotations and last-use writes are Lua scripts, so
//! each is atomic, and each names every key it touches. Every revocation is
//! published on the channel `ns:revoked` with the key's prefix, for caches
//! in other instances to drop it; on a cluster a message published on one
//! node reaches the subscribers of every node.
//!
//! A store made for one server does not read a cluster's keys, nor the
//! other way round (`ns:` against `{ns}:`): to move keys from one to the
//! other, copy each Redis key to its new name (`DUMP` and `RESTORE`). On a
//! cluster, braces and `%` in a namespace are written `%7B`, `%7D`, `%25`
//! inside the tag (and the empty namespace is `{%}`), so every namespace
//! has a tag of its own.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The core's modules, under the names the store was written against.
#[cfg(feature = "rate-limit")]
use api_key_auth_core::rate_limit;
use api_key_auth_core::{hash, key, store};

#[cfg(feature = "rate-limit")]
#[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
mod limiter;
#[cfg(feature = "rate-limit")]
pub use limiter::RedisRateLimiter;

use std::{collections::HashMap, sync::Arc, time::SystemTime};

use async_trait::async_trait;
use redis::{Client, Script};

mod connection;

pub(crate) use connection::RedisConnection;

use crate::{
    hash::{Hasher, StoredHash},
    key::Prefix,
    store::{
        row::{from_millis, to_millis, CreditColumns, InsertValues, RawRecord},
        KeyManager, KeyRecord, KeyStore, KeyUse, Lookup, Page, PageRequest, Retirement, StoreError,
    },
};

/// Saves a record unless its prefix or id is taken.
/// KEYS: record hash, id index, creation index, ids in order.
/// ARGV: prefix, created_ms, id, field/value pairs.
const INSERT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[3])
return 1
";

/// Saves records unless any prefix or id is taken: all or none.
/// KEYS: creation index, ids in order, then each record's hash and id
/// index in turn. ARGV: for each record in turn, its prefix, created_ms,
/// id, how many field/value arguments follow, and those.
const INSERT_MANY: &str = r"
local records = {}
local at = 1
for i = 3, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 or redis.call('EXISTS', KEYS[i + 1]) == 1 then
    return 0
  end
  records[#records + 1] = {i, at}
  at = at + 4 + tonumber(ARGV[at + 3])
end
for _, record in ipairs(records) do
  local i, a = record[1], record[2]
  local n = tonumber(ARGV[a + 3])
  redis.call('HSET', KEYS[i], unpack(ARGV, a + 4, a + 3 + n))
  redis.call('SET', KEYS[i + 1], ARGV[a])
  redis.call('ZADD', KEYS[1], ARGV[a + 1], ARGV[a])
  redis.call('ZADD', KEYS[2], 0, ARGV[a + 2])
end
return 1
";

/// Marks a record revoked and announces it, if the id still names it.
/// KEYS: id index, the record. ARGV: the record's prefix, the channel.
const REVOKE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], 'revoked', '1')
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
";

/// Suspends or resumes a record (ARGV[3]: "1" or "0") and announces it, as
/// a revocation is, if the id still names it.
/// KEYS: id index, the record. ARGV: the record's prefix, the channel, the flag.
const SUSPENSION: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], 'suspended', ARGV[3])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
";

/// Spends credits of one key, atomically: refilled first when a refill is
/// due, never below zero.
///
/// KEYS: the record. ARGV: id, cost, and `up-to` to take as many as are
/// left up to the cost (a lease) rather than the cost or nothing. Refills
/// are timed by Redis's own clock, one clock for every instance. Answers
/// `{'spent', left, taken, next refill ms or ''}`,
/// `{'exhausted', next refill ms or ''}`, `{'missing'}`, `{'none'}` (the
/// record keeps no credits) or `{'invalid'}` (a field that is not exactly
/// a count this store writes).
const SPEND: &str = r"
redis.replicate_commands()
local f = redis.call('HMGET', KEYS[1], 'id', 'credits_remaining', 'credits_refill_amount',
  'credits_refill_ms', 'credits_refilled_ms')
if not f[1] or f[1] ~= ARGV[1] then
  return {'missing'}
end
local function count(v)
  if not v then
    return nil
  end
  if not string.match(v, '^%d+$') or #v > 16 or tonumber(v) > 9007199254740991 then
    return false
  end
  return tonumber(v)
end
local remaining, amount, every, refilled = count(f[2]), count(f[3]), count(f[4]), count(f[5])
if remaining == nil and amount == nil and every == nil and refilled == nil then
  return {'none'}
end
if remaining == false or amount == false or every == false or refilled == false
  or remaining == nil or refilled == nil or (amount == nil) ~= (every == nil) then
  return {'invalid'}
end
if every ~= nil and (amount < 1 or every < 1000 or every % 1000 ~= 0) then
  return {'invalid'}
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local cost = tonumber(ARGV[2])
if every ~= nil and now >= refilled + every then
  refilled = refilled + math.floor((now - refilled) / every) * every
  remaining = amount
  redis.call('HSET', KEYS[1], 'credits_remaining', string.format('%d', remaining),
    'credits_refilled_ms', string.format('%d', refilled))
end
if ARGV[3] == 'up-to' then
  cost = math.min(cost, remaining)
  if cost < 1 then
    cost = remaining + 1
  end
end
if remaining < cost then
  if every ~= nil then
    return {'exhausted', string.format('%d', refilled + every)}
  end
  return {'exhausted', ''}
end
remaining = remaining - cost
redis.call('HSET', KEYS[1], 'credits_remaining', string.format('%d', remaining))
local lapses = ''
if every ~= nil then
  lapses = string.format('%d', refilled + every)
end
return {'spent', string.format('%d', remaining), string.format('%d', cost), lapses}
";

/// Saves a key replacing another and retires the old one, atomically.
///
/// KEYS: old id index, old record, new record, new id index, creation index,
/// ids in order. ARGV: old prefix, channel, now (ms), revoke ("1" or "0"),
/// expire at (ms), new prefix, new created_ms, new id, then the new record's
/// field/value pairs. Answers `ok`, `missing`, `inactive` (revoked, expired or
/// already replaced), `suspension` (the new record does not carry the old
/// one's suspension: it changed since the rotation read it), `allowlist` (as
/// `suspension`, for the address allowlist), `invalid` (a
/// record that does not read) or `conflict`.
const REPLACE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'missing'
end
local revoked = redis.call('HGET', KEYS[2], 'revoked')
if not revoked then
  return 'missing'
end
if revoked == '1' then
  return 'inactive'
end
if revoked ~= '0' then
  return 'invalid'
end
if redis.call('HEXISTS', KEYS[2], 'replaced_by') == 1 then
  return 'inactive'
end
local expires = redis.call('HGET', KEYS[2], 'expires_ms')
if expires then
  if not string.match(expires, '^%-?%d+$') then
    return 'invalid'
  end
  if tonumber(expires) <= tonumber(ARGV[3]) then
    return 'inactive'
  end
end
local suspended = redis.call('HGET', KEYS[2], 'suspended') or '0'
if suspended ~= '0' and suspended ~= '1' then
  return 'invalid'
end
local carried = '0'
for i = 9, #ARGV - 1, 2 do
  if ARGV[i] == 'suspended' then
    carried = ARGV[i + 1]
  end
end
if carried ~= suspended then
  return 'suspension'
end
local allowed = redis.call('HGET', KEYS[2], 'allowed_from') or ''
local confined = ''
for i = 9, #ARGV - 1, 2 do
  if ARGV[i] == 'allowed_from' then
    confined = ARGV[i + 1]
  end
end
if confined ~= allowed then
  return 'allowlist'
end
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then
  return 'conflict'
end
redis.call('HSET', KEYS[3], unpack(ARGV, 9))
redis.call('SET', KEYS[4], ARGV[6])
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[6])
redis.call('ZADD', KEYS[6], 0, ARGV[8])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[2], 'revoked', '1', 'replaced_by', ARGV[8])
else
  local at = ARGV[5]
  if expires and tonumber(expires) < tonumber(at) then
    at = expires
  end
  redis.call('HSET', KEYS[2], 'expires_ms', at, 'replaced_by', ARGV[8])
end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 'ok'
";

/// Moves each key's `last_used_ms` to its use unless it holds a later one.
/// KEYS: the records. ARGV: for each, its id and the use (ms), in turn.
const LAST_USE: &str = r"
for i, key in ipairs(KEYS) do
  local id, at = ARGV[2 * i - 1], ARGV[2 * i]
  if redis.call('HGET', key, 'id') == id then
    local last = redis.call('HGET', key, 'last_used_ms')
    if not last or tonumber(last) < tonumber(at) then
      redis.call('HSET', key, 'last_used_ms', at)
    end
  end
end
return 0
";

/// Replaces a record's hash if it still holds the old one, and announces it.
/// KEYS: the record. ARGV: its id, the old hash, the new one, the channel, the prefix.
const UPGRADE_HASH: &str = r"
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] and redis.call('HGET', KEYS[1], 'hashed_key') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'hashed_key', ARGV[3])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
return 0
";

/// Keys in Redis, on one server or a cluster. Cheap to clone: clones share
/// one multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    /// One client per seed node (one, off a cluster), for connections of
    /// the store's own: the revocation listener's.
    clients: Arc<[Client]>,
    connection: RedisConnection,
    namespace: Arc<str>,
    /// What every key's name starts with: `ns`, or `{ns}` on a cluster.
    base: Arc<str>,
    hasher: Hasher,
    insert: Arc<Script>,
    insert_many: Arc<Script>,
    revoke: Arc<Script>,
    suspension: Arc<Script>,
    spend: Arc<Script>,
    replace: Arc<Script>,
    last_use: Arc<Script>,
    upgrade_hash: Arc<Script>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.namespace)
            .field("cluster", &self.connection.is_cluster())
            .field("hasher", &self.hasher.algorithm())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Its connection and namespace, for the rate limiter that shares them.
    #[cfg(feature = "rate-limit")]
    pub(crate) fn connection(&self) -> (RedisConnection, Arc<str>) {
        (self.connection.clone(), self.namespace.clone())
    }

    /// Connects to `url`: one server, `redis://[:password@]host:port[/db]`
    /// (or `rediss://`), or a cluster by its seed nodes,
    /// `redis+cluster://[user:password@]host:port,host:port,…` (feature
    /// `redis-cluster`). Commands that get no answer within two seconds
    /// fail (the layer answers 503); a dropped connection is re-established
    /// in the background.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with(connection::CLUSTER_SCHEME) {
            let nodes = connection::cluster_nodes(url)?;
            #[cfg(feature = "redis-cluster")]
            return Self::connect_cluster(nodes).await;
            #[cfg(not(feature = "redis-cluster"))]
            return Err(StoreError::config(format!(
                "a Redis Cluster ({} nodes named) needs the `redis-cluster` feature",
                nodes.len()
            )));
        }
        let client =
            Client::open(url).map_err(|e| StoreError::config(format!("not a Redis URL: {e}")))?;
        let connection = RedisConnection::server(&client).await?;
        Ok(Self::on(connection, vec![client]))
    }

    /// Connects to the Redis Cluster that the seed `nodes` (`redis://host:port`
    /// URLs, any of its primaries) belong to. The store's keys are named with
    /// a hash tag, `{ns}:…`, so each script touches one slot; revocations
    /// are published to the whole cluster.
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub async fn connect_cluster<N: AsRef<str>>(
        nodes: impl IntoIterator<Item = N>,
    ) -> Result<Self, StoreError> {
        let nodes: Vec<String> = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        if nodes.is_empty() {
            return Err(StoreError::config(
                "a Redis Cluster needs at least one seed node",
            ));
        }
        let clients = nodes
            .iter()
            .enumerate()
            .map(|(n, node)| {
                Client::open(node.as_str()).map_err(|e| {
                    StoreError::config(format!("seed node {} is not a Redis URL: {e}", n + 1))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let connection = RedisConnection::cluster(&nodes).await?;
        Ok(Self::on(connection, clients))
    }

    fn on(connection: RedisConnection, clients: Vec<Client>) -> Self {
        let mut store = Self {
            clients: clients.into(),
            connection,
            namespace: Arc::from(""),
            base: Arc::from(""),
            hasher: Hasher::default(),
            insert: Arc::new(Script::new(INSERT)),
            insert_many: Arc::new(Script::new(INSERT_MANY)),
            revoke: Arc::new(Script::new(REVOKE)),
            suspension: Arc::new(Script::new(SUSPENSION)),
            spend: Arc::new(Script::new(SPEND)),
            replace: Arc::new(Script::new(REPLACE)),
            last_use: Arc::new(Script::new(LAST_USE)),
            upgrade_hash: Arc::new(Script::new(UPGRADE_HASH)),
        };
        store.set_namespace("apikey");
        store
    }

    fn set_namespace(&mut self, namespace: &str) {
        self.namespace = Arc::from(namespace);
        self.base = if self.connection.is_cluster() {
            Arc::from(format!("{{{}}}", hash_tag(namespace)))
        } else {
            self.namespace.clone()
        };
    }

    /// Keeps keys under `namespace` instead of `apikey`, so several services
    /// (or tests) can share one Redis.
    pub fn with_namespace(mut self, namespace: &str) -> Self {
        self.set_namespace(namespace);
        self
    }

    /// Whether the store is on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.connection.is_cluster()
    }

    /// What the name of each of the store's keys starts with: the
    /// namespace, or on a cluster the namespace in braces (a hash tag).
    pub fn key_base(&self) -> &str {
        &self.base
    }

    /// Hashes new keys with `hasher`.
    pub fn with_hasher(mut self, hasher: Hasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// The namespace the keys live under.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The channel revocations are published on: `<namespace>:revoked`.
    pub fn revocation_channel(&self) -> String {
        format!("{}:revoked", self.namespace)
    }

    /// A client of the server, or of the cluster's first seed node, for
    /// opening connections of one's own (a pub/sub listener, say).
    pub fn client(&self) -> &Client {
        &self.clients[0]
    }

    fn record_key(&self, prefix: &str) -> String {
        format!("{}:key:{prefix}", self.base)
    }

    fn id_key(&self, id: &str) -> String {
        format!("{}:id:{id}", self.base)
    }

    /// The prefix the id's index names, if any.
    async fn prefix_of_id(&self, id: &str) -> Result<Option<String>, StoreError> {
        redis::cmd("GET")
            .arg(self.id_key(id))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)
    }

    /// The name of one of the store's indexes: `created`, `ids`, ….
    fn index_key(&self, name: &str) -> String {
        format!("{}:{name}", self.base)
    }

    /// Finds out whether an insert's script that failed (most often: no
    /// answer in time) ran all the same.
    ///
    /// A script runs whole or not at all, so its first record there with
    /// its id means every record is, and the caller gets the keys it made
    /// (`Ok`). The question goes on the same connection, so it is answered
    /// after the script ran, if it was to run; asked up to five times while
    /// Redis does not answer. Still no answer: the error, saying the keys
    /// may be stored (their secrets are lost with it, so they work for
    /// nobody).
    async fn stored_anyway(
        &self,
        first: Option<(Prefix, String)>,
        error: redis::RedisError,
    ) -> Result<(), StoreError> {
        let Some((prefix, id)) = first else {
            return Err(StoreError::unavailable(error));
        };
        for _ in 0..5 {
            let stored: Result<Option<String>, _> = redis::cmd("HGET")
                .arg(self.record_key(prefix.as_str()))
                .arg("id")
                .query_async(&mut self.connection.clone())
                .await;
            match stored {
                Ok(Some(stored)) if stored == id => return Ok(()),
                Ok(_) => return Err(StoreError::unavailable(error)),
                Err(_) => continue,
            }
        }
        Err(StoreError::unavailable(format!(
            "{error}; Redis still does not answer, so the keys may have been stored \
             (nobody holds their secrets)"
        )))
    }

    /// Fills the ordered set of ids with the ids of keys stored before the
    /// store kept one, once: every later insert adds its own id.
    async fn complete_ids(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let complete_key = self.index_key("ids:complete");
        let complete: bool = redis::cmd("EXISTS")
            .arg(&complete_key)
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        if complete {
            return Ok(());
        }
        let prefixes: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.index_key("created"))
            .arg(0)
            .arg(-1)
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        for chunk in prefixes.chunks(1000) {
            let mut pipe = redis::pipe();
            for prefix in chunk {
                pipe.cmd("HGET").arg(self.record_key(prefix)).arg("id");
            }
            let ids: Vec<Option<String>> = pipe
                .query_async(&mut connection)
                .await
                .map_err(StoreError::unavailable)?;
            let mut add = redis::cmd("ZADD");
            add.arg(self.index_key("ids"));
            let mut any = false;
            for id in ids.into_iter().flatten() {
                add.arg(0).arg(id);
                any = true;
            }
            if any {
                let _: i64 = add
                    .query_async(&mut connection)
                    .await
                    .map_err(StoreError::unavailable)?;
            }
        }
        let _: () = redis::cmd("SET")
            .arg(&complete_key)
            .arg("1")
            .query_async(&mut connection)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    async fn load(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError> {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.record_key(prefix))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(prefix, fields).map(Some)
    }
}

/// What goes between a cluster's braces for `namespace`: a tag of its own
/// that Redis reads whole.
///
/// `%`, `{` and `}` are written `%25`, `%7B`, `%7D`, and the empty
/// namespace `%`: a brace inside would end the tag early, an empty one
/// would be no tag.
fn hash_tag(namespace: &str) -> String {
    if namespace.is_empty() {
        return "%".to_owned();
    }
    namespace
        .replace('%', "%25")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

fn decode(prefix: &str, mut fields: HashMap<String, String>) -> Result<KeyRecord, StoreError> {
    let mut take = |name: &str| fields.remove(name);
    let invalid = |what: &str| StoreError::invalid_record(format!("Redis record {prefix}: {what}"));
    let number = |text: String, what: &str| text.parse::<i64>().map_err(|_| invalid(what));
    RawRecord {
        id: take("id").ok_or_else(|| invalid("no id"))?,
        prefix: prefix.to_owned(),
        hashed_key: take("hashed_key").ok_or_else(|| invalid("no hashed_key"))?,
        name: take("name").unwrap_or_default(),
        created_ms: number(
            take("created_ms").ok_or_else(|| invalid("no created_ms"))?,
            "created_ms is not a number",
        )?,
        expires_ms: take("expires_ms")
            .map(|t| number(t, "expires_ms is not a number"))
            .transpose()?,
        // A field that is there but not a number was refused just above.
        has_expiry: false,
        // Exactly "0" or "1", as this store writes it: anything else (a
        // "true" set by hand, a missing field) is a record we cannot read,
        // and a refusal, never a pass.
        revoked: match take("revoked").as_deref() {
            Some("0") => Some(false),
            Some("1") => Some(true),
            Some(_) => return Err(invalid("revoked is neither \"0\" nor \"1\"")),
            None => return Err(invalid("no revoked")),
        },
        // As `revoked`, but a record written before suspensions were kept
        // has no field, and was never suspended.
        suspended: match take("suspended").as_deref() {
            Some("0") | None => Some(false),
            Some("1") => Some(true),
            Some(_) => return Err(invalid("suspended is neither \"0\" nor \"1\"")),
        },
        scopes: take("scopes").unwrap_or_else(|| "[]".to_owned()),
        owner: take("owner"),
        metadata: take("metadata").unwrap_or_else(|| "{}".to_owned()),
        replaces: take("replaces"),
        replaced_by: take("replaced_by"),
        last_used_ms: take("last_used_ms")
            .map(|t| number(t, "last_used_ms is not a number"))
            .transpose()?,
        rate_limit: take("rate_limit"),
        lineage: take("lineage"),
        allowed_from: take("allowed_from"),
        credits: CreditColumns {
            remaining: take("credits_remaining")
                .map(|t| number(t, "credits_remaining is not a number"))
                .transpose()?,
            refill_amount: take("credits_refill_amount")
                .map(|t| number(t, "credits_refill_amount is not a number"))
                .transpose()?,
            refill_ms: take("credits_refill_ms")
                .map(|t| number(t, "credits_refill_ms is not a number"))
                .transpose()?,
            refilled_ms: take("credits_refilled_ms")
                .map(|t| number(t, "credits_refilled_ms is not a number"))
                .transpose()?,
        },
    }
    .into_record()
}

#[async_trait]
impl KeyStore for RedisStore {
    async fn find(&self, prefix: Prefix) -> Lookup {
        Ok(self.load(prefix.as_str()).await?.map(Arc::new))
    }

    fn hash_algorithm(&self) -> Option<crate::hash::Algorithm> {
        Some(self.hasher.algorithm())
    }

    async fn upgrade_hash(&self, record: &KeyRecord, new: StoredHash) -> Result<bool, StoreError> {
        let changed: i64 = self
            .upgrade_hash
            .key(self.record_key(record.prefix.as_str()))
            .arg(&record.id)
            .arg(record.hash.to_string())
            .arg(new.to_string())
            .arg(self.revocation_channel())
            .arg(record.prefix.as_str())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(changed == 1)
    }

    async fn spend_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
    ) -> Result<api_key_auth_core::store::CreditSpend, StoreError> {
        self.take_credits(record, cost, false)
            .await
            .map(|(spend, _)| spend)
    }

    async fn lease_credits(
        &self,
        record: &KeyRecord,
        up_to: u64,
    ) -> Result<api_key_auth_core::store::CreditLease, StoreError> {
        use api_key_auth_core::store::{CreditLease, CreditSpend};
        Ok(match self.take_credits(record, up_to, true).await? {
            (_, Some((count, lapses))) => CreditLease::Taken { count, lapses },
            (CreditSpend::Exhausted { next_refill }, None) => {
                CreditLease::Exhausted { next_refill }
            }
            (_, None) => CreditLease::Exhausted { next_refill: None },
        })
    }
}

impl RedisStore {
    /// Takes `cost` of the credits of `record`'s key (with `up_to`, as many
    /// as are left up to `cost`), and how many that was.
    async fn take_credits(
        &self,
        record: &KeyRecord,
        cost: u64,
        up_to: bool,
    ) -> Result<(api_key_auth_core::store::CreditSpend, Option<TakenCredits>), StoreError> {
        use api_key_auth_core::store::CreditSpend;
        let answer: Vec<String> = self
            .spend
            .key(self.record_key(record.prefix.as_str()))
            .arg(&record.id)
            .arg(cost)
            .arg(if up_to { "up-to" } else { "exactly" })
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        let invalid = || {
            StoreError::invalid_record(format!(
                "Redis record {}: its credits do not read",
                record.prefix
            ))
        };
        let count = |text: &str| text.parse::<u64>().map_err(|_| invalid());
        match answer.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["spent", left, taken, lapses] => {
                let taken = count(taken)?;
                if taken > cost || (up_to && taken == 0) {
                    return Err(invalid());
                }
                let lapses = match lapses {
                    "" => None,
                    at => Some(from_millis(at.parse().map_err(|_| invalid())?)),
                };
                let remaining = Some(count(left)?);
                Ok((CreditSpend::Spent { remaining }, Some((taken, lapses))))
            }
            ["exhausted", ""] => Ok((CreditSpend::Exhausted { next_refill: None }, None)),
            ["exhausted", at] => Ok((
                CreditSpend::Exhausted {
                    next_refill: Some(from_millis(at.parse().map_err(|_| invalid())?)),
                },
                None,
            )),
            ["missing"] => Err(StoreError::not_found(format!(
                "no key has the id {:?}",
                record.id
            ))),
            ["none"] => Err(StoreError::invalid_record(format!(
                "key {:?} keeps no credits any more",
                record.id
            ))),
            _ => Err(invalid()),
        }
    }
}

#[async_trait]
impl KeyManager for RedisStore {
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let record_prefix = record.prefix;
        let values = InsertValues::new(record, false)?;
        let mut invocation = self.insert.prepare_invoke();
        invocation
            .key(self.record_key(&values.prefix))
            .key(self.id_key(&values.id))
            .key(self.index_key("created"))
            .key(self.index_key("ids"))
            .arg(&values.prefix)
            .arg(values.created_ms)
            .arg(&values.id);
        for (name, value) in record_fields(&values) {
            invocation.arg(name).arg(value);
        }
        let first = Some((record_prefix, values.id.clone()));
        let saved: i64 = match invocation.invoke_async(&mut self.connection.clone()).await {
            Ok(saved) => saved,
            Err(error) => return self.stored_anyway(first, error).await,
        };
        if saved == 1 {
            Ok(())
        } else {
            Err(StoreError::conflict(format!(
                "prefix {} or id {:?} is already stored",
                values.prefix, values.id
            )))
        }
    }

    /// One script: all the records or none.
    async fn insert_many(&self, records: Vec<KeyRecord>) -> Result<(), StoreError> {
        crate::store::check_batch(records.len())?;
        let mut prefixes = std::collections::HashSet::with_capacity(records.len());
        let mut ids = std::collections::HashSet::with_capacity(records.len());
        let mut invocation = self.insert_many.prepare_invoke();
        invocation
            .key(self.index_key("created"))
            .key(self.index_key("ids"));
        let first = records
            .first()
            .map(|record| (record.prefix, record.id.clone()));
        for record in records {
            let values = InsertValues::new(record, false)?;
            if !prefixes.insert(values.prefix.clone()) || !ids.insert(values.id.clone()) {
                return Err(StoreError::conflict(format!(
                    "prefix {} or id {:?} is twice in the batch",
                    values.prefix, values.id
                )));
            }
            let fields = record_fields(&values);
            invocation
                .key(self.record_key(&values.prefix))
                .key(self.id_key(&values.id))
                .arg(&values.prefix)
                .arg(values.created_ms)
                .arg(&values.id)
                .arg(fields.len() * 2);
            for (name, value) in fields {
                invocation.arg(name).arg(value);
            }
        }
        let saved: i64 = match invocation.invoke_async(&mut self.connection.clone()).await {
            Ok(saved) => saved,
            Err(error) => return self.stored_anyway(first, error).await,
        };
        if saved == 1 {
            Ok(())
        } else {
            Err(StoreError::conflict(
                "a prefix or id of the batch is already stored",
            ))
        }
    }

    async fn list(&self) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
        let prefixes: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.index_key("created"))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        if prefixes.is_empty() {
            // An empty pipeline is an error to the client, not an empty answer.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for prefix in &prefixes {
            pipe.cmd("HGETALL").arg(self.record_key(prefix));
        }
        let rows: Vec<HashMap<String, String>> = pipe
            .query_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        prefixes
            .iter()
            .zip(rows)
            .filter(|(_, fields)| !fields.is_empty())
            .map(|(prefix, fields)| decode(prefix, fields).map(Arc::new))
            .collect()
    }

    /// The id's index names the prefix: one lookup, then the record.
    async fn find_by_id(&self, id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let prefix = self.prefix_of_id(id).await?;
        match prefix {
            Some(prefix) => Ok(self.load(&prefix).await?.map(Arc::new)),
            None => Ok(None),
        }
    }

    /// Pages over the ids in order (a sorted set read by range), reading
    /// the records of one batch at a time and keeping those the filter admits.
    async fn list_page(&self, request: &PageRequest) -> Result<Page, StoreError> {
        self.complete_ids().await?;
        let now = SystemTime::now();
        let wanted = request.limit() as usize + 1;
        let mut keys = Vec::with_capacity(wanted);
        let mut cursor = request.cursor().unwrap_or("").to_owned();
        loop {
            let batch = wanted.max(100);
            let from = if cursor.is_empty() {
                "-".to_owned()
            } else {
                format!("({cursor}")
            };
            let ids: Vec<String> = redis::cmd("ZRANGE")
                .arg(self.index_key("ids"))
                .arg(from)
                .arg("+")
                .arg("BYLEX")
                .arg("LIMIT")
                .arg(0)
                .arg(batch)
                .query_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
            let Some(last) = ids.last() else {
                break;
            };
            cursor = last.clone();
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("GET").arg(self.id_key(id));
            }
            let prefixes: Vec<Option<String>> = pipe
                .query_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
            let prefixes: Vec<String> = prefixes.into_iter().flatten().collect();
            let mut pipe = redis::pipe();
            for prefix in &prefixes {
                pipe.cmd("HGETALL").arg(self.record_key(prefix));
            }
            let rows: Vec<HashMap<String, String>> = if prefixes.is_empty() {
                Vec::new()
            } else {
                pipe.query_async(&mut self.connection.clone())
                    .await
                    .map_err(StoreError::unavailable)?
            };
            for (prefix, fields) in prefixes.iter().zip(rows) {
                if fields.is_empty() {
                    continue;
                }
                let record = decode(prefix, fields)?;
                if request.admits(&record, now) {
                    keys.push(Arc::new(record));
                    if keys.len() == wanted {
                        return Ok(Page::of(keys, request.limit()));
                    }
                }
            }
            if ids.len() < batch {
                break;
            }
        }
        Ok(Page::of(keys, request.limit()))
    }

    /// The id's index names the prefix; a script then marks the record,
    /// if the index still names it (a script names every key it touches).
    async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let prefix = self.prefix_of_id(id).await?;
        let Some(prefix) = prefix else {
            return Ok(false);
        };
        let revoked: i64 = self
            .revoke
            .key(self.id_key(id))
            .key(self.record_key(&prefix))
            .arg(&prefix)
            .arg(self.revocation_channel())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(revoked == 1)
    }

    async fn set_suspended(&self, id: &str, suspended: bool) -> Result<bool, StoreError> {
        let prefix = self.prefix_of_id(id).await?;
        let Some(prefix) = prefix else {
            return Ok(false);
        };
        let changed: i64 = self
            .suspension
            .key(self.id_key(id))
            .key(self.record_key(&prefix))
            .arg(&prefix)
            .arg(self.revocation_channel())
            .arg(if suspended { "1" } else { "0" })
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        Ok(changed == 1)
    }

    fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }

    async fn replace(
        &self,
        old_id: &str,
        new: KeyRecord,
        retirement: Retirement,
    ) -> Result<Arc<KeyRecord>, StoreError> {
        let old_prefix = self.prefix_of_id(old_id).await?;
        let not_found = || StoreError::not_found(format!("no key has the id {old_id:?}"));
        let old_prefix = old_prefix.ok_or_else(not_found)?;
        // Read before the script, which checks it again: once the script has
        // run, the new key exists, and nothing may fail before its secret
        // reaches the caller.
        let old = self.load(&old_prefix).await?.ok_or_else(not_found)?;
        let new_id = new.id.clone();
        let values = InsertValues::new(new, false)?;
        let (revoke, expire_at) = match retirement {
            Retirement::Revoke => ("1", String::new()),
            Retirement::ExpireAt(at) => ("0", to_millis(at).to_string()),
            // A retirement the core added later: not one this store can
            // write, so no rotation rather than a guess.
            _ => return Err(StoreError::unsupported("this retirement of a rotated key")),
        };
        let mut invocation = self.replace.prepare_invoke();
        invocation
            .key(self.id_key(old_id))
            .key(self.record_key(&old_prefix))
            .key(self.record_key(&values.prefix))
            .key(self.id_key(&values.id))
            .key(self.index_key("created"))
            .key(self.index_key("ids"))
            .arg(&old_prefix)
            .arg(self.revocation_channel())
            .arg(to_millis(SystemTime::now()))
            .arg(revoke)
            .arg(&expire_at)
            .arg(&values.prefix)
            .arg(values.created_ms)
            .arg(&values.id);
        for (name, value) in record_fields(&values) {
            invocation.arg(name).arg(value);
        }
        let answer: String = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(StoreError::unavailable)?;
        match answer.as_str() {
            "ok" => Ok(Arc::new(old.retired(retirement, &new_id))),
            "missing" => Err(not_found()),
            "inactive" => Err(StoreError::inactive(format!(
                "key {old_id:?} is revoked or expired"
            ))),
            "suspension" => Err(StoreError::inactive(format!(
                "key {old_id:?} was suspended or resumed while it was being rotated: rotate it again"
            ))),
            "allowlist" => Err(StoreError::inactive(format!(
                "key {old_id:?}'s address allowlist changed while it was being rotated: rotate it again"
            ))),
            "conflict" => Err(StoreError::conflict(format!(
                "prefix {} or id {:?} is already stored",
                values.prefix, values.id
            ))),
            other => Err(StoreError::invalid_record(format!(
                "Redis record {old_prefix}: it does not read ({other})"
            ))),
        }
    }

    async fn record_last_use(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        for chunk in uses.chunks(500) {
            let mut invocation = self.last_use.prepare_invoke();
            for used in chunk {
                invocation
                    .key(self.record_key(used.prefix.as_str()))
                    .arg(&used.id)
                    .arg(to_millis(used.at));
            }
            let _: i64 = invocation
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(StoreError::unavailable)?;
        }
        Ok(())
    }
}

/// A new record's fields, as the insert and replace scripts write them.
fn record_fields(values: &InsertValues) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("id", values.id.clone()),
        ("name", values.name.clone()),
        ("hashed_key", values.hashed_key.clone()),
        ("created_ms", values.created_ms.to_string()),
        ("revoked", if values.revoked { "1" } else { "0" }.to_owned()),
        (
            "suspended",
            if values.suspended { "1" } else { "0" }.to_owned(),
        ),
        ("scopes", values.scopes.clone()),
        ("metadata", values.metadata.clone()),
    ];
    if let Some(expires) = values.expires_ms {
        fields.push(("expires_ms", expires.to_string()));
    }
    if let Some(owner) = &values.owner {
        fields.push(("owner", owner.clone()));
    }
    if let Some(replaces) = &values.replaces {
        fields.push(("replaces", replaces.clone()));
    }
    if let Some(replaced_by) = &values.replaced_by {
        fields.push(("replaced_by", replaced_by.clone()));
    }
    if let Some(last_used) = values.last_used_ms {
        fields.push(("last_used_ms", last_used.to_string()));
    }
    if let Some(limit) = &values.rate_limit {
        fields.push(("rate_limit", limit.clone()));
    }
    if let Some(lineage) = &values.lineage {
        fields.push(("lineage", lineage.clone()));
    }
    if let Some(allowed) = &values.allowed_from {
        fields.push(("allowed_from", allowed.clone()));
    }
    let credits = &values.credits;
    for (name, value) in [
        ("credits_remaining", credits.remaining),
        ("credits_refill_amount", credits.refill_amount),
        ("credits_refill_ms", credits.refill_ms),
        ("credits_refilled_ms", credits.refilled_ms),
    ] {
        if let Some(value) = value {
            fields.push((name, value.to_string()));
        }
    }
    fields
}

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use revocations::RedisRevocations;

#[cfg(feature = "cache")]
mod revocations {
    use std::{
        sync::{
            atomic::{AtomicBool, AtomicUsize, Ordering},
            Arc,
        },
        time::Duration,
    };

    use async_trait::async_trait;
    use futures_util::StreamExt;
    use redis::{
        aio::{PubSubSink, PubSubStream},
        Client,
    };

    use super::{connection::RedisConnection, RedisStore};
    use crate::store::{Invalidation, InvalidationSource, Line, Listener};

    /// Revocations made by other instances, from Redis pub/sub, for a
    /// [`CachedStore`](api_key_auth_core::cache::CachedStore).
    ///
    /// It yields [`Invalidation::All`] whenever it may have missed a message:
    /// when it finds its connection lost, at every failed attempt to
    /// subscribe again (so while it cannot listen, nothing cached outlives
    /// one retry, at most a few seconds), and once subscribed again. A
    /// connection that stays open but carries nothing (a stalled proxy or
    /// NAT, a cluster node cut off from its bus) is found by a heartbeat:
    /// after every [`heartbeat`](Self::heartbeat) without traffic, a probe is
    /// published the way revocations are, and must come back within the
    /// heartbeat (at most a second).
    ///
    /// Keys changed past the crate (`HSET … revoked 1` by hand) are heard
    /// when the server sends keyspace notifications of hashes, generic
    /// commands, expiries and evictions (`notify-keyspace-events` holding
    /// `K` and `g`, `h`, `x`, `e`, or `KA`): the listener then also subscribes
    /// to its namespace's keys' events. A server that sends fewer is said
    /// once, as a warning; such a change then reaches caches only after their
    /// TTL. With them, each batch of last-use writes is heard as a change of
    /// the keys written (a lookup more per key an interval). On a cluster,
    /// whose events stay on the node that holds the keys, changes by hand are
    /// not heard. A database emptied (`FLUSHDB`, `SWAPDB`), which sends no
    /// such event, is found at the next heartbeat: a marker key the listener
    /// keeps is gone, and the cache is flushed.
    #[derive(Debug)]
    pub struct RedisRevocations(Listener<RedisLine>);

    /// A subscription to the revocation channel, on a connection of its
    /// own.
    ///
    /// The connection is to the server, or to one of a cluster's seed
    /// nodes, the next one at each new attempt (a message published on any
    /// node of a cluster reaches the subscribers of all of them).
    pub(crate) struct RedisLine {
        clients: Arc<[Client]>,
        next: AtomicUsize,
        channel: String,
        /// The store's own connection, which probes are published on, as
        /// revocations are.
        connection: RedisConnection,
        /// What the keyspace notifications of the store's record keys are
        /// published on, before the prefix (`__keyspace@0__:ns:key:`); `None`
        /// on a cluster.
        keyspace: Option<String>,
        /// The clients are a cluster's seed nodes: each is checked to be a
        /// member of a working cluster before it is listened to.
        cluster: bool,
        /// A key the listener sets when it opens and looks for at each
        /// heartbeat: gone, the database was emptied or swapped.
        marker: String,
        /// Whether the server was found sending no keyspace notifications
        /// (warned of once).
        warned: AtomicBool,
    }

    impl RedisStore {
        #[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
        /// A source of the revocations other instances publish, to pass to
        /// [`CachedStore::with_invalidations`](api_key_auth_core::cache::CachedStore::with_invalidations).
        pub fn revocations(&self) -> RedisRevocations {
            let keyspace = (!self.is_cluster()).then(|| {
                let db = self.clients[0].get_connection_info().redis_settings().db();
                format!("__keyspace@{db}__:{}", self.record_key(""))
            });
            RedisRevocations(Listener::new(RedisLine {
                clients: self.clients.clone(),
                next: AtomicUsize::new(0),
                cluster: self.is_cluster(),
                channel: self.revocation_channel(),
                connection: self.connection.clone(),
                keyspace,
                marker: format!("{}:listening", self.base),
                warned: AtomicBool::new(false),
            }))
        }
    }

    impl RedisRevocations {
        /// How long the subscription may be quiet before a probe is sent
        /// through it; 5 s by default. A silent dead or deaf connection is
        /// noticed (and the cache flushed) within this plus at most a second.
        pub fn heartbeat(mut self, every: Duration) -> Self {
            self.0.set_heartbeat(every);
            self
        }
    }

    #[async_trait]
    impl InvalidationSource for RedisRevocations {
        async fn next(&mut self) -> Option<Invalidation> {
            Some(self.0.next().await)
        }
    }

    impl RedisLine {
        /// Whether `client`'s server sends the keyspace notifications a
        /// change by hand needs: `K` with `g`, `h`, `x` and `e` (or `A`,
        /// which holds them). A server that will not say (`CONFIG` renamed
        /// or refused) is taken to send none.
        async fn sends_keyspace_events(client: &Client) -> bool {
            let flags: Result<Vec<String>, redis::RedisError> = async {
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("notify-keyspace-events")
                    .query_async(&mut connection)
                    .await
            }
            .await;
            let Some(flags) = flags.ok().and_then(|pair| pair.into_iter().nth(1)) else {
                return false;
            };
            flags.contains('K')
                && (flags.contains('A') || ['g', 'h', 'x', 'e'].iter().all(|f| flags.contains(*f)))
        }
    }

    #[async_trait]
    impl Line for RedisLine {
        type Open = (PubSubSink, PubSubStream, Option<String>);
        const WHAT: &'static str = "SUBSCRIBE";

        async fn open(&self) -> Result<Self::Open, String> {
            let node = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
            let client = &self.clients[node];
            if self.cluster {
                // A seed that is no cluster's node (a Redis of its own, one
                // taken out) would take the subscription and answer its
                // heartbeat, and never carry a revocation: refused, the
                // listener tries the next seed.
                let state: Result<String, redis::RedisError> = async {
                    let mut connection = client.get_multiplexed_async_connection().await?;
                    redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async(&mut connection)
                        .await
                }
                .await;
                match state {
                    Ok(info) if info.lines().any(|l| l.trim() == "cluster_state:ok") => {}
                    Ok(_) => {
                        return Err(format!("seed node {} is in no working cluster", node + 1))
                    }
                    Err(e) => {
                        return Err(format!("seed node {} is no cluster node: {e}", node + 1))
                    }
                }
            }
            let keyspace = match &self.keyspace {
                Some(keyspace) if Self::sends_keyspace_events(client).await => {
                    Some(keyspace.clone())
                }
                Some(_) => {
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "Redis sends no keyspace notifications of hashes, generic commands, \
                             expiries and evictions: a key changed without this crate (HSET by \
                             hand) reaches caches only after their TTL; `CONFIG SET \
                             notify-keyspace-events KA` makes such changes heard"
                        );
                    }
                    None
                }
                None => None,
            };
            let subscribed = async {
                let mut marker = self.connection.clone();
                redis::cmd("SET")
                    .arg(&self.marker)
                    .arg(1)
                    .query_async::<()>(&mut marker)
                    .await?;
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                if let Some(keyspace) = &keyspace {
                    // The pattern's own special characters in the namespace
                    // are escaped, so it matches this namespace's keys alone.
                    pubsub
                        .psubscribe(format!("{}*", glob_escaped(keyspace)))
                        .await?;
                }
                let (sink, stream) = pubsub.split();
                Ok::<_, redis::RedisError>((sink, stream, keyspace))
            };
            subscribed.await.map_err(|e| e.to_string())
        }

        /// A message channel's receiver: cancel-safe. A keyspace event
        /// (a record key changed, whatever the command) is its key's prefix.
        async fn recv((_, stream, keyspace): &mut Self::Open) -> Option<String> {
            let message = stream.next().await?;
            if let Some(keyspace) = keyspace.as_deref() {
                if let Some(prefix) = message.get_channel_name().strip_prefix(keyspace) {
                    return Some(prefix.to_owned());
                }
            }
            // A payload that is not text is not a prefix: it is ignored, not a loss.
            Some(message.get_payload::<String>().unwrap_or_default())
        }

        /// Also looks for the marker: a database emptied or swapped sends no
        /// event, and whatever the cache holds may be gone.
        async fn publish(&self, payload: &str) -> Result<(), String> {
            let mut connection = self.connection.clone();
            let marked: bool = redis::cmd("EXISTS")
                .arg(&self.marker)
                .query_async(&mut connection)
                .await
                .map_err(|e| e.to_string())?;
            if !marked {
                return Err(
                    "the listener's marker key is gone: the database was emptied or swapped"
                        .to_owned(),
                );
            }
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(payload)
                .query_async::<i64>(&mut connection)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    }

    /// `text` with the glob characters of a Redis pattern escaped.
    fn glob_escaped(text: &str) -> String {
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        escaped
    }
}

/// How many credits a take took, and when their period ends.
type TakenCredits = (u64, Option<std::time::SystemTime>);

#[cfg(test)]
mod tests {
    use super::hash_tag;

    /// Every namespace gets a tag that holds no brace and is not empty, and
    /// two namespaces never share one.
    #[test]
    fn every_namespace_has_a_hash_tag_of_its_own() {
        let names = ["apikey", "", "%", "}x", "{x}", "%7B", "a{b}c", "%25"];
        let tags: Vec<String> = names.iter().map(|n| hash_tag(n)).collect();
        for tag in &tags {
            assert!(!tag.is_empty() && !tag.contains(['{', '}']), "{tag:?}");
        }
        let distinct: std::collections::HashSet<_> = tags.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{tags:?}");
        assert_eq!(hash_tag("apikey"), "apikey");
    }
}
