use std::{future::Future, sync::atomic::Ordering};

use super::*;
use crate::{
    hash::Algorithm,
    key::Prefix,
    store::{KeyManager, KeyRecord},
    MemoryStore, NewKey,
};
use http::header;

fn headers(key: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        format!("Api-Key {key}").parse().unwrap(),
    );
    headers
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// A store that says nothing of its hashes, holding DRF (`sha512$$`) records.
struct Quiet(MemoryStore);

#[async_trait::async_trait]
impl KeyStore for Quiet {
    async fn find(&self, prefix: Prefix) -> Lookup {
        self.0.find(prefix).await
    }
}

/// A store that says its records are SHA-512 has unknown prefixes
/// checked at SHA-512's cost from the first request on, whatever the
/// authenticator's own hasher.
#[test]
fn the_dummy_check_costs_what_the_stores_records_cost() {
    let drf = MemoryStore::new().with_hasher(Hasher::sha512_drf());
    let auth = Authenticator::new(drf);
    assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
    let plain = Authenticator::new(MemoryStore::new());
    assert_eq!(plain.inner.dummy.get(), Algorithm::Sha256);
}

/// What a store says holds, whatever odd record passes by (a store with
/// mixed hashes does not make the dummy flip back and forth).
#[test]
fn a_store_that_says_is_not_second_guessed() {
    let store = MemoryStore::new().with_hasher(Hasher::sha512_drf());
    let (_, odd) = block_on(MemoryStore::new().create(NewKey::named("sha256")))
        .unwrap()
        .reveal();
    let record = KeyRecord::new(
        "odd",
        "odd",
        ApiKey::parse(odd.expose_secret().as_bytes())
            .unwrap()
            .prefix(),
        Hasher::default().hash(&ApiKey::parse(odd.expose_secret().as_bytes()).unwrap()),
    );
    block_on(store.insert(record)).unwrap();
    let auth = Authenticator::new(store);
    assert!(block_on(auth.authenticate(&headers(odd.expose_secret()))).is_ok());
    assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
}

/// A store that does not say follows the records it serves.
#[test]
fn the_dummy_check_follows_the_records_seen() {
    let memory = MemoryStore::new().with_hasher(Hasher::sha512_drf());
    let (record, key): (Arc<KeyRecord>, _) = block_on(memory.create(NewKey::named("drf")))
        .unwrap()
        .reveal();
    assert_eq!(record.hash.algorithm(), Algorithm::Sha512);
    let auth = Authenticator::new(Quiet(memory));
    assert_eq!(auth.inner.dummy.get(), Algorithm::Sha256);
    let wrong = format!("{}.{}", record.prefix, "x".repeat(32));
    assert!(block_on(auth.authenticate(&headers(&wrong))).is_err());
    assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
    assert!(block_on(auth.authenticate(&headers(key.expose_secret()))).is_ok());
    assert_eq!(auth.inner.dummy.get(), Algorithm::Sha512);
}

fn verdict_of(auth: &Authenticator, value: Option<&str>) -> (Verdict, HeaderMap) {
    let mut headers = HeaderMap::with_capacity(8);
    if let Some(value) = value {
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
    }
    let verdict = auth.begin(&mut headers, |_| crate::client_addr::Client::default(), 1);
    (verdict, headers)
}

/// The one entry every adapter calls: a good key passes with its
/// identity and its header marked sensitive; a bad one is refused with
/// the uniform 401, reported once; no key passes anonymously only when
/// the authenticator is optional.
#[test]
fn begin_passes_refuses_and_marks_the_credential() {
    let store = MemoryStore::new();
    let (record, key) = block_on(store.create(NewKey::named("k"))).unwrap().reveal();
    let refusals = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = refusals.clone();
    let auth = Authenticator::builder(store)
        .on_failure(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();

    let (verdict, headers) = verdict_of(&auth, Some(&format!("Api-Key {}", key.expose_secret())));
    match verdict {
        Verdict::Pass(Admitted::Key(passed)) => assert_eq!(passed.identity.id(), record.id),
        _ => panic!("a good key passes with its identity"),
    }
    assert!(headers[header::AUTHORIZATION].is_sensitive());

    let wrong = format!("Api-Key {}.{}", record.prefix, "x".repeat(32));
    for value in [None, Some("Basic abc"), Some(wrong.as_str())] {
        match verdict_of(&auth, value).0 {
            Verdict::Refuse(response) => {
                assert_eq!(response.status(), 401, "{value:?}");
                assert_eq!(
                    response.headers()["www-authenticate"],
                    r#"Api-Key realm="api""#
                );
            }
            _ => panic!("{value:?} is refused"),
        }
    }
    assert_eq!(
        refusals.load(Ordering::SeqCst),
        3,
        "each refusal reported once"
    );

    let optional = Authenticator::builder(MemoryStore::new())
        .optional(true)
        .build()
        .unwrap();
    assert!(matches!(
        verdict_of(&optional, None).0,
        Verdict::Pass(Admitted::Anonymous(_))
    ));
}

/// Requests for one slow key wait their turn in order, and every one
/// leaves the queue however it ends: checked, given up while waiting,
/// or dropped (its client gone). A key nobody waits for has no entry.
#[cfg(feature = "drf-legacy")]
#[test]
fn a_slow_key_s_queue_keeps_nobody_who_left() {
    // Made by Django 2.2: PBKDF2-SHA256 with 150,000 iterations.
    const KEY: &str = "zIQLmSOy.D8yvJ3mgFrkHvhgj7vTrHInRPUKFX24B";
    const HASH: &str =
        "pbkdf2_sha256$150000$4ATQo3LKxnXZ$xmM/tnpE0O0+X+5S4cprJLXdZnaUIHGZjFKfCtw3Ibk=";
    let prefix = Prefix::parse(&KEY[..8]).unwrap();
    let record = KeyRecord::new(
        "legacy",
        "legacy",
        prefix,
        crate::hash::StoredHash::parse(HASH).unwrap(),
    );
    // Unoptimised, a check takes near a second: the wait is no bound here.
    let auth = Authenticator::builder(MemoryStore::from_records([record]))
        .slow_hash_checks(1)
        .slow_hash_wait(std::time::Duration::from_secs(600))
        .build()
        .unwrap();
    let turns = auth.inner.slow.turns.clone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let right = headers(KEY);
            let wrong = headers(&format!("{}.{}", &KEY[..8], "x".repeat(32)));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let until = |what: &str, done: &dyn Fn() -> bool| {
                let failed = !done() && std::time::Instant::now() > deadline;
                assert!(!failed, "waited a minute for {what}");
                !done()
            };
            // Requests dropped while queued or checking leave the queue.
            let queued: Vec<_> = (0..4)
                .map(|_| {
                    let auth = auth.clone();
                    let wrong = wrong.clone();
                    tokio::spawn(async move { auth.authenticate(&wrong).await })
                })
                .collect();
            while until("the requests to queue", &|| turns.len() == 1) {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            for request in &queued {
                request.abort();
            }
            for request in queued {
                let _ = request.await;
            }
            // A check under way runs to its end on the blocking pool,
            // holding its turn until then.
            while until("the dropped requests to leave", &|| turns.len() == 0) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            // Three at once: one checks, two queue; all are answered,
            // the holder's too, and none is left in the queue. (The
            // holder's success upgrades the hash: this comes last.)
            let (a, b, c) = tokio::join!(
                auth.authenticate(&wrong),
                auth.authenticate(&right),
                auth.authenticate(&wrong),
            );
            assert!(matches!(a, Err(AuthFailure::WrongSecret(_))), "{a:?}");
            assert!(b.is_ok(), "the holder, queued behind a guess: {b:?}");
            assert!(matches!(c, Err(AuthFailure::WrongSecret(_))), "{c:?}");
            assert_eq!(turns.len(), 0, "answered requests left the queue");
        });
}

/// A store that must be waited for gives a pending verdict, whose
/// future answers as the synchronous path would; a store failure is 503.
#[test]
fn begin_waits_for_a_store_that_cannot_answer_at_once() {
    let memory = MemoryStore::new();
    let (record, key) = block_on(memory.create(NewKey::named("later")))
        .unwrap()
        .reveal();
    let auth = Authenticator::new(Quiet(memory));
    let Verdict::Pending(check) =
        verdict_of(&auth, Some(&format!("Api-Key {}", key.expose_secret()))).0
    else {
        panic!("a store without find_now is waited for");
    };
    assert_eq!(block_on(check).unwrap().identity.id(), record.id);

    struct Down;
    #[async_trait::async_trait]
    impl KeyStore for Down {
        async fn find(&self, _: Prefix) -> Lookup {
            Err(crate::store::StoreError::unavailable("down (test)"))
        }
    }
    let auth = Authenticator::new(Down);
    let Verdict::Pending(check) =
        verdict_of(&auth, Some(&format!("Api-Key {}", key.expose_secret()))).0
    else {
        panic!("waited for");
    };
    let refusal = block_on(check).unwrap_err();
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.headers()["retry-after"], "1");
}

/// A key with a rate limit on a server with no limiter is refused (503,
/// a key this server cannot check), never let through unlimited; the same
/// key passes once there is a limiter.
#[test]
fn a_rate_limited_key_without_a_limiter_is_refused() {
    let memory = MemoryStore::new();
    let limit = "5/s".parse().unwrap();
    let (_, key) = block_on(memory.create(NewKey::named("metered").rate_limit(limit)))
        .unwrap()
        .reveal();
    let headers = headers(key.expose_secret());
    let mut unlimited = Authenticator::builder(memory.clone());
    unlimited.limiter = None;
    let unlimited = unlimited.build().unwrap();
    let failure = block_on(unlimited.authenticate(&headers)).unwrap_err();
    assert!(
        matches!(failure, AuthFailure::Unsupported { .. }),
        "{failure:?}"
    );
    let refusal = unlimited.rejection(&failure);
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.headers()["retry-after"], "1");

    #[cfg(feature = "rate-limit")]
    {
        let limited = Authenticator::new(memory);
        assert!(block_on(limited.authenticate(&headers)).unwrap().is_some());
    }
}
