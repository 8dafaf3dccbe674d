//! The store conformance kit (feature `testkit`): runs the whole
//! [`KeyStore`](crate::KeyStore) + [`KeyManager`] contract against a store, yours included.
//!
//! ```
//! use api_key_auth::{testkit::Conformance, MemoryStore};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! // In your own tests, with your own store (wrap it in an `Arc` if it is not `Clone`):
//! Conformance::new(MemoryStore::new()).run().await.expect("the store keeps the contract");
//! # });
//! ```
//!
//! Each check uses fresh keys, so the kit can run against a store that
//! already holds keys (it never revokes or lists away anything it did not create).
//! The checks:
//!
//! | check | what it asserts |
//! |---|---|
//! | `create_then_find` | a created key is found by its prefix with every field intact, and its hash verifies the revealed key |
//! | `plaintext_not_stored` | the secret appears in no record, hash or listing the store returns |
//! | `unknown_prefix` | a prefix never created is `None`, not an error |
//! | `revoke` | revoking marks the record, is idempotent, refuses through an authenticator, and `Ok(false)` for an unknown id |
//! | `suspend` | suspending refuses the key through an authenticator (as `Suspended`) and lists it as suspended, not active, until resumed; `replace` refuses (`is_inactive`) a successor that does not carry the suspension; both are idempotent, touch no other key, and are `Ok(false)` for an unknown id; a store without suspensions says it is unsupported |
//! | `allowlist` | a key created with an address allowlist comes back with it, and an authenticator admits it from inside the list and refuses it (`AddressRefused`) from outside; `replace` refuses (`is_inactive`) a successor without the list; a store without allowlists refuses to create such a key (a config or unsupported error) rather than drop the list |
//! | `credits` | a key created with 3 usage credits comes back with them, passes an authenticator three times and is then refused (`OutOfCredits`), and again; leases of up to 3 of a key's 5 credits take all 5 and then none; a store without credits refuses to create such a key, or an authenticator refuses it (`Unsupported`) |
//! | `expiry` | a past expiry is refused through an authenticator, a future one is not |
//! | `list` | created keys are listed, revoked ones too, oldest first |
//! | `list_page` | paging misses no key and repeats none while keys are created between pages; the active, revoked and expired filters hold exactly their keys; `find_by_id` finds a key by its id |
//! | `owners` | a listing by owner holds exactly that owner's keys (not those of an owner differing only in case); `revoke_owned` revokes just them and says which, `set_owned_suspended` suspends and resumes just them where suspensions are kept; a store without owners lists and revokes nothing by owner |
//! | `concurrent_creates` | 32 concurrent creates give 32 distinct, findable keys |
//! | `prefix_collision` | inserting a record whose prefix is taken is a conflict and changes nothing |
//! | `awkward_text` | names, owners, scopes and metadata with quotes, unicode, SQL and glob metacharacters (and control characters, which a new key may not hold but a row written elsewhere may) come back intact from records inserted as they are |
//! | `find_now_agrees` | a store answering [`KeyStore::find_now`](crate::KeyStore::find_now) answers as `find` does |
//! | `rotate` | a rotation with a grace makes a key with the same name, scopes, owner, metadata and rate limit (and the old one's lifetime), naming the one it replaces; both authenticate during the grace, the old one is refused as expired after it; a zero grace revokes at once; every key of a chain of rotations names the first as its `lineage`; `replace` refuses a revoked or already replaced key (`is_inactive`) itself, an unknown id is `is_not_found` |
//! | `last_use` | `record_last_use` sets a key's last use, never moves it back, skips unknown ids, leaves a revocation as it is; listings show it, and `unused_since` and `expiring_before` list exactly the keys they should |
//! | `upgrade_hash` | where the store upgrades hashes: only a row still holding the old hash changes, only its hash (a revocation made since stays) |

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use http::{header::AUTHORIZATION, HeaderMap, HeaderValue};

use crate::{
    auth::Authenticator,
    error::AuthFailure,
    hash::Hasher,
    key::{ApiKey, Prefix},
    store::{
        CreditLease, KeyFilter, KeyManager, KeyRecord, KeyUse, NewKey, PageRequest, PlaintextKey,
        MAX_PAGE,
    },
};

/// The conformance kit over one store; see the [module docs](self).
#[derive(Debug)]
pub struct Conformance<S> {
    store: S,
    hasher: Hasher,
    keeps_scopes_owner_metadata: bool,
    keeps_links: bool,
    keeps_last_use: bool,
    keeps_suspensions: bool,
    keeps_allowlists: bool,
    keeps_credits: bool,
}

/// The first check a store failed, and how.
#[derive(Debug)]
pub struct ConformanceFailure {
    /// The check's name, as in the table of the module docs.
    pub check: &'static str,
    /// What was expected and what happened.
    pub message: String,
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store conformance check `{}` failed: {}",
            self.check, self.message
        )
    }
}

impl std::error::Error for ConformanceFailure {}

type CheckResult = Result<(), ConformanceFailure>;

fn fail(check: &'static str, message: impl Into<String>) -> ConformanceFailure {
    ConformanceFailure {
        check,
        message: message.into(),
    }
}

macro_rules! ensure {
    ($check:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(fail($check, format!($($msg)+)));
        }
    };
}

impl<S: KeyManager + Clone> Conformance<S> {
    /// The kit over `store`. Hashes are verified with the store's own
    /// [`KeyManager::hasher`].
    pub fn new(store: S) -> Self {
        let hasher = store.hasher();
        Self {
            store,
            hasher,
            keeps_scopes_owner_metadata: true,
            keeps_links: true,
            keeps_last_use: true,
            keeps_suspensions: true,
            keeps_allowlists: true,
            keeps_credits: true,
        }
    }

    /// For a store whose schema keeps no scopes, owner or metadata (a
    /// djangorestframework-api-key table): the kit creates keys without them.
    pub fn without_scopes_owner_metadata(mut self) -> Self {
        self.keeps_scopes_owner_metadata = false;
        self
    }

    /// The old name of [`without_scopes_owner_metadata`](Self::without_scopes_owner_metadata).
    #[deprecated(since = "0.3.0", note = "use without_scopes_owner_metadata")]
    pub fn without_extras(self) -> Self {
        self.without_scopes_owner_metadata()
    }

    /// For a store whose schema keeps neither which key a rotation
    /// replaced nor when a key was last used (a djangorestframework-api-key
    /// table): rotations are checked by expiry alone, and
    /// `record_last_use` must say it is unsupported rather than pretend.
    pub fn without_lifecycle_columns(mut self) -> Self {
        self.keeps_links = false;
        self.keeps_last_use = false;
        self
    }

    /// For a store whose schema keeps no suspension (a
    /// djangorestframework-api-key table): suspending and resuming must say
    /// they are unsupported rather than pretend.
    pub fn without_suspensions(mut self) -> Self {
        self.keeps_suspensions = false;
        self
    }

    /// For a store whose schema keeps no address allowlist (a
    /// djangorestframework-api-key table): creating a key with one must be
    /// refused, as a dropped list would let the key be used from anywhere.
    pub fn without_allowlists(mut self) -> Self {
        self.keeps_allowlists = false;
        self
    }

    /// For a store that keeps no usage credits (a
    /// djangorestframework-api-key table): creating a key with credits must
    /// be refused, or such a key refused by an authenticator (Unsupported),
    /// never let through uncounted.
    pub fn without_credits(mut self) -> Self {
        self.keeps_credits = false;
        self
    }

    /// Runs every check, stopping at the first failure.
    pub async fn run(&self) -> Result<(), ConformanceFailure> {
        self.create_then_find().await?;
        self.plaintext_not_stored().await?;
        self.unknown_prefix().await?;
        self.revoke().await?;
        self.suspend().await?;
        self.allowlist().await?;
        self.credits().await?;
        self.expiry().await?;
        self.list().await?;
        self.list_page().await?;
        self.owners().await?;
        self.concurrent_creates().await?;
        self.prefix_collision().await?;
        self.batches().await?;
        self.awkward_text().await?;
        self.find_now_agrees().await?;
        self.rotate().await?;
        self.last_use().await?;
        self.upgrade_hash().await?;
        Ok(())
    }

    fn new_key(&self, name: &str) -> NewKey {
        let new = NewKey::named(name);
        if !self.keeps_scopes_owner_metadata {
            return new;
        }
        let new = new
            .scopes(["read", "write:all"])
            .owner("conformance")
            .metadata("purpose", "conformance kit");
        // A limit no check of the kit comes near.
        match crate::rate_limit::RateLimit::new(10_000, Duration::from_secs(1)) {
            Ok(limit) => new.rate_limit(limit),
            Err(_) => new,
        }
    }

    async fn create(
        &self,
        check: &'static str,
        new: NewKey,
    ) -> Result<(KeyRecord, PlaintextKey), ConformanceFailure> {
        let created = self
            .store
            .create(new)
            .await
            .map_err(|e| fail(check, format!("create failed: {e}")))?;
        let (record, key) = created.reveal();
        Ok((KeyRecord::clone(&record), key))
    }

    async fn find(
        &self,
        check: &'static str,
        prefix: Prefix,
    ) -> Result<Option<KeyRecord>, ConformanceFailure> {
        self.store
            .find(prefix)
            .await
            .map(|found| found.map(|r| KeyRecord::clone(&r)))
            .map_err(|e| fail(check, format!("find({prefix}) failed: {e}")))
    }

    async fn authenticate(&self, key: &PlaintextKey) -> Result<(), AuthFailure> {
        self.authenticate_from(key, None).await
    }

    async fn authenticate_from(
        &self,
        key: &PlaintextKey,
        client: Option<std::net::IpAddr>,
    ) -> Result<(), AuthFailure> {
        let auth = Authenticator::builder(self.store.clone())
            .hasher(self.hasher.clone())
            .build()
            .map_err(|_| AuthFailure::Missing)?;
        let mut headers = HeaderMap::new();
        let value = HeaderValue::try_from(format!("Api-Key {}", key.expose_secret()))
            .map_err(|_| AuthFailure::Missing)?;
        headers.insert(AUTHORIZATION, value);
        auth.authenticate_from(&headers, client).await.map(|_| ())
    }

    async fn create_then_find(&self) -> CheckResult {
        const CHECK: &str = "create_then_find";
        let expires = SystemTime::now() + Duration::from_secs(3600);
        let (created, key) = self
            .create(CHECK, self.new_key("find me").expires_at(expires))
            .await?;
        let found = self.find(CHECK, created.prefix).await?.ok_or_else(|| {
            fail(
                CHECK,
                format!("find({}) found nothing just after create", created.prefix),
            )
        })?;
        ensure!(
            CHECK,
            found.id == created.id,
            "id {:?} came back as {:?}",
            created.id,
            found.id
        );
        ensure!(
            CHECK,
            found.name == "find me",
            "name came back as {:?}",
            found.name
        );
        ensure!(CHECK, found.prefix == created.prefix, "prefix changed");
        ensure!(CHECK, !found.revoked, "a new key came back revoked");
        scopes_owner_metadata_intact(CHECK, &created, &found)?;
        ensure!(
            CHECK,
            close(found.expires, Some(expires)),
            "expiry {:?} came back as {:?}",
            Some(expires),
            found.expires
        );
        ensure!(
            CHECK,
            close(Some(found.created), Some(created.created)),
            "created {:?} came back as {:?}",
            created.created,
            found.created
        );
        let parsed = ApiKey::parse(key.expose_secret().as_bytes())
            .map_err(|e| fail(CHECK, format!("the revealed key does not parse: {e}")))?;
        ensure!(
            CHECK,
            parsed.prefix() == found.prefix,
            "the revealed key's prefix is not the record's"
        );
        ensure!(
            CHECK,
            self.hasher.verify(&parsed, &found.hash),
            "the stored hash does not verify the revealed key"
        );
        self.authenticate(&key)
            .await
            .map_err(|e| fail(CHECK, format!("an authenticator refused the new key: {e}")))
    }

    async fn plaintext_not_stored(&self) -> CheckResult {
        const CHECK: &str = "plaintext_not_stored";
        let (created, key) = self.create(CHECK, self.new_key("secretive")).await?;
        let secret = &key.expose_secret()[9..];
        let found = self.find(CHECK, created.prefix).await?;
        let listed = self
            .store
            .list()
            .await
            .map_err(|e| fail(CHECK, format!("list failed: {e}")))?;
        let mut seen = format!("{created:?} {found:?} {listed:?} {}", created.hash);
        if let Some(found) = &found {
            seen.push_str(&found.hash.to_string());
            seen.push_str(&format!("{:?}{:?}", found.metadata, found.scopes));
        }
        ensure!(
            CHECK,
            !seen.contains(secret),
            "the secret appears in what the store returns"
        );
        Ok(())
    }

    async fn unknown_prefix(&self) -> CheckResult {
        const CHECK: &str = "unknown_prefix";
        for _ in 0..3 {
            let prefix = ApiKey::generate()
                .map_err(|e| fail(CHECK, e.to_string()))?
                .prefix();
            let found = self.find(CHECK, prefix).await?;
            ensure!(
                CHECK,
                found.is_none(),
                "a prefix never created, {prefix}, found a record"
            );
        }
        Ok(())
    }

    async fn revoke(&self) -> CheckResult {
        const CHECK: &str = "revoke";
        let (created, key) = self.create(CHECK, self.new_key("to revoke")).await?;
        let (bystander, bystander_key) = self.create(CHECK, self.new_key("bystander")).await?;
        let revoked = self
            .store
            .revoke(&created.id)
            .await
            .map_err(|e| fail(CHECK, format!("revoke failed: {e}")))?;
        ensure!(
            CHECK,
            revoked,
            "revoke({:?}) said no key has that id",
            created.id
        );
        let found = self
            .find(CHECK, created.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "a revoked key vanished"))?;
        ensure!(CHECK, found.revoked, "the record is not marked revoked");
        let again = self
            .store
            .revoke(&created.id)
            .await
            .map_err(|e| fail(CHECK, format!("revoking twice failed: {e}")))?;
        ensure!(CHECK, again, "revoking twice said no key has that id");
        match self.authenticate(&key).await {
            Err(AuthFailure::Revoked(_)) => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!("a revoked key authenticated as {other:?}"),
                ))
            }
        }
        let other = self
            .find(CHECK, bystander.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "another key vanished"))?;
        ensure!(CHECK, !other.revoked, "revoking one key revoked another");
        self.authenticate(&bystander_key)
            .await
            .map_err(|e| fail(CHECK, format!("revoking one key broke another: {e}")))?;
        let unknown = self
            .store
            .revoke("no-such-key-id")
            .await
            .map_err(|e| fail(CHECK, format!("revoking an unknown id failed: {e}")))?;
        ensure!(
            CHECK,
            !unknown,
            "revoking an unknown id said it revoked something"
        );
        Ok(())
    }

    async fn allowlist(&self) -> CheckResult {
        const CHECK: &str = "allowlist";
        let allowed = crate::store::AddressAllowlist::new(["10.0.0.0/8", "2001:db8::/32"])
            .map_err(|e| fail(CHECK, format!("the kit's allowlist: {e}")))?;
        let new = self.new_key("confined").allow_from(allowed.clone());
        if !self.keeps_allowlists {
            return match self.store.create(new).await {
                Err(e) if e.is_config() || e.is_unsupported() => Ok(()),
                Err(e) => Err(fail(
                    CHECK,
                    format!("a store without allowlists failed to refuse one clearly: {e}"),
                )),
                Ok(created) => Err(fail(
                    CHECK,
                    format!(
                        "a store without allowlists created key {:?} with one: it would be \
                         used from anywhere",
                        created.record().id
                    ),
                )),
            };
        }
        let (created, key) = self.create(CHECK, new).await?;
        let found = self
            .find(CHECK, created.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "a key with an allowlist was not found".to_owned()))?;
        ensure!(
            CHECK,
            found.allowed_from.as_ref() == Some(&allowed),
            "allowlist {allowed} came back as {:?} (run the kit with without_allowlists() if the \
             store cannot keep one: a dropped list lets the key be used from anywhere)",
            found.allowed_from.as_ref().map(ToString::to_string)
        );
        for (from, admitted) in [
            ("10.1.2.3", true),
            ("2001:db8::1", true),
            ("192.0.2.1", false),
        ] {
            let client = from.parse().ok();
            let answer = self.authenticate_from(&key, client).await;
            match (admitted, answer) {
                (true, Ok(())) | (false, Err(AuthFailure::AddressRefused { .. })) => {}
                (_, answer) => {
                    return Err(fail(
                        CHECK,
                        format!("the key from {from} was answered {answer:?}"),
                    ))
                }
            }
        }
        // A successor without the list (a rotation that read the key before
        // its list was written) is refused by the store itself: no rotation
        // makes a key less confined than the one it replaces.
        let retire = crate::store::Retirement::after(Duration::from_secs(60), SystemTime::now());
        match self
            .store
            .replace(&created.id, self.fresh_record(CHECK)?, retire)
            .await
        {
            Err(e) if e.is_inactive() || e.is_unsupported() => Ok(()),
            other => Err(fail(
                CHECK,
                format!(
                    "replacing a confined key by one without its allowlist gave {:?}, not an \
                     inactive error",
                    other.map(|_| ())
                ),
            )),
        }
    }

    async fn owners(&self) -> CheckResult {
        const CHECK: &str = "owners";
        let tag = ApiKey::generate()
            .map_err(|e| fail(CHECK, format!("no randomness for the owner's name: {e}")))?
            .prefix()
            .to_string()
            .to_lowercase();
        let owner = format!("owner-{tag}");
        let twin = owner.to_uppercase();
        let listed_ids = |store: &S, owner: String| {
            let store = store.clone();
            async move {
                let mut ids = Vec::new();
                let mut request = PageRequest::first(2).owner(owner);
                loop {
                    let page = store
                        .list_page(&request)
                        .await
                        .map_err(|e| fail(CHECK, format!("list_page by owner failed: {e}")))?;
                    ids.extend(page.keys.iter().map(|r| r.id.clone()));
                    match page.next {
                        Some(next) => request = request.after(next),
                        None => return Ok::<_, ConformanceFailure>(ids),
                    }
                }
            }
        };
        if !self.keeps_scopes_owner_metadata {
            let (bystander, _) = self.create(CHECK, self.new_key("no owner")).await?;
            let listed = listed_ids(&self.store, owner.clone()).await?;
            ensure!(
                CHECK,
                listed.is_empty(),
                "a store without owners listed {listed:?} as keys of {owner:?}"
            );
            let revoked = self
                .store
                .revoke_owned(&owner)
                .await
                .into_result()
                .map_err(|e| fail(CHECK, format!("revoke_owned failed: {e}")))?;
            ensure!(
                CHECK,
                revoked.is_empty(),
                "revoke_owned revoked {revoked:?}"
            );
            let after = self.find(CHECK, bystander.prefix).await?;
            ensure!(
                CHECK,
                after.is_some_and(|r| !r.revoked),
                "revoke_owned revoked a key with no owner"
            );
            return Ok(());
        }
        let mut mine = Vec::new();
        for name in ["owned 1", "owned 2", "owned 3"] {
            let (record, key) = self
                .create(CHECK, self.new_key(name).owner(owner.clone()))
                .await?;
            mine.push((record, key));
        }
        let (_, twin_plain) = self
            .create(CHECK, self.new_key("twin").owner(twin.clone()))
            .await?;
        let mut expected: Vec<String> = mine.iter().map(|(r, _)| r.id.clone()).collect();
        expected.sort();
        let mut listed = listed_ids(&self.store, owner.clone()).await?;
        listed.sort();
        ensure!(
            CHECK,
            listed == expected,
            "the listing by owner {owner:?} gave {listed:?}, not {expected:?}"
        );
        if self.keeps_suspensions {
            let suspended = self
                .store
                .set_owned_suspended(&owner, true)
                .await
                .into_result()
                .map_err(|e| fail(CHECK, format!("set_owned_suspended failed: {e}")))?;
            ensure!(
                CHECK,
                suspended.iter().all(|r| r.suspended),
                "set_owned_suspended reported keys as they were before it suspended them"
            );
            ensure!(
                CHECK,
                suspended.len() == mine.len(),
                "set_owned_suspended suspended {} keys, not {}",
                suspended.len(),
                mine.len()
            );
            for (_, key) in &mine {
                match self.authenticate(key).await {
                    Err(AuthFailure::Suspended(_)) => {}
                    other => {
                        return Err(fail(
                            CHECK,
                            format!("a suspended owner's key gave {other:?}"),
                        ))
                    }
                }
            }
            self.authenticate(&twin_plain).await.map_err(|e| {
                fail(
                    CHECK,
                    format!("suspending {owner:?} refused {twin:?}'s key: {e}"),
                )
            })?;
            let resumed = self
                .store
                .set_owned_suspended(&owner, false)
                .await
                .into_result()
                .map_err(|e| fail(CHECK, format!("set_owned_suspended failed: {e}")))?;
            ensure!(
                CHECK,
                resumed.len() == mine.len(),
                "set_owned_suspended resumed {} keys, not {}",
                resumed.len(),
                mine.len()
            );
        }
        let revoked = self
            .store
            .revoke_owned(&owner)
            .await
            .into_result()
            .map_err(|e| fail(CHECK, format!("revoke_owned failed: {e}")))?;
        ensure!(
            CHECK,
            revoked.iter().all(|r| r.revoked),
            "revoke_owned reported keys as they were before it revoked them"
        );
        let mut revoked: Vec<String> = revoked.iter().map(|r| r.id.clone()).collect();
        revoked.sort();
        ensure!(
            CHECK,
            revoked == expected,
            "revoke_owned({owner:?}) said it revoked {revoked:?}, not {expected:?}"
        );
        for (_, key) in &mine {
            match self.authenticate(key).await {
                Err(AuthFailure::Revoked(_)) => {}
                other => return Err(fail(CHECK, format!("a revoked owner's key gave {other:?}"))),
            }
        }
        self.authenticate(&twin_plain).await.map_err(|e| {
            fail(
                CHECK,
                format!("revoking {owner:?}'s keys refused {twin:?}'s key: {e}"),
            )
        })?;
        let again = self
            .store
            .revoke_owned(&owner)
            .await
            .into_result()
            .map_err(|e| fail(CHECK, format!("revoke_owned failed: {e}")))?;
        ensure!(
            CHECK,
            again.is_empty(),
            "a second revoke_owned revoked {again:?}"
        );
        Ok(())
    }

    async fn credits(&self) -> CheckResult {
        const CHECK: &str = "credits";
        let new = self.new_key("metered").credits(3, None);
        if !self.keeps_credits {
            return match self.store.create(new).await {
                Err(e) if e.is_config() || e.is_unsupported() => Ok(()),
                Err(e) => Err(fail(
                    CHECK,
                    format!("a store without credits failed to refuse them clearly: {e}"),
                )),
                // Kept but never spent: the key must be refused, never
                // let through uncounted.
                Ok(created) => {
                    let (record, key) = created.reveal();
                    match self.authenticate(&key).await {
                        Err(AuthFailure::Unsupported { .. }) => Ok(()),
                        other => Err(fail(
                            CHECK,
                            format!(
                                "a store without credits created key {:?} with them and an \
                                 authenticator answered {other:?}, not Unsupported",
                                record.id
                            ),
                        )),
                    }
                }
            };
        }
        let (created, key) = self.create(CHECK, new).await?;
        let found = self
            .find(CHECK, created.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "a key with credits was not found".to_owned()))?;
        ensure!(
            CHECK,
            found.credits.map(|c| c.remaining()) == Some(3),
            "3 credits came back as {:?} (run the kit with without_credits() if the store cannot \
             keep them: a dropped count lets the key be used without end)",
            found.credits
        );
        for i in 0..3 {
            self.authenticate(&key).await.map_err(|e| {
                let hint = if matches!(e, AuthFailure::Unsupported { .. }) {
                    " (implement KeyStore::spend_credits, or run the kit with without_credits())"
                } else {
                    ""
                };
                fail(
                    CHECK,
                    format!("request {} of 3 was refused: {e}{hint}", i + 1),
                )
            })?;
        }
        match self.authenticate(&key).await {
            Err(AuthFailure::OutOfCredits { .. }) => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!("the fourth request of a key with 3 credits gave {other:?}"),
                ))
            }
        }
        match self.authenticate(&key).await {
            Err(AuthFailure::OutOfCredits { .. }) => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!("the fifth request of a key with 3 credits gave {other:?}"),
                ))
            }
        }
        self.lease_credits().await
    }

    /// A lease takes what is left up to the block, then nothing.
    async fn lease_credits(&self) -> CheckResult {
        const CHECK: &str = "credits";
        let (created, _) = self
            .create(CHECK, self.new_key("leased").credits(5, None))
            .await?;
        let mut taken = Vec::new();
        loop {
            match self.store.lease_credits(&created, 3).await {
                Ok(CreditLease::Taken { count, .. }) if taken.len() < 5 => taken.push(count),
                Ok(CreditLease::Exhausted { next_refill: None }) => break,
                other => {
                    return Err(fail(
                        CHECK,
                        format!(
                            "leases of up to 3 of a key's 5 credits took {taken:?}, then {other:?}"
                        ),
                    ))
                }
            }
        }
        ensure!(
            CHECK,
            taken.iter().sum::<u64>() == 5 && taken.iter().all(|&count| (1..=3).contains(&count)),
            "leases of up to 3 of a key's 5 credits took {taken:?}"
        );
        Ok(())
    }

    async fn suspend(&self) -> CheckResult {
        const CHECK: &str = "suspend";
        let (created, key) = self.create(CHECK, self.new_key("to suspend")).await?;
        let suspended = self.store.suspend(&created.id).await;
        if !self.keeps_suspensions {
            return match suspended {
                Err(e) if e.is_unsupported() => Ok(()),
                other => Err(fail(
                    CHECK,
                    format!("a store without suspensions answered {other:?}, not unsupported"),
                )),
            };
        }
        let (bystander, bystander_key) = self.create(CHECK, self.new_key("bystander")).await?;
        let suspended = suspended.map_err(|e| {
            let hint = if e.is_unsupported() {
                " (implement KeyManager::set_suspended, or run the kit with without_suspensions())"
            } else {
                ""
            };
            fail(CHECK, format!("suspend failed: {e}{hint}"))
        })?;
        ensure!(
            CHECK,
            suspended,
            "suspend({:?}) said no key has that id",
            created.id
        );
        let found = self
            .find(CHECK, created.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "a suspended key vanished"))?;
        ensure!(CHECK, found.suspended, "the record is not marked suspended");
        ensure!(CHECK, !found.revoked, "suspending revoked the key");
        // A successor that does not carry the suspension (a rotation that
        // read the key before it was suspended) is refused by the store
        // itself, so no rotation lifts a suspension made while it ran.
        let retire = crate::store::Retirement::after(Duration::from_secs(60), SystemTime::now());
        match self
            .store
            .replace(&created.id, self.fresh_record(CHECK)?, retire)
            .await
        {
            Err(e) if e.is_inactive() || e.is_unsupported() => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!(
                        "replacing a suspended key by an unsuspended one gave {:?}, not an inactive error",
                        other.map(|_| ())
                    ),
                ))
            }
        }
        let again = self
            .store
            .suspend(&created.id)
            .await
            .map_err(|e| fail(CHECK, format!("suspending twice failed: {e}")))?;
        ensure!(CHECK, again, "suspending twice said no key has that id");
        match self.authenticate(&key).await {
            Err(AuthFailure::Suspended(_)) => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!("a suspended key authenticated as {other:?}"),
                ))
            }
        }
        let listed = |filter| async move {
            let mut request = PageRequest::first(MAX_PAGE).filter(filter);
            let mut ids = Vec::new();
            loop {
                let page = self
                    .store
                    .list_page(&request)
                    .await
                    .map_err(|e| fail(CHECK, format!("listing failed: {e}")))?;
                ids.extend(page.keys.iter().map(|record| record.id.clone()));
                match page.next {
                    Some(next) => request = request.after(next),
                    None => return Ok::<_, ConformanceFailure>(ids),
                }
            }
        };
        let (in_suspended, in_active) = (
            listed(KeyFilter::Suspended).await?,
            listed(KeyFilter::Active).await?,
        );
        ensure!(
            CHECK,
            in_suspended.contains(&created.id) && !in_active.contains(&created.id),
            "a suspended key is not listed as suspended only"
        );
        ensure!(
            CHECK,
            in_active.contains(&bystander.id) && !in_suspended.contains(&bystander.id),
            "a key never suspended is not listed as active only"
        );
        self.authenticate(&bystander_key)
            .await
            .map_err(|e| fail(CHECK, format!("suspending one key broke another: {e}")))?;
        let resumed = self
            .store
            .resume(&created.id)
            .await
            .map_err(|e| fail(CHECK, format!("resume failed: {e}")))?;
        ensure!(
            CHECK,
            resumed,
            "resume({:?}) said no key has that id",
            created.id
        );
        self.authenticate(&key)
            .await
            .map_err(|e| fail(CHECK, format!("a resumed key is refused: {e}")))?;
        let again = self
            .store
            .resume(&created.id)
            .await
            .map_err(|e| fail(CHECK, format!("resuming twice failed: {e}")))?;
        ensure!(CHECK, again, "resuming twice said no key has that id");
        for unknown in [
            self.store.suspend("no-such-key-id").await,
            self.store.resume("no-such-key-id").await,
        ] {
            let unknown = unknown.map_err(|e| fail(CHECK, format!("an unknown id failed: {e}")))?;
            ensure!(
                CHECK,
                !unknown,
                "an unknown id was said to be suspended or resumed"
            );
        }
        Ok(())
    }

    async fn expiry(&self) -> CheckResult {
        const CHECK: &str = "expiry";
        let past = SystemTime::now() - Duration::from_secs(60);
        let (_, expired) = self
            .create(CHECK, self.new_key("expired").expires_at(past))
            .await?;
        match self.authenticate(&expired).await {
            Err(AuthFailure::Expired(_)) => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!("an expired key authenticated as {other:?}"),
                ))
            }
        }
        let future = SystemTime::now() + Duration::from_secs(600);
        let (_, fresh) = self
            .create(CHECK, self.new_key("fresh").expires_at(future))
            .await?;
        self.authenticate(&fresh).await.map_err(|e| {
            fail(
                CHECK,
                format!("a key expiring in ten minutes was refused: {e}"),
            )
        })
    }

    async fn list(&self) -> CheckResult {
        const CHECK: &str = "list";
        let (first, _) = self.create(CHECK, self.new_key("listed first")).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (second, _) = self.create(CHECK, self.new_key("listed second")).await?;
        self.store
            .revoke(&second.id)
            .await
            .map_err(|e| fail(CHECK, format!("revoke failed: {e}")))?;
        let listed = self
            .store
            .list()
            .await
            .map_err(|e| fail(CHECK, format!("list failed: {e}")))?;
        let at = |id: &str| listed.iter().position(|r| r.id == id);
        let (Some(a), Some(b)) = (at(&first.id), at(&second.id)) else {
            return Err(fail(
                CHECK,
                "a created key is missing from the listing (revoked keys are listed too)",
            ));
        };
        ensure!(CHECK, a < b, "the listing is not oldest first");
        ensure!(
            CHECK,
            listed[b].revoked,
            "the listing does not show the revocation"
        );
        Ok(())
    }

    /// Reads every page of `filter`, checking no id comes twice and every
    /// key belongs; creates a key after each page (keys that come during a
    /// listing must not disturb it).
    async fn read_all_pages(
        &self,
        filter: KeyFilter,
        limit: u32,
    ) -> Result<Vec<Arc<KeyRecord>>, ConformanceFailure> {
        const CHECK: &str = "list_page";
        let mut request = PageRequest::first(limit).filter(filter);
        let mut all: Vec<Arc<KeyRecord>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let page = self
                .store
                .list_page(&request)
                .await
                .map_err(|e| fail(CHECK, format!("list_page({request:?}) failed: {e}")))?;
            ensure!(
                CHECK,
                page.keys.len() <= limit as usize,
                "a page of limit {limit} held {} keys",
                page.keys.len()
            );
            for record in &page.keys {
                // The order is the store's (a case-insensitive table orders
                // otherwise than bytes do); a cursor that disagrees with it
                // shows as a key listed twice, or missed (checked by the caller).
                ensure!(
                    CHECK,
                    seen.insert(record.id.clone()),
                    "{:?} was listed twice",
                    record.id
                );
                ensure!(
                    CHECK,
                    filter.admits(record, SystemTime::now()),
                    "{:?} does not belong in a {filter:?} listing",
                    record.id
                );
            }
            all.extend(page.keys);
            // Keys created during the listing land on a later page or none.
            self.create(CHECK, self.new_key("created while listing"))
                .await?;
            match page.next {
                Some(next) => request = request.after(next),
                None => return Ok(all),
            }
        }
        Err(fail(CHECK, "the listing did not end after 100,000 pages"))
    }

    async fn list_page(&self) -> CheckResult {
        const CHECK: &str = "list_page";
        let mut mine = Vec::new();
        for i in 0..7 {
            mine.push(
                self.create(CHECK, self.new_key(&format!("paged {i}")))
                    .await?
                    .0,
            );
        }
        let (revoked, _) = self.create(CHECK, self.new_key("paged, revoked")).await?;
        self.store
            .revoke(&revoked.id)
            .await
            .map_err(|e| fail(CHECK, format!("revoke failed: {e}")))?;
        let past = SystemTime::now() - Duration::from_secs(60);
        let (expired, _) = self
            .create(CHECK, self.new_key("paged, expired").expires_at(past))
            .await?;
        let all = self.read_all_pages(KeyFilter::All, 3).await?;
        let listed = |records: &[Arc<KeyRecord>], id: &str| records.iter().any(|r| r.id == id);
        for record in mine.iter().chain([&revoked, &expired]) {
            ensure!(
                CHECK,
                listed(&all, &record.id),
                "{:?}, created before the listing, is on no page",
                record.id
            );
        }
        let active = self.read_all_pages(KeyFilter::Active, 2).await?;
        let revoked_only = self.read_all_pages(KeyFilter::Revoked, 1000).await?;
        let expired_only = self.read_all_pages(KeyFilter::Expired, 1000).await?;
        ensure!(
            CHECK,
            mine.iter().all(|r| listed(&active, &r.id)),
            "an active key is missing from the active listing"
        );
        ensure!(
            CHECK,
            listed(&revoked_only, &revoked.id) && !listed(&active, &revoked.id),
            "the revoked key is not listed as revoked (and only so)"
        );
        ensure!(
            CHECK,
            listed(&expired_only, &expired.id) && !listed(&active, &expired.id),
            "the expired key is not listed as expired (and only so)"
        );
        let by_id = self
            .store
            .find_by_id(&mine[0].id)
            .await
            .map_err(|e| fail(CHECK, format!("find_by_id failed: {e}")))?;
        ensure!(
            CHECK,
            by_id.is_some_and(|r| r.id == mine[0].id),
            "find_by_id({:?}) did not find the key",
            mine[0].id
        );
        let unknown = self
            .store
            .find_by_id("no-such-key-id")
            .await
            .map_err(|e| fail(CHECK, format!("find_by_id failed: {e}")))?;
        ensure!(
            CHECK,
            unknown.is_none(),
            "find_by_id of an unknown id found a key"
        );
        ensure!(
            CHECK,
            PageRequest::first(0).limit() == 1 && PageRequest::first(5_000).limit() == MAX_PAGE,
            "page limits are not brought within 1..={MAX_PAGE}"
        );
        Ok(())
    }

    async fn concurrent_creates(&self) -> CheckResult {
        const CHECK: &str = "concurrent_creates";
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..32 {
            let store = self.store.clone();
            let new = self.new_key(&format!("concurrent {i}"));
            tasks.spawn(async move { store.create(new).await.map(|c| c.reveal()) });
        }
        let mut prefixes = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        while let Some(joined) = tasks.join_next().await {
            let (record, key) = joined
                .map_err(|e| fail(CHECK, format!("a create task panicked: {e}")))?
                .map_err(|e| fail(CHECK, format!("a concurrent create failed: {e}")))?;
            ensure!(
                CHECK,
                prefixes.insert(record.prefix),
                "two concurrent creates got prefix {}",
                record.prefix
            );
            ensure!(
                CHECK,
                ids.insert(record.id.clone()),
                "two concurrent creates got id {:?}",
                record.id
            );
            let found = self.find(CHECK, record.prefix).await?;
            ensure!(
                CHECK,
                found.is_some_and(|f| f.id == record.id),
                "concurrently created key {} is not findable",
                record.prefix
            );
            self.authenticate(&key)
                .await
                .map_err(|e| fail(CHECK, format!("concurrently created key refused: {e}")))?;
        }
        ensure!(
            CHECK,
            prefixes.len() == 32,
            "{} of 32 creates finished",
            prefixes.len()
        );
        Ok(())
    }

    async fn prefix_collision(&self) -> CheckResult {
        const CHECK: &str = "prefix_collision";
        let (original, key) = self.create(CHECK, self.new_key("original")).await?;
        let impostor = ApiKey::generate().map_err(|e| fail(CHECK, e.to_string()))?;
        let mut clash = KeyRecord::new(
            format!("clash-{}", original.prefix),
            "impostor",
            original.prefix,
            self.hasher.hash(&impostor),
        );
        clash.created = original.created;
        match self.store.insert(clash).await {
            Err(e) if e.is_conflict() => {}
            Err(e) => {
                return Err(fail(
                    CHECK,
                    format!("a taken prefix gave an error other than a conflict: {e}"),
                ))
            }
            Ok(()) => return Err(fail(CHECK, "a record with a taken prefix was accepted")),
        }
        let found = self
            .find(CHECK, original.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "the original vanished"))?;
        ensure!(
            CHECK,
            found.id == original.id && found.name == "original",
            "the clash replaced the original"
        );
        self.authenticate(&key)
            .await
            .map_err(|e| fail(CHECK, format!("the original key stopped working: {e}")))
    }

    /// A store with batches (`insert_many`) saves one whole or not at all:
    /// `create_many` makes keys that work, and a batch with one taken
    /// prefix, or one prefix twice, stores none of its records; a batch over
    /// `MAX_BATCH` is refused.
    async fn batches(&self) -> CheckResult {
        const CHECK: &str = "batches";
        let news = (0..3)
            .map(|n| self.new_key(&format!("batch {n}")))
            .collect();
        let created = match self.store.create_many(news).await {
            // A store without batches: nothing more to hold it to.
            Err(e) if e.is_unsupported() => return Ok(()),
            other => other.map_err(|e| fail(CHECK, format!("create_many failed: {e}")))?,
        };
        ensure!(
            CHECK,
            created.len() == 3,
            "create_many made {} keys of 3",
            created.len()
        );
        for made in created {
            let (record, key) = made.reveal();
            self.authenticate(&key).await.map_err(|e| {
                fail(
                    CHECK,
                    format!("key {} of a batch does not work: {e}", record.prefix),
                )
            })?;
        }

        let fresh = |name: &str| -> Result<KeyRecord, ConformanceFailure> {
            let key = ApiKey::generate().map_err(|e| fail(CHECK, e.to_string()))?;
            let hash = self.hasher.hash(&key);
            let id = self.store.new_id(key.prefix(), &hash);
            Ok(KeyRecord::new(id, name, key.prefix(), hash))
        };
        let (taken, _) = self.create(CHECK, self.new_key("taken")).await?;
        let first = fresh("first of a clashing batch")?;
        let mut clash = fresh("clash")?;
        clash.prefix = taken.prefix;
        clash.id = format!("clash-{}", taken.prefix);
        let second = fresh("second of a clashing batch")?;
        let mut twice = fresh("twice")?;
        twice.id = format!("twice-{}", twice.prefix);
        let mut again = twice.clone();
        again.id = format!("again-{}", twice.prefix);
        let batches = [
            (vec![first.clone(), clash, second.clone()], "a taken prefix"),
            (vec![twice.clone(), again], "one prefix twice"),
        ];
        for (batch, what) in batches {
            match self.store.insert_many(batch).await {
                Err(e) if e.is_unsupported() => return Ok(()),
                Err(e) if e.is_conflict() => {}
                Err(e) => {
                    return Err(fail(
                        CHECK,
                        format!("a batch with {what} gave an error other than a conflict: {e}"),
                    ))
                }
                Ok(()) => return Err(fail(CHECK, format!("a batch with {what} was accepted"))),
            }
        }
        for record in [&first, &second, &twice] {
            ensure!(
                CHECK,
                self.find(CHECK, record.prefix).await?.is_none(),
                "a refused batch left {} stored",
                record.prefix
            );
        }
        let mut too_many = Vec::with_capacity(crate::store::MAX_BATCH + 1);
        for n in 0..=crate::store::MAX_BATCH {
            too_many.push(fresh(&format!("too many {n}"))?);
        }
        let first_of_many = too_many[0].prefix;
        ensure!(
            CHECK,
            self.store.insert_many(too_many).await.is_err(),
            "a batch of {} records, over MAX_BATCH, was accepted",
            crate::store::MAX_BATCH + 1
        );
        ensure!(
            CHECK,
            self.find(CHECK, first_of_many).await?.is_none(),
            "a batch over MAX_BATCH left records stored"
        );
        let found = self
            .find(CHECK, taken.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "the taken key vanished"))?;
        ensure!(
            CHECK,
            found.id == taken.id,
            "a refused batch replaced the taken key"
        );
        Ok(())
    }

    async fn awkward_text(&self) -> CheckResult {
        const CHECK: &str = "awkward_text";
        let names = [
            "O'Brien's \"quoted\" key",
            "'; DROP TABLE api_keys; --",
            "100% _wild*card? [glob] {brace} $dollar",
            "名前 🔑 ключ",
            "back\\slash\ttab\nnewline",
            "",
        ];
        // Inserted as records, not made from `NewKey`s, which refuse some of
        // these: a store keeps whatever a row holds, whoever wrote it.
        for name in names {
            let mut record = self.fresh_record(CHECK)?;
            name.clone_into(&mut record.name);
            if self.keeps_scopes_owner_metadata {
                record.scopes = vec![format!("scope:{name}"), "a%b_c".to_owned()];
                record.owner = Some(format!("owner {name}"));
                record.metadata = [(format!("k {name}"), format!("v {name}"))].into();
            }
            self.store
                .insert(record.clone())
                .await
                .map_err(|e| fail(CHECK, format!("insert failed: {e}")))?;
            let created = record;
            let found = self
                .find(CHECK, created.prefix)
                .await?
                .ok_or_else(|| fail(CHECK, format!("key named {name:?} not found")))?;
            ensure!(
                CHECK,
                found.name == name,
                "name {name:?} came back as {:?}",
                found.name
            );
            scopes_owner_metadata_intact(CHECK, &created, &found)?;
            let listed = self
                .store
                .list()
                .await
                .map_err(|e| fail(CHECK, format!("list failed: {e}")))?;
            ensure!(
                CHECK,
                listed.iter().any(|r| r.id == created.id && r.name == name),
                "key named {name:?} not listed intact"
            );
        }
        Ok(())
    }

    async fn find_now_agrees(&self) -> CheckResult {
        const CHECK: &str = "find_now_agrees";
        let (created, _) = self.create(CHECK, self.new_key("now")).await?;
        let unknown = ApiKey::generate()
            .map_err(|e| fail(CHECK, e.to_string()))?
            .prefix();
        for prefix in [created.prefix, unknown] {
            if let Some(now) = self.store.find_now(prefix) {
                let now = now
                    .map_err(|e| fail(CHECK, format!("find_now failed: {e}")))?
                    .map(|r| r.id.clone());
                let later = self.find(CHECK, prefix).await?.map(|r| r.id);
                ensure!(
                    CHECK,
                    now == later,
                    "find_now({prefix}) said {now:?}, find said {later:?}"
                );
            }
        }
        Ok(())
    }
}

impl<S: KeyManager + Clone> Conformance<S> {
    async fn rotate(&self) -> CheckResult {
        const CHECK: &str = "rotate";
        let lifetime = Duration::from_secs(3600);
        let (old, old_key) = self
            .create(CHECK, self.new_key("rotated").expires_in(lifetime))
            .await?;
        let grace = Duration::from_millis(1500);
        let started = SystemTime::now();
        let rotated = self
            .store
            .rotate(&old.id, grace)
            .await
            .map_err(|e| fail(CHECK, format!("rotate failed: {e}")))?;
        let retired = rotated.retired.clone();
        let (new, new_key) = rotated.new.reveal();
        ensure!(
            CHECK,
            new.id != old.id && new.prefix != old.prefix,
            "the new key is the old one"
        );
        ensure!(
            CHECK,
            new.name == old.name,
            "the new key is named {:?}, not {:?}",
            new.name,
            old.name
        );
        scopes_owner_metadata_intact(CHECK, &old, &new)?;
        let expected_expiry = SystemTime::now() + lifetime;
        ensure!(
            CHECK,
            new.expires
                .is_some_and(|e| within(e, expected_expiry, Duration::from_secs(5))),
            "a key given an hour got a successor expiring at {:?}, not an hour from now",
            new.expires
        );
        let stored_new = self
            .find(CHECK, new.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "the new key is not found"))?;
        let stored_old = self
            .find(CHECK, old.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "the old key vanished"))?;
        if self.keeps_links {
            ensure!(
                CHECK,
                stored_new.replaces.as_deref() == Some(old.id.as_str()),
                "the new key names {:?} as the one it replaces, not {:?}",
                stored_new.replaces,
                old.id
            );
            ensure!(
                CHECK,
                stored_old.replaced_by.as_deref() == Some(new.id.as_str()),
                "the old key names {:?} as its successor, not {:?}",
                stored_old.replaced_by,
                new.id
            );
            ensure!(
                CHECK,
                stored_old.sunset().is_some() && retired.sunset().is_some(),
                "a key in its grace period has no sunset"
            );
        }
        ensure!(
            CHECK,
            !stored_old.revoked
                && stored_old.expires.is_some_and(|e| within(
                    e,
                    started + grace,
                    Duration::from_millis(500)
                )),
            "the old key should expire at the end of its grace, but it is revoked={} expiring {:?}",
            stored_old.revoked,
            stored_old.expires
        );
        for (what, key) in [("old", &old_key), ("new", &new_key)] {
            self.authenticate(key).await.map_err(|e| {
                fail(
                    CHECK,
                    format!("during the grace the {what} key was refused: {e}"),
                )
            })?;
        }
        let left = (started + grace + Duration::from_millis(100))
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        tokio::time::sleep(left).await;
        match self.authenticate(&old_key).await {
            Err(AuthFailure::Expired(_)) => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!("after the grace the old key authenticated as {other:?}"),
                ))
            }
        }
        self.authenticate(&new_key).await.map_err(|e| {
            fail(
                CHECK,
                format!("after the grace the new key was refused: {e}"),
            )
        })?;

        let (at_once, at_once_key) = self.create(CHECK, self.new_key("rotated at once")).await?;
        let rotated = self
            .store
            .rotate(&at_once.id, Duration::ZERO)
            .await
            .map_err(|e| fail(CHECK, format!("rotate with no grace failed: {e}")))?;
        match self.authenticate(&at_once_key).await {
            Err(AuthFailure::Revoked(_)) => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!("a key rotated with no grace authenticated as {other:?}"),
                ))
            }
        }
        let (first_successor, successor) = rotated.new.reveal();
        self.authenticate(&successor).await.map_err(|e| {
            fail(
                CHECK,
                format!("the successor of a revoked key was refused: {e}"),
            )
        })?;
        if self.keeps_links {
            // Every key of a chain of rotations names its first key, so the
            // chain spends one rate-limit budget however often it rotates.
            let again = self
                .store
                .rotate(&first_successor.id, Duration::ZERO)
                .await
                .map_err(|e| fail(CHECK, format!("rotating a rotated key failed: {e}")))?;
            for (what, prefix) in [
                ("the first rotation's key", first_successor.prefix),
                ("the second rotation's key", again.new.record().prefix),
            ] {
                let stored = self
                    .find(CHECK, prefix)
                    .await?
                    .ok_or_else(|| fail(CHECK, format!("{what} is not found")))?;
                ensure!(
                    CHECK,
                    stored.lineage.as_deref() == Some(at_once.id.as_str()),
                    "{what} names {:?} as its lineage, not the first key {:?}",
                    stored.lineage,
                    at_once.id
                );
            }
        }
        match self
            .store
            .rotate(&at_once.id, Duration::from_secs(60))
            .await
        {
            Err(e) if e.is_inactive() => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!(
                        "rotating a revoked key gave {:?}, not an inactive error",
                        other.map(|_| ())
                    ),
                ))
            }
        }
        // The store itself refuses, not only `rotate` before calling it:
        // a revoked key, and a key already replaced (two rotations: one wins).
        let retire = crate::store::Retirement::after(Duration::from_secs(60), SystemTime::now());
        match self
            .store
            .replace(&at_once.id, self.fresh_record(CHECK)?, retire)
            .await
        {
            Err(e) if e.is_inactive() => {}
            other => {
                return Err(fail(
                    CHECK,
                    format!(
                        "replace of a revoked key gave {:?}, not an inactive error",
                        other.map(|_| ())
                    ),
                ))
            }
        }
        if self.keeps_links {
            let (twice, _) = self.create(CHECK, self.new_key("rotated twice")).await?;
            self.store
                .replace(&twice.id, self.fresh_record(CHECK)?, retire)
                .await
                .map_err(|e| fail(CHECK, format!("replace failed: {e}")))?;
            match self
                .store
                .replace(&twice.id, self.fresh_record(CHECK)?, retire)
                .await
            {
                Err(e) if e.is_inactive() => {}
                other => {
                    return Err(fail(
                        CHECK,
                        format!(
                            "a second replace of a replaced key gave {:?}, not an inactive error",
                            other.map(|_| ())
                        ),
                    ))
                }
            }
        }
        match self
            .store
            .rotate("no-such-key-id", Duration::from_secs(60))
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => Err(fail(
                CHECK,
                format!(
                    "rotating an unknown id gave {:?}, not a not-found error",
                    other.map(|_| ())
                ),
            )),
        }
    }

    async fn last_use(&self) -> CheckResult {
        const CHECK: &str = "last_use";
        let now = SystemTime::now();
        let (used, _) = self.create(CHECK, self.new_key("used")).await?;
        let (soon, _) = self
            .create(CHECK, self.new_key("expiring soon").expires_in(HOUR))
            .await?;
        let (later, _) = self
            .create(CHECK, self.new_key("expiring later").expires_in(30 * DAY))
            .await?;
        let expiring = self
            .listed(PageRequest::first(MAX_PAGE).expiring_before(now + 7 * DAY))
            .await?;
        ensure!(
            CHECK,
            listed(&expiring, &soon) && !listed(&expiring, &later) && !listed(&expiring, &used),
            "keys expiring within a week should list the one expiring in an hour only, of three"
        );

        let ghost = KeyRecord::new("no-such-key-id", "ghost", used.prefix, used.hash.clone());
        let written = self
            .store
            .record_last_use(&[KeyUse::new(&used, now), KeyUse::new(&ghost, now)])
            .await;
        if !self.keeps_last_use {
            return match written {
                Err(e) if e.is_unsupported() => Ok(()),
                other => Err(fail(
                    CHECK,
                    format!("a store that keeps no last use answered {other:?}, not unsupported"),
                )),
            };
        }
        written.map_err(|e| fail(CHECK, format!("record_last_use failed: {e}")))?;
        let seen = self
            .find(CHECK, used.prefix)
            .await?
            .and_then(|r| r.last_used);
        ensure!(
            CHECK,
            seen.is_some_and(|at| within(at, now, Duration::from_millis(2))),
            "last use {now:?} came back as {seen:?}"
        );
        self.record_use(&used, now - HOUR).await?;
        let seen = self
            .find(CHECK, used.prefix)
            .await?
            .and_then(|r| r.last_used);
        ensure!(
            CHECK,
            seen.is_some_and(|at| within(at, now, Duration::from_millis(2))),
            "an earlier use moved the last use back to {seen:?}"
        );

        let (gone, _) = self
            .create(CHECK, self.new_key("revoked, then used"))
            .await?;
        self.store
            .revoke(&gone.id)
            .await
            .map_err(|e| fail(CHECK, format!("revoke failed: {e}")))?;
        self.record_use(&gone, now).await?;
        let still = self.find(CHECK, gone.prefix).await?;
        ensure!(
            CHECK,
            still.is_some_and(|r| r.revoked),
            "a last-use write after a revocation left the key unrevoked"
        );

        let (idle, _) = self.create(CHECK, self.new_key("idle")).await?;
        let long_ago = now - 3 * DAY;
        self.record_use(&idle, long_ago).await?;
        let unused = self
            .listed(PageRequest::first(MAX_PAGE).unused_since(now - DAY))
            .await?;
        ensure!(
            CHECK,
            listed(&unused, &idle) && !listed(&unused, &used) && !listed(&unused, &soon),
            "keys unused for a day should list the key last used three days ago only, of three"
        );
        let shown = unused
            .iter()
            .find(|r| r.id == idle.id)
            .and_then(|r| r.last_used);
        ensure!(
            CHECK,
            shown.is_some_and(|at| within(at, long_ago, Duration::from_millis(2))),
            "a listing shows last use {shown:?}, not {long_ago:?}"
        );
        Ok(())
    }

    /// A record for a new key, as `create` would make it, for `replace`.
    fn fresh_record(&self, check: &'static str) -> Result<KeyRecord, ConformanceFailure> {
        NewKey::named("direct")
            .mint(&self.hasher, |prefix, hash| self.store.new_id(prefix, hash))
            .map(|(record, _)| record)
            .map_err(|e| fail(check, e.to_string()))
    }

    async fn upgrade_hash(&self) -> CheckResult {
        const CHECK: &str = "upgrade_hash";
        let (record, _) = self.create(CHECK, self.new_key("upgraded")).await?;
        let other_key = || ApiKey::generate().map_err(|e| fail(CHECK, e.to_string()));
        let better = Hasher::sha512_drf().hash(&other_key()?);
        match self.store.upgrade_hash(&record, better.clone()).await {
            Err(e) if e.is_unsupported() => return Ok(()),
            Err(e) => return Err(fail(CHECK, format!("upgrade_hash failed: {e}"))),
            Ok(changed) => ensure!(
                CHECK,
                changed,
                "upgrading the hash a row holds changed nothing"
            ),
        }
        let found = self
            .find(CHECK, record.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "an upgraded key vanished"))?;
        ensure!(
            CHECK,
            found.hash == better,
            "the row does not hold the upgraded hash"
        );
        ensure!(
            CHECK,
            found.name == record.name,
            "an upgrade changed the key's name"
        );
        // The record handed in is stale now (it holds the old hash): an
        // upgrade from it changes nothing, and a revocation made since stays.
        self.store
            .revoke(&record.id)
            .await
            .map_err(|e| fail(CHECK, format!("revoke failed: {e}")))?;
        let changed = self
            .store
            .upgrade_hash(&record, self.hasher.hash(&other_key()?))
            .await
            .map_err(|e| fail(CHECK, format!("upgrade_hash failed: {e}")))?;
        ensure!(
            CHECK,
            !changed,
            "an upgrade from a stale hash changed the row"
        );
        let found = self
            .find(CHECK, record.prefix)
            .await?
            .ok_or_else(|| fail(CHECK, "the key vanished"))?;
        ensure!(
            CHECK,
            found.revoked && found.hash == better,
            "an upgrade from a stale record undid a revocation or the hash"
        );
        Ok(())
    }

    async fn record_use(&self, record: &KeyRecord, at: SystemTime) -> CheckResult {
        self.store
            .record_last_use(&[KeyUse::new(record, at)])
            .await
            .map_err(|e| fail("last_use", format!("record_last_use failed: {e}")))
    }

    /// Every key of a listing, page by page.
    async fn listed(
        &self,
        mut request: PageRequest,
    ) -> Result<Vec<Arc<KeyRecord>>, ConformanceFailure> {
        let mut all = Vec::new();
        loop {
            let page = self
                .store
                .list_page(&request)
                .await
                .map_err(|e| fail("last_use", format!("list_page({request:?}) failed: {e}")))?;
            all.extend(page.keys);
            match page.next {
                Some(next) => request = request.after(next),
                None => return Ok(all),
            }
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Whether `record` is among `records`.
fn listed(records: &[Arc<KeyRecord>], record: &KeyRecord) -> bool {
    records.iter().any(|r| r.id == record.id)
}

/// Whether `a` is within `slack` of `b`.
fn within(a: SystemTime, b: SystemTime, slack: Duration) -> bool {
    let gap = a
        .duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or_default();
    gap <= slack
}

/// Whether the scopes, owner and metadata a record was created with came back unchanged.
fn scopes_owner_metadata_intact(
    check: &'static str,
    created: &KeyRecord,
    found: &KeyRecord,
) -> CheckResult {
    ensure!(
        check,
        found.scopes == created.scopes,
        "scopes {:?} came back as {:?}",
        created.scopes,
        found.scopes
    );
    ensure!(
        check,
        found.owner == created.owner,
        "owner {:?} came back as {:?}",
        created.owner,
        found.owner
    );
    ensure!(
        check,
        found.metadata == created.metadata,
        "metadata {:?} came back as {:?}",
        created.metadata,
        found.metadata
    );
    ensure!(
        check,
        found.rate_limit == created.rate_limit,
        "rate limit {:?} came back as {:?}",
        created.rate_limit,
        found.rate_limit
    );
    Ok(())
}

/// Whether two instants agree to the millisecond (stores may round).
fn close(a: Option<SystemTime>, b: Option<SystemTime>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let gap = a
                .duration_since(b)
                .or_else(|_| b.duration_since(a))
                .unwrap_or_default();
            gap < Duration::from_millis(2)
        }
        _ => false,
    }
}
