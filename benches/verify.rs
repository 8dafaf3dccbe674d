//! The hot path of verification, beside its floor, in one run:
//!
//! ```text
//! cargo bench --bench verify
//! ```
//!
//! `floor` is what no implementation can avoid: a map lookup of the prefix,
//! SHA-256 of the 41-byte key and a 32-byte constant-time compare.
//! `verify_header` is ours, from a `HeaderMap` to an `Identity`; the target
//! is within 1.5x of the floor.

mod support;

use std::{collections::HashMap, hint::black_box};

use api_key_auth::{
    hash::{Hasher, StoredHash},
    key::ApiKey,
    Authenticator, KeyManager, MemoryStore, NewKey,
};
use http::{header::AUTHORIZATION, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use support::now;

fn main() {
    divan::main();
}

struct Fixture {
    key: String,
    auth: Authenticator,
    headers: HeaderMap,
    floor_map: HashMap<[u8; 8], [u8; 32]>,
    stored: StoredHash,
}

fn fixture() -> Fixture {
    let store = MemoryStore::new();
    // A realistic map: many keys, the one we look up among them.
    for i in 0..1_000 {
        now(store.create(NewKey::named(format!("filler-{i}")))).unwrap();
    }
    let (record, key) = now(store.create(NewKey::named("bench"))).unwrap().reveal();
    let key = key.expose_secret().to_owned();
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::try_from(format!("Api-Key {key}")).unwrap(),
    );
    let mut floor_map = HashMap::new();
    for i in 0..1_000u32 {
        let mut prefix = [b'a'; 8];
        prefix[..4].copy_from_slice(&i.to_be_bytes());
        floor_map.insert(prefix, [0u8; 32]);
    }
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    floor_map.insert(key.as_bytes()[..8].try_into().unwrap(), digest);
    Fixture {
        key,
        auth: Authenticator::new(store),
        headers,
        floor_map,
        stored: record.hash.clone(),
    }
}

#[divan::bench(sample_size = 256)]
fn floor(bencher: divan::Bencher) {
    let f = fixture();
    let key = f.key.as_bytes();
    bencher.bench(|| {
        let key = black_box(key);
        let prefix: [u8; 8] = key[..8].try_into().unwrap();
        let expected = f.floor_map.get(&prefix).unwrap();
        let digest: [u8; 32] = Sha256::digest(key).into();
        bool::from(digest.ct_eq(expected))
    });
}

#[divan::bench(sample_size = 256)]
fn verify_header(bencher: divan::Bencher) {
    let f = fixture();
    bencher.bench(|| {
        now(f.auth.authenticate(black_box(&f.headers)))
            .unwrap()
            .unwrap()
    });
}

#[divan::bench(sample_size = 256)]
fn refuse_unknown_prefix(bencher: divan::Bencher) {
    let f = fixture();
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0"),
    );
    bencher.bench(|| now(f.auth.authenticate(black_box(&headers))).unwrap_err());
}

#[divan::bench(sample_size = 256)]
fn parse(bencher: divan::Bencher) {
    let f = fixture();
    bencher.bench(|| ApiKey::parse(black_box(f.key.as_bytes())).unwrap());
}

#[divan::bench(sample_size = 256)]
fn hash_sha256(bencher: divan::Bencher) {
    let f = fixture();
    let key = ApiKey::parse(f.key.as_bytes()).unwrap();
    let hasher = Hasher::sha256();
    bencher.bench(|| hasher.verify(black_box(&key), black_box(&f.stored)));
}

#[divan::bench(sample_size = 256)]
fn hash_sha512_drf(bencher: divan::Bencher) {
    let f = fixture();
    let key = ApiKey::parse(f.key.as_bytes()).unwrap();
    let hasher = Hasher::sha512_drf();
    let stored = hasher.hash(&key);
    bencher.bench(|| hasher.verify(black_box(&key), black_box(&stored)));
}

/// A DRF table's records (`sha512$$`): a known prefix with a wrong secret and
/// an unknown prefix, side by side. The two should cost the same: the dummy
/// check of an unknown prefix uses the algorithm the store's records use.
struct DrfFixture {
    auth: Authenticator,
    wrong_secret: HeaderMap,
    unknown_prefix: HeaderMap,
}

fn drf_fixture() -> DrfFixture {
    let store = MemoryStore::new().with_hasher(Hasher::sha512_drf());
    for i in 0..1_000 {
        now(store.create(NewKey::named(format!("filler-{i}")))).unwrap();
    }
    let (record, _) = now(store.create(NewKey::named("drf"))).unwrap().reveal();
    let header = |value: String| {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::try_from(value).unwrap());
        headers
    };
    DrfFixture {
        // The default authenticator, as a user would build it over a DRF table.
        auth: Authenticator::new(store),
        wrong_secret: header(format!("Api-Key {}.{}", record.prefix, "x".repeat(32))),
        unknown_prefix: header("Api-Key ZZZZZZZZ.1M2baTIHuRgPGbzdZC3Zch0b8VC2etL0".to_owned()),
    }
}

#[divan::bench(sample_size = 256)]
fn drf_refuse_wrong_secret(bencher: divan::Bencher) {
    let f = drf_fixture();
    bencher.bench(|| now(f.auth.authenticate(black_box(&f.wrong_secret))).unwrap_err());
}

#[divan::bench(sample_size = 256)]
fn drf_refuse_unknown_prefix(bencher: divan::Bencher) {
    let f = drf_fixture();
    bencher.bench(|| now(f.auth.authenticate(black_box(&f.unknown_prefix))).unwrap_err());
}
